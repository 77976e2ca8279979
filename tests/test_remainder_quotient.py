"""``remainder``'s gradient for its divisor, ``-g * floor(x / y)``: the quotient read off the
forward's remainder where every one is finite (``ops/elementwise.py``'s ``_floor_quotient``),
else NumPy's ``floor_divide``. Against ``floor_divide`` (exactly in float64; in float32
exactly below 2**20, within 4 ulp past it), PyTorch's gradients and float64 finite
differences; zeros, infinities and NaN divisors take ``floor_divide``."""
import numpy as np
import pytest

import array_api_compat.numpy as npx
import xpgrad as xg
from xpgrad.ops import elementwise
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e3, 1e6, 1e30])
def test_quotient_equals_floor_divide(dtype, scale):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(20000) * scale).astype(dtype)
    y = rng.uniform(-3, 3, 20000).astype(dtype)
    x[:4], y[:4] = [6.0, -6.0, 0.0, -0.0], [3.0, 3.0, -2.0, 2.0]        # exact multiples
    ans = np.remainder(x, y)
    got = elementwise._floor_quotient(npx, ans, x, y)
    want = np.floor_divide(x, y)
    assert got.dtype == want.dtype
    if dtype == np.float64:
        np.testing.assert_array_equal(got, want)
    else:   # float32's (x - ans) / y is off by ~1e-7: quotients past 2**21 may be 1 or 2 away
        np.testing.assert_allclose(got, want, rtol=4 * np.finfo(np.float32).eps, atol=0)
        small = np.abs(want) < 2**20
        np.testing.assert_array_equal(got[small], want[small])


@pytest.mark.parametrize("special", [0.0, np.inf, -np.inf, np.nan])
def test_a_special_divisor_takes_floor_divide(special):
    x = np.array([1.5, -1.0, 2.0, 7.0])
    y = np.array([0.5, special, 3.0, -2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        ans = np.remainder(x, y)
        got = elementwise._floor_quotient(npx, ans, x, y)
        want = np.floor_divide(x, y)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_match_torch_and_finite_differences(dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((30, 20)) * 10).astype(dtype)
    y = rng.uniform(0.5, 3, (20,)).astype(dtype) * np.where(rng.uniform(size=20) < 0.5, -1, 1)
    g = rng.standard_normal((30, 20)).astype(dtype)
    xt, yt = xg.asarray(x), xg.asarray(y)
    with xg.GradientTape() as tape:
        tape.watch([xt, yt])
        z = xg.remainder(xt, yt)
    dx, dy = tape.gradient(z, [xt, yt], output_gradients=xg.asarray(g))
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    torch.remainder(tx, ty).backward(torch.tensor(g))
    np.testing.assert_allclose(z.numpy(), torch.remainder(tx, ty).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(dx.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(dy.numpy(), ty.grad.numpy(), rtol=1e-5 if dtype == np.float32
                               else 1e-12)
    # away from the jumps (x / y an integer), where the finite differences hold
    check_grads(xg.remainder, [xg.asarray(np.array([[2.3, -4.1, 7.7]])),
                               xg.asarray(np.array([1.3, 0.9, -2.2]))])
