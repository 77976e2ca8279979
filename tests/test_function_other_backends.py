"""``xg.function`` and values of another backend moved in with ``Tensor.to``: another
backend's Variable is read anew on every replay, a draw from another backend's generator is
drawn anew (a ``Dropout`` with such an ``rng``), and the gradient of a moved Variable goes
back to it, as in eager; computing on the other backend is still refused. And a Function
copies with ``copy.deepcopy`` (a model holding one), tracing afresh for the copy."""
import copy
import pickle

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import OtherBackend

pytest.importorskip("numba", reason="the numba backend needs Numba (pip install 'xpgrad[numba]')")


def _x(shape=(3,)):
    return xg.asarray(np.ones(shape, np.float32), backend="numba")


def test_another_backends_variable_is_read_on_every_replay():
    v = xg.Variable(np.zeros(3, np.float32))                 # numpy backend
    step = xg.function(lambda x: x * v.to("numba"))
    x = _x()
    for i in range(4):
        v.assign(np.full(3, i, np.float32))
        out = step(x)
        assert out.backend.name == "numba"
        np.testing.assert_array_equal(out.numpy(), np.full(3, i, np.float32))
    assert step.trace_count == 1


def test_another_backends_generator_draws_anew_on_every_replay():
    rng, same = xg.random.default_rng(0), xg.random.default_rng(0)       # numpy backend
    step = xg.function(lambda x: x + rng.normal(size=(3,)).to("numba"))
    x = _x()
    draws = [step(x).numpy() for _ in range(4)]
    for got in draws:
        np.testing.assert_array_equal(got, (x + same.normal(size=(3,)).to("numba")).numpy())
    assert not np.array_equal(draws[2], draws[3])
    assert step.trace_count == 1


def test_dropout_with_another_backends_generator_replays_as_eager():
    drop = xg.nn.Dropout(0.5, rng=xg.random.default_rng(1))
    eager = xg.nn.Dropout(0.5, rng=xg.random.default_rng(1))
    step = xg.function(lambda x: drop(x))
    x = _x((4, 5))
    masks = [step(x).numpy() for _ in range(4)]
    for got in masks:
        np.testing.assert_array_equal(got, eager(x).numpy())
    assert len({m.tobytes() for m in masks}) > 1, "the same mask on every replay"


def test_training_a_moved_variable_equals_eager():
    def run(compiled):
        v = xg.Variable(np.arange(3, dtype=np.float32))                  # numpy
        w = xg.Variable(xg.asarray(np.ones(3, np.float32), backend="numba"))
        opt = xg.optim.Adam(0.1)

        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.sum((x * v.to("numba") * w) ** 2)
            opt.apply_gradients(zip(tape.gradient(loss, [v, w]), [v, w]))
            return loss

        fn = xg.function(step) if compiled else step
        losses = [float(fn(_x()).numpy()) for _ in range(5)]
        return losses, v.numpy(), w.numpy()

    eager, compiled = run(False), run(True)
    assert eager[0] == compiled[0]
    for a, b in zip(eager[1:], compiled[1:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.usefixtures("numpy_default")
def test_computing_on_the_other_backend_is_still_refused():
    v = xg.Variable(np.ones(3, np.float32))
    step = xg.function(lambda x: x * (v * 2.0).to("numba"), warmup=0)
    with pytest.raises(OtherBackend, match="computes on backend 'numpy' while it is traced "
                                           "on 'numba'"):
        step(_x())


class _Net(xg.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = xg.nn.Linear(2, 1, rng=0)
        self.fast = xg.function(self.lin, max_traces=3)


def test_a_model_holding_a_function_deep_copies():
    net = _Net()
    x = xg.asarray(np.ones((1, 2), np.float32))
    for _ in range(3):
        net.fast(x)
    twin = copy.deepcopy(net)
    assert twin.fast.fn is twin.lin and twin.fast.max_traces == 3
    assert twin.fast.trace_count == 0                        # its own traces, on its calls
    twin.lin.w.assign(np.full((2, 1), 5.0, np.float32))
    for _ in range(3):
        np.testing.assert_array_equal(twin.fast(x).numpy(), twin.lin(x).numpy())
    np.testing.assert_array_equal(net.fast(x).numpy(), net.lin(x).numpy())
    assert not np.array_equal(net.fast(x).numpy(), twin.fast(x).numpy())


def _double(x):
    return x * 2.0


def test_a_function_pickles_as_a_fresh_one():
    fn = xg.function(_double, warmup=2)
    fn(xg.ones(2))
    again = pickle.loads(pickle.dumps(fn))
    assert again.warmup == 2 and again.trace_count == 0
    np.testing.assert_array_equal(again(xg.ones(2)).numpy(), [2.0, 2.0])
