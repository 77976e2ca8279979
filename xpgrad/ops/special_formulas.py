"""The special functions' formulas, each written once against ``xp`` in float64 (``xg.special``
rounds float32 inputs' results from float64): erf's series, erfinv, log_ndtr, gammaln, digamma
and the Hurwitz zeta behind polygamma. Only exp, log, trigonometry and arithmetic: no array-API
namespace has these functions. The constants are exact values of zeta(k) - 1, of digamma's
Taylor coefficients at its positive root and of Bernoulli numbers (computed with mpmath).

>>> import array_api_compat.numpy as xp
>>> [round(v, 12) for v in gammaln(xp, xp.asarray([0.5, 1.0, 10.0])).tolist()]
[0.572364942925, 0.0, 12.801827480081]
>>> round(float(digamma(xp, xp.asarray(1.0))), 12)          # -Euler's gamma
-0.577215664902
"""
from __future__ import annotations

import functools
import math

from . import formulas
from .formulas import horner

_EULER = 0.5772156649015329
_HALF_LOG_2PI = 0.9189385332046728
_SQRT_HALF = 0.7071067811865476
# zeta(k) - 1 for k = 2 .. 29
_ZETA_MINUS_1 = (
    0.6449340668482264, 0.2020569031595943, 0.08232323371113819, 0.03692775514336993,
    0.01734306198444914, 0.008349277381922827, 0.00407735619794434, 0.0020083928260822143,
    0.0009945751278180853, 0.0004941886041194645, 0.0002460865533080483,
    0.00012271334757848915, 6.124813505870483e-05, 3.058823630702049e-05,
    1.528225940865187e-05, 7.637197637899763e-06, 3.81729326499984e-06, 1.908212716553939e-06,
    9.539620338727962e-07, 4.769329867878064e-07, 2.38450502727733e-07,
    1.1921992596531106e-07, 5.960818905125948e-08, 2.980350351465228e-08,
    1.4901554828365043e-08, 7.45071178983543e-09, 3.725334024788457e-09,
    1.862659723513049e-09)
# digamma's positive root (as a sum of two floats) and psi^(k)(root) / k!, k = 1 .. 25
_PSI_ROOT = (1.4616321449683622, 9.549995429965697e-17)
_PSI_ROOT_TAYLOR = (
    0.9676722454476212, -0.4427631689835921, 0.258499760955651, -0.16394270544240652,
    0.10782405069126237, -0.07219956125645471, 0.04880428816414311, -0.03316112647484736,
    0.022597648232218104, -0.01542476590494896, 0.010538791616612175, -0.007204534386356869,
    0.004926781395729853, -0.003369801655439328, 0.002305126326734928, -0.0015769367714301972,
    0.0010788252019162967, -0.0007380709389960052, 0.000504953265834602,
    -0.0003454680251063077, 0.00023635601564027053, -0.00016170622091974803,
    0.0001106337276874741, -7.569179582195066e-05, 5.178575795222081e-05)
# B_2, B_4, ..., B_30
_BERNOULLI = (
    0.16666666666666666, -0.03333333333333333, 0.023809523809523808, -0.03333333333333333,
    0.07575757575757576, -0.2531135531135531, 1.1666666666666667, -7.092156862745098,
    54.971177944862156, -529.1242424242424, 6192.123188405797, -86580.25311355312,
    1425517.1666666667, -27298231.067816094, 601580873.9006424)
# lgamma(1 + e) = -gamma e + sum_k (-1)^k zeta(k) / k e^k, lgamma(2 + e) the same with
# 1 - gamma and zeta(k) - 1
_LGAMMA_AT_1 = (0.0, -_EULER) + tuple((-1) ** k * (1.0 + z) / k
                                      for k, z in enumerate(_ZETA_MINUS_1, 2))
_LGAMMA_AT_2 = (0.0, 1.0 - _EULER) + tuple((-1) ** k * z / k
                                           for k, z in enumerate(_ZETA_MINUS_1, 2))
# erf(x) = 2 / sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n + 1)), 14 terms for |x| < 0.5
_ERF_SERIES = tuple(2.0 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1))
                    for n in range(14))
# from n = 164 on, Q_n's coefficients overflow float64 (n! from 171 on)
_LARGEST_REFLECTED_ORDER = 163
_SHIFT = 10.0          # the asymptotic series hold from here (recurrences shift up to it)


def erf(xp, x):
    """``erf``: its Taylor series below |x| = 0.5 (no cancellation at 0), ``1 - erfc`` above."""
    small = xp.where(xp.abs(x) < 0.5, x, 0.0)
    series = small * horner(_ERF_SERIES, small * small)
    big = formulas.erfc(xp, -xp.abs(x)) - 1.0
    return xp.where(xp.abs(x) < 0.5, series, xp.where(x < 0, -big, big))


