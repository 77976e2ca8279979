"""``xg.special`` at the extremes of float64: zeros of both signs, subnormals, the smallest
normal, numbers next to 1, huge values, infinities and NaN. Values are checked against SciPy (or
mpmath where SciPy is known to be off, each such row saying why), gradients against mpmath's
numerical derivative: a NaN or inf gradient where the true derivative is a finite float64 is a
defect, as is a finite one off by more than 1e-12 relative."""
from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

import xpgrad as xg

scipy_special = pytest.importorskip("scipy.special")

EXTREMES = [0.0, -0.0, 5e-324, -5e-324, 2.2e-308, 1e-300, 1e-20, 1 - 1e-16, 1 + 1e-16,
            1e20, 1e300, 1.7e308, math.inf, -math.inf, math.nan,
            -2.2e-308, -1e-300, -1e-20, -(1 - 1e-16), -1e20, -1e300, -1.7e308]
TINY = [x for x in EXTREMES if abs(x) < 1e-10]
MODERATE = [x for x in EXTREMES if abs(x) < 1e10]

#: the single-argument functions, SciPy's ufunc of the same name unless given
UNARY = ("cbrt cosdg cosm1 cotdg digamma entr erf erfc erfcinv erfcx erfinv exp1 exp10 exp2 "
         "expi expit exprel gamma gammaln gammasgn i0 i0e i1 i1e j0 j1 k0 k0e k1 k1e log_expit "
         "log_ndtr loggamma logit ndtr ndtri psi rgamma sindg tandg y0 y1 zetac spence").split()
SCIPY_NAMES = {"sinc": np.sinc, "softplus": lambda x: np.logaddexp(0.0, x)}


def _mp_besselk_scaled(order):
    return lambda x: mpmath.besselk(order, x) * mpmath.exp(x)


#: mpmath's value where SciPy's is off, and why: (function, inputs it covers, mpmath function)
SCIPY_OFF = {
    "gammaln": ("SciPy gives inf at subnormal x and 2e-16 at 1 - 1e-16",
                [5e-324, -5e-324, 1 - 1e-16], lambda x: mpmath.log(abs(mpmath.gamma(x)))),
    "loggamma": ("as gammaln", [5e-324, 1 - 1e-16], mpmath.loggamma),
    "digamma": ("SciPy loses half the digits next to the pole -1", [-(1 - 1e-16)],
                mpmath.digamma),
    "psi": ("as digamma", [-(1 - 1e-16)], mpmath.digamma),
    "k0": ("SciPy gives inf at 5e-324", [5e-324], lambda x: mpmath.besselk(0, x)),
    "k0e": ("SciPy gives inf at 5e-324", [5e-324], _mp_besselk_scaled(0)),
    "k1": ("SciPy gives NaN at 5e-324 (1 / x overflows)", [5e-324],
           lambda x: mpmath.besselk(1, x)),
    "k1e": ("as k1", [5e-324], _mp_besselk_scaled(1)),
    "cotdg": ("SciPy gives +inf at tiny nonzero x", [1e-300, 1e-20, -2.2e-308, -1e-300, -1e-20],
              lambda x: mpmath.cot(x * mpmath.pi / 180)),
    "j0": ("SciPy's argument reduction is wrong past 1e20",
           [1e20, 1e300, 1.7e308, -1e20, -1e300, -1.7e308],
           lambda x: mpmath.besselj(0, x)),
    "j1": ("as j0; at +-2.2e-308 SciPy's is 1e-13 off", [2.2e-308, -2.2e-308, 1e20, 1e300,
                                                          1.7e308, -1e20, -1e300, -1.7e308],
           lambda x: mpmath.besselj(1, x)),
    "rgamma": ("SciPy gives -0.0 at -5e-324 (rgamma(x) = x there)", [-5e-324], mpmath.rgamma),
    "y0": ("as j0", [1e20, 1e300, 1.7e308], lambda x: mpmath.bessely(0, x)),
    "y1": ("as j0", [1e20, 1e300, 1.7e308], lambda x: mpmath.bessely(1, x)),
}


def _reference(name, x):
    """SciPy's value at x, mpmath's (rounded) on the rows of SCIPY_OFF."""
    if name in SCIPY_OFF and x in SCIPY_OFF[name][1]:
        with mpmath.workdps(40):
            return float(SCIPY_OFF[name][2](mpmath.mpf(x)))
    function = SCIPY_NAMES.get(name) or getattr(scipy_special, name)
    with np.errstate(all="ignore"):
        return float(function(np.float64(x)))


