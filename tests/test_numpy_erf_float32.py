"""The NumPy backend's float32 ``erf``, ``erfc``, ``ndtr`` and ``erfinv``
(backends/numpy/erf_float32.py): within a few ulp of the float64 values on a dense grid out to
the underflow (erfinv to float32's largest number below 1), the same values with and without
SciPy and by blocks, edges exact; the gradients (``c exp(-s x**2)``, erfinv's from its output)
against PyTorch and finite differences."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import xpgrad as xg
from xpgrad.backends.numpy import blocks, erf_float32, special_scipy
from xpgrad.primitive import PRIMITIVES
from xpgrad.testing import check_grads

pytestmark = pytest.mark.usefixtures("numpy_default")
torch = pytest.importorskip("torch")

# name: (grid ends, largest ulp error; the bounds measured are 2.8, 8.0, 8.7 and 3.8)
_CASES = {"erf": ((-4.5, 4.5), 3.0), "erfc": ((-4.0, 10.2), 9.0), "ndtr": ((-14.5, 9.0), 9.0),
          "erfinv": ((-0.99999994, 0.99999994), 4.0)}
_EDGES = np.float32([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e30, -1e30, 1e-40, -1e-40])
#: where each saturates: erf at +-1 from 3.92 on, erfc at 0 from 10.06 (2 left of -3.9), ndtr
#: at 0 left of -14.1 (1 right of 5.8)
_SATURATED = {"erf": [3.95, -3.96, 5.0], "erfc": [10.1, 11.0, -4.5], "ndtr": [-14.2, -20.0, 9.0],
              "erfinv": [1.0, -1.0, 1.5, -2.0]}           # erfinv: +-inf at +-1, NaN outside


def _ulps(got, want):
    """``|got - want|`` in ulps of ``want`` rounded to float32 (the smallest normal's below it:
    a subnormal holds fewer digits)."""
    floor = np.finfo(np.float32).tiny
    ulp = np.spacing(np.maximum(np.abs(want), floor).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / ulp


def _float64(name, x):
    """The float64 kernel's (SciPy's or the generic formula's) values at float32 ``x``."""
    return getattr(xg.special, name)(xg.asarray(x.astype(np.float64))).numpy()


@pytest.mark.parametrize("name", sorted(_CASES))
def test_within_a_few_ulp_of_float64(name):
    (low, high), bound = _CASES[name]
    tiny = np.geomspace(1e-38, 1.0 if name != "erfinv" else 0.5, 20000)
    near_one = 1.0 - np.geomspace(6e-8, 1e-2, 20000)     # erfinv's far region
    x = np.concatenate([np.linspace(low, high, 400001), tiny, -tiny, near_one, -near_one])
    x = x[(x >= low) & (x <= high)].astype(np.float32)
    got = getattr(xg.special, name)(xg.asarray(x)).numpy()
    assert got.dtype == np.float32
    errors = _ulps(got, _float64(name, x))
    assert errors.max() < bound, (name, float(x[errors.argmax()]))
    assert errors.mean() < 1.0


@pytest.mark.parametrize("name", sorted(_CASES))
def test_edges_are_exact(name):
    """+-inf, NaN, signed zeros, subnormal and huge inputs, the clipping points: the generic
    rule's values (float64's rounded), the sign of zero included."""
    x = np.concatenate([_EDGES, np.float32(_SATURATED[name])])
    got = getattr(erf_float32, name)(x)
    want = PRIMITIVES[f"special_{name}"].forward(npx, x)      # the generic rule's, rounded
    assert want.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    number = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))


