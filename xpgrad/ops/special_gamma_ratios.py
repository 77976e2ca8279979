"""``xg.special``'s ratios of gamma functions under SciPy's names: ``beta``, ``poch`` (the
rising factorial) and ``binom`` (the real binomial coefficient). Compositions of ``betaln``,
``gammaln`` and ``gammasgn``, so they differentiate in both arguments and SciPy's dispatch
records them on a tape.

Where both gamma functions of a ratio have poles SciPy gives the limit (``beta(-3, 2)`` is
``1/6``, ``poch(-3, 1)`` is ``-3``), and so do these; where only the numerator's does, ``inf``
(of either sign, as SciPy's, which is ``+inf`` mostly and ``-inf`` on some of those lines).

>>> import xpgrad as xg
>>> b = xg.special.beta(xg.asarray([2.0, -3.0], dtype=xg.float64), 2.0)
>>> [round(v, 12) for v in b.tolist()]
[0.166666666667, 0.166666666667]
"""
from __future__ import annotations

import math

import numpy as np

from .elementwise import exp, floor, isinf, isnan, log
from .elementwise_unary import abs as absolute, cos, sin
from .gamma_function import gamma
from .incomplete_beta import _same_dtype
from .selection import where
from .special import gammaln
from .special_composed import gamma_pole, gammasgn, rgamma
from .special_gamma_shift import log_gamma_shift
from .special_more import betaln

_LARGEST_PRODUCT = 20       # binom's product formula for a whole k below this, as SciPy's
_REFLECT_PAST = 100.0       # binom by reflection past this k - n (1 + n - k keeps eps k of k)
# |x| below which Gamma(x) is finite and not subnormal, by itemsize (float64 to 171.6, float32
# to 35.0)
_GAMMA_FITS = {8: 170.0, 4: 30.0}


def _parity_sign(whole):
    """``(-1)**whole`` of a whole number."""
    return where(whole - 2.0 * floor(whole * 0.5) == 0, 1.0, -1.0)


def _sin_pi(x):
    """``sin(pi x)``, exactly 0 at the whole numbers (``sin(math.pi * 7.0)`` is 9e-16): x moved
    by an even whole number (exact) into [-1, 1), then to within 1/2 of 0 by ``sin(pi r) =
    sin(pi (+-1 - r))``; differentiable (the moves are constants to the gradient).

    >>> import xpgrad as xg
    >>> _sin_pi(xg.asarray([7.0, 0.5, -2.5], dtype=xg.float64)).tolist()
    [0.0, 1.0, -1.0]
    """
    r = x - 2.0 * floor(x * 0.5 + 0.5)
    folded = where(r > 0.5, 1.0 - r, where(r < -0.5, -1.0 - r, r))
    return sin(math.pi * folded)


def _gamma_sign_log(x, used):
    """``(sign, log|Gamma(x)|)`` where ``used`` (1 and 0 elsewhere)."""
    safe = where(used, x, 1.0)
    return gammasgn(safe), gammaln(safe)


def _beta_off_poles(a, b, used):
    """``B(a, b)`` where neither ``a`` nor ``b`` is a pole (0 where ``a + b`` is one), on
    ``used`` (arguments elsewhere are replaced, so nothing there is NaN, nor its gradient):
    ``betaln`` where both are positive (accurate for large arguments); else the gammas'
    values below 170 (no cancelling of logs next to the poles); else, with ``b < 0 < a + b``,
    ``Gamma(b) Gamma(-b) / B(a + b, -b)``; else the gammas' signs and logs."""
    total_pole = gamma_pole(a + b) & used
    positive = (a > 0) & (b > 0) & used
    mixed = used & ~positive & ~total_pole
    fits = _GAMMA_FITS[a.dtype.itemsize]
    smaller = (absolute(a) < fits) & (absolute(b) < fits) & (absolute(a + b) < fits)
    direct = mixed & smaller
    reflected = mixed & ~smaller & (a + b > 0)
    logged = mixed & ~smaller & ~reflected

    at_positive = exp(betaln(where(positive, a, 1.0), where(positive, b, 1.0)))
    direct_a, direct_b = where(direct, a, 0.5), where(direct, b, 0.5)
    at_direct = gamma(direct_a) / gamma(direct_a + direct_b) * gamma(direct_b)
    negative = where(reflected, where(a < b, a, b), -0.5)
    sign, log_negative = _gamma_sign_log(negative, reflected)
    at_reflected = sign * exp(log_negative + gammaln(-negative)
                              - betaln(where(reflected, a + b, 1.0), -negative))
    sign_a, log_a = _gamma_sign_log(a, logged)
    sign_b, log_b = _gamma_sign_log(b, logged)
    sign_total, log_total = _gamma_sign_log(a + b, logged)
    at_logged = sign_a * sign_b * sign_total * exp(log_a + log_b - log_total)
    value = where(positive, at_positive, where(direct, at_direct,
                                                where(reflected, at_reflected, at_logged)))
    return where(total_pole, 0.0, value)


