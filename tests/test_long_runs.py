"""Long training runs: nothing may grow per step or survive the objects that own it.

Garbage that only Python's cyclic collector frees is a reference cycle made every step: the
collector then runs more often and its full walks grow with what the process holds. The checks
count what ``gc.collect()`` finds after steps run with the collector off, and hold weak
references to what must be freed once the user drops it.
"""
import gc
import weakref

import pytest

import xpgrad as xg
from conftest import backend_report
from gc_counts import cyclic_garbage


def test_module_variable_walks_make_no_reference_cycles():
    model = xg.nn.Sequential([xg.nn.MLP([3, 4, 2], rng=0), xg.nn.Linear(2, 1, rng=1)])
    assert cyclic_garbage(lambda: model.trainable_variables) == 0
    assert cyclic_garbage(lambda: model.named_variables()) == 0
    assert cyclic_garbage(lambda: model.submodules()) == 0
    assert cyclic_garbage(lambda: model.eval().train()) == 0
    assert len(model.trainable_variables) == 6 and len(model.submodules()) == 4


def test_eager_training_step_makes_no_reference_cycles():
    rng = xg.random.default_rng(0)
    model = xg.nn.MLP([8, 16, 3], activation="relu", rng=rng)
    opt = xg.optim.Adam(learning_rate=1e-3)
    x, y = rng.normal(size=(16, 8)), rng.integers(0, 3, size=16)

    def step():
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    assert cyclic_garbage(step, repeat=20) == 0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_traced_step_keeps_nothing_alive_once_dropped(backend):
    """A traced function's model, optimizer state and program die with the function (each
    trace made new kernel proxies, registered for the process, which held the tracer)."""
    if backend not in backend_report():
        pytest.skip(f"{backend} is not available here")
    from xpgrad.backend import KERNELS_BY_INDEX

    def run():
        rng = xg.random.default_rng(0, backend=backend)
        model = xg.nn.MLP([8, 16, 3], activation="relu", rng=rng)
        opt = xg.optim.Adam(learning_rate=1e-3)
        x, y = rng.normal(size=(16, 8)), rng.integers(0, 3, size=16)

        @xg.function
        def step(x, y):
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(model(x), y)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        for _ in range(4):
            step(x, y)
        assert step.trace_count == 1
        return weakref.ref(model.trainable_variables[0]), weakref.ref(step.programs()[0])

    run()
    known = len(KERNELS_BY_INDEX)
    variable, program = run()
    gc.collect()
    assert variable() is None and program() is None
    assert len(KERNELS_BY_INDEX) == known


def test_kernel_proxies_hold_no_tracer_after_a_trace():
    from xpgrad.jit import TraceError
    from xpgrad.jit.kernel_proxy import _PROXIES

    w = xg.Variable([1.0, -2.0], name="w")
    f = xg.function(lambda x: xg.losses.mse(xg.nn.relu(w * x), x), warmup=0)
    f(xg.asarray([1.0, 1.0]))
    assert _PROXIES and all(p.tracer is None for _, p, _ in _PROXIES.values())
    proxy = next(iter(_PROXIES.values()))[1]
    with pytest.raises(TraceError, match="after the trace ended"):
        proxy.forward()


def test_compiled_tbptt_keeps_its_traces_while_the_model_lives_and_no_longer():
    from xpgrad.nn.tbptt import _COMPILED

    rng = xg.random.default_rng(0)
    x, y = rng.normal(size=(2, 12, 3)), rng.normal(size=(2, 12, 4))

    def run():
        lstm = xg.nn.LSTM(3, 4, rng=0)
        opt = xg.optim.Adam(learning_rate=1e-2)
        state = None
        for _ in range(3):
            state = xg.nn.tbptt_train(lstm, xg.losses.mse, opt, x, y, k1=4, state=state,
                                      compile=True).state
        ((_, _, fn),) = _COMPILED[lstm].values()
        assert fn.trace_count == 1            # one window shape, traced once for all calls
        return weakref.ref(lstm), weakref.ref(lstm.trainable_variables[0])

    refs = run()
    gc.collect()
    assert [r() for r in refs] == [None, None]
