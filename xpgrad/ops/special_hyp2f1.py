"""Gauss's hypergeometric function ``hyp2f1(a, b, c, x) = 2F1(a, b; c; x) = sum_k (a)_k (b)_k /
(c)_k x^k / k!`` (``scipy.special.hyp2f1``, ``jax.scipy.special.hyp2f1``) for real arguments,
with broadcasting; differentiable in x to any order (``d/dx 2F1 = a b / c 2F1(a + 1, b + 1;
c + 1; x)``), not in a, b, c: as ``hyp1f1``, a gradient in them raises NotImplementedError.

Every x is brought to a power series in a variable of size <= 0.7 (300 terms):

- ``x < 0``: Pfaff's transformation ``2F1(a, b; c; x) = w^a 2F1(a, c - b; c; z)`` with
  ``z = x / (x - 1)`` and ``w = 1 - z = 1 / (1 - x)`` formed directly (finite to x = -1e300,
  where SciPy's is inf);
- ``z <= 0.7``: the series in z;
- ``0.7 < z < 1``: the ``1 - z`` connection formula (A&S 15.3.6) in ``w < 0.3``, two series and four
  gamma functions; where ``d = c - a - b`` is an integer (within 1e-8: the two terms' poles
  cancel, and closer than that they would keep ``eps / |d - m|`` of their digits) A&S
  15.3.10/15.3.12's logarithmic series (``d > 0`` through Euler's ``w^d 2F1(c - a, c - b; c;
  z)`` first), so near an integer d about 1e-8 relative is kept, elsewhere ~1e-14;
- a or b a non-positive integer (a polynomial, degree <= 300): the finite sum at x itself,
  for ``0 < x < 1`` Pfaff's in ``x / (x - 1)`` (the sum at x alternates: 2^-60 from terms
  of 1e17), at ``x = 1`` Gauss's sum where ``c - a - b > 0`` and c is no pole; ending at
  ``a`` when ``c <= a`` is a pole beyond it (``2F1(-1, 1; -1; x) = 1 + x``, as mpmath's);
- ``x = 1``: Gauss's ``Gamma(c) Gamma(d) / (Gamma(c - a) Gamma(c - b))`` for d > 0, else inf;
  ``x > 1`` (a complex value on the cut): inf, as SciPy's and JAX's; ``x = -inf``: NaN;
- c a non-positive integer: inf (a pole), unless the series is a polynomial ending before
  the pole (a or b a non-positive integer >= c); ``x = 0``: 1.

Within 1.1e-12 of mpmath (40 digits) over 400 random points with ``|a|, |b| <= 6``, ``-6 <= c
<= 8``, ``-5 < x < 1`` plus x = 0.999 and -1e6 (99% within 4e-13; SciPy's own worst there
7e-12); ``tests/test_special_hyp2f1.py`` holds 5e-12. Larger parameters lose digits to the
alternating terms and the connection formula's cancelling halves (mpmath, 2026-12-08): 3.6e-6
at (20, 18.5, 1.5, x = -2), 1.4e-5 at (-19.5, 15.2, 3.3, 0.6), 4.7e-7 at (15.5, 12.25, 30.1,
0.9), where SciPy's keeps 1e-15 (its is 4.8e-9 off at (10.3, -12.7, 2.2, 0.95), ours 6e-15).
float32 inputs are computed in float64 and rounded.

>>> import xpgrad as xg
>>> x = xg.asarray([0.5, -1.0], dtype=xg.float64)
>>> [round(v, 12) for v in xg.special.hyp2f1(1.0, 1.0, 2.0, x).tolist()]   # -log(1 - x) / x
[1.38629436112, 0.69314718056]
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from .special import _call, _quiet
from .special_formulas import digamma, gammaln
from .special_hyp1f1 import _gamma_sign

_TERMS = 300
_SERIES_UP_TO = 0.7
_INTEGER_D_WITHIN = 1e-8
_RESCALE, _RESCALE_EVERY = 1e150, 6
_MAX_FINITE_SUM = 64            # |d| up to this takes 15.3.12's finite sum in full


def _whole(xp, v):
    """Where ``v`` is an integer."""
    return v == xp.round(v)


def _gamma_ratio(xp, top, bottom):
    """``prod Gamma(top) / prod Gamma(bottom)`` by log-gammas and signs (0 where a bottom
    argument is a pole)."""
    log, sign = xp.zeros_like(top[0]), xp.ones_like(top[0])
    for v in top:
        log, sign = log + gammaln(xp, v), sign * _gamma_sign(xp, v)
    for v in bottom:
        log, sign = log - gammaln(xp, v), sign * _gamma_sign(xp, v)
    return sign * xp.exp(log)


def _series(xp, a, b, c, z):
    """``sum_k (a)_k (b)_k / (c)_k z^k / k!``, ``_TERMS`` terms."""
    term, total = xp.ones_like(z), xp.ones_like(z)
    for k in range(_TERMS):         # a polynomial's terms stay 0, also past a pole of c
        term = xp.where(term == 0, term, term * ((a + k) * (b + k) / ((c + k) * (k + 1)) * z))
        total = total + term
    return total


def _polynomial(xp, a, b, c, x):
    """``2F1(a, b; c; x)`` for a whole ``a <= 0`` (degree ``n = -a <= 300``) and a finite x,
    ending at ``a`` also where ``c <= a`` is a pole beyond it (mpmath's ``2F1(-1, 1; -1; x) =
    1 + x``): the sum at x, except where its terms alternate, for ``0 < x < 1``
    (``2F1(-60, 1; 1; 1/2) = 2^-60`` from terms up to 1e17): there Pfaff's ``(1 - x)^n 2F1(a,
    c - b; c; x / (x - 1))``, terms of one sign for ``c - b, c > 0``. The sum is scaled down
    by 1e150 where it passed that (checked every 6 terms; at degree 300 and x = 0.99 Pfaff's
    reaches 1e600, and ``(1 - x)^300`` is 1e-600)."""
    inside = (x > 0) & (x < 1)
    safe = xp.where(inside, x, xp.full_like(x, 0.5))
    z, e = xp.where(inside, safe / (safe - 1.0), x), xp.where(inside, c - b, b)
    term, total, log_scale = xp.ones_like(x), xp.ones_like(x), xp.zeros_like(x)
    for k in range(_TERMS):
        term = xp.where((term == 0) | (a + k == 0), xp.zeros_like(term),
                        term * ((a + k) * (e + k) / ((c + k) * (k + 1)) * z))
        total = total + term
        if k % _RESCALE_EVERY == 0:          # a term grows by < 1e19 a step (|z| < 1e16)
            big = (xp.abs(term) > _RESCALE) | (xp.abs(total) > _RESCALE)
            term, total = (xp.where(big, v / _RESCALE, v) for v in (term, total))
            log_scale = xp.where(big, log_scale + math.log(_RESCALE), log_scale)
    log_scale = xp.where(inside, log_scale - a * xp.log1p(-safe), log_scale)
    return total * xp.exp(log_scale)


def _connection(xp, a, b, c, w):
    """A&S 15.3.6 in ``w = 1 - z``: ``d = c - a - b`` not an integer."""
    d = c - a - b
    first = _gamma_ratio(xp, [c, d], [c - a, c - b]) * _series(xp, a, b, 1.0 - d, w)
    second = _gamma_ratio(xp, [c, -d], [a, b]) * w ** d * _series(xp, c - a, c - b, d + 1.0, w)
    return first + second


def _logarithmic(xp, a, b, m, w):
    """A&S 15.3.10 (m = 0) and 15.3.12: ``2F1(a, b; a + b - m; 1 - w)`` for a whole m >= 0
    (a float array), a and b no non-positive integers."""
    log_w = xp.log(w)
    # the finite sum: Gamma(m) Gamma(a + b - m) / (Gamma(a) Gamma(b)) w^-m
    #                 sum_{n < m} (a - m)_n (b - m)_n / (n! (1 - m)_n) w^n
    term, finite = xp.ones_like(w), xp.zeros_like(w)
    for n in range(_MAX_FINITE_SUM):
        finite = finite + xp.where(n < m, term, 0.0)
        term = term * ((a - m + n) * (b - m + n) / ((n + 1) * (1.0 - m + n)) * w)
    safe_m = xp.where(m > 0, m, 1.0)
    finite = xp.where(m > 0, _gamma_ratio(xp, [safe_m, a + b - m], [a, b]) * w ** (-m)
                      * finite, 0.0)
    # the logarithmic series: -(-1)^m Gamma(a + b - m) / (Gamma(a - m) Gamma(b - m))
    #   sum_n (a)_n (b)_n / (n! (n + m)!) w^n [ln w - psi(n + 1) - psi(n + m + 1)
    #                                          + psi(a + n) + psi(b + n)]
    psi_one, psi_m = digamma(xp, xp.ones_like(w)), digamma(xp, m + 1.0)
    psi_a, psi_b = digamma(xp, a), digamma(xp, b)
    weight = xp.exp(-gammaln(xp, m + 1.0))             # 1 / m!, then the n-th coefficient
    total = xp.zeros_like(w)
    for n in range(_TERMS):
        total = total + weight * (log_w - psi_one - psi_m + psi_a + psi_b)
        weight = weight * ((a + n) * (b + n) / ((n + 1) * (n + 1 + m)) * w)
        psi_one, psi_m = psi_one + 1.0 / (n + 1), psi_m + 1.0 / (n + 1 + m)
        psi_a, psi_b = psi_a + 1.0 / (a + n), psi_b + 1.0 / (b + n)
    sign = xp.where(xp.remainder(m, 2.0) == 0, -xp.ones_like(w), xp.ones_like(w))
    return finite + sign * _gamma_ratio(xp, [a + b - m], [a - m, b - m]) * total


def _near_one(xp, a, b, c, w):
    """``2F1(a, b; c; 1 - w)`` for ``0 < w < 0.3``, a and b no non-positive integers."""
    d = c - a - b
    whole_d = xp.round(d)
    logarithmic = xp.abs(d - whole_d) <= _INTEGER_D_WITHIN
    # Euler's transformation for d > 0: w^d 2F1(c - a, c - b; c; z), its d' = -d
    flip = logarithmic & (whole_d > 0)
    turned_a, turned_b = xp.where(flip, c - a, a), xp.where(flip, c - b, b)
    m = xp.where(logarithmic, xp.abs(whole_d), 0.0)
    safe_a, safe_b = (xp.where(logarithmic, v, 0.5) for v in (turned_a, turned_b))
    log_part = _logarithmic(xp, safe_a, safe_b, m, w) * xp.where(flip, w ** d, 1.0)
    usual = [xp.where(logarithmic, u, v) for v, u in ((a, 0.25), (b, 0.5), (c, 2.0))]
    return xp.where(logarithmic, log_part, _connection(xp, *usual, w))


def _hyp2f1(xp, a, b, c, x):
    a, b, c, x = xp.broadcast_arrays(a, b, c, x)
    # a non-positive integer a or b first, so that Pfaff's transformation keeps the polynomial
    b_ends = (b <= 0) & _whole(xp, b)
    a, b = xp.where(b_ends, b, a), xp.where(b_ends, a, b)
    polynomial = (a <= 0) & _whole(xp, a)
    pole = (c <= 0) & _whole(xp, c) & ~(polynomial & (a >= c))
    # the polynomial at x itself
    finite = xp.where(polynomial & (xp.abs(x) < xp.inf), x, 0.0)
    value_polynomial = _polynomial(xp, a, b, c, finite)
    # Pfaff's transformation for x < 0: z = x / (x - 1), w = 1 / (1 - x)
    below = (x < 0) & (x > -xp.inf)
    inside = (x >= 0) & (x < 1)
    w = xp.where(below, 1.0 / (1.0 - xp.where(below, x, 0.0)), 1.0 - xp.where(inside, x, 0.0))
    z = xp.where(below, x / (x - 1.0), xp.where(inside, x, 0.0))
    second = xp.where(below, c - b, b)
    prefactor = xp.where(below, w ** a, 1.0)
    usual = ~polynomial & ~pole & (below | inside)
    small = usual & (z <= _SERIES_UP_TO)
    large = usual & (z > _SERIES_UP_TO)
    safe = [xp.where(usual, v, u) for v, u in ((a, 0.25), (second, 0.5), (c, 2.0))]
    value_small = _series(xp, *safe, xp.where(small, z, 0.0))
    value_large = _near_one(xp, *safe, xp.where(large, w, 0.25))
    value = prefactor * xp.where(small, value_small, value_large)
    # x = 1: Gauss's sum for d > 0, else inf; x > 1: inf; x = -inf: NaN
    d = c - a - b
    at_one = xp.where(d > 0, _gamma_ratio(xp, [c, xp.where(d > 0, d, 1.0)],
                                          [c - a, c - b]), xp.inf)
    value = xp.where(x == 1, at_one, xp.where(x > 1, xp.inf, value))
    value = xp.where(x == -xp.inf, xp.nan, value)
    # a polynomial at x = 1: Gauss's sum where it holds (Chu-Vandermonde's (c - b)_n / (c)_n;
    # the sum at 1 alternates: 3.3 for 2F1(-60, 1; 1; 1) = 0)
    gauss = (x == 1) & (d > 0) & ~((c <= 0) & _whole(xp, c))
    value = xp.where(polynomial, xp.where(gauss, at_one, value_polynomial), value)
    value = xp.where(pole, xp.inf, value)
    value = xp.where(x == 0, 1.0, value)
    return xp.where((a == a) & (b == b) & (c == c) & (x == x), value, a + b + c + x)


def _forward(xp, a, b, c, x):
    if x.dtype == xp.float32:
        wide = [xp.astype(v, xp.float64) for v in (a, b, c, x)]
        return xp.astype(_hyp2f1(xp, *wide), xp.float32)
    return _hyp2f1(xp, a, b, c, x)


def _no_gradient(what):
    def refuse(xp, g, ans, a, b, c, x):
        raise NotImplementedError(
            f"xg.special.hyp2f1: the gradient in {what} is not implemented (as hyp1f1's: only "
            f"x is differentiable); pass {what} as a constant or through "
            f"xg.stop_gradient({what})")
    return refuse


def _by_x(xp, g, ans, a, b, c, x):
    """``g a b / c 2F1(a + 1, b + 1; c + 1; x)``."""
    return g * (a * b / c) * _call(_hyp2f1_prim, xp, a + 1.0, b + 1.0, c + 1.0, x)


_hyp2f1_prim = Primitive("special_hyp2f1", _quiet(_forward), _no_gradient("a"),
                         _no_gradient("b"), _no_gradient("c"), _quiet(_by_x),
                         saves=(0, 1, 2, 3))


def hyp2f1(a, b, c, x, /):
    """Gauss's hypergeometric function ``2F1(a, b; c; x)`` (``scipy.special.hyp2f1``,
    ``jax.scipy.special.hyp2f1``), real arguments broadcast together (Python numbers take
    x's dtype); inf for ``x >= 1`` where the series diverges, and at the poles of c.
    Differentiable in x to any order: ``a b / c 2F1(a + 1, b + 1; c + 1; x)``; a gradient
    in a, b or c raises NotImplementedError.

    >>> import xpgrad as xg
    >>> x = xg.asarray([0.0, 0.75], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.hyp2f1(2.0, 1.0, 1.0, x).tolist()]   # (1 - x)^-2
    [1.0, 16.0]
    """
    from .incomplete_beta import _same_dtype

    a, b, c, x = _same_dtype("hyp2f1", (a, b, c, x), ("a", "b", "c", "x"))
    return apply(_hyp2f1_prim, a, b, c, x)


__all__ = ["hyp2f1"]
