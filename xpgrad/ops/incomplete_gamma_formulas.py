"""The regularized incomplete gamma functions' formulas, written once against ``xp`` in float64:
``P(a, x) = gamma(a, x) / Gamma(a)`` and ``Q(a, x) = 1 - P(a, x)``, for a > 0 and x >= 0.

Three evaluations, each where it converges fast and loses nothing to cancelling (the choice of
regions is Cephes', the methods those described in Numerical Recipes, section 6.2):

- P's power series ``x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))`` where
  ``x <= 1`` or ``x <= a``;
- Q's continued fraction (modified Lentz) where ``x > 1.1`` and ``x > a``;
- for small ``a`` and ``x <= 1.1``, Q's series ``1 - x^a / Gamma(a + 1) +
  x^a / Gamma(a) * sum_n>=1 -(-x)^n / (n! (a + n))``, whose leading part is one ``expm1``.

The other function is one minus the one computed. The factor ``x^a e^-x / Gamma(a)`` is taken
for a >= 10 as ``sqrt(a / 2 pi) exp(a log1pmx((x - a) / a) - stirling_correction(a))``, so
no digits cancel between ``a log x`` and ``log Gamma(a)`` (both near 1e5 at a = 1e4).
The loops run a fixed number of times at most, every element in step; converged elements stop
changing, and the loop ends once all have.

>>> import array_api_compat.numpy as xp
>>> a, x = xp.asarray([1.0, 0.5, 100.0]), xp.asarray([1.0, 2.0, 100.0])
>>> [round(v, 12) for v in regularized_gamma(xp, a, x, upper=False).tolist()]
[0.632120558829, 0.954499736104, 0.513298798279]
"""
from __future__ import annotations

import math

from .formulas import horner
from .special_formulas import _LGAMMA_AT_1, gammaln, stirling_correction

_EPS = 2.0 ** -53
_TINY = 1e-300                  # Lentz's stand-in for a zero denominator
_MAX_ITERATIONS = 2000          # enough for a = 1e4 at x = a (about 900 terms are needed)
_CHECK_EVERY = 16               # how often the loops ask whether every element has converged
_STIRLING_FROM = 10.0
# log1pmx(t) = log(1 + t) - t = -u t + 2 u^3 sum_k u^(2k) / (2k + 3) with u = t / (2 + t)
_LOG1PMX_TERMS = tuple(2.0 / (2 * k + 3) for k in range(20))


def log1pmx(xp, t):
    """``log(1 + t) - t``, without cancellation near ``t = 0`` (where it is ``-t**2 / 2``)."""
    near = (t >= -0.5) & (t <= 1.0)
    s = xp.where(near, t, 0.0)
    u = s / (2.0 + s)
    series = -u * s + u * u * u * horner(_LOG1PMX_TERMS, u * u)
    far = xp.where(near, 0.5, t)
    return xp.where(near, series, xp.log1p(far) - far)


def log_power_factor(xp, a, x):
    """``log(x^a e^-x / Gamma(a + 1))`` for a > 0, x >= 0 (-inf at x = 0)."""
    big = a >= _STIRLING_FROM
    ab = xp.where(big, a, _STIRLING_FROM)
    t = (x - ab) / ab
    # a log1pmx(t) = a log(x / a) - (x - a); away from t = 0 that form keeps x / a exact
    near = (t >= -0.5) & (t <= 1.0)
    exponent = xp.where(near, ab * log1pmx(xp, t), ab * xp.log(x / ab) - (x - ab))
    stirling = (exponent - 0.5 * xp.log(2.0 * math.pi * ab) - stirling_correction(ab))
    small = xp.where(big, 1.0, a)
    direct = small * xp.log(x) - x - _log_gamma_1p(xp, small)
    return xp.where(big, stirling, direct)


def _log_gamma_1p(xp, a):
    """``log Gamma(1 + a)`` for a >= 0, exact in ``a`` near 0 (no rounding of ``1 + a``)."""
    near = a < 0.3
    return xp.where(near, horner(_LGAMMA_AT_1, xp.where(near, a, 0.0)),
                    gammaln(xp, xp.where(near, 1.5, a + 1.0)))


def _converged(xp, done, i):
    return (i + 1) % _CHECK_EVERY == 0 and bool(xp.all(done))


def _lower_series(xp, a, x):
    """``P(a, x)`` by its power series (for x <= max(a, 1))."""
    term = xp.ones_like(x)
    total = xp.ones_like(x)
    done = xp.zeros(x.shape, dtype=xp.bool)
    for n in range(1, _MAX_ITERATIONS):
        term = term * (x / (a + n))
        total = xp.where(done, total, total + term)
        done = done | (term <= _EPS * total)
        if _converged(xp, done, n):
            break
    return xp.exp(log_power_factor(xp, a, x)) * total


