"""xg.function replays that once failed, each compared with the eager call: a backend kernel
that declines its inputs (the generic rule runs instead, and is what the program records);
named tuples as arguments and results (pytrees, as in JAX and TensorFlow)."""
import collections

import numpy as np
import pytest

import xpgrad as xg


class _Declining(type(xg.get_backend("numpy"))):
    """The numpy backend with a softmax kernel that declines every input."""

    name = "declining"


def _softmax_step(x):
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.softmax(x, axis=0)
        loss = xg.sum(y * y)
    return loss, tape.gradient(loss, x)


def _assert_replays_equal_eager(fn, make_x):
    compiled = xg.function(fn)
    for k in range(4):
        x = make_x(k)
        got, want = compiled(x), fn(x)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-12)
        np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=1e-12, atol=1e-15)
    assert compiled.trace_count == 1


def test_a_kernel_that_declines_is_not_a_step_of_the_program():
    be = _Declining()
    be.register_kernel("softmax", xg.Kernel(lambda *a, **k: None, lambda *a, **k: None))
    rng = np.random.default_rng(0)
    _assert_replays_equal_eager(_softmax_step,
                                lambda k: xg.asarray(rng.normal(size=(6, 5)), backend=be))


@pytest.mark.parametrize("axis", [0, -1])
def test_numba_softmax_on_any_axis_replays(axis):
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.nn.log_softmax(x, axis=axis) * xg.nn.softmax(x, axis=axis))
        return loss, tape.gradient(loss, x)

    _assert_replays_equal_eager(step, lambda k: xg.asarray(rng.normal(size=(6, 5)),
                                                           backend="numba"))


_State = collections.namedtuple("_State", "h loss")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_named_tuples_in_and_out(backend):
    w = xg.Variable(np.random.default_rng(2).normal(size=(3, 3)), name="w", backend=backend)

    def step(state, x):
        with xg.GradientTape() as tape:
            h = xg.tanh(state.h @ w + x)
            loss = xg.sum(h * h)
        (g,) = tape.gradient(loss, [w])
        return _State(h, loss), {"grad": g}

    compiled = xg.function(step)
    rng = np.random.default_rng(3)
    for _ in range(4):
        state = _State(xg.asarray(rng.normal(size=(2, 3)), backend=backend), None)
        x = xg.asarray(rng.normal(size=(2, 3)), backend=backend)
        (got, got_g), (want, want_g) = compiled(state, x), step(state, x)
        assert type(got) is _State
        np.testing.assert_allclose(got.h.numpy(), want.h.numpy(), rtol=1e-12)
        np.testing.assert_allclose(got.loss.numpy(), want.loss.numpy(), rtol=1e-12)
        np.testing.assert_allclose(got_g["grad"].numpy(), want_g["grad"].numpy(), rtol=1e-12)
    assert compiled.trace_count == 1       # the tensors in the named tuple are arguments
