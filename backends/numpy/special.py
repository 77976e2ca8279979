"""NumPy kernels for ``xg.special``'s gamma family: ``gammaln``, ``digamma`` and ``polygamma``,
forward and gradient (the gradient is the next function of the family, computed here too).

The generic formulas (``xpgrad/ops/special_formulas.py``) take every branch of every ``where``
over the whole array: about 100 passes for ``gammaln``. Here each region is computed on its own
entries only (boolean subsets), with the same series and constants, and the recurrence that
shifts ``x`` up to the asymptotic series is one fixed shift by 10, its product and its sum of
reciprocals taken in pairs: ``(x + j)(x + 9 - j) = u + j (9 - j)`` with ``u = x (x + 9)``, so
``x (x + 1) ... (x + 9)`` is five factors and ``sum 1 / (x + j)`` is ``(2x + 9)`` times five
reciprocals. float64 throughout (a float32 input's result rounded, as the generic forward
does); other dtypes decline. gammaln on 1,000 float64 points: 55 us of CPU, the formulas 227.
Where SciPy is importable, ``gammaln`` and ``digamma`` are its ufuncs instead
(``special_scipy.py``: one C loop, 25 us), and ``erf``, ``erfinv`` and ``ndtri`` get kernels
too; ``polygamma`` stays here (SciPy's is 3x slower). ``log_ndtr``'s kernel is
``normal_cdf.py``'s, ``exp2``'s ``special_more.py``'s.

>>> import numpy as np
>>> out, _ = KERNELS["special_gammaln"].forward(np.array([0.5, 1.0, 10.0]))
>>> [round(v, 12) for v in out.tolist()]
[0.572364942925, 0.0, 12.801827480081]
>>> KERNELS["special_digamma"].vjp(np.ones(1), None, np.array([1.0]))[0].round(12).tolist()
[1.644934066848]
"""
from __future__ import annotations

import math

import array_api_compat.numpy
import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops import special_formulas as sf

from . import erfcx, special_jax_names, special_scipy

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_SHIFT = 10.0                   # the asymptotic series hold from here (as the generic rule's)
#: u + j (9 - j), j = 1 .. 4, as u + 8, then + 6, + 4, + 2 (j = 0 is u itself)
_PAIR_STEPS = (8.0, 6.0, 4.0, 2.0)
_STIRLING = sf._STIRLING_TERMS
_PSI_TERMS = tuple(b / (2 * j) for j, b in enumerate(sf._BERNOULLI[:9], 1))
_ROOT, _ROOT_LOW = sf._PSI_ROOT
_LOG_PI = math.log(math.pi)
_SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)     # 2.2e-308


def _horner(coeffs, x):
    """``sum(c_k x**k)``, lowest first, in place on one new array (``x`` is left as it is)."""
    acc = x * coeffs[-1]
    acc += coeffs[-2]
    for c in coeffs[-3::-1]:
        acc *= x
        acc += c
    return acc


# -- log Gamma -----------------------------------------------------------------------------------
def _stirling(y):
    """``log Gamma(y)`` for y >= 10 (inf at inf): Stirling's series, as the generic rule's."""
    w = 1.0 / y
    out = _horner(_STIRLING, w * w)
    out *= w
    out += sf._HALF_LOG_2PI - 0.5
    log_y = np.log(y)
    log_y -= 1.0
    log_y *= y - 0.5
    out += log_y                      # (y - 1/2)(log y - 1) - 1/2: no inf - inf at y = inf
    return out


def _log_rising_10(x):
    """``log(x (x + 1) ... (x + 9))`` for x >= 0: five factors ``u + j (9 - j)``."""
    u = x + 9.0
    u *= x
    product = u.copy()
    for step in _PAIR_STEPS:
        u += step
        product *= u
    return np.log(product, out=product)


