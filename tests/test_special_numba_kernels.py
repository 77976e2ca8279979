"""The numba backend's xg.special loops (``backends/numba/_special.py``: the generic formulas'
algorithms as scalar code) against the generic formulas (the primitives' own forwards) and
against SciPy: values over wide ranges and at the special points (poles, +-0, +-inf, NaN, the
digamma root, p near 0 and 1), float32 rounding, and gradients (the generic rules)."""
import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.primitive import PRIMITIVES

scipy_special = pytest.importorskip("scipy.special")
if not backend_report().get("numba", {"available": False})["available"]:
    pytest.skip("numba is not installed", allow_module_level=True)

from xpgrad.backends.numba import _special  # noqa: E402

RNG = np.random.default_rng(0)
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan]
INPUTS = {
    "erf": np.concatenate([RNG.normal(size=2000) * 3, SPECIAL, [1e-300, 30.0, -30.0]]),
    "erfc": np.concatenate([RNG.normal(size=2000) * 8, SPECIAL, [27.0, -27.0]]),
    "ndtr": np.concatenate([RNG.normal(size=2000) * 10, SPECIAL, [-38.0, 9.0]]),
    "log_ndtr": np.concatenate([RNG.normal(size=2000) * 30, SPECIAL, [-1e3, 40.0]]),
    "gammaln": np.concatenate([RNG.uniform(-20, 30, 2000), RNG.uniform(0, 3, 2000), SPECIAL,
                               [-1.0, -2.0, 1e-300, 1.0, 2.0, 1e10, -1e10 - 0.5,
                                -5e-324, -1e-320, -2.2e-308]]),   # -log|x| (subnormal pi x)
    "digamma": np.concatenate([RNG.uniform(-20, 30, 2000), RNG.uniform(0, 3, 2000), SPECIAL,
                               [-1.0, -2.0, 1e-300, 1.4616321449683622, 1e10]]),
    "erfinv": np.concatenate([RNG.uniform(-1, 1, 2000), 1 - 10 ** RNG.uniform(-16, -1, 200),
                              SPECIAL, [1.0, -1.0, 1.5, 1e-20, -0.9999999999]]),
    "ndtri": np.concatenate([RNG.uniform(0, 1, 2000), 10 ** RNG.uniform(-300, -1, 200),
                             [0.0, 1.0, 0.5, -1.0, 2.0, np.nan, 1e-300, 1 - 1e-16, 0.25]]),
}


def _same(got, want, rtol):
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.where(finite, 0, got), np.where(finite, 0, want))
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_numba_loops_equal_the_generic_formulas_and_scipy(name):
    assert f"special_{name}" in xg.get_backend("numba").kernels
    x = INPUTS[name]
    fn = getattr(xg.special, name)
    with np.errstate(all="ignore"):
        got = fn(xg.asarray(x, backend="numba")).numpy()
        # the formulas themselves (the NumPy backend has kernels of its own for some)
        generic = PRIMITIVES[f"special_{name}"].forward(npx, x)
        reference = getattr(scipy_special, name)(x)
    if name == "gammaln":           # SciPy's inf at subnormal x, where it is -log|x|
        subnormal = (x != 0) & (np.abs(x) < np.finfo(np.float64).tiny)
        reference = np.where(subnormal, -np.log(np.abs(np.where(subnormal, x, 1.0))), reference)
    # the generic ndtr is erfc(-x / sqrt 2) / 2 (log_ndtr's right side log1p of it): the
    # rounding of x / sqrt 2 costs it ~x**2 ulp (1.1e-13 at -28; the loops are within 5 ulp of
    # mpmath there: tests/test_numba_erf64.py)
    if name in ("gammaln", "digamma"):
        # the kernel runs SciPy's ufunc (the NumPy backend's kernel, within 1e-12 of the
        # formulas: tests/test_numpy_special_kernels.py); the loops serve without SciPy
        _same(got, generic, 1e-12)
        loop = getattr(_special, f"{name}_loop")
        got = np.empty_like(x)
        with np.errstate(all="ignore"):
            loop(x, got)
    _same(got, generic, 1e-12 if name in ("ndtr", "log_ndtr") else 1e-13)
    _same(got, reference, 1e-11)


@pytest.mark.parametrize("name", ["gammaln", "digamma"])
def test_gamma_family_takes_its_loop_without_scipy(name, monkeypatch):
    """Where SciPy cannot be imported, gammaln and digamma run their Numba loops (the
    gradients stay the NumPy backend's, on its pure-NumPy formulas)."""
    from xpgrad.backends.numpy import special_scipy

    monkeypatch.setattr(special_scipy, "_SCIPY", special_scipy._MISSING)
    calls = []
    loop = getattr(_special, f"{name}_loop")
    monkeypatch.setattr(_special, f"{name}_loop", lambda *a: (calls.append(1), loop(*a))[1])
    kernel = _special._gamma_kernel(f"special_{name}", getattr(_special, f"{name}_loop"))
    x = INPUTS[name]
    with np.errstate(all="ignore"):
        got, _ = kernel.forward(x)
        generic = PRIMITIVES[f"special_{name}"].forward(npx, x)
    assert calls == [1]
    _same(got, generic, 1e-13)
    g = np.linspace(-1, 1, 3)
    dx, = kernel.vjp(g, None, np.array([0.3, 2.5, 7.0]))
    derivative = {"gammaln": scipy_special.digamma,
                  "digamma": lambda v: scipy_special.polygamma(1, v)}[name]
    np.testing.assert_allclose(dx, g * derivative(np.array([0.3, 2.5, 7.0])), rtol=1e-13)


#: float32 functions with loops of their own (``_erf32``): their largest error in ulp of the
#: float64 result (tests/test_numba_erf32.py: on dense grids)
FLOAT32_ULPS = {"erf": 4.5, "erfc": 6.5, "ndtr": 6.5, "erfinv": 4.0, "ndtri": 5.5}


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_float32_is_the_float64_result_rounded(name):
    x = INPUTS[name].astype(np.float32)
    fn = getattr(xg.special, name)
    with np.errstate(all="ignore"):
        got = fn(xg.asarray(x, backend="numba"))
        want64 = fn(xg.asarray(x.astype(np.float64), backend="numba")).numpy()
        want = want64.astype(np.float32)
    assert got.dtype == xg.float32
    if name not in FLOAT32_ULPS:
        np.testing.assert_array_equal(got.numpy(), want)
        return
    got = got.numpy()
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite])
    ulp = np.spacing(np.maximum(np.abs(want[finite]), np.finfo(np.float32).tiny))
    error = np.abs(got[finite] - want64[finite]) / ulp
    assert error.max() <= FLOAT32_ULPS[name], (name, error.max())


@pytest.mark.parametrize("name", ["erf", "erfc", "ndtr", "log_ndtr", "gammaln", "digamma",
                                  "erfinv", "ndtri"])
def test_gradients_are_the_generic_rules(name):
    x = {"erfinv": [-0.7, 0.1, 0.9], "ndtri": [0.01, 0.4, 0.95]}.get(name, [-2.5, 0.3, 4.0])
    if name in ("gammaln", "digamma"):
        x = [0.3, 2.5, 7.0]
    grads = []
    for backend in ("numpy", "numba"):
        t = xg.asarray(np.array(x), backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(t)
            y = xg.sum(getattr(xg.special, name)(t) ** 2)
        grads.append(tape.gradient(y, t).numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-13)
