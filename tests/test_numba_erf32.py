"""The Numba backend's erf family (backends/numba/_erf32.py, _special.py): float32 ``erf``,
``erfc``, ``ndtr``, ``erfinv`` and ``ndtri`` within a few ulp of the float64 values on dense
grids out to their underflow (ndtri down to subnormal p), edges as the generic rule; the
compiled gradients of all five against PyTorch (both dtypes) and finite differences; the loops'
coefficients the NumPy backend's."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.primitive import PRIMITIVES
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
scipy_special = pytest.importorskip("scipy.special")
if not backend_report().get("numba", {"available": False})["available"]:
    pytest.skip("numba is not installed", allow_module_level=True)

# name: (grid ends, largest ulp error allowed; measured 4.04, 5.8, 6.0, 3.8, 5.0)
_CASES = {"erf": ((-4.5, 4.5), 4.5), "erfc": ((-4.0, 10.2), 6.5), "ndtr": ((-14.5, 9.0), 6.5),
          "erfinv": ((-0.99999994, 0.99999994), 4.0), "ndtri": ((0.0, 1.0), 5.5)}
_EDGES = {"erfinv": [1.0, -1.0, 1.5, -2.0, 0.0, -0.0, np.inf, np.nan, 1e-40],
          "ndtri": [0.0, 1.0, 0.5, -0.1, 1.5, 1e-45, 1e-40, 2.9e-8, 3.1e-8, 1 - 2.0 ** -24,
                    np.inf, np.nan, -0.0]}
_OTHER_EDGES = [np.inf, -np.inf, np.nan, -0.0, 0.0, 1e30, -1e30, 1e-40, -1e-40, 3.95, -3.96,
                10.1, 10.2, -14.2, -14.3, 20.0, -20.0]


def _numba(x):
    return xg.asarray(x, backend="numba")


def _ulps(got, want):
    floor = np.finfo(np.float32).tiny
    ulp = np.spacing(np.maximum(np.abs(want), floor).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / ulp


@pytest.mark.parametrize("name", sorted(_CASES))
def test_float32_within_a_few_ulp_of_scipy(name):
    (low, high), bound = _CASES[name]
    tiny = np.geomspace(1e-45 if name == "ndtri" else 1e-38, 0.5, 20000)
    x = np.concatenate([np.linspace(low, high, 400001), tiny, -tiny, 1 - tiny, tiny - 1])
    x = x[(x >= low) & (x <= high)].astype(np.float32)
    got = getattr(xg.special, name)(_numba(x)).numpy()
    assert got.dtype == np.float32
    want = getattr(scipy_special, name)(x.astype(np.float64))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    errors = _ulps(got[finite], want[finite])
    assert errors.max() <= bound, (name, float(x[finite][errors.argmax()]), errors.max())
    assert errors.mean() < 1.0


@pytest.mark.parametrize("name", sorted(_CASES))
def test_float32_edges_are_the_generic_rules(name):
    """+-inf, NaN, signed zeros, subnormal and huge inputs, the caps and ndtri's switch to the
    float64 loop: the generic rule's values, the sign of zero included."""
    x = np.float32(_EDGES.get(name, _OTHER_EDGES))
    got = getattr(xg.special, name)(_numba(x)).numpy()
    with np.errstate(all="ignore"):
        want = PRIMITIVES[f"special_{name}"].forward(npx, x)
    assert want.dtype == np.float32
    finite = np.isfinite(want)
    assert (_ulps(got[finite], want[finite].astype(np.float64)) <= 6.5).all()
    np.testing.assert_array_equal(got[~finite], want[~finite])
    number = ~np.isnan(want) & (want == 0)
    np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))