def lgamma_near_roots(x, terms=len(sf._LGAMMA_AT_2)):
    """``log Gamma(x)`` for 0.7 < x < 2.6: the Taylor series at 2 in ``e = x - 2`` from 1.5,
    below it ``lgamma(2 + e) - log1p(e)`` with ``e = x - 1`` (the series at 1 less its
    logarithm's terms, since ``lgamma(1 + e) = lgamma(2 + e) - log(1 + e)``); its first
    ``terms`` terms (12 are enough within 0.05 of the roots).

    >>> lgamma_near_roots(np.array([1.0, 2.0, 1.02]), terms=12).round(14).tolist()
    [0.0, 0.0, -0.01121848932977]
    """
    below = x < 1.5
    e = np.subtract(2.0, below)
    np.subtract(x, e, out=e)              # x - 1 or x - 2: exact (x - 2 + 1 would round x - 2)
    out = _horner(sf._LGAMMA_AT_2[:terms], e)
    out[below] -= np.log1p(e[below])
    return out


def _shifted(x, asymptotic, shift_term):
    """``asymptotic`` at ``x``, or below 10 at ``x + 10`` less ``shift_term(x)`` (the
    recurrence's share of the ten steps up), for x >= 0 (NaN stays NaN)."""
    low = x < _SHIFT
    y = low * _SHIFT
    y += x
    out = asymptotic(y)
    below = x[low]
    if below.size:
        out[low] -= shift_term(below)
    return out


def _stirling_shifted(x):
    """``log Gamma(x)`` for x >= 0: Stirling at ``x``, or at ``x + 10`` less the log of the
    rising product below 10 (inf at 0)."""
    return _shifted(x, _stirling, _log_rising_10)


def _lgamma_nonnegative(x):
    """``log Gamma(x)`` for x >= 0 (NaN stays NaN): Taylor series about the roots 1 and 2,
    Stirling elsewhere, each on its own entries."""
    return split(x, (x > 0.7) & (x < 2.6), lgamma_near_roots, _stirling_shifted)


def split(x, mask, inside, outside):
    """``inside`` on the entries of the 1-d ``x`` in ``mask``, ``outside`` on the others.

    >>> split(np.array([1.0, -2.0]), np.array([False, True]), np.abs, np.negative).tolist()
    [-1.0, 2.0]
    """
    if not mask.any():
        return outside(x)
    out = np.empty_like(x)
    out[mask] = inside(x[mask])
    rest = ~mask
    out[rest] = outside(x[rest])
    return out


def _lgamma_reflected(x):
    """``log|Gamma(x)|`` for x < 0: ``log(pi / |sin(pi x)|) - log Gamma(1 - x)``; inf at the
    poles, -inf at -inf (as the generic rule); ``-log|x|`` at a subnormal x, where ``pi x`` would
    round to the few bits a subnormal holds (9e-8 off relative at -1e-320)."""
    sine = np.abs(np.sin(math.pi * (x - np.round(x))))
    out = _lgamma_nonnegative(1.0 - x)
    out += np.log(sine)
    np.subtract(_LOG_PI, out, out=out)
    out[sine == 0] = np.inf
    out[x == -np.inf] = -np.inf
    subnormal = x > -_SMALLEST_NORMAL
    if subnormal.any():
        out[subnormal] = -np.log(-x[subnormal])
    return out


def gammaln(x):
    """``log|Gamma(x)|`` of a float64 array of any shape.

    >>> gammaln(np.array([-0.5, 3.0, np.inf])).round(12).tolist()
    [1.265512123485, 0.69314718056, inf]
    """
    return _with_reflection(x, _lgamma_nonnegative, _lgamma_reflected)


def _with_reflection(x, nonnegative, reflected):
    """``nonnegative`` on the entries >= 0 (and NaN), ``reflected`` on those below 0."""
    flat = x.reshape(-1)
    with np.errstate(all="ignore"):          # the poles give inf as SciPy's do
        return split(flat, flat < 0, reflected, nonnegative).reshape(x.shape)


# -- digamma -------------------------------------------------------------------------------------
def _psi_asymptotic(y):
    """``psi(y)`` for y >= 10 (inf at inf): ``log y - 1 / (2y) - sum B_2k / (2k y^2k)``."""
    w = 1.0 / (y * y)
    series = _horner(_PSI_TERMS, w)
    series *= w
    out = np.log(y)
    out -= 0.5 / y
    out -= series
    return out


