"""``xg.special``'s compositions under SciPy's names (``xpgrad/ops/special_composed.py``):
values against ``scipy.special`` on both CPU backends, edges included (NaN outside the domain,
the poles of ``rgamma``, ``lmbda == 0``); gradients against PyTorch where it has the function
(finite differences: ``tests/test_primitives.py``); and SciPy's own calls recording on a tape,
found by its array-API dispatch (``SCIPY_ARRAY_API=1``) or NumPy's ufunc dispatch.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from torch_compare import assert_matches_torch

sc = pytest.importorskip("scipy.special")
# SciPy makes its constants on the default backend: the tensors here are the numpy backend's
pytestmark = pytest.mark.usefixtures("numpy_default")

BACKENDS = ["numpy", "numba"]
_X = np.concatenate([np.linspace(-3.0, 3.0, 61), [0.0, 1e-300, 1e-8, 40.0, np.inf, np.nan]])
_POSITIVE = np.concatenate([np.geomspace(1e-3, 1e3, 61), [0.0, np.inf]])
_LAMBDAS = np.array([-2.0, -0.5, -1e-9, 0.0, 1e-9, 0.5, 2.0])
_COUNTS = np.array([-1.0, 0.0, 1.0, 2.5, 4.0, 5.0, 6.0])

# (xg function, scipy function, float64 arguments broadcast against each other, rtol)
CASES = {
    "boxcox": (xg.special.boxcox, sc.boxcox, (_X[:, None], _LAMBDAS), 1e-13),
    "boxcox1p": (xg.special.boxcox1p, sc.boxcox1p, (_X[:, None], _LAMBDAS), 1e-13),
    "inv_boxcox": (xg.special.inv_boxcox, sc.inv_boxcox, (_X[:, None], _LAMBDAS), 1e-13),
    "inv_boxcox1p": (xg.special.inv_boxcox1p, sc.inv_boxcox1p, (_X[:, None], _LAMBDAS), 1e-13),
    "log_expit": (xg.special.log_expit, sc.log_expit, (_X * 100.0,), 1e-15),
    "erfcinv": (xg.special.erfcinv, sc.erfcinv,
                (np.concatenate([np.linspace(-0.5, 2.5, 61), np.geomspace(1e-300, 1e-2, 9)]),),
                1e-13),
    "cosm1": (xg.special.cosm1, sc.cosm1, (_X,), 1e-14),
    "rgamma": (xg.special.rgamma, sc.rgamma, (np.concatenate([_X, [-1.0, -2.0, -7.0]]),), 1e-13),
    "gammasgn": (xg.special.gammasgn, sc.gammasgn,
                 (np.concatenate([_X, -_X, [-1.0, -2.0, -7.0, -0.0]]),), 0.0),
    "loggamma": (xg.special.loggamma, sc.loggamma, (np.concatenate([_X, _POSITIVE]),), 1e-13),
    "gdtr": (xg.special.gdtr, sc.gdtr, (np.array([0.5, 2.0])[:, None, None],
                                        np.array([0.7, 3.0])[:, None], _POSITIVE), 1e-13),
    "gdtrc": (xg.special.gdtrc, sc.gdtrc, (np.array([0.5, 2.0])[:, None, None],
                                           np.array([0.7, 3.0])[:, None], _POSITIVE), 1e-13),
    "pdtr": (xg.special.pdtr, sc.pdtr, (_COUNTS[:, None], _POSITIVE), 1e-13),
    "pdtrc": (xg.special.pdtrc, sc.pdtrc, (_COUNTS[:, None], _POSITIVE), 1e-13),
    "bdtr": (xg.special.bdtr, sc.bdtr,
             (_COUNTS[:, None], 5.0, np.linspace(0.0, 1.0, 11)), 1e-13),
    "nbdtr": (xg.special.nbdtr, sc.nbdtr,
              (_COUNTS[:, None], 3.0, np.linspace(0.0, 1.0, 11)), 1e-13),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_scipy(name, backend):
    fn, ref, args, rtol = CASES[name]
    tensors = [xg.asarray(a, dtype=xg.float64, backend=backend) if isinstance(a, np.ndarray)
               else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = ref(*args)
        got = fn(*tensors).numpy()
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("name", ["log_expit", "cosm1", "rgamma", "pdtr m", "gdtr x"])
def test_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).uniform(0.2, 4.0, (3, 4))
    pairs = {
        "log_expit": (xg.special.log_expit, torch.nn.functional.logsigmoid),
        "cosm1": (xg.special.cosm1, lambda t: torch.cos(t) - 1.0),
        "rgamma": (xg.special.rgamma, lambda t: torch.exp(-torch.lgamma(t))),
        "pdtr m": (lambda m: xg.special.pdtr(3.0, m),
                   lambda m: torch.special.gammaincc(torch.full_like(m, 4.0), m)),
        "gdtr x": (lambda v: xg.special.gdtr(1.5, 2.5, v),
                   lambda v: torch.special.gammainc(torch.full_like(v, 2.5), 1.5 * v)),
    }
    assert_matches_torch(*pairs[name], [x if name != "log_expit" else x - 2.0])


@pytest.mark.parametrize("name", ["boxcox", "boxcox1p", "inv_boxcox", "inv_boxcox1p"])
def test_box_cox_differentiates_in_lmbda_at_zero(name):
    # the lmbda == 0 branch is a series, so its derivatives there are the limits (central
    # differences of the first derivative lose ~1e-4 to expm1(lmbda L) / lmbda's cancelling:
    # the second is checked against its closed form below)
    fn = getattr(xg.special, name)
    x = xg.asarray([0.3, 1.7, 2.5], dtype=xg.float64)
    xg.testing.check_grads(fn, [x, xg.asarray([0.0, 0.0, 0.0], dtype=xg.float64)], order=1)


def test_boxcox_second_derivative_in_lmbda_at_zero_is_the_limit():
    x = xg.asarray(0.3, dtype=xg.float64)
    second = xg.grad(xg.grad(lambda lmbda: xg.special.boxcox(x, lmbda)))
    assert second(xg.asarray(0.0, dtype=xg.float64)).item() == pytest.approx(
        np.log(0.3) ** 3 / 3, rel=1e-14)           # d2/dl2 (x**l - 1) / l at l = 0


def _scipy_on_a_tape():
    from test_third_party import _scipy

    sp, _ = _scipy()
    return sp


SCIPY_CALLS = {
    "boxcox": lambda sp, x: sp.boxcox(x * x + 0.5, 0.3),
    "boxcox1p": lambda sp, x: sp.boxcox1p(x * x, -0.4),
    "inv_boxcox": lambda sp, x: sp.inv_boxcox(x, 0.2),
    "inv_boxcox1p": lambda sp, x: sp.inv_boxcox1p(x, 0.2),
    "log_expit": lambda sp, x: sp.log_expit(x),             # a plain ufunc: NumPy's dispatch
    "erfcinv": lambda sp, x: sp.erfcinv(1.0 / (1.0 + x * x)),
    "cosm1": lambda sp, x: sp.cosm1(x),
    "rgamma": lambda sp, x: sp.rgamma(x),
    "loggamma": lambda sp, x: sp.loggamma(x * x + 0.1),
    "gdtr": lambda sp, x: sp.gdtr(1.5, 2.0, x * x),
    "pdtrc": lambda sp, x: sp.pdtrc(2.0, x * x),
    "nbdtr": lambda sp, x: sp.nbdtr(2.0, 3.0, 1.0 / (1.0 + x * x)),
}


@pytest.mark.parametrize("name", sorted(SCIPY_CALLS))
def test_scipy_calls_record_on_a_tape(name):
    from test_third_party import check

    sp = _scipy_on_a_tape()
    x = np.random.default_rng(9).standard_normal((2, 3))
    check(lambda x: SCIPY_CALLS[name](sp, x), [x], "numpy", rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rgamma_next_to_zero_is_x_where_gamma_overflows(backend):
    # 1 / Gamma(x) = x + euler_gamma x**2 + ...: x itself below 1e-20 (Gamma(x) is inf
    # below 5.6e-309, where 1 / Gamma(x) was 0), as SciPy's and mpmath's (SciPy's is -0.0
    # above -5.6e-309: mpmath's x is taken there too)
    mpmath = pytest.importorskip("mpmath")
    x = np.array([5e-324, 1e-320, 5e-309, 5.6e-309, 1e-307, 1e-100, 1e-21, 1e-15, -1e-15,
                  -5e-309, -5e-324])
    got = xg.special.rgamma(xg.asarray(x, dtype=xg.float64, backend=backend)).numpy()
    np.testing.assert_array_equal(got[x > 0], sc.rgamma(x[x > 0]))
    np.testing.assert_allclose(got, [float(mpmath.rgamma(mpmath.mpf(v))) for v in x],
                               rtol=1e-15, atol=0)
    grad = xg.grad(lambda v: xg.sum(xg.special.rgamma(v)))(
        xg.asarray(x[:3], dtype=xg.float64, backend=backend)).numpy()
    np.testing.assert_array_equal(grad, [1.0, 1.0, 1.0])       # d/dx (x + ...) at 0
