"""Kummer's confluent hypergeometric function ``hyp1f1(a, b, x) = 1F1(a; b; x) = sum_k (a)_k /
(b)_k x^k / k!`` (``scipy.special.hyp1f1``, ``jax.scipy.special.hyp1f1``) for real arguments,
with broadcasting; differentiable in x to any order (``d/dx 1F1(a; b; x) = a / b 1F1(a + 1;
b + 1; x)``), not in a and b: as JAX's, a gradient in them raises NotImplementedError.

Negative x go through Kummer's transformation ``1F1(a; b; x) = e^x 1F1(b - a; b; -x)`` (past
x = -100 the ``e^x`` joins the asymptotic series' ``e^-x`` exactly: finite to x = -1e300); then
the power series (400 terms) up to x = 100 and the leading asymptotic series ``Gamma(b) /
Gamma(a) e^x x^(a - b) sum_k (b - a)_k (1 - a)_k / (k! x^k)`` (40 terms; ``e^x`` as
``e^(x/2)`` squared, finite where ``e^x`` alone overflows) beyond; a non-positive integer ``a``
(a polynomial) always takes the series, and so does ``a < 0 < b`` up to x = 600 (as many terms
as x needs: the asymptotic series of a large ``|a|`` diverges from its first terms). The
series' first terms, while ``(a)_k / (b)_k`` may change sign (``k <= max(-a, -b)``), and 20
more are summed in double-double (``double_double.py``): their cancellation cost up to 3e-5
before (a > b at x < 0, a < 0 at x > 0, b < 0, a polynomial). Within 1e-14 of mpmath for
``|a|, |b| <= 20``, ``|x| <= 100`` (b not a pole) and for ``b > 0`` to ``|x| = 600``, or 20 eps
times the value's condition number near its zeros (``tests/test_special_jax_names.py``); the
NumPy backend's kernel takes SciPy's values (``backends/numpy/special_jax_names.py``). Poles
of b give inf or NaN; at x = +-inf the limits (``_at_infinity``, b < 0 too).

>>> import xpgrad as xg
>>> round(xg.special.hyp1f1(1.0, 2.0, xg.asarray(1.0, dtype=xg.float64)).item(), 12)  # e - 1
1.718281828459
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from .special import _call, _quiet, _real
from .double_double import dd_add, dd_div, dd_mul, two_sum
from .special_formulas import gammaln

_SERIES_UP_TO = 100.0
_SERIES_TERMS = 400
_ALTERNATING_SERIES_UP_TO = 600.0
_ASYMPTOTIC_TERMS = 40
_MOST_DOUBLE_DOUBLE_TERMS = 64     # past -64 in a or b the series' head stays in floats
_DOUBLE_DOUBLE_PAST_SIGN_CHANGES = 20


def _largest(xp, values, most_possible) -> float:
    """The largest of ``values`` (0 for none) as a Python float; inside ``xg.vmap``, where the
    examples' largest differ, ``most_possible`` (the most any may take: more terms, same sum)."""
    from ..batching.batched import ValuesDiffer

    if not math.prod(values.shape):
        return 0.0
    try:
        return float(xp.max(values))
    except ValuesDiffer:
        return float(most_possible)


def _alternating_terms(xp, a, b):
    """How many of the series' first terms to sum in double-double: those that may change sign
    (``(a)_k / (b)_k`` keeps one sign from ``k > max(-a, -b)`` on; entries past
    ``-_MOST_DOUBLE_DOUBLE_TERMS`` not counted), the most over all entries, and 20 more (the
    first one-signed terms can be as large as the alternating ones: 7e-12 was lost at
    a = -19.858, b = 9.743, x = 55.781 without them); 0 where no entry alternates."""
    count = xp.where((a < 0) | (b < 0), xp.ceil(-xp.minimum(a, b)), 0.0)
    count = xp.where(count <= _MOST_DOUBLE_DOUBLE_TERMS, count, 0.0)
    most = int(_largest(xp, count, _MOST_DOUBLE_DOUBLE_TERMS))
    return most + _DOUBLE_DOUBLE_PAST_SIGN_CHANGES if most else 0