def _agree(got, want, rtol=2e-14):
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= rtol * abs(want)


def _ours(function, arguments, position):
    """The value and the gradient in argument ``position`` at one point, eagerly."""
    tensors = [xg.asarray(np.float64(a), dtype=xg.float64) for a in arguments]

    def at(moving):
        return function(*[moving if i == position else t for i, t in enumerate(tensors)])
    with np.errstate(all="ignore"):
        return at(tensors[position]).item(), xg.grad(at)(tensors[position]).item()


#: rows still wrong, and what is wrong (strict: a fix makes them fail until removed here)
OPEN_VALUES = {}
OPEN_GRADIENTS = {}


def _rows(names, still_open):
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=still_open[name]))
            if name in still_open else name for name in names]


@pytest.mark.parametrize("name", _rows(UNARY + sorted(SCIPY_NAMES), OPEN_VALUES))
def test_values_at_the_extremes_match_scipy(name):
    function = getattr(xg.special, name)
    wrong = []
    for x in EXTREMES:
        with np.errstate(all="ignore"):
            got = function(xg.asarray(np.float64(x), dtype=xg.float64)).item()
        want = _reference(name, x)
        if not _agree(got, want):
            wrong.append((x, got, want))
    assert not wrong, f"xg.special.{name}: (x, ours, reference) {wrong}"


#: mpmath's function for each row of the gradient table, and the inputs (within its domain,
#: where it is smooth) at which the derivative is compared
GRADIENT_ROWS = {
    "erf": (mpmath.erf, EXTREMES[:9]),
    "erfc": (mpmath.erfc, EXTREMES[:9]),
    "ndtr": (mpmath.ncdf, EXTREMES[:9]),
    "expit": (lambda x: 1 / (1 + mpmath.exp(-x)), MODERATE),
    "i0": (lambda x: mpmath.besseli(0, x), MODERATE),
    "i1": (lambda x: mpmath.besseli(1, x), MODERATE),
    "i0e": (lambda x: mpmath.besseli(0, x) * mpmath.exp(-abs(x)), [1 - 1e-16, 1 + 1e-16]),
    "i1e": (lambda x: mpmath.besseli(1, x) * mpmath.exp(-abs(x)), MODERATE),
    "j0": (lambda x: mpmath.besselj(0, x), MODERATE),
    "j1": (lambda x: mpmath.besselj(1, x), MODERATE),
    "sinc": (lambda x: mpmath.sincpi(x), MODERATE),
    "exprel": (lambda x: mpmath.expm1(x) / x if x else mpmath.mpf(1), MODERATE),
    "cosm1": (lambda x: -2 * mpmath.sin(x / 2) ** 2, MODERATE),
    "sindg": (lambda x: mpmath.sin(x * mpmath.pi / 180), MODERATE),
    "tandg": (lambda x: mpmath.tan(x * mpmath.pi / 180), MODERATE),
    "erfinv": (mpmath.erfinv, [x for x in MODERATE if abs(x) < 1]),
    # rgamma's gradient at its poles, x = 0 among them, is 0 by design (its docstring)
    "rgamma": (mpmath.rgamma, [x for x in MODERATE if x != 0] + [1e20, 1e300, 1.7e308]),
}


def _mp_derivative(function, x):
    """mpmath's central difference with a step relative to x."""
    digits = 60 + (2 * int(-math.log10(abs(x))) if 0 < abs(x) < 1 else 0)  # keeps f(x) - f(0)
    with mpmath.workdps(digits):
        point = mpmath.mpf(x)
        step = abs(point) * mpmath.mpf(10) ** -25 if point else mpmath.mpf(10) ** -30
        return float((function(point + step) - function(point - step)) / (2 * step))


@pytest.mark.parametrize("name", _rows(sorted(GRADIENT_ROWS), OPEN_GRADIENTS))
def test_gradients_at_the_extremes_match_mpmath(name):
    mp_function, inputs = GRADIENT_ROWS[name]
    wrong = []
    for x in inputs:
        want = _mp_derivative(mp_function, x)
        got = _ours(getattr(xg.special, name), [x], 0)[1]
        if not _agree(got, want, rtol=1e-12) and not (abs(want) < 1e-300 and abs(got) < 1e-300):
            wrong.append((x, got, want))
    assert not wrong, f"d/dx xg.special.{name}: (x, ours, mpmath) {wrong}"