def beta(a, b, /):
    """The beta function ``Gamma(a) Gamma(b) / Gamma(a + b)`` of real arguments
    (``scipy.special.beta``): ``exp(betaln(a, b))`` with the sign of the gammas for negative
    arguments; 0 where ``a + b`` is a pole, ``inf`` where ``a`` or ``b`` is, except SciPy's
    finite limit ``(-1)**b B(1 - a - b, b)`` at a pole ``a`` with a whole ``b > 0`` and
    ``a + b <= 0`` (and the same with ``a``, ``b`` swapped). Differentiable in both.

    >>> import xpgrad as xg
    >>> round(xg.special.beta(xg.asarray(0.5, dtype=xg.float64), 0.5).item(), 12)  # pi
    3.14159265359
    """
    a, b = _same_dtype("beta", [a, b], ("a", "b"))
    a_pole, b_pole = gamma_pole(a), gamma_pole(b)
    whole_positive_a = (a > 0) & (a == floor(a)) & ~isinf(a)
    whole_positive_b = (b > 0) & (b == floor(b)) & ~isinf(b)
    limit_a = a_pole & ~isinf(a) & whole_positive_b & (a + b <= 0)
    limit_b = ~a_pole & b_pole & ~isinf(b) & whole_positive_a & (a + b <= 0)
    limit = limit_a | limit_b
    whole = where(limit_a, b, where(limit_b, a, 1.0))
    pole_side = where(limit_a, a, where(limit_b, b, 0.0))
    at_limit = _parity_sign(whole) * _beta_off_poles(1.0 - pole_side - whole, whole, limit)

    a_infinite, b_infinite = isinf(a) & (a > 0), isinf(b) & (b > 0)
    finite_side = where(a_infinite, b, a)
    at_infinity = where(a_infinite & b_infinite, math.nan,
                        where(finite_side > 0, 0.0, gammasgn(finite_side) * math.inf))
    ordinary = ~(a_pole | b_pole | a_infinite | b_infinite)
    value = _beta_off_poles(where(ordinary, a, 1.0), where(ordinary, b, 1.0), ordinary)
    return where(limit, at_limit, where(a_pole | b_pole, math.inf,
                                        where(a_infinite | b_infinite, at_infinity, value)))


def poch(z, m, /):
    """The rising factorial ``Gamma(z + m) / Gamma(z)`` (``scipy.special.poch``): 1 for
    ``m == 0``; ``exp(gammaln(z + m) - gammaln(z))`` as a Taylor series in ``m`` for
    ``|m| <= 1e-3 z`` (so both gradients keep their digits at a tiny ``m``);
    ``exp(gammaln(m) - betaln(z, m))`` for other positive arguments (accurate for large
    ``z``), the gammas' values or signs and logs otherwise, and the product
    ``z (z + 1) ... (z + m - 1)`` for a whole ``|m| < 20`` where ``z <= 0`` or ``z + m <= 0``
    (exact next to the poles, and there no gradient in ``m``); 0 at a pole ``z`` (``inf`` at
    a pole ``z + m``), and the limit ``(-1)**m (-z)! / (-z - m)!`` where both are poles.
    Differentiable in both arguments.

    >>> import xpgrad as xg
    >>> xg.special.poch(xg.asarray([3.0, -3.0], dtype=xg.float64), 2.0).tolist()  # 3*4, -3*-2
    [12.0, 6.0]
    """
    z, m = _same_dtype("poch", [z, m], ("z", "m"))
    with np.errstate(over="ignore"):    # past float64's range the ratio is inf, as SciPy's
        return _poch(z, m)


