"""xg.function replays a stack of 0-d arrays as one np.array call (jit/small_stacks.py): the
same values, dtype and fresh array as the eager stack, and stacks of anything else untouched."""
import numpy as np
import pytest

import xpgrad as xg


def _compiled(fn, *args):
    compiled = xg.function(fn)
    for _ in range(2):              # eager warm-up, then the trace
        compiled(*args)
    return compiled


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_a_stack_of_scalars_replays_the_eager_values_and_dtype(dtype):
    def rhs(s, p):
        return xg.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])

    rng = np.random.default_rng(0)
    p = xg.asarray(np.array([3, 1, 2, 5]).astype(dtype))
    compiled = _compiled(rhs, xg.asarray(np.array([2, 7]).astype(dtype)), p)
    (program,) = compiled.programs()
    assert program.scalar_stacks == 1 and "np.stack" not in program.source
    states = [xg.asarray((rng.normal(size=2) * 10).astype(dtype)) for _ in range(5)]
    replayed = [compiled(s, p) for s in states]
    for s, out in zip(states, replayed):     # (each result its own array: all compared last)
        eager = rhs(s, p)
        assert out.dtype == eager.dtype and out.shape == (2,)
        np.testing.assert_array_equal(out.numpy(), eager.numpy())
    assert not np.shares_memory(replayed[0].numpy(), replayed[1].numpy())


def test_stacks_of_arrays_or_of_mixed_dtypes_are_left_to_numpy():
    def rows(a, b):
        return xg.stack([a, b])

    def mixed(a, b):
        return xg.stack([a[0], b[0]])

    a = xg.asarray(np.array([1.0, 2.0], np.float32))
    b = xg.asarray(np.array([3.0, 4.0], np.float64))
    for fn in (rows, mixed):
        compiled = _compiled(fn, a, b)
        assert compiled.programs()[0].scalar_stacks == 0
        out = compiled(a, b)
        eager = fn(a, b)
        assert out.dtype == eager.dtype == xg.float64
        np.testing.assert_array_equal(out.numpy(), eager.numpy())


def test_a_scalar_stack_under_a_traced_gradient_matches_finite_differences():
    def loss(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            v = xg.stack([x[0] * x[1], xg.sin(x[1])])
            out = xg.sum(v * v)
        return out, tape.gradient(out, x)

    x0 = np.array([0.7, -1.3])
    compiled = _compiled(loss, xg.asarray(x0))
    value, grad = compiled(xg.asarray(x0))
    assert compiled.programs()[0].scalar_stacks >= 1

    def f(x):
        return (x[0] * x[1]) ** 2 + np.sin(x[1]) ** 2

    h = 1e-6
    numeric = [(f(x0 + h * e) - f(x0 - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(float(value), f(x0), rtol=1e-14)
    np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-7)