def _reciprocals_10(x):
    """``sum_j 1 / (x + j)``, j = 0 .. 9, in pairs: ``(2x + 9) sum 1 / (u + j (9 - j))``,
    j = 0 .. 4, ``u = x (x + 9)`` (-inf at +0, +inf at -0: ``1 / u``)."""
    u = x + 9.0
    u *= x
    reciprocals = 1.0 / u
    for step in _PAIR_STEPS:
        u += step
        reciprocals += 1.0 / u
    reciprocals *= 2.0 * x + 9.0
    return reciprocals


def _psi_shifted(x):
    """``psi(x)`` for x >= 0: the asymptotic series at ``x``, or at ``x + 10`` less
    ``sum_j 1 / (x + j)``, j = 0 .. 9, below 10."""
    return _shifted(x, _psi_asymptotic, _reciprocals_10)


def _psi_near_root(x):
    e = x - _ROOT
    e -= _ROOT_LOW
    out = _horner(sf._PSI_ROOT_TAYLOR, e)
    out *= e
    return out


def _psi_nonnegative(x):
    return split(x, (x > _ROOT - 0.25) & (x < _ROOT + 0.25), _psi_near_root, _psi_shifted)


def psi_reflected(x, positive=None):
    """``psi(1 - x) - pi cot(pi x)`` for x < 0 (``positive``: psi above 1, this module's by
    default), ``x`` reduced to ``r`` in ``[-1/2, 1/2]`` first and the cotangent taken as
    ``special_formulas.cot_pi(r)`` (both exact: accurate next to the poles, 0 at the
    half-integers); NaN at the poles and at -inf.

    >>> psi_reflected(np.array([-0.5, -1.0])).round(12).tolist()
    [0.036489973979, nan]
    """
    with np.errstate(all="ignore"):        # the poles and -inf: NaN; next to them: +-inf
        r = x - np.round(x)
        out = (positive or _psi_nonnegative)(1.0 - x)
        cot = sf.cot_pi(array_api_compat.numpy, r)     # 0 at the half-integers
        cot *= math.pi
        out -= cot
    out[r == 0] = np.nan
    return out


def digamma(x):
    """``psi(x)`` of a float64 array of any shape: -inf at +0, +inf at -0, NaN at the negative
    integers and -inf (as SciPy and the generic rule).

    >>> digamma(np.array([1.0, -0.5, 0.0])).round(12).tolist()
    [-0.577215664902, 0.036489973979, -inf]
    """
    return _with_reflection(x, _psi_nonnegative, psi_reflected)


# -- polygamma -----------------------------------------------------------------------------------
def _reciprocal_power(y, k):
    """``y ** -k`` for an int k >= 1: products of ``1 / y`` up to k = 4, NumPy's power above
    (as fast there, and one rounding: a product of k roundings of ``1 / y`` is k / 2 ulp off,
    5e-15 relative at k = 101)."""
    if k > 4:
        return np.power(y, -float(k))
    r = 1.0 / y
    out = r.copy()
    for _ in range(k - 1):
        out *= r
    return out


def _hurwitz_tail_coefficients(s):
    """Euler-Maclaurin's coefficients ``B_2j / (2j)! s (s + 1) ... (s + 2j - 2)``, j = 1 .. 12
    (the generic rule's 12 Bernoulli terms)."""
    coeffs, rising = [], float(s)
    for j, b in enumerate(sf._BERNOULLI[:12], 1):
        coeffs.append(b / math.factorial(2 * j) * rising)
        rising *= (s + 2 * j - 1) * (s + 2 * j)
    return tuple(coeffs)


def _hurwitz_tail(y, s, coeffs):
    """``sum_k>=0 (y + k)^-s`` for y >= 10 + min(s, 10): ``y^(1-s) / (s - 1) + y^-s / 2 +
    sum_j c_j y^(1 - s - 2j)``."""
    r = 1.0 / y
    out = _horner(coeffs, r * r)
    out *= r
    out += 0.5
    out *= r
    out += 1.0 / (s - 1)
    out *= _reciprocal_power(y, s - 1)
    return out