def _poch(z, m):
    total = z + m
    z_pole, total_pole = gamma_pole(z) & ~isinf(z), gamma_pole(total) & ~isinf(total)
    both = z_pole & total_pole
    by_product = ((m == floor(m)) & (absolute(m) < _LARGEST_PRODUCT) & ~isinf(z)
                  & ((z <= 0) | (total <= 0)))
    at_product = _poch_product(z, where(by_product, m, 0.0))
    up, down = where(both, 1.0 - z, 1.0), where(both, 1.0 - total, 1.0)
    at_both = _parity_sign(where(both, m, 0.0)) * exp(gammaln(up) - gammaln(down))

    ordinary = ~z_pole & ~total_pole & (m != 0)
    # |m| below 1e-3 of z's distance to the nearest pole: the log ratio's Taylor series (no
    # psi(m) - psi(m) in m's gradient, no psi(z + m) - psi(z) in z's)
    to_pole = where(z > 0, z, absolute(z - floor(z + 0.5)))
    shifted = ordinary & (absolute(m) <= 1e-3 * to_pole) & ~isinf(z)
    rising = ordinary & ~shifted & (z > 0) & (total > 0) & (m > 0)
    falling = ordinary & ~shifted & (z > 0) & (total > 0) & (m < 0)
    mixed = ordinary & ~shifted & ~rising & ~falling
    step = where(rising, m, where(falling, -m, 1.0))
    log_rising = gammaln(step) - betaln(where(rising, z, 1.0), step)
    log_falling = betaln(where(falling, total, 1.0), step) - gammaln(step)
    fits = _GAMMA_FITS[z.dtype.itemsize]
    direct = mixed & (absolute(z) < fits) & (absolute(total) < fits)
    # rgamma: 1 / Gamma(z) and its gradient stay finite at a tiny z (1 / Gamma's overflow)
    at_direct = gamma(where(direct, total, 0.5)) * rgamma(where(direct, z, 0.5))
    logged = mixed & ~direct
    sign_z, log_z = _gamma_sign_log(z, logged)
    sign_total, log_total = _gamma_sign_log(total, logged)
    at_logged = sign_z * sign_total * exp(log_total - log_z)
    value = where(rising, exp(log_rising), where(falling, exp(log_falling), where(
        direct, at_direct, at_logged)))
    value = where(shifted, exp(log_gamma_shift(z, m, shifted)), value)
    # a whole m < 0 with z < 1: z + m may round onto a pole that it is not (z = 1e-20,
    # m = -5), or past the product's 20 factors lose the distance to it; reflected instead
    reflected = (m == floor(m)) & (m < 0) & (z < 1) & ~z_pole & ~isinf(m) & (
        total_pole | ~by_product)
    at_reflected = _poch_reflected(where(reflected, z, 0.5), where(reflected, m, -1.0))
    # m = +-inf: Gamma(z + m) / Gamma(z) grows without bound (with the sign of 1 / Gamma(z))
    # or has no limit (NaN, as SciPy's)
    at_infinite_m = where(m > 0, gammasgn(where(isinf(m), z, 1.0)) * math.inf, math.nan)
    value = where(isinf(m) & ~z_pole, at_infinite_m, value)
    at_infinite_z = where(z > 0, where(m > 0, math.inf, 0.0), math.nan)
    # at a pole z + m alone: +inf (SciPy's, mpmath's), where the product's sign is a 0.0's
    only_total_pole = total_pole & ~z_pole
    return where(m == 0, 1.0, where(reflected, at_reflected, where(only_total_pole, math.inf, where(
        by_product, at_product, where(isinf(z), at_infinite_z, where(both, at_both, where(
            z_pole, 0.0, value)))))))


def _sin_cos_pi(x):
    """``(sin(pi x), cos(pi x))`` from x's exact distance to the nearest whole number."""
    whole = floor(x + 0.5)
    parity, turn = _parity_sign(whole), math.pi * (x - whole)
    return parity * sin(turn), parity * cos(turn)


def _poch_reflected(z, m):
    """``Gamma(1 - z) / Gamma(1 - z - m) * sin(pi z) / sin(pi (z + m))`` for ``z < 1`` and
    ``m < 0``: both gammas' arguments positive, and the sines of ``z`` and ``m`` apart (each
    from its exact distance to a whole number), so a ``z`` next to 0 keeps its digits in the value and in both
    gradients (``psi(1 - z - m) - pi cot(pi (z + m))`` for ``m``'s)."""
    shifted, steps = 1.0 - z, -m
    log_ratio = betaln(shifted, steps) - gammaln(steps)
    sin_z, cos_z = _sin_cos_pi(z)
    sin_m, cos_m = _sin_cos_pi(m)
    sin_total = sin_z * cos_m + cos_z * sin_m
    return exp(log_ratio) * (sin_z / sin_total)