@pytest.mark.parametrize("q", [0.5, 1.0, 2.0, 1e300])
def test_hurwitz_zeta_at_huge_orders_is_its_first_term(q):
    """``zeta(s, q)`` is ``q^-s`` to the last bit once ``(1 + 1/q)^-s`` is below 1e-17: 0 for
    q >= 1 (SciPy's is NaN from s ~ 1e15 on, the generic tail's was too)."""
    s = np.array([1e3, 1e15, 1e20, 1e300, 1.7e308])
    got = xg.special.zeta(xg.asarray(s, dtype=xg.float64), q).numpy()
    with np.errstate(all="ignore"):
        want = np.where(s * math.log1p(1.0 / q) > 40.0, np.power(q, -s), np.nan)
    kept = ~np.isnan(want)
    np.testing.assert_allclose(got[kept], want[kept], rtol=1e-15)
    assert kept.any()


def _at_zero_limit(function, limit):
    return lambda lmbda: function(lmbda) if lmbda else limit


#: the Box-Cox transforms at x = 2.5, as functions of lmbda (mpmath's, their limits at 0)
BOX_COX = {
    "boxcox": lambda lmbda: mpmath.expm1(lmbda * mpmath.log(2.5)) / lmbda,
    "boxcox1p": lambda lmbda: mpmath.expm1(lmbda * mpmath.log(3.5)) / lmbda,
    "inv_boxcox": lambda lmbda: mpmath.exp(mpmath.log1p(lmbda * 2.5) / lmbda),
    "inv_boxcox1p": lambda lmbda: mpmath.expm1(mpmath.log1p(lmbda * 2.5) / lmbda),
}
BOX_COX_LIMITS = {"boxcox": mpmath.log(2.5), "boxcox1p": mpmath.log(3.5),
                  "inv_boxcox": mpmath.exp(2.5), "inv_boxcox1p": mpmath.expm1(2.5)}


@pytest.mark.parametrize("name", sorted(BOX_COX))
def test_box_cox_at_tiny_and_unit_lambdas_match_mpmath(name):
    """Value and gradient in ``lmbda`` at x = 2.5, for lmbda at the extremes around 0 and 1."""
    exact = _at_zero_limit(BOX_COX[name], BOX_COX_LIMITS[name])
    wrong = []
    # also either side of where the series takes over (|lmbda log(x)| = 1e-3)
    for lmbda in [x for x in MODERATE if x > -0.5] + [1e-4, -1e-4, 1e-3, -1e-3, 3e-3, 0.1]:
        with mpmath.workdps(60):
            want = float(exact(mpmath.mpf(lmbda)))
        got, slope = _ours(getattr(xg.special, name), [2.5, lmbda], 1)
        want_slope = _mp_derivative(exact, lmbda)
        if not (_agree(got, want) and _agree(slope, want_slope, rtol=1e-12)):
            wrong.append((lmbda, got, want, slope, want_slope))
    assert not wrong, f"xg.special.{name}: (lmbda, value, mpmath, gradient, mpmath) {wrong}"


def test_poch_overflowing_to_inf_does_not_warn():
    """``Gamma(z + m) / Gamma(z)`` past float64's range is inf, as SciPy's, with no NumPy
    overflow warning (the gammas' own overflow is the expected answer)."""
    z, m = np.meshgrid(np.linspace(-200.0, 200.0, 41), np.linspace(-200.0, 200.0, 41))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = xg.special.poch(xg.asarray(z, dtype=xg.float64), xg.asarray(m, dtype=xg.float64))
    with np.errstate(all="ignore"):
        want = scipy_special.poch(z, m)
    assert np.isinf(want).sum() > 100           # the grid does reach the overflow
    # SciPy's NaN at (-200, 160) and the like is an overflowing product: inf here, as mpmath's
    known = ~np.isnan(want)
    np.testing.assert_array_equal(np.isinf(got.numpy())[known], np.isinf(want)[known])


def _mp_x_log_ratio(x, y):
    return mpmath.mpf(x) * mpmath.log(mpmath.mpf(x) / mpmath.mpf(y))