@pytest.mark.parametrize("name", sorted(_CASES))
def test_layouts_do_not_change_the_values(name):
    x = np.random.default_rng(1).normal(size=(37, 11)) * 4
    x = {"erfinv": np.tanh(x), "ndtri": 0.5 + 0.5 * np.tanh(x)}.get(name, x).astype(np.float32)
    fn = getattr(xg.special, name)
    whole = fn(_numba(x)).numpy()
    np.testing.assert_array_equal(fn(_numba(x.T)).numpy(), whole.T)
    np.testing.assert_array_equal(fn(_numba(x[3, 4])).numpy(), whole[3, 4])
    np.testing.assert_array_equal(fn(_numba(x[:, ::2])).numpy(), whole[:, ::2])


def _points(name, rng, dtype):
    if name == "erfinv":
        x = np.concatenate([rng.uniform(-1, 1, 300), [0.0, -0.0, 0.9999, -0.99999, 1.0]])
    elif name == "ndtri":
        x = np.concatenate([rng.uniform(0, 1, 300), [0.5, 1e-30, 1e-6, 0.9999, 0.0, 1.0]])
    else:
        x = np.concatenate([rng.normal(size=300) * 3, [0.0, -0.0, 30.0, -30.0, np.inf]])
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(_CASES))
def test_gradients_match_torch(name, dtype):
    rng = np.random.default_rng(2)
    x = _points(name, rng, dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    xt = _numba(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = getattr(xg.special, name)(xt)
    ours = tape.gradient(y, xt, output_gradients=xg.asarray(g, backend="numba")).numpy()
    assert ours.dtype == dtype
    tx = torch.tensor(x, requires_grad=True)
    getattr(torch.special, name)(tx).backward(torch.tensor(g))
    want = tx.grad.numpy()
    # float32's exp(+-s v**2) is v**2 ulps off either way: the rounding of the square (of the
    # input, or of erfinv's and ndtri's output, whose own few ulp count as much again)
    v = x if name not in ("erfinv", "ndtri") else getattr(torch.special, name)(
        tx.detach()).numpy()
    tol = (3e-7 * (1.0 + 2 * v ** 2) * (4 if name in ("erfinv", "ndtri") else 1)
           if dtype == np.float32 else np.full(x.shape, 1e-13))
    finite = np.isfinite(x) & np.isfinite(want)
    assert (np.abs(ours[finite] - want[finite]) <= tol[finite] * np.abs(want[finite])
            + 1e-30).all()
    np.testing.assert_array_equal(ours[~finite], want[~finite])
    assert finite.sum() >= 300


@pytest.mark.parametrize("name", sorted(_CASES))
def test_gradients_against_finite_differences(name):
    x = {"erfinv": [-0.93, -0.4, 0.0, 0.3, 0.7, 0.96],
         "ndtri": [0.02, 0.3, 0.5, 0.71, 0.97]}.get(name, [-3.1, -0.8, 0.0, 0.3, 1.7, 4.2])
    check_grads(getattr(xg.special, name), [_numba(np.array(x))], order=2)


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="xg.special.erf: x must be real"):
        xg.special.erf(xg.asarray(np.array([1 + 2j], np.complex64), backend="numba"))
    with pytest.raises(TypeError, match="xg.special.ndtri: p must be a tensor or numbers"):
        xg.special.ndtri("0.5")
    # integers come in as float32: the float32 loop's values
    out = xg.special.erfc(_numba(np.array([0, 1, 2], np.int32)))
    assert out.dtype == xg.float32
    np.testing.assert_array_equal(out.numpy(), xg.special.erfc(_numba(np.float32([0, 1, 2]))))


def test_the_loops_coefficients_are_the_numpy_backends():
    from xpgrad.backends.numba import _erf32
    from xpgrad.backends.numpy import erf_float32, gelu

    assert _erf32.ERF_TANH is erf_float32._ERF_TANH and _erf32.TAIL is erf_float32._TAIL
    assert _erf32.ERFINV_NEAR is erf_float32._ERFINV_NEAR
    assert _erf32.ERFINV_FAR is erf_float32._ERFINV_FAR and _erf32.C32 is gelu._C32