def _upper_fraction(xp, a, x):
    """``Q(a, x)`` by its continued fraction (for x > max(a, 1.1)), modified Lentz."""
    b = x + 1.0 - a
    c = xp.full_like(x, 1.0 / _TINY)
    d = 1.0 / b
    h = d
    done = xp.zeros(x.shape, dtype=xp.bool)
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = xp.where(xp.abs(d) < _TINY, _TINY, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        step = d * c
        h = xp.where(done, h, h * step)
        done = done | (xp.abs(step - 1.0) <= _EPS)
        if _converged(xp, done, i):
            break
    return xp.exp(log_power_factor(xp, a, x)) * (a * h)


def _upper_series(xp, a, x):
    """``Q(a, x)`` for small a and x <= 1.1 (30 terms reach 1.1**30 / 30! < 1e-30)."""
    factor = xp.ones_like(x)
    total = xp.zeros_like(x)
    for n in range(1, 31):
        factor = factor * (-x / n)
        total = total + factor / (a + n)
    log_x = xp.log(x)
    lead = -xp.expm1(a * log_x - _log_gamma_1p(xp, a))
    return lead - a * xp.exp(a * log_x - _log_gamma_1p(xp, a)) * total


def regularized_gamma(xp, a, x, *, upper):
    """``Q(a, x)`` if ``upper`` else ``P(a, x)``, SciPy's ``gammaincc`` / ``gammainc``: NaN
    for a < 0, x < 0 or a NaN; P(0, x) = 1 for x > 0; P(a, 0) = 0 and P(a, inf) = 1 for a > 0;
    P(inf, x) = 0 for finite x."""
    a, x = xp.broadcast_arrays(a, x)
    valid = (a > 0) & (x > 0) & (a < xp.inf) & (x < xp.inf)
    log_x = xp.log(xp.where(valid, x, 1.0))
    small_x = xp.where(x <= 0.5, -0.4 / xp.where(valid & (x < 1.0), log_x, -1.0), 1.1 * x)
    q_series = valid & (x <= 1.1) & (a < small_x)
    q_fraction = valid & (x > 1.1) & (x > a + 1.0)
    p_series = valid & ~q_fraction & ~(q_series if upper else xp.zeros_like(valid))
    if not upper:
        q_series = valid & ~p_series & q_series
    out = xp.zeros_like(x)
    if bool(xp.any(p_series)):
        p = _lower_series(xp, xp.where(p_series, a, 1.0), xp.where(p_series, x, 0.5))
        out = xp.where(p_series, 1.0 - p if upper else p, out)
    if bool(xp.any(q_series)):
        q = _upper_series(xp, xp.where(q_series, a, 0.5), xp.where(q_series, x, 0.5))
        out = xp.where(q_series, q if upper else 1.0 - q, out)
    if bool(xp.any(q_fraction)):
        q = _upper_fraction(xp, xp.where(q_fraction, a, 1.0), xp.where(q_fraction, x, 2.0))
        out = xp.where(q_fraction, q if upper else 1.0 - q, out)
    # the edges, P's values (Q = 1 - P)
    edge = xp.where((a == 0) & (x > 0), 1.0, xp.where((x == xp.inf) & (a < xp.inf), 1.0, 0.0))
    edge = xp.where((a < 0) | (x < 0) | (a != a) | (x != x) | ((a == 0) & (x == 0))
                    | ((a == xp.inf) & (x == xp.inf)), xp.nan, edge)
    # a sum rounded up can pass 1 by an ulp (P(1e-300, 1) is e^-1 times a series near e)
    out = xp.minimum(xp.maximum(out, 0.0), 1.0)
    return xp.where(valid, out, 1.0 - edge if upper else edge)


def density(xp, a, x):
    """``x^(a-1) e^-x / Gamma(a)``, P's derivative in ``x``: at x = 0 inf for a < 1, 1 for
    a = 1, 0 for a > 1; NaN where P is."""
    a, x = xp.broadcast_arrays(a, x)
    inside = (a > 0) & (x > 0) & (x < xp.inf) & (a < xp.inf)
    xs = xp.where(inside, x, 1.0)
    ai = xp.where(inside, a, 1.0)
    value = xp.exp(log_power_factor(xp, ai, xs) + xp.log(ai / xs))
    at_zero = xp.where(a < 1.0, xp.inf, xp.where(a == 1.0, 1.0, 0.0))
    edge = xp.where((x == 0) & (a > 0) & (a < xp.inf), at_zero, 0.0)
    edge = xp.where((a < 0) | (x < 0) | (a != a) | (x != x), xp.nan, edge)
    return xp.where(inside, value, edge)