def log_erfc(xp, z):
    """``log(erfc(z))`` for every z >= 0 (no underflow: erfc's own exponent, unexponentiated)."""
    t = 2.0 / (2.0 + z)
    return xp.log(t) - z * z + formulas.erfc_exponent(xp, t)


def log_ndtr(xp, x):
    """``log(Phi(x))``: ``log1p(-Phi(-x))`` above 0, ``log(erfc(-x / sqrt 2) / 2)`` below."""
    z = xp.where(x < 0, -x, 0.0) * _SQRT_HALF
    left = log_erfc(xp, z) - math.log(2.0)
    right = xp.log1p(-0.5 * formulas.erfc(xp, xp.where(x < 0, 0.0, x) * _SQRT_HALF))
    return xp.where(x < 0, left, right)


def ndtr_hazard(xp, x):
    """``phi(x) / Phi(x)``, log_ndtr's derivative, with no underflow far left:
    ``sqrt(2 / pi) / erfcx(-x / sqrt 2)`` there."""
    z = xp.where(x < 0, -x, 0.0) * _SQRT_HALF
    t = 2.0 / (2.0 + z)
    left = math.sqrt(2.0 / math.pi) / (t * xp.exp(formulas.erfc_exponent(xp, t)))
    xr = xp.where(x < 0, 0.0, x)
    right = xp.exp(-0.5 * xr * xr) / (math.sqrt(2.0 * math.pi)
                                      * (1.0 - 0.5 * formulas.erfc(xp, xr * _SQRT_HALF)))
    return xp.where(x < 0, left, right)


def erfinv(xp, y):
    """The inverse of erf on [-1, 1]: Winitzki's closed form, then two Halley steps on
    ``erfc(x) = 1 - |y|`` (the residual of the tail without cancellation)."""
    a = xp.abs(y)
    inside = a < 1.0
    a_in = xp.where(inside, a, 0.5)
    log_1ma2 = xp.log1p(-a_in) + xp.log1p(a_in)
    k = 2.0 / (math.pi * 0.147) + 0.5 * log_1ma2
    x = xp.sqrt(xp.sqrt(k * k - log_1ma2 / 0.147) - k)
    for _ in range(2):
        residual = xp.where(a_in < 0.5, erf(xp, x) - a_in,
                            (1.0 - a_in) - formulas.erfc(xp, x))
        slope = (2.0 / math.sqrt(math.pi)) * xp.exp(-x * x)
        step = residual / slope
        x = x - step / (1.0 + x * step)            # Halley: f'' / f' = -2 x
    x = xp.where(inside, x, xp.where(a == 1.0, xp.inf, a * xp.nan))
    return xp.where(y < 0, -x, xp.where(y == 0, y, x))


def _sin_pi(xp, x):
    """``sin(pi x)``, exact at integers and accurate for large |x| (reduced to [-1/2, 1/2])."""
    r = x - xp.round(x)
    parity = xp.remainder(xp.round(x), 2.0)
    sine = xp.sin(math.pi * r)
    return xp.where(parity == 0, sine, -sine)


def _shift_up(xp, x):
    """``(y, product of x, x + 1, ..., y - 1, sum of their reciprocals)`` for y >= 10."""
    y, product, reciprocals = x, xp.ones_like(x), xp.zeros_like(x)
    for _ in range(int(_SHIFT)):
        low = y < _SHIFT
        product = product * xp.where(low, y, 1.0)
        reciprocals = reciprocals + xp.where(low, 1.0 / y, 0.0)
        y = xp.where(low, y + 1.0, y)
    return y, product, reciprocals


_STIRLING_TERMS = tuple(b / (2 * j * (2 * j - 1)) for j, b in enumerate(_BERNOULLI[:9], 1))


def stirling_correction(y):
    """``log Gamma(y) - ((y - 1/2) log y - y + log(2 pi) / 2)`` for y >= 10 (arithmetic only:
    ``y`` may be a Tensor, so its gradients follow)."""
    w = 1.0 / y
    return w * horner(_STIRLING_TERMS, w * w)


def _stirling(xp, y):
    """``log Gamma(y)`` for y >= 10: Stirling's series (error < 1e-17 relative)."""
    return (y - 0.5) * xp.log(y) - y + _HALF_LOG_2PI + stirling_correction(y)


