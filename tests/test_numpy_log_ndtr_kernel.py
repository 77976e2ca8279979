"""The NumPy backend's ``log_ndtr`` kernel (backends/numpy/normal_cdf.py) on both of its forward
paths (SciPy's ufunc where it imports; the formula's branches on their own entries where it
does not): values against mpmath and PyTorch, SciPy's -0.0 right of 37.5 replaced by the true
subnormal; the gradient ``phi / Phi`` from the output against mpmath, PyTorch and finite
differences, at the edges (+-inf, NaN, -0.0) and for float32."""
from __future__ import annotations

import sys

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import normal_cdf, special_scipy
from xpgrad.ops import special_formulas as sf
from xpgrad.testing import check_grads

#: the NumPy backend's kernels, whatever $XPGRAD_BACKEND says (Numba's log_ndtr differs in
#: the last subnormal ulp of some float32 gradients)
pytestmark = pytest.mark.usefixtures("numpy_default")

torch = pytest.importorskip("torch")
mp = pytest.importorskip("mpmath")

KERNEL = normal_cdf.KERNELS["special_log_ndtr"]
_X = np.concatenate([np.linspace(-40.0, 10.0, 501), [-1e4, -200.0, -2.0, -1.999, 37.6, 38.0,
                                                      38.4, 38.6]])


@pytest.fixture(params=["scipy", "numpy"])
def path(request, monkeypatch):
    """The forward's path: ``"numpy"`` makes ``import scipy.special`` fail."""
    monkeypatch.setattr(special_scipy, "_SCIPY", None)
    if request.param == "numpy":
        monkeypatch.setitem(sys.modules, "scipy.special", None)
    yield request.param


def _exact_log_ndtr(v):
    v = mp.mpf(float(v))
    # far right log(1 - p) needs p's digits: -p (1 + p/2) is exact to float64 there
    return -mp.ncdf(-v) if v > 9 else mp.log(mp.ncdf(v))


def _exact_hazard(v):
    v = mp.mpf(float(v))
    return mp.npdf(v) / mp.ncdf(v)


def _relative(ours, exact):
    """Relative errors, as if the exact values were at least 2e-308 (the smallest normal): a
    subnormal result holds fewer digits (1.07e-309 at x = 37.6 is 37 subnormal ulps off)."""
    exact = np.asarray([float(e) for e in exact])
    return np.abs(ours - exact) / np.maximum(np.abs(exact), 2.2e-308)


def test_forward_against_mpmath(path):
    """Within 1e-14, and right of 0 x**2 ulps more: SciPy's ufunc and the formula both round
    ``x / sqrt 2`` first, whose error ``Phi(-x)`` magnifies by its condition number ``x**2``
    (2e-13 at x = 30; PyTorch's likewise)."""
    mp.mp.dps = 40
    out, _ = KERNEL.forward(_X)
    bound = 1e-14 + 2.2e-16 * np.maximum(_X, 0.0) ** 2
    assert (_relative(out, [_exact_log_ndtr(v) for v in _X]) < bound).all()
    if path == "numpy":                        # the formula's own operations, on subsets
        np.testing.assert_allclose(out, sf.log_ndtr(npx, _X), rtol=1e-15, atol=0)


def test_far_right_is_the_subnormal_not_negative_zero(path):
    """SciPy's log_ndtr is -0.0 from 37.5 on; the true value (and PyTorch's) is -Phi(-x), a
    subnormal until it underflows near 38.6."""
    x = np.array([37.0, 37.6, 38.0, 38.4, 38.6, 39.0, np.inf])
    got = xg.special.log_ndtr(xg.asarray(x)).numpy()
    want = torch.special.log_ndtr(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-322)     # subnormals: 20 ulps
    assert (got[:4] < 0).all()
    assert got[2] < 0 and got[2] == pytest.approx(-2.885428351e-316, rel=1e-9)
    assert np.signbit(got[-2]) and got[-1] == 0.0


