"""The NumPy backend's ``erfc`` and ``ndtr`` kernels (backends/numpy/special_scipy.py): in
float64 SciPy's ufuncs where SciPy imports, the generic formulas in the tails where SciPy's
lose digits (``erfc`` right of 5, ``ndtr`` left of -20) and where SciPy is missing; in float32
``erf_float32.py``'s polynomials. Values against mpmath on both paths, float32 within 9 ulp
of float64, gradients (``erf_float32.gaussian_vjp``) against PyTorch and finite differences,
edges (+-inf, NaN, -0.0, subnormal results)."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import special
from xpgrad.ops import formulas
from xpgrad.testing import check_grads
from test_numpy_log_ndtr_kernel import path  # noqa: F401 (the fixture: SciPy's path or NumPy's)

pytestmark = pytest.mark.usefixtures("numpy_default")
torch = pytest.importorskip("torch")
mp = pytest.importorskip("mpmath")

_RNG = np.random.default_rng(0)
_ERFC_X = np.concatenate([_RNG.uniform(-6, 27.3, 1500), [-0.0, 0.0, 4.999, 5.0, 5.001, 26.5,
                                                        27.2, 27.3]])
_NDTR_X = np.concatenate([_RNG.uniform(-38.5, 9, 1500), [-0.0, 0.0, -19.999, -20.0, -20.001,
                                                        -37.6, -38.4]])


def _relative(ours, exact):
    """Relative errors, as if the exact values were at least the smallest normal (a subnormal
    result holds fewer digits)."""
    exact = np.asarray([float(e) for e in exact])
    return np.abs(ours - exact) / np.maximum(np.abs(exact), 2.2e-308)


def test_erfc_against_mpmath(path):
    mp.mp.dps = 40
    out = xg.special.erfc(xg.asarray(_ERFC_X)).numpy()
    assert _relative(out, [mp.erfc(mp.mpf(float(v))) for v in _ERFC_X]).max() < 4e-15


def test_ndtr_against_mpmath(path):
    """Within 4e-15 and, left of 0, ``x**2`` ulps: the rounding of ``x / sqrt 2`` (the
    condition number of ``Phi`` far left; SciPy's and PyTorch's likewise)."""
    mp.mp.dps = 40
    out = xg.special.ndtr(xg.asarray(_NDTR_X)).numpy()
    bound = 4e-15 + 2.2e-16 * np.minimum(_NDTR_X, 0.0) ** 2
    assert (_relative(out, [mp.ncdf(mp.mpf(float(v))) for v in _NDTR_X]) < bound).all()


@pytest.mark.parametrize("name,x,tail", [("erfc", _ERFC_X, _ERFC_X > 5.0),
                                         ("ndtr", _NDTR_X, _NDTR_X < -20.0)])
def test_tails_take_the_generic_formula(path, name, x, tail):
    taken = special.KERNELS[f"special_{name}"].forward(x)
    if path == "numpy":                              # no SciPy: the generic rule runs
        assert taken is None
        return
    with np.errstate(all="ignore"):
        generic = formulas.erfc(npx, x) if name == "erfc" else \
            0.5 * formulas.erfc(npx, -0.7071067811865476 * x)
    np.testing.assert_array_equal(taken[0][tail], generic[tail])


@pytest.mark.parametrize("name", ["erfc", "ndtr"])
def test_float32_is_near_float64_and_edges_exact(path, name):
    """float32 takes ``erf_float32.py``'s polynomials on both paths: within 9 ulp of the
    float64 value (of the smallest normal where it is subnormal); +-inf, NaN, -0.0 exact."""
    fn = getattr(xg.special, name)
    x = np.concatenate([_RNG.normal(size=2000) * 6, [np.inf, -np.inf, np.nan, -0.0]])
    got = fn(xg.asarray(x.astype(np.float32))).numpy()
    want = fn(xg.asarray(x.astype(np.float32).astype(np.float64))).numpy()
    assert got.dtype == np.float32
    ulp = np.spacing(np.maximum(np.abs(want), np.finfo(np.float32).tiny).astype(np.float32))
    assert np.nanmax(np.abs(got - want) / ulp) < 9.0
    ref = getattr(torch.special, name)(torch.from_numpy(x[-4:])).numpy()
    np.testing.assert_array_equal(got[-4:], ref.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["erfc", "ndtr"])
def test_gradients_match_torch(path, name, dtype):
    x = (_RNG.normal(size=(20, 30)) * 4).astype(dtype)
    g = _RNG.normal(size=(20, 30)).astype(dtype)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = getattr(xg.special, name)(xt)
    d = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    tx = torch.tensor(x, requires_grad=True)
    getattr(torch.special, name)(tx).backward(torch.tensor(g))
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(d, tx.grad.numpy(), rtol=tol, atol=1e-30)


@pytest.mark.parametrize("name", ["erfc", "ndtr"])
def test_gradients_against_finite_differences(path, name):
    x = xg.asarray(np.array([-6.0, -1.2, 0.0, 0.7, 4.9, 5.2]))
    check_grads(getattr(xg.special, name), [x], order=2)
