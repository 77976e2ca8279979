"""xg.function: a replayed step equals the eager step (training with SGD/Adam, schedules,
variables by reference), retracing and its warning, the errors a trace raises (naming the user's
line), guards, and the program's buffers."""
import inspect
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import RetracingWarning, TraceError
from side_effects_on_purpose import ON_PURPOSE

BACKENDS = ["numpy", "numba"]


def _model(backend, optimizer, seed=0, sizes=(6, 8, 3)):
    rng = np.random.default_rng(seed)
    ws = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        ws.append(xg.Variable((rng.normal(size=(a, b)) * 0.5).astype(np.float32), name=f"w{i}",
                              backend=backend))
        ws.append(xg.Variable(np.zeros(b, np.float32), name=f"b{i}", backend=backend))
    opt = optimizer()

    def step(x, y):
        with xg.GradientTape() as tape:
            h = x
            for i in range(0, len(ws) - 2, 2):
                h = xg.tanh(h @ ws[i] + ws[i + 1])
            loss = xg.losses.softmax_cross_entropy(h @ ws[-2] + ws[-1], y)
        opt.apply_gradients(zip(tape.gradient(loss, ws), ws))
        return loss

    return step, ws


def _batches(backend, n=6, batch=5, features=6, classes=3):
    rng = np.random.default_rng(42)
    return [(xg.asarray(rng.normal(size=(batch, features)).astype(np.float32), backend=backend),
             xg.asarray(rng.integers(0, classes, size=batch), backend=backend))
            for _ in range(n)]