def test_gradient_against_mpmath(path):
    """Within 4e-15, right of 0 plus ``exp(-x**2 / 2)``'s x**2 ulps, left of -40 1e-14 (the
    erfc fit's reach: 8e-15 at -1e4), as the generic rule's own values."""
    mp.mp.dps = 40
    out, saved = KERNEL.forward(_X)
    (d,) = KERNEL.vjp(np.ones_like(_X), saved, _X)
    exact = [_exact_hazard(v) for v in _X]
    bound = np.where(_X < -40, 1e-14, 4e-15 + 2.2e-16 * np.maximum(_X, 0.0) ** 2)
    assert (_relative(d, exact) < bound).all()
    with np.errstate(all="ignore"):
        generic = sf.ndtr_hazard(npx, _X)
    assert (_relative(generic, exact) < bound).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_and_gradients_match_torch(path, dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=3000) * 8, [0.0, -0.0, -30.0, 9.0, 40.0, -np.inf,
                                                    np.inf, np.nan]]).astype(dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.special.log_ndtr(xt)
    d = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    # PyTorch's float32 log_ndtr works in float32 (7e-3 off relative near 0): its float64,
    # rounded, is the reference
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = torch.special.log_ndtr(tx)
    ty.backward(torch.tensor(g.astype(np.float64)))
    assert y.dtype == xt.dtype and d.dtype == dtype
    # float64: right of 0 both round x / sqrt 2 (x**2 ulps, 2e-14 at x = 20: mpmath decides)
    tol = 4 * np.finfo(np.float32).eps if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy().astype(dtype), rtol=tol, atol=0,
                               equal_nan=True)
    # PyTorch's own derivative is 1e-13 off left of -20 (the float64 values test on mpmath)
    # and NaN at -inf, where xpgrad's is the limit inf (as the generic rule's)
    finite = x != -np.inf
    np.testing.assert_allclose(d[finite], tx.grad.numpy().astype(dtype)[finite],
                               rtol=tol, atol=0, equal_nan=True)
    edges = xg.asarray(np.array([-np.inf, np.inf, np.nan, -0.0], dtype))
    with xg.GradientTape() as tape:
        tape.watch(edges)
        y = xg.special.log_ndtr(edges)
    d = tape.gradient(y, edges).numpy()
    assert d[0] == np.inf and d[1] == 0.0 and np.isnan(d[2])
    assert d[3] == pytest.approx(np.sqrt(2 / np.pi), rel=float(4 * np.finfo(dtype).eps))


def test_float32_gradient_is_float64_rounded(path):
    x = np.linspace(-30, 8, 2001).astype(np.float32)
    _, saved = KERNEL.forward(x)
    (d32,) = KERNEL.vjp(np.ones_like(x), saved, x)
    _, saved = KERNEL.forward(x.astype(np.float64))
    (d64,) = KERNEL.vjp(np.ones(x.shape), saved, x.astype(np.float64))
    assert d32.dtype == np.float32
    np.testing.assert_array_equal(d32, d64.astype(np.float32))


def test_gradients_against_finite_differences(path):
    x = xg.asarray(np.array([-25.0, -3.0, -2.0, -0.5, 0.0, 1.5, 6.0]))
    check_grads(xg.special.log_ndtr, [x], order=2)
    check_grads(lambda v: xg.special.log_ndtr(v * v - 4.0), [x * 0.2])


def test_shapes_and_bad_input(path):
    x = xg.asarray(np.array(-3.0))
    assert xg.grad(xg.special.log_ndtr)(x).shape == ()
    m = xg.asarray(np.linspace(-5, 5, 12).reshape(3, 4).T)      # not C-contiguous
    g = xg.grad(lambda v: xg.sum(xg.special.log_ndtr(v)))(m)
    np.testing.assert_allclose(g.numpy(), sf.ndtr_hazard(npx, m.numpy()), rtol=4e-15)
    with pytest.raises(TypeError, match="log_ndtr: x must be real"):
        xg.special.log_ndtr(xg.asarray([1j]))
    assert KERNEL.forward(np.ones(3, np.int32)) is None
