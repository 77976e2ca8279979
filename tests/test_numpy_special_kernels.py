"""The NumPy backend's kernels for xg.special (backends/numpy/special.py, special_scipy.py), on
both of their paths: SciPy's ufuncs where SciPy imports, the pure-NumPy formulas where it does
not (its import monkeypatched away). Values against SciPy and mpmath (the roots of lgamma and
digamma, the negative axis, next to the poles), the kernels against the generic rules,
gradients against finite differences and PyTorch, and what the kernels decline.
(tests/test_kernel_protocol.py checks them against the generic rules on the SciPy path.)"""
from __future__ import annotations

import math
import subprocess
import sys

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import normal_cdf, special, special_scipy
from xpgrad.primitive import PRIMITIVES
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")
mp = pytest.importorskip("mpmath")

PATHS = ["scipy", "numpy"]
_NEGATIVE = -np.linspace(0.013, 40.0, 3001)           # no pole hit exactly


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """The kernels' path: ``"numpy"`` makes ``import scipy.special`` fail (as where SciPy is not
    installed) and forgets the module already found."""
    monkeypatch.setattr(special_scipy, "_SCIPY", None)
    if request.param == "numpy":
        monkeypatch.setitem(sys.modules, "scipy.special", None)     # import raises ImportError
    yield request.param


def _relative_error(ours, theirs, floor=0.0):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(same, 0.0, np.abs(ours - theirs) / np.maximum(np.abs(theirs), floor))


def test_the_numpy_path_runs_without_scipy(path):
    assert (special_scipy.scipy_special() is None) == (path == "numpy")
    x = np.array([0.5, 3.0])
    out, _ = special.KERNELS["special_gammaln"].forward(x)
    assert _relative_error(out, [math.lgamma(0.5), math.log(2.0)]).max() < 1e-14
    # no SciPy: erf, erfinv and ndtri decline, so their generic rules run
    for name in ("erf", "erfinv", "ndtri"):
        taken = special.KERNELS[f"special_{name}"].forward(np.array([0.5]))
        assert (taken is None) == (path == "numpy")
    # log_ndtr's kernel has a pure-NumPy forward (normal_cdf.py)
    assert normal_cdf.KERNELS["special_log_ndtr"].forward(np.array([0.5])) is not None
    assert abs(xg.special.erfinv(xg.asarray([0.5], dtype=xg.float64)).item()
               - 0.4769362762044699) < 1e-15