OPTIMIZERS = {
    "sgd": lambda: xg.optim.SGD(0.1),     # its weight updates replay as one gemm each
    "sgd-momentum": lambda: xg.optim.SGD(0.1, momentum=0.9),
    "adam": lambda: xg.optim.Adam(0.01),
    "adam-schedule": lambda: xg.optim.Adam(lambda step: 0.01 / (1 + step)),
    "adamw-amsgrad": lambda: xg.optim.AdamW(0.01, amsgrad=True),   # fused on numba too
    "rmsprop-centered": lambda: xg.optim.RMSprop(0.01, centered=True, momentum=0.5),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_compiled_training_equals_eager(backend, optimizer):
    eager, eager_ws = _model(backend, OPTIMIZERS[optimizer])
    step, ws = _model(backend, OPTIMIZERS[optimizer])
    compiled = xg.function(step)
    for x, y in _batches(backend):
        expected = eager(x, y)
        got = compiled(x, y)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    for a, b in zip(ws, eager_ws):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert compiled.trace_count == 1
    assert "def replay" in compiled.programs()[0].source


def test_replay_writes_into_reused_buffers():
    step, _ = _model("numpy", OPTIMIZERS["sgd-momentum"], sizes=(6, 8, 8, 3))
    compiled = xg.function(step)
    for x, y in _batches("numpy", n=3):
        compiled(x, y)
    source = compiled.programs()[0].source
    assert "out=B" in source


def test_variables_are_captured_by_reference():
    w = xg.Variable([1.0, 2.0], name="w")
    f = xg.function(lambda x: xg.sum(w * x))
    x = xg.asarray([1.0, 1.0])
    assert [f(x).item() for _ in range(3)] == [3.0, 3.0, 3.0]
    w.assign([5.0, 5.0])             # a new array for the variable: the replay reads it
    assert f(x).item() == 10.0


def test_assign_inside_the_function_persists():
    counter = xg.Variable(0.0, name="counter")

    @xg.function
    def step(d):
        counter.assign_add(d * 2.0)

    for _ in range(4):
        step(xg.asarray(1.0))
    assert counter.item() == 8.0
    assert step.trace_count == 1


def test_a_new_signature_traces_again_and_many_warn():
    f = xg.function(lambda x: x * 2.0, warmup=0, retrace_warning=2, max_traces=2)
    for n in (1, 2):
        assert f(xg.ones(n)).tolist() == [2.0] * n
    assert f.trace_count == 2
    with pytest.warns(RetracingWarning, match="traced 3 times"):
        f(xg.ones(3))
    assert len(f.programs()) == 2        # the least recently used was dropped
    with pytest.warns(RetracingWarning, match="traced 4 times"):
        f(xg.ones(1))
    assert f.trace_count == 4


def test_python_values_are_part_of_the_signature():
    f = xg.function(lambda x, k: x * k, warmup=0)
    assert f(xg.ones(1), 2.0).tolist() == [2.0]
    assert f(xg.ones(1), 3.0).tolist() == [3.0]
    assert f.trace_count == 2


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_value_dependent_control_flow_names_the_line():
    def f(x):
        y = x * 2.0
        if xg.sum(y) > 0:       # marker: control flow
            return y
        return -y

    g = xg.function(f, warmup=0)
    with pytest.raises(TraceError, match="bool") as info:
        g(xg.ones(2))
    assert info.value.where.endswith(f"test_function.py:{_line_of(f, 'marker: control')}")


def _reads_item(x):
    return x * xg.sum(x).item()       # marker: read


def _reads_numpy(x):
    return x * xg.sum(x).numpy()      # marker: read


def _reads_float(x):
    return x * float(xg.sum(x))       # marker: read


@pytest.mark.parametrize("f, what", [(_reads_item, ".item()"), (_reads_numpy, ".numpy()"),
                                     (_reads_float, "float()")])
def test_reading_a_value_names_the_line(f, what):
    with pytest.raises(TraceError, match="reads a tensor's value") as info:
        xg.function(f, warmup=0)(xg.ones(2))
    assert str(info.value).startswith(what)
    assert info.value.where.endswith(f"test_function.py:{_line_of(f, 'marker: read')}")


@ON_PURPOSE
def test_a_leaked_tensor_raises_when_used():
    leaked = []

    def f(x):
        y = x + 1.0
        leaked.append(y)
        return y

    g = xg.function(f, warmup=0)
    g(xg.ones(2))
    with pytest.raises(TraceError, match="leaked out of the function"):
        leaked[0] * 2.0
    with pytest.raises(TraceError, match="leaked out of the function"):
        leaked[0].numpy()


@pytest.mark.usefixtures("numpy_default")
def test_arguments_are_checked():
    class Foreign:              # an array of another library (NumPy's are converted)
        def __array__(self, dtype=None, copy=None):
            return np.ones(2)

    f = xg.function(lambda x: x)
    with pytest.raises(TypeError, match="wrap the argument with xg.asarray"):
        f(Foreign())
    with pytest.raises(TypeError, match="takes a callable"):
        xg.function(3)
    with pytest.raises(ValueError, match="max_traces"):
        xg.function(lambda x: x, max_traces=0)
    with pytest.raises(ValueError, match="warmup"):
        xg.function(lambda x: x, warmup=-1)
    with pytest.raises(ValueError, match="fuse=True needs the numba or cupy backend"):
        xg.function(lambda x: x, warmup=0, fuse=True)(xg.ones(1))


@pytest.mark.usefixtures("numpy_default")
def test_labels_outside_the_traced_range_run_eagerly_and_fail_like_eager():
    step, _ = _model("numpy", OPTIMIZERS["sgd-momentum"])
    compiled = xg.function(step)
    x, y = _batches("numpy", n=1)[0]
    for _ in range(3):
        compiled(x, y)
    with pytest.raises(IndexError) as eager_error:
        step(x, xg.asarray([0, 1, 2, 7, 0]))
    with pytest.raises(IndexError) as replay_error:
        compiled(x, xg.asarray([0, 1, 2, 7, 0]))
    assert str(replay_error.value) == str(eager_error.value)
    assert compiled.trace_count == 1


def test_under_an_outer_tape_the_call_is_eager_and_differentiable():
    f = xg.function(lambda x: xg.sum(xg.exp(x)), warmup=0)
    x = xg.asarray([0.0, 1.0], dtype=xg.float64)
    f(x)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.exp([0.0, 1.0]))