@pytest.mark.parametrize("name", ["rel_entr", "kl_div"])
@pytest.mark.parametrize("position", [0, 1])
def test_entropies_at_the_extremes_match_scipy(name, position):
    """``x log(x / y)`` (+ ``y - x``) with the other argument 1.5; mpmath's value where SciPy's
    ``x / y`` overflows (y subnormal) and SciPy gives inf."""
    wrong = []
    for value in EXTREMES:
        arguments = [1.5, 1.5]
        arguments[position] = value
        got = _ours(getattr(xg.special, name), arguments, position)[0]
        want = float(getattr(scipy_special, name)(*arguments))
        x, y = arguments
        if 0 < y < 1e-300 and math.isfinite(x) and x > 0:
            want = float(_mp_x_log_ratio(x, y) + (y - x if name == "kl_div" else 0))
        if not _agree(got, want):
            wrong.append((arguments, got, want))
    assert not wrong, f"xg.special.{name}: (arguments, ours, reference) {wrong}"


@pytest.mark.parametrize("x, y, position", [(1.0, 1.5, 0), (1.0, -2.5, 0), (2.5, 0.0, 1),
                                            (5e-324, 0.0, 1), (1e300, 0.0, 1), (1.0, 1e-300, 0)])
def test_powm1_gradients_where_its_value_is_exactly_zero(x, y, position):
    """``x**y - 1`` is 0 at x = 1 and at y = 0, but its slopes there are y and log x."""
    def exact(moving):
        arguments = [mpmath.mpf(x), mpmath.mpf(y)]
        arguments[position] = moving
        return mpmath.powm1(*arguments)
    value, slope = _ours(xg.special.powm1, [x, y], position)
    assert value == 0.0
    assert _agree(slope, _mp_derivative(exact, [x, y][position]), rtol=1e-12)


def test_powm1_keeps_scipys_zero_where_the_other_argument_is_not_a_number():
    x = xg.asarray([1.0, 1.0, math.inf, math.nan], dtype=xg.float64)
    y = xg.asarray([math.nan, math.inf, 0.0, 0.0], dtype=xg.float64)
    want = scipy_special.powm1(x.numpy(), y.numpy())
    np.testing.assert_array_equal(xg.special.powm1(x, y).numpy(), want)
    assert not want.any()


@pytest.mark.parametrize("name", ["huber", "pseudo_huber"])
def test_huber_losses_are_nan_for_a_nan_delta(name):
    """inf is their answer for a negative delta only; a NaN delta is NaN, as SciPy's."""
    delta = xg.asarray([math.nan, -1.0], dtype=xg.float64)
    got = getattr(xg.special, name)(delta, xg.asarray([0.5, 0.5], dtype=xg.float64)).numpy()
    want = getattr(scipy_special, name)(delta.numpy(), 0.5)
    np.testing.assert_array_equal(got, want)


FLOAT32_EXTREMES = np.array([0.0, -0.0, 1e-45, -1e-45, 1.2e-38, -1.2e-38, 1e-20, 1 - 6e-8,
                             1 + 1.2e-7, 1e20, 3.4e38, -3.4e38, math.inf, -math.inf, math.nan],
                            dtype=np.float32)


@pytest.mark.parametrize("name", _rows(UNARY + sorted(SCIPY_NAMES), {
    "sinc": "float32's pi x loses the distance to the integer: 4.8e-8 at 1 - 6e-8, not 6e-8"}))
def test_float32_values_at_the_extremes_are_scipys_float64_rounded(name):
    """float32 is computed in float64 and rounded: within 10 float32 ulps (9 is the largest the
    docs allow, the NumPy backend's float32 erf family) of SciPy's float64 value, rounded."""
    function = SCIPY_NAMES.get(name) or getattr(scipy_special, name)
    with np.errstate(all="ignore"):
        got = getattr(xg.special, name)(xg.asarray(FLOAT32_EXTREMES)).numpy()
        want = np.asarray(function(FLOAT32_EXTREMES.astype(np.float64))).astype(np.float32)
    assert got.dtype == np.float32
    close = np.isclose(got, want, rtol=10 * np.finfo(np.float32).eps, atol=1e-44, equal_nan=True)
    # SciPy's off there (the float64 table checks those against mpmath)
    magnitude = np.abs(FLOAT32_EXTREMES)
    close |= {"cotdg": (magnitude > 0) & (magnitude < 1e-10),
              **dict.fromkeys(["j0", "j1", "y0", "y1"], magnitude >= 1e20)}.get(name, False)
    assert close.all(), f"xg.special.{name}: (x, ours, SciPy's) " \
        f"{list(zip(FLOAT32_EXTREMES[~close], got[~close], want[~close]))}"