def test_scipy_is_imported_on_first_use_only():
    code = ("import sys, xpgrad as xg; be = xg.get_backend('numpy'); "
            "print('scipy.special' in sys.modules); "
            "xg.special.gammaln(xg.asarray([2.5], backend='numpy')); print('scipy.special' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]


# -- values -----------------------------------------------------------------------------------
_WIDE = np.concatenate([np.linspace(1e-3, 30, 4001), np.geomspace(1e-300, 1e300, 601)])


@pytest.mark.parametrize("name,tol", [("gammaln", 2e-14), ("digamma", 1e-14)])
def test_values_match_scipy(name, tol, path):
    ours = getattr(xg.special, name)(xg.asarray(_WIDE)).numpy()
    # gammaln is relative to 1e-2 next to its roots (SciPy is off there; mpmath below)
    err = _relative_error(ours, getattr(sc, name)(_WIDE), floor=1e-2 if name == "gammaln" else 0)
    assert err.max() <= tol, f"{name}: {err.max():.2e} at {_WIDE[err.argmax()]!r}"
    ours = getattr(xg.special, name)(xg.asarray(_NEGATIVE)).numpy()
    assert _relative_error(ours, getattr(sc, name)(_NEGATIVE), floor=0.1).max() <= 1e-13


@pytest.mark.parametrize("n", [1, 2, 3, 6, 10])
def test_polygamma_matches_scipy(n, path):
    ours = xg.special.polygamma(n, xg.asarray(_WIDE)).numpy()
    with np.errstate(over="ignore"):
        assert _relative_error(ours, sc.polygamma(n, _WIDE)).max() < 2e-14
    ours = xg.special.polygamma(n, xg.asarray(_NEGATIVE)).numpy()
    err = _relative_error(ours, sc.polygamma(n, _NEGATIVE), floor=math.factorial(n))
    assert err.max() < 5e-13 * n


def _mpmath(fn, x):
    mp.mp.dps = 40
    return np.array([float(fn(mp.mpf(float(v)))) for v in x])


def test_gammaln_near_its_roots_against_mpmath(path):
    """SciPy's gammaln is 1e-7 off relative at 1 - 1e-10: the kernel's Taylor series there."""
    x = np.concatenate([r + np.geomspace(1e-12, 0.4, 60) * np.resize([1, -1], 60)
                        for r in (1.0, 2.0)])
    ours = xg.special.gammaln(xg.asarray(x)).numpy()
    assert _relative_error(ours, _mpmath(mp.loggamma, x)).max() < 2e-14


def test_digamma_near_its_root_and_poles_against_mpmath(path):
    """Relative accuracy at psi's positive root, and next to the poles (SciPy's own reflection
    is 1e-7 off at -1 + 1e-9: the kernel's reduces pi x first)."""
    root = 1.4616321449683622
    x = np.concatenate([root + np.geomspace(1e-10, 0.3, 30) * np.resize([1, -1], 30),
                        (-np.arange(1.0, 6.0)[:, None] + [1e-9, -1e-9, 1e-6]).ravel()])
    ours = xg.special.digamma(xg.asarray(x)).numpy()
    assert _relative_error(ours, _mpmath(mp.digamma, x)).max() < 1e-13


def test_gammaln_next_to_the_poles_against_mpmath(path):
    x = (-np.arange(0.0, 6.0)[:, None] + [1e-9, -1e-9, 1e-5]).ravel()
    ours = xg.special.gammaln(xg.asarray(x)).numpy()
    exact = _mpmath(lambda v: mp.log(abs(mp.gamma(v))), x)
    assert _relative_error(ours, exact).max() < 1e-14


def test_gammaln_at_negative_subnormals_against_mpmath(path):
    """-log|x| there: the reflection's sin(pi x) rounded pi x to a subnormal's few bits
    (9e-8 off relative at -1e-320, 6e-5 at -5e-324); the generic rule agrees, and torch."""
    x = -np.array([5e-324, 1e-320, 3e-315, 2.2e-308])
    ours = xg.special.gammaln(xg.asarray(x)).numpy()
    exact = _mpmath(lambda v: mp.log(abs(mp.gamma(v))), x)
    assert _relative_error(ours, exact).max() < 1e-15
    generic = PRIMITIVES["special_gammaln"].forward(npx, x)
    assert _relative_error(generic, exact).max() < 1e-15
    np.testing.assert_allclose(ours, torch.lgamma(torch.tensor(x)).numpy(), rtol=1e-15)


_SPECIAL = np.array([0.0, -0.0, -1.0, -2.0, -7.0, np.inf, -np.inf, np.nan, 1e308, 5e-324,
                     -5e-324, 1.0, 2.0, -2.5])


@pytest.mark.parametrize("name,params", [("gammaln", {}), ("digamma", {}),
                                         ("polygamma", {"n": 1}), ("polygamma", {"n": 2})])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_kernels_equal_the_generic_rule(name, params, dt, path):
    """Every region, the poles and limits, a 0-d and an empty array, forward and gradient:
    the kernel's results are the generic rule's (same NaN, same infinities)."""
    prim = PRIMITIVES[f"special_{name}"]
    kernel = special.KERNELS[f"special_{name}"]
    rng = np.random.default_rng(3)
    grids = [rng.uniform(-12, 25, 500), _SPECIAL, np.asarray(2.5), np.zeros((2, 0)),
             np.concatenate([np.linspace(0.69, 2.61, 400), np.linspace(9.9, 10.1, 41)])]
    for x in grids:
        with np.errstate(over="ignore"):
            x = x.astype(dt)
        out, saved = kernel.forward(x, **params)
        want = prim.forward(npx, x, **params)
        assert out.dtype == x.dtype and out.shape == x.shape
        rtol = 1e-12 if dt == np.float64 else 2e-6
        np.testing.assert_allclose(out, want, rtol=rtol, atol=1e-300, equal_nan=True)
        g = rng.normal(size=x.shape).astype(dt)
        (got,), (expected,) = (kernel.vjp(g, saved, x, **params),
                               prim.vjp(npx, g, want, [True], [x], params))
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-300, equal_nan=True)