def _random_program(rng, n_ops):
    unary = [xg.tanh, xg.exp, lambda a: a * a, xg.nn.sigmoid, lambda a: -a, xg.nn.relu,
             lambda a: a * 0.5 + 1.0]
    binary = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
              lambda a, b: xg.maximum(a, b)]
    ops = [(int(rng.integers(0, 2)), int(rng.integers(0, 7)), int(rng.integers(0, 4)))
           for _ in range(n_ops)]

    def program(x, w):
        values = [x, w]
        for kind, u, b in ops:
            if kind == 0:
                values.append(unary[u](values[-1]))
            else:
                values.append(binary[b](values[-1], values[u % len(values)]))
        return xg.sum(values[-1] * 0.1)

    return program


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(4))
def test_random_programs_gradients_equal_eager(backend, seed):
    rng = np.random.default_rng(seed)
    program = _random_program(rng, 12)
    w = xg.Variable(rng.normal(size=(4, 3)).astype(np.float64), backend=backend)

    def value_and_grads(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = program(x, w)
        gx, gw = tape.gradient(y, [x, w])
        return y, gx, gw

    compiled = xg.function(value_and_grads, warmup=0)
    for i in range(3):
        x = xg.asarray(np.random.default_rng(i).normal(size=(4, 3)), backend=backend)
        for got, want in zip(compiled(x), value_and_grads(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def test_compiled_gradient_matches_finite_differences():
    w = xg.Variable(np.array([0.3, -0.2, 0.5]), name="w")

    def loss_and_grad(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(x * w) ** 2)
        return loss, tape.gradient(loss, w)

    compiled = xg.function(loss_and_grad, warmup=0)
    x = xg.asarray([1.0, 2.0, -1.5], dtype=xg.float64)
    compiled(x)
    _, grad = compiled(x)

    def f(wv):
        return np.sum(np.tanh(x.numpy() * wv) ** 2)

    eps, w0 = 1e-6, w.numpy()
    numeric = [(f(w0 + eps * e) - f(w0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6, atol=1e-9)


def test_no_warning_for_a_steady_signature():
    f = xg.function(lambda x: x + 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(10):
            f(xg.ones(3))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k1, k2", [(5, 5), (4, 6)])
def test_tbptt_compiled_equals_eager(backend, k1, k2):
    rng = np.random.default_rng(0)
    x = xg.asarray(rng.normal(size=(3, 17, 2)).astype(np.float32), backend=backend)
    y = xg.asarray(rng.normal(size=(3, 17, 4)).astype(np.float32), backend=backend)
    runs = []
    for compile in (False, True):
        lstm = xg.nn.LSTM(2, 4, rng=0, backend=backend)
        opt = xg.optim.Adam(0.01)
        losses, state = [], None
        for _ in range(3):          # calls after the first reuse the traces
            result = xg.nn.tbptt_train(lstm, xg.losses.mse, opt, x, y, k1, k2, state=state,
                                       compile=compile)
            losses += result.losses
            state = result.state
        runs.append((losses, [v.numpy() for v in lstm.trainable_variables], state))
    (eager_losses, eager_ws, eager_state), (losses, ws, state) = runs
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    for a, b in zip(ws, eager_ws):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for a, b in zip(state, eager_state):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_compile_equals_eager(backend):
    from xpgrad.training import TrainConfig, train

    results = [train(TrainConfig(backend=backend, epochs=1, hidden=(16,), max_steps=12,
                                 batch_size=64, logdir=None, progress=False, compile=c),
                     echo=None) for c in (False, True)]
    eager, compiled = results
    np.testing.assert_allclose(compiled.history.step_loss, eager.history.step_loss, rtol=1e-6)
    for a, b in zip(compiled.model.trainable_variables, eager.model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert compiled.test_accuracy == eager.test_accuracy


def test_train_compile_flag_is_checked():
    from xpgrad.training import ConfigError, TrainConfig

    with pytest.raises(ConfigError, match="compile"):
        TrainConfig(compile="yes").resolved()


def test_on_trace_error_eager_runs_the_function_eagerly_where_safe():
    def f(x):
        y = x * 2.0
        if xg.sum(y) > 0:
            return y
        return -y

    g = xg.function(f, warmup=0, on_trace_error="eager")
    with pytest.warns(RuntimeWarning, match="runs eagerly for this signature"):
        assert g(xg.ones(2)).tolist() == [2.0, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # decided once per signature
        assert g(-xg.ones(2)).tolist() == [2.0, 2.0]
    assert g.trace_count == 0
    with pytest.raises(ValueError, match="on_trace_error"):
        xg.function(f, on_trace_error="ignore")


def test_on_trace_error_still_raises_after_an_update():
    w = xg.Variable([1.0, 2.0], name="w")
    opt = xg.optim.SGD(0.1)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(w * x)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss.item()          # after the update: running it again would update twice

    g = xg.function(step, warmup=0, on_trace_error="eager")
    with pytest.raises(TraceError, match=r"\.item\(\)"):
        g(xg.ones(2))
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9])      # the failed trace's one update
    # later calls run eagerly, once each, not a failed trace (and its update) every time
    for expected in ([0.8, 1.8], [0.7, 1.7]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            g(xg.ones(2))
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert g.trace_count == 0


def test_a_traced_function_inside_another_is_inlined():
    w = xg.Variable([1.0, -1.0], name="w")
    inner = xg.function(lambda x: xg.tanh(x * w))

    @xg.function
    def outer(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(inner(x) ** 2)
        return y, tape.gradient(y, x)

    def eager(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.sum(xg.tanh(x * w) ** 2)
        return y, tape.gradient(y, x)

    for i in range(4):
        x = xg.asarray([0.1 * i, 0.5], dtype=xg.float64)
        for got, want in zip(outer(x), eager(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    assert outer.trace_count == 1 and inner.trace_count == 0