def _hurwitz_nonnegative(x, s):
    """``zeta(s, x)`` for x >= 0 (NaN stays NaN): the tail at ``x`` from ``10 + s``, below it
    the first terms summed up to ``x + 10 + min(s, 10)`` (the generic rule's reach), then the
    tail there."""
    reach = _SHIFT + min(s, 10)
    low = x < _SHIFT + s
    y = low * reach
    y += x
    out = _hurwitz_tail(y, s, _hurwitz_tail_coefficients(s))
    below = x[low]
    if below.size:
        total = np.zeros_like(below)
        for k in range(int(reach)):
            total += _reciprocal_power(below + float(k), s)
        out[low] += total
    return out


def polygamma(n, x):
    """``psi^(n)(x)`` for an int n >= 1 of a float64 array of any shape: ``(-1)^(n+1) n!
    zeta(n + 1, x)``, the generic rule's reflection below 0, and its +-inf at the poles 0, -1,
    ..., -inf.

    >>> polygamma(1, np.array([1.0, 0.0, -1.5])).round(10).tolist()      # pi**2 / 6
    [1.6449340668, inf, 9.379246645]
    """
    if n > sf._LARGEST_REFLECTED_ORDER:           # n! overflows: the generic rule's log form
        with np.errstate(all="ignore"):
            return sf.polygamma(array_api_compat.numpy, n, x)
    s = n + 1
    scale = (-1) ** (n + 1) * math.factorial(n)
    pole = (-1) ** (n + 1) * np.inf

    def nonnegative(x):
        out = _hurwitz_nonnegative(x, s)
        out *= scale
        out[x == 0] = pole
        return out

    def reflected(x):
        r = x - np.round(x)
        cot = sf.cot_pi(array_api_compat.numpy, r)
        coeffs, odd = sf.cot_derivative_halves(n)
        poly = _horner(coeffs, cot * cot)
        if odd:
            poly *= cot
        poly *= math.pi ** (n + 1)
        out = nonnegative(1.0 - x)
        out *= (-1) ** n
        out -= poly
        out[(r == 0) | (x == -np.inf)] = pole
        return out
    return _with_reflection(x, nonnegative, reflected)


# -- the kernels -----------------------------------------------------------------------------------
def _in_float64(fn, x, *args):
    """``fn(*args, x)`` in float64, rounded to ``x``'s dtype."""
    out = fn(*args, np.asarray(x, np.float64))
    if x.dtype == out.dtype:
        return out
    with np.errstate(over="ignore"):          # beyond float32's range: inf, as the rule's
        return out.astype(x.dtype)


def _declines(x):
    return getattr(x, "dtype", None) not in _FLOATS


def _gammaln_any(x):
    """``gammaln`` by SciPy where it is importable (``special_scipy.py``), else by NumPy."""
    return special_scipy.gammaln(x) if special_scipy.scipy_special() else gammaln(x)


def _digamma_any(x):
    return special_scipy.digamma(x) if special_scipy.scipy_special() else digamma(x)


def _gammaln_forward(x):
    return None if _declines(x) else (_in_float64(_gammaln_any, x), None)


def _gammaln_vjp(g, saved, x):
    return (g * _in_float64(_digamma_any, x),)


def _digamma_forward(x):
    return None if _declines(x) else (_in_float64(_digamma_any, x), None)


def _digamma_vjp(g, saved, x):
    return (g * _in_float64(polygamma, x, 1),)      # SciPy's polygamma is 3x slower


def _polygamma_forward(x, n):
    return None if _declines(x) else (_in_float64(polygamma, x, n), None)


def _polygamma_vjp(g, saved, x, n):
    return (g * _in_float64(polygamma, x, n + 1),)


KERNELS = {
    "special_gammaln": Kernel(_gammaln_forward, _gammaln_vjp, saves=(0,)),
    "special_digamma": Kernel(_digamma_forward, _digamma_vjp, saves=(0,)),
    "special_polygamma": Kernel(_polygamma_forward, _polygamma_vjp, saves=(0,)),
    **special_scipy.kernels(),
    **erfcx.KERNELS,
    **special_jax_names.KERNELS,
}