def _gammaln_positive(xp, x):
    """``log Gamma(x)`` for x > 0: Taylor series at its roots 1 (|x - 1| < 0.3) and 2
    (1.5 <= x < 2.6; from 1.3 to 1.5 as ``lgamma(x + 1) - log(x)``), Stirling elsewhere."""
    y, product, _ = _shift_up(xp, x)
    value = _stirling(xp, y) - xp.log(product)
    near_1 = xp.abs(x - 1.0) < 0.3
    value = xp.where(near_1, horner(_LGAMMA_AT_1, xp.where(near_1, x - 1.0, 0.0)), value)
    below_2 = (x >= 1.3) & (x < 1.5)
    e = xp.where(below_2, x - 1.0, 0.0)
    value = xp.where(below_2, horner(_LGAMMA_AT_2, e) - xp.log1p(e), value)
    near_2 = (x >= 1.5) & (x < 2.6)
    return xp.where(near_2, horner(_LGAMMA_AT_2, xp.where(near_2, x - 2.0, 0.0)), value)


def gammaln(xp, x):
    """``log|Gamma(x)|``; inf at the poles 0, -1, -2, ...; reflection below 0.5; ``-log|x|``
    at a negative subnormal x (``pi x`` would round to the few bits it holds)."""
    reflect = x < 0
    positive = _gammaln_positive(xp, xp.where(reflect, 1.0 - x, x))
    sine = xp.abs(_sin_pi(xp, xp.where(reflect, x, 0.5)))
    reflected = math.log(math.pi) - xp.log(sine) - positive
    subnormal = reflect & (x > -xp.finfo(x.dtype).smallest_normal)
    reflected = xp.where(subnormal, -xp.log(xp.where(subnormal, -x, 1.0)), reflected)
    out = xp.where(reflect, reflected, positive)
    pole = reflect & (sine == 0)
    out = xp.where(pole, xp.inf, out)
    return xp.where(x == -xp.inf, -xp.inf, xp.where(x == xp.inf, xp.inf, out))


def _digamma_positive(xp, x):
    y, _, reciprocals = _shift_up(xp, x)
    w = 1.0 / (y * y)
    terms = tuple(b / (2 * j) for j, b in enumerate(_BERNOULLI[:9], 1))
    value = xp.log(y) - 0.5 / y - w * horner(terms, w) - reciprocals
    near_root = xp.abs(x - _PSI_ROOT[0]) < 0.25
    e = xp.where(near_root, (x - _PSI_ROOT[0]) - _PSI_ROOT[1], 0.0)
    return xp.where(near_root, e * horner(_PSI_ROOT_TAYLOR, e), value)


def digamma(xp, x):
    """``psi(x) = d log Gamma / dx``; reflection ``psi(1 - x) - pi cot(pi x)`` below 0
    (``cot_pi``: 0 at the half-integers); -inf at +0, +inf at -0, NaN at -1, -2, ... and -inf
    (as SciPy)."""
    reflect = x < 0
    positive = _digamma_positive(xp, xp.where(reflect, 1.0 - x, x))
    r = xp.where(reflect, x - xp.round(x), 0.25)
    reflected = positive - math.pi * cot_pi(xp, r)
    out = xp.where(reflect, reflected, positive)
    out = xp.where((x <= 0) & (r == 0), xp.nan, out)
    out = xp.where((x == 0) & xp.signbit(x), xp.inf, xp.where(x == 0, -xp.inf, out))
    return xp.where(x == xp.inf, xp.inf, out)


def _hurwitz_positive(xp, s, x, scale=1.0):
    """``zeta(s, x) * scale**s`` (``zeta(s, x) = sum_k (x + k)^-s``) for integer s >= 2 and
    x > 0: the first 10 terms, up to 10 more while x + k < 10 + s, then Euler-Maclaurin's tail
    with 12 Bernoulli terms (1e-15 relative for s up to 51 at least). ``scale = x`` keeps the
    terms ``((x + k) / x)^-s <= 1`` from underflowing when s is large."""
    total = xp.zeros_like(x)
    y = x
    for _ in range(int(_SHIFT)):
        total = total + (y / scale) ** -s
        y = y + 1.0
    for _ in range(int(_SHIFT)):
        low = y < _SHIFT + float(s)
        total = total + xp.where(low, (y / scale) ** -s, 0.0)
        y = xp.where(low, y + 1.0, y)
    tail = (y / scale) ** (1 - s) * scale / (s - 1) + 0.5 * (y / scale) ** -s
    rising, power, w = float(s), (y / scale) ** (-s - 1) / scale, 1.0 / (y * y)
    for j, b in enumerate(_BERNOULLI[:12], 1):
        tail = tail + b / math.factorial(2 * j) * rising * power
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        power = power * w
    return total + tail