def _poch_product(z, whole_m):
    """``z (z + 1) ... (z + m - 1)``, or ``1 / ((z - 1) ... (z + m))`` for ``m < 0``, of a
    whole ``|m| < 20``: exact next to the poles, where ``z + m`` rounds away the distance."""
    rising, falling = 1.0, 1.0
    for i in range(_LARGEST_PRODUCT):
        rising = rising * where(whole_m > i, z + float(i), 1.0)
        falling = falling * where(-whole_m > i, z - float(i + 1), 1.0)
    # falling is 0 only at a pole z + m, where poch gives its inf itself: no 1 / 0 here
    return rising / where(falling == 0.0, 1.0, falling)


def _binom_product(n, whole_k):
    """``prod_{i=1}^{k} (n - k + i) / i`` for a whole ``0 <= k < 20``: SciPy's formula for a
    whole k (exact where the coefficient is an integer)."""
    product = 1.0
    for i in range(1, _LARGEST_PRODUCT):
        product = product * where(whole_k >= i, (n + (float(i) - whole_k)) / float(i), 1.0)
    return product


def binom(n, k, /):
    """The binomial coefficient of real arguments, ``1 / ((n + 1) B(1 + n - k, 1 + k))``
    (``scipy.special.binom``): SciPy's product formula for a whole ``0 <= k < 20`` (by
    symmetry for a whole ``n``; also for ``|n| < 1e-8``, where SciPy's general formula loses
    digits), ``exp(-betaln(...) - log(n + 1))`` for ``n >= 1e10 k``, for ``k > 1e8 |n|``
    (SciPy's asymptotic series there) and for ``k - n > 100`` (where ``1 + n - k`` keeps only
    ``eps k`` of its fraction: SciPy's general formula is 8e-10 off at (3.3, 1e6), and
    ``binom(-2.7, 1e7 + 0.3)`` 0, not -1487.8) the reflection ``sin(pi (k - n)) B(k - n, n +
    1) / pi`` (within 1e-13 of mpmath, ``binom(1e-10, 25)`` too), NaN for a negative whole
    ``n``, NaN ``n`` and ``k = inf``. Differentiable in ``n``, and in ``k`` off the whole
    numbers (at them the product formula gives ``k`` no gradient).

    >>> import xpgrad as xg
    >>> xg.special.binom(xg.asarray([5.0, -0.5], dtype=xg.float64), 2.0).tolist()
    [10.0, 0.375]
    """
    n, k = _same_dtype("binom", [n, k], ("n", "k"))
    negative_whole_n = (n < 0) & (n == floor(n))
    whole_k, whole_n = floor(k), floor(n)
    by_product = k == whole_k
    mirrored = (whole_n == n) & (whole_k > whole_n * 0.5) & (whole_n > 0)
    product_k = where(mirrored, whole_n - whole_k, whole_k)
    by_product = by_product & (product_k >= 0) & (product_k < _LARGEST_PRODUCT)
    product = _binom_product(n, where(by_product, product_k, 0.0))

    large_n = ~by_product & (n >= 1e10 * k) & (k > 0)
    large_a = where(large_n, 1.0 + n - k, 1.0)
    large_b = where(large_n, 1.0 + k, 1.0)
    at_large_n = exp(-betaln(large_a, large_b) - log(where(large_n, n + 1.0, 1.0)))
    # k > 1e8 |n| (SciPy's asymptotic region): 1 + n - k is next to a pole and rounds away n;
    # by reflection binom = sin(pi (k - n)) B(k - n, n + 1) / pi, the sine of the fraction
    # of k (exact) less n, with the sign of floor(k)'s parity
    large_k = (~by_product & ~large_n & ~negative_whole_n & ~isinf(k)
               & ((k > 1e8 * absolute(n)) | (k - n > _REFLECT_PAST)))
    reflected_n, reflected_k = where(large_k, n, 0.5), where(large_k, k, 1.5)
    turns = floor(reflected_k)
    at_large_k = (_parity_sign(turns) * _sin_pi((reflected_k - turns) - reflected_n)
                  * beta(reflected_k - reflected_n, reflected_n + 1.0) / math.pi)
    general = ~by_product & ~large_n & ~large_k & ~negative_whole_n
    general_n, general_k = where(general, n, 0.5), where(general, k, 0.5)
    beta_of_general = beta(1.0 + general_n - general_k, 1.0 + general_k)
    vanishes = isinf(beta_of_general)        # 0 and no NaN gradient where the beta is a pole
    at_general = where(vanishes, 0.0, 1.0 / ((general_n + 1.0)
                                              * where(vanishes, 1.0, beta_of_general)))
    return where(negative_whole_n | isnan(n) | (isinf(k) & (k > 0)), math.nan, where(
        by_product, product, where(large_n, at_large_n, where(large_k, at_large_k, at_general))))


__all__ = ["beta", "binom", "poch"]