@pytest.mark.parametrize("name", sorted(_CASES))
def test_scipy_blocks_and_layouts_do_not_change_the_values(name, monkeypatch):
    """The float32 values are the same without SciPy, by blocks of 5 numbers, on a transposed
    input and on a 0-d one."""
    x = np.random.default_rng(1).normal(size=(37, 11)) * 4
    x = (np.tanh(x) if name == "erfinv" else x).astype(np.float32)
    fn = getattr(xg.special, name)
    whole = fn(xg.asarray(x)).numpy()
    monkeypatch.setattr(special_scipy, "_SCIPY", special_scipy._MISSING)
    np.testing.assert_array_equal(fn(xg.asarray(x)).numpy(), whole)
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 20)
    np.testing.assert_array_equal(fn(xg.asarray(x)).numpy(), whole)
    np.testing.assert_array_equal(fn(xg.asarray(x.T)).numpy(), whole.T)
    np.testing.assert_array_equal(fn(xg.asarray(x[3, 4])).numpy(), whole[3, 4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(_CASES))
def test_gradients_match_torch(name, dtype):
    rng = np.random.default_rng(2)
    if name == "erfinv":
        x = np.concatenate([rng.uniform(-1, 1, 300), [0.0, -0.0, 0.9999, -0.99999, 1.0]])
    else:
        x = np.concatenate([rng.normal(size=300) * 3, [0.0, -0.0, 30.0, -30.0, np.inf]])
    x = x.astype(dtype)
    g = rng.normal(size=x.shape).astype(dtype)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = getattr(xg.special, name)(xt)
    ours = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    tx = torch.tensor(x, requires_grad=True)
    getattr(torch.special, name)(tx).backward(torch.tensor(g))
    assert ours.dtype == dtype
    want = tx.grad.numpy()
    # float32's exp(-s x**2) is x**2 ulps off either way: the rounding of the square
    # (erfinv's exp(out**2): its output's)
    square = (x if name != "erfinv" else torch.special.erfinv(tx.detach()).numpy()) ** 2
    tol = 3e-7 * (1.0 + 2 * square) if dtype == np.float32 else 1e-14
    finite = np.isfinite(x) & np.isfinite(want)
    ours_f, want_f = ours[finite], want[finite]
    tol = tol[finite] if dtype == np.float32 else tol
    assert (np.abs(ours_f - want_f) <= tol * np.abs(want_f) + 1e-30).all()
    np.testing.assert_array_equal(ours[~finite], want[~finite])
    assert finite.sum() >= 300


@pytest.mark.parametrize("name", sorted(_CASES))
def test_gradients_against_finite_differences(name):
    x = [-0.93, -0.4, 0.0, 0.3, 0.7, 0.96] if name == "erfinv" else [-3.1, -0.8, 0.0, 0.3, 1.7, 4.2]
    x = xg.asarray(np.array(x))
    check_grads(getattr(xg.special, name), [x], order=2)


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="xg.special.erf: x must be real"):
        xg.special.erf(xg.asarray(np.array([1 + 2j], np.complex64)))
    with pytest.raises(TypeError, match="xg.special.ndtr: x must be a tensor or numbers"):
        xg.special.ndtr("0.5")
    # integers come in as float32, as xg.exp takes them: the float32 kernel's values
    out = xg.special.erfc(xg.asarray(np.array([0, 1, 2], np.int32)))
    assert out.dtype == xg.float32
    np.testing.assert_array_equal(out.numpy(), erf_float32.erfc(np.float32([0, 1, 2])))


@pytest.mark.slow
def test_the_fit_script_gives_the_kernels_polynomials():
    """``tools/fit_erf32.py`` reproduces ``_ERF_TANH``, ``_TAIL`` and the erfinv polynomials.
    Its 7,000 least-squares solves of 40,000x10 run on one BLAS thread: 12 s of CPU, where a
    pool of two on a busy 2-core machine spun for 70 s of CPU and 230 s of wall time."""
    pytest.importorskip("scipy.special")
    import runpy
    import sys
    from pathlib import Path

    tools = Path(__file__).parents[1] / "tools"
    sys.path.insert(0, str(tools))                  # its import of fit_gelu_erfc32
    try:
        tool = runpy.run_path(str(tools / "fit_erf32.py"), run_name="fit_erf32")
    finally:
        sys.path.remove(str(tools))
    with threadpool_limits(limits=1, user_api="blas"):     # restores the count after
        g, erf_error = tool["fit_erf"]()
        q, tail_error = tool["fit_tail"]()
        near, far, erfinv_error = tool["fit_erfinv"]()
    assert erf_error < 6e-8 and tail_error < 7e-8 and erfinv_error < 1.3e-7
    np.testing.assert_allclose(g, erf_float32._ERF_TANH, rtol=1e-6)
    np.testing.assert_allclose(q, erf_float32._TAIL, rtol=1e-6)
    np.testing.assert_allclose(near, erf_float32._ERFINV_NEAR, rtol=1e-6)
    np.testing.assert_allclose(far, erf_float32._ERFINV_FAR, rtol=1e-6)