def cot_derivative_poly(n):
    """Coefficients (lowest first) of ``Q_n`` with ``d^n/dx^n cot(pi x) = pi^n Q_n(cot(pi x))``.

    >>> cot_derivative_poly(1)                  # -(1 + c**2)
    [-1, 0, -1]
    """
    q = [0, 1]
    for _ in range(n):
        deriv = [k * c for k, c in enumerate(q)][1:] or [0]
        out = [0] * (len(deriv) + 2)          # -(1 + c**2) Q'(c)
        for k, c in enumerate(deriv):
            out[k] -= c
            out[k + 2] -= c
        q = out
    return q


@functools.lru_cache(maxsize=None)
def cot_derivative_halves(n):
    """``Q_n`` (``cot_derivative_poly(n)``) as ``P(c**2)`` or ``c P(c**2)``: ``(P's float
    coefficients, lowest first, whether Q_n is odd)``. Q_n has only even or only odd powers, all
    of one sign, so P's Horner sum neither cancels nor meets inf - inf, and at ``c = 0`` is
    exactly its constant.

    >>> cot_derivative_halves(2)                 # 2 c (1 + c**2)
    ((2.0, 2.0), True)
    """
    q = cot_derivative_poly(n)
    odd = n % 2 == 0
    return tuple(float(c) for c in q[odd::2]), odd


def cot_pi(xp, r):
    """``cot(pi r)`` for -1/2 <= r <= 1/2 (``r = x - round(x)``): ``1 / tan(pi r)`` up to
    |r| = 1/4, beyond it ``+-tan(pi (1/2 - |r|))``, ``1/2 - |r|`` being exact: 0 at the
    half-integers, not 1/tan(pi/2) = 6e-17, and as accurate next to them as next to the poles."""
    far = xp.abs(r) > 0.25
    to_half = xp.where(far, 0.5 - xp.abs(r), 0.25)
    reduced = xp.tan(math.pi * to_half)
    return xp.where(far, xp.where(r < 0, -reduced, reduced), 1.0 / xp.tan(math.pi * r))


def polygamma(xp, n, x):
    """``psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x)`` for n >= 1; below 0.5 the reflection
    ``(-1)^n psi^(n)(1 - x) - pi^(n+1) Q_n(cot(pi x))``; +-inf at the poles (as SciPy)."""
    if n > _LARGEST_REFLECTED_ORDER:
        return _polygamma_of_high_order(xp, n, x)
    reflect = x < 0
    y = xp.where(reflect, 1.0 - x, x)
    positive = (-1) ** (n + 1) * math.factorial(n) * _hurwitz_positive(xp, n + 1, y)
    r = xp.where(reflect, x - xp.round(x), 0.25)
    cot = cot_pi(xp, r)
    coeffs, odd = cot_derivative_halves(n)
    poly = horner(coeffs, cot * cot)
    if odd:
        poly = cot * poly
    reflected = (-1) ** n * positive - math.pi ** (n + 1) * poly
    out = xp.where(reflect, reflected, positive)
    pole = (reflect & (r == 0)) | (x == 0) | (x == -xp.inf)
    out = xp.where(pole, (-1) ** (n + 1) * xp.inf, out)
    return xp.where(x == xp.inf, (-1) ** (n + 1) * 0.0, out)


def _polygamma_of_high_order(xp, n, x):
    """``polygamma`` for n >= 164, where the reflection's coefficients (and from 171 on n!)
    overflow float64. Above 0,
    ``(-1)^(n+1) exp(lgamma(n + 1) - (n + 1) log x + log(x^(n+1) zeta(n + 1, x)))``: finite
    wherever the value is. Below 0 the term of the pole nearest x, ``n! / |x - pole|^(n+1) >=
    n! 2^(n+1)``, overflows, except at half-integers with n even, where the two nearest poles'
    terms cancel (as each further pair does) and ``psi^(n)(1 - x)`` is left."""
    sign = (-1.0) ** (n + 1)
    reflect = x < 0
    edge = (x == 0) | (x == xp.inf) | (x == -xp.inf)
    y = xp.where(edge, 1.0, xp.where(reflect, 1.0 - x, x))
    scaled_zeta = _hurwitz_positive(xp, n + 1, y, scale=y)
    positive = sign * xp.exp(math.lgamma(n + 1) - (n + 1) * xp.log(y) + xp.log(scaled_zeta))
    offset = x - xp.round(x)                      # from the nearest pole
    nearest_sign = xp.sign(offset) if (n + 1) % 2 else 1.0
    out = xp.where(reflect, sign * nearest_sign * xp.inf, positive)
    if n % 2 == 0:
        out = xp.where(reflect & (xp.abs(offset) == 0.5), positive, out)
    pole = (reflect & (offset == 0)) | (x == 0) | (x == -xp.inf)
    out = xp.where(pole, sign * xp.inf, out)
    return xp.where(x == xp.inf, sign * 0.0, out)