# -- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gammaln", "digamma", "polygamma1"])
def test_gradients_against_finite_differences(name, path):
    fn = {"gammaln": xg.special.gammaln, "digamma": xg.special.digamma,
          "polygamma1": lambda x: xg.special.polygamma(1, x)}[name]
    x = xg.asarray([0.3, 0.95, 1.05, 1.46, 1.9, 2.2, 4.5, 9.99, 10.5, 40.0, -0.6, -2.3, -7.75],
                   dtype=xg.float64)
    check_grads(lambda x: xg.sum(fn(x)), [x], order=1)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_gradients_match_torch(dt, path):
    x = np.concatenate([np.linspace(0.05, 30, 97), -np.linspace(0.1, 9.9, 31) - 0.013])
    cases = [(xg.special.gammaln, torch.lgamma), (xg.special.digamma, torch.digamma),
             (lambda v: xg.special.polygamma(2, v), lambda v: torch.polygamma(2, v))]
    for ours_fn, torch_fn in cases:
        ours = xg.grad(lambda v: xg.sum(ours_fn(v)))(xg.asarray(x, dtype=dt)).numpy()
        t = torch.tensor(x, dtype=getattr(torch, dt), requires_grad=True)
        torch_fn(t).sum().backward()
        # torch's trigamma is 1.5e-10 off relative at 0.36 (ours is mpmath's to 1 ulp there);
        # its float32 ones are computed in float32, 1e-4 off next to the poles
        tol = 1e-9 if dt == "float64" else 1e-3
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=tol, atol=tol)


def test_distribution_gradients_on_both_paths(path):
    """A Gamma log-likelihood's gradient in (concentration, rate): the same on either path as
    torch's (gammaln's gradient is the kernel's digamma)."""
    rng = np.random.default_rng(1)
    c, r = rng.uniform(0.2, 15, 64), rng.uniform(0.1, 5, 64)
    v = rng.gamma(c, 1 / r)

    def nll(c, r):
        return -xg.sum(xg.distributions.Gamma(c, r).log_prob(xg.asarray(v)))
    gc, gr = xg.grad(nll, argnums=(0, 1))(xg.asarray(c), xg.asarray(r))
    tc, tr = (torch.tensor(a, requires_grad=True) for a in (c, r))
    (-torch.distributions.Gamma(tc, tr).log_prob(torch.tensor(v)).sum()).backward()
    np.testing.assert_allclose(gc.numpy(), tc.grad.numpy(), rtol=1e-11)
    np.testing.assert_allclose(gr.numpy(), tr.grad.numpy(), rtol=1e-11)


# -- what the kernels decline --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gammaln", "digamma", "polygamma", "erf", "log_ndtr",
                                  "erfinv", "ndtri"])
@pytest.mark.parametrize("dt", [np.int64, np.float16, np.complex128, bool])
def test_other_dtypes_are_declined(name, dt):
    params = {"n": 1} if name == "polygamma" else {}
    kernels = normal_cdf.KERNELS if name == "log_ndtr" else special.KERNELS
    assert kernels[f"special_{name}"].forward(np.ones(3, dt), **params) is None


def test_bad_arguments_name_themselves(path):
    x = xg.asarray([1.5])
    with pytest.raises(ValueError, match="n must be >= 0"):
        xg.special.polygamma(-1, x)
    with pytest.raises(TypeError, match="n must be an int"):
        xg.special.polygamma(1.5, x)
    with pytest.raises(TypeError, match="x must be real"):
        xg.special.gammaln(xg.asarray([1 + 1j]))


@pytest.mark.usefixtures("environ_kept")     # the script sets the BLAS thread variables
def test_the_benchmark_runs_and_leaves_the_kernels_as_they_were(capsys):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "special_functions.py"
    spec = importlib.util.spec_from_file_location("special_functions", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = xg.get_backend("numpy").kernels
    module.main(["--sizes", "16", "--dtypes", "float64", "--repeats", "1", "--only", "digamma",
                 "Poisson"])
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split()[0] for line in lines[2:]) == ["Poisson.log_prob", "digamma"]
    assert xg.get_backend("numpy").kernels is table
    assert special_scipy.scipy_special() is not None