def _series(xp, a, b, x, terms=_SERIES_TERMS):
    """The power series; its first terms, while they may alternate, in double-double (their
    cancellation costs no digits then: 1e-6 was lost at a = -17, b = 18, x = 45), the rest,
    of one sign, in plain floats."""
    zero = xp.zeros_like(x)
    head = _alternating_terms(xp, a, b)
    term, total = (xp.ones_like(x), zero), (xp.ones_like(x), zero)
    plain_term, plain_total = xp.ones_like(x), xp.ones_like(x)
    for k in range(head):
        # k as a full array: array-api-strict's Array refuses an xg.vmap example as operand
        up = dd_mul(xp, two_sum(xp, a, xp.full_like(a, float(k))), (x, zero))
        down = dd_mul(xp, two_sum(xp, b, xp.full_like(b, float(k))),
                      (xp.full_like(x, float(k + 1)), zero))
        term = dd_div(xp, dd_mul(xp, term, up), down)
        total = dd_add(xp, total, term)
        plain_term = plain_term * ((a + k) / (b + k) * x / (k + 1))
        plain_total = plain_total + plain_term
    # Dekker's split overflows past |x| ~ 1e300 (a polynomial's x): the plain sum there
    total = total[0] + total[1]
    exact = xp.isfinite(total)
    term = xp.where(exact, term[0], plain_term)
    total = xp.where(exact, total, plain_total)
    for k in range(head, terms):
        term = term * ((a + k) / (b + k) * x / (k + 1))
        total = total + term
    return total


def _gamma_sign(xp, z):
    """The sign of ``Gamma(z)``: -1 where ``z < 0`` and ``floor(-z)`` is even."""
    odd = xp.remainder(xp.floor(-z), 2.0) == 0
    return xp.where((z < 0) & odd, -1.0, xp.ones_like(z))


def _asymptotic(xp, a, b, x, shift):
    """The leading asymptotic series times ``e^shift`` (its exponent ``x + shift``: 0 for a
    negative x turned by Kummer's transformation, so neither ``e^|x|`` overflows nor ``e^x``
    underflows)."""
    term, total = xp.ones_like(x), xp.ones_like(x)
    for k in range(_ASYMPTOTIC_TERMS):
        term = term * ((b - a + k) * (1.0 - a + k) / ((k + 1) * x))
        total = total + term
    # e^x as two exact halves (a rounded exponent near 600 would cost 6e-14)
    log_rest = gammaln(xp, b) - gammaln(xp, a) + (a - b) * xp.log(x)
    half = xp.exp(0.5 * (x + shift))
    size = half * (half * xp.exp(log_rest))
    # past x ~ 1e17 e^(x/2) is inf and x^(a - b) 0: then one exponent, rounded (inf or 0 anyway)
    size = xp.where(size == size, size, xp.exp(0.5 * (x + shift) + log_rest) * half)
    return _gamma_sign(xp, b) * _gamma_sign(xp, a) * size * total


def _positive(xp, a, b, x, shift):
    """``e^shift 1F1(a; b; x)`` for ``x >= 0``: the series up to ``_SERIES_UP_TO``, and for
    ``a < 0 < b`` up to ``_ALTERNATING_SERIES_UP_TO`` (there the asymptotic series of a large
    ``|a|`` diverges from its first terms: 1.2e-4 off at a = -19.49, b = 0.99, x = 106.7), its
    terms as many as that x needs; the asymptotic series beyond."""
    polynomial = (a <= 0) & (a == xp.floor(a))
    long_series = (a < 0) & (b > 0) & (x <= _ALTERNATING_SERIES_UP_TO)
    far = (x > _SERIES_UP_TO) & ~polynomial & ~long_series
    near_x = xp.where(far, 0.0, x)
    far_x = xp.where(far, x, 2.0 * _SERIES_UP_TO)
    far_a = xp.where(far, a, 1.0)
    far_shift = xp.where(far, shift, 0.0)
    # the terms peak near k = x and fall off like a Poisson law's: 10 sqrt(x) more
    longest = xp.where(long_series & (x == x), x, 0.0)
    longest = _largest(xp, longest, _ALTERNATING_SERIES_UP_TO)
    terms = max(_SERIES_TERMS, int(longest + 10.0 * math.sqrt(longest)) + 80)
    return xp.where(far, _asymptotic(xp, far_a, b, far_x, far_shift),
                    xp.exp(shift) * _series(xp, a, b, near_x, terms))


