"""``x ** 2``, ``** 3`` and ``** 4`` of a real floating tensor are products (PyTorch's rule;
NumPy's float32 ``pow`` by 3 is ~100x slower): values equal to ``np.power`` to a couple of
ulps and at the edges (signed zeros, infinities, NaN, overflow), gradients equal to PyTorch's,
on every backend, to second order."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

EDGES = [0.0, -0.0, 1.0, -1.5, 3e12, -3e12, 1e-30, np.inf, -np.inf, np.nan, 0.7, -2.25]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [2, 3, 4, 3.0])
def test_small_integer_powers_equal_numpy_and_torch(backend, dtype, exponent):
    torch = pytest.importorskip("torch")
    values = np.array(EDGES + list(np.random.default_rng(0).normal(size=40)), dtype)
    x = xg.asarray(values, backend=backend)
    with np.errstate(over="ignore", invalid="ignore"):     # 3e12 ** 4 overflows float32
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = x ** exponent
        grad = tape.gradient(y, x, output_gradients=xg.ones_like(y)).numpy()
        want = np.power(values, dtype(exponent))
    assert y.dtype == x.dtype
    np.testing.assert_array_max_ulp(y.numpy(), want, maxulp=2)
    np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(want))
    t = torch.tensor(values, requires_grad=True)
    (t ** exponent).backward(torch.ones_like(t))
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=4 * np.finfo(dtype).eps)


def test_second_order_through_a_cube():
    x = xg.asarray(np.array([-1.5, 0.3, 2.0]))
    check_grads(lambda a: xg.sum(a ** 3 + a ** 4), [x], order=2)