def _at_infinity(xp, a, b, x, value):
    """``value`` with the limits at ``x = +-inf`` where ``b`` is not a pole (the series and
    Kummer's transformation gave NaN there). At +inf ``Gamma(b) / Gamma(a) e^x x^(a - b)``: +-inf
    by the signs of ``Gamma(a)`` and ``Gamma(b)``; a polynomial (``a = -m``) by its leading
    coefficient's sign ``(-1)^m / (b)_m``; 1 for a = 0. At -inf ``Gamma(b) / Gamma(b - a)
    |x|^-a``: 0 for a > 0 (and where ``b - a`` is a pole: ``e^x`` times a polynomial), 1 for
    a = 0, +-inf by the signs of ``Gamma(b)``, ``Gamma(b - a)`` for a < 0; a polynomial by the
    sign of ``(b)_m``."""
    ones = xp.ones_like(value)
    zeros = xp.zeros_like(value)
    polynomial = (a <= 0) & (a == xp.floor(a))
    # (b)_m's sign: one - per factor b + k < 0, k < m
    below_zero = xp.where(b < 0, xp.minimum(-a, xp.floor(-b) + 1.0), zeros)
    rising_sign = xp.where(xp.remainder(below_zero, 2.0) == 0, ones, -ones)
    alternating = xp.where(xp.remainder(-a, 2.0) == 0, ones, -ones)
    gamma_b = _gamma_sign(xp, b)
    up = xp.where(polynomial, alternating * rising_sign, gamma_b * _gamma_sign(xp, a)) * xp.inf
    difference_is_pole = ((b - a) <= 0) & ((b - a) == xp.floor(b - a))
    down = xp.where(difference_is_pole | (a > 0), zeros,
                    gamma_b * _gamma_sign(xp, b - a) * xp.inf)
    down = xp.where(polynomial, rising_sign * xp.inf, down)
    limit = xp.where(a == 0, ones, xp.where(x > 0, up, down))
    pole = (b <= 0) & (b == xp.floor(b))
    return xp.where(~pole & (xp.abs(x) == xp.inf) & (a == a) & (b == b), limit, value)


def _hyp1f1(xp, a, b, x):
    a, b, x = xp.broadcast_arrays(a, b, x)
    negative = x < 0
    turned = xp.where(negative, b - a, a)
    size = xp.where(x == x, xp.abs(x), 0.0)
    value = _positive(xp, turned, b, size, xp.where(negative, x, 0.0))
    value = _at_infinity(xp, a, b, x, value)
    return xp.where((a == a) & (b == b) & (x == x), value, a + b + x)


def _forward(xp, a, b, x):
    if x.dtype == xp.float32:
        wide = [xp.astype(v, xp.float64) for v in (a, b, x)]
        return xp.astype(_hyp1f1(xp, *wide), xp.float32)
    return _hyp1f1(xp, a, b, x)


def _no_gradient(what):
    def refuse(xp, g, ans, a, b, x):
        raise NotImplementedError(
            f"xg.special.hyp1f1: the gradient in {what} is not implemented (as JAX's: only x "
            f"is differentiable); pass {what} as a constant or through xg.stop_gradient({what})")
    return refuse


def _by_x(xp, g, ans, a, b, x):
    """``g a / b 1F1(a + 1; b + 1; x)``."""
    return g * (a / b) * _call(_hyp1f1_prim, xp, a + 1.0, b + 1.0, x)


_hyp1f1_prim = Primitive("special_hyp1f1", _quiet(_forward), _no_gradient("a"),
                         _no_gradient("b"), _quiet(_by_x), saves=(0, 1, 2))


def hyp1f1(a, b, x, /):
    """Kummer's confluent hypergeometric function ``1F1(a; b; x)`` (``scipy.special.hyp1f1``,
    ``jax.scipy.special.hyp1f1``), real arguments broadcast together (Python numbers take
    x's dtype). Differentiable in x to any order: ``a / b 1F1(a + 1; b + 1; x)``; a gradient
    in a or b raises NotImplementedError, as JAX's is x-only. Within 1e-14 of mpmath for
    ``|a|, |b| <= 20``, ``|x| <= 100`` (and to ``|x| = 600`` for b > 0), alternating terms
    included (the module docstring says how).

    >>> import xpgrad as xg
    >>> x = xg.asarray([0.0, -1.0], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.hyp1f1(1.0, 1.0, x).tolist()]      # e^x
    [1.0, 0.367879441171]
    """
    from .incomplete_beta import _same_dtype

    a, b, x = _same_dtype("hyp1f1", (a, b, x), ("a", "b", "x"))
    return apply(_hyp1f1_prim, a, b, x)


__all__ = ["hyp1f1"]
