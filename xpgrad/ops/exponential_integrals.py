"""``xg.special.exp1`` and ``expi``, the exponential integrals ``E1(x) = integral_x^inf e^-t / t
dt`` and ``Ei(x) = -E1(-x)`` (principal value), as ``scipy.special.exp1`` / ``expi`` and
``jax.scipy.special``'s, differentiable to any order: ``E1' = -e^-x / x``, ``Ei' = e^x / x``.

Written once against ``xp`` (fixed numbers of steps, no branch on the values, so they trace
under ``xg.function`` as they are): E1 by its power series ``-gamma - log x + sum_n>=1
(-1)^(n+1) x^n / (n n!)`` up to x = 2 and its continued fraction (modified Lentz, 60 steps)
beyond; Ei by its power series ``gamma + log |x| + sum_n>=1 x^n / (n n!)`` up to x = 40 and its
asymptotic series ``e^x / x sum_n n! / x^n`` (truncated before its terms grow) beyond.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 3.0], dtype=xg.float64)
>>> [round(v, 12) for v in exp1(x).tolist()], [round(v, 12) for v in expi(x).tolist()]
([0.219383934396, 0.013048381094], [1.895117816356, 9.933832570625])
"""
from __future__ import annotations

from ..primitive import apply
from .special import _in_float64, _primitive, _real

_EULER = 0.5772156649015329
_SERIES_UP_TO = 2.0             # E1's series to 2 (25 terms: 2^25 / (25 25!) < 1e-19)
_FRACTION_STEPS = 60            # E1's fraction beyond 2: 60 steps leave < 1e-16 at x = 2
_EI_SERIES_UP_TO = 40.0         # Ei's series to 40 (140 terms), its asymptotic series beyond
_EI_SERIES_TERMS = 140
_EI_ASYMPTOTIC_TERMS = 40       # at x = 40 the 40th term, 40! / 40^40, is 7e-17


def _e1_series(xp, x):
    term = xp.ones_like(x)
    total = xp.zeros_like(x)
    for n in range(1, 26):
        term = term * (-x / n)
        total = total - term / n
    return total - _EULER - xp.log(x)


def _e1_fraction(xp, x):
    b = x + 1.0
    c = xp.full_like(x, 1e300)
    d = 1.0 / b
    h = d
    for i in range(1, _FRACTION_STEPS + 1):
        an = -float(i * i)
        b = b + 2.0
        d = 1.0 / (an * d + b)
        c = b + an / c
        h = h * (c * d)
    return h * xp.exp(-x)


def e1(xp, x):
    """``E1(x)`` for x > 0; inf at 0 and NaN below (SciPy's ``exp1`` on the reals), 0 at inf."""
    near = xp.where(x <= _SERIES_UP_TO, x, 1.0)
    far = xp.where(x > _SERIES_UP_TO, x, 4.0)
    value = xp.where(x <= _SERIES_UP_TO, _e1_series(xp, near), _e1_fraction(xp, far))
    value = xp.where(x == 0, xp.inf, xp.where(x == xp.inf, 0.0, value))
    return xp.where((x < 0) | (x != x), xp.nan, value)


def _ei_series(xp, x):
    term = xp.ones_like(x)
    total = xp.zeros_like(x)
    for n in range(1, _EI_SERIES_TERMS + 1):
        term = term * (x / n)
        total = total + term / n
    return total + _EULER + xp.log(xp.abs(x))


def _ei_asymptotic(xp, x):
    term = xp.ones_like(x)
    total = xp.ones_like(x)
    for n in range(1, _EI_ASYMPTOTIC_TERMS + 1):
        term = term * (n / x)
        total = total + term
    # e^x / x; past e^x's overflow as exp(x - log x) (finite to 716), whose rounding of
    # x - log x costs ~x ulps, so not below it
    front = xp.where(x < 709.0, xp.exp(xp.minimum(x, 709.0)) / x, xp.exp(x - xp.log(x)))
    return front * total


def ei(xp, x):
    """``Ei(x)``: its series for 0 < x <= 40, the asymptotic series beyond, ``-E1(-x)`` below 0;
    SciPy's edges: -inf at 0, inf at inf, -0 at -inf."""
    series_side = xp.where((x > 0) & (x <= _EI_SERIES_UP_TO), x, 1.0)
    far = xp.where(x > _EI_SERIES_UP_TO, x, 2.0 * _EI_SERIES_UP_TO)
    negative = xp.where(x < 0, -x, 1.0)
    value = xp.where(x > _EI_SERIES_UP_TO, _ei_asymptotic(xp, far), _ei_series(xp, series_side))
    value = xp.where(x < 0, -e1(xp, negative), value)
    value = xp.where(x == 0, -xp.inf, xp.where(x == xp.inf, xp.inf, value))
    return xp.where(x != x, xp.nan, value)


def _e1_slope(xp, g, ans, x):
    return g * (-xp.exp(-x) / x)


def _ei_slope(xp, g, ans, x):
    return g * (xp.exp(x) / x)


_exp1 = _primitive("exp1", _in_float64(e1), _e1_slope, saves=(0,))
_expi = _primitive("expi", _in_float64(ei), _ei_slope, saves=(0,))


def exp1(x, /):
    """The exponential integral ``E1(x) = integral_x^inf e^-t / t dt`` (``scipy.special.exp1``,
    ``jax.scipy.special.exp1``) for real x >= 0: inf at 0, NaN below 0, within 1e-14 relative
    of mpmath (its series cancels toward x = 2: 9e-15; 2e-15 elsewhere). Its derivative is
    ``-e^-x / x``, to any order.

    >>> import xpgrad as xg
    >>> x = xg.asarray(1.0, dtype=xg.float64)
    >>> round(exp1(x).item(), 12), round(xg.grad(exp1)(x).item(), 12)   # E1(1), -1/e
    (0.219383934396, -0.367879441171)
    """
    return apply(_exp1, _real("exp1", x))


def expi(x, /):
    """The exponential integral ``Ei(x)``, the principal value of ``integral_-inf^x e^t / t dt``
    (``scipy.special.expi``, ``jax.scipy.special.expi``): -inf at 0, ``-E1(-x)`` below 0;
    within ~5e-15 relative of mpmath (2e-16 absolute next to its root 0.3725; below 0, E1's).
    Its derivative is ``e^x / x``, to any order.

    >>> import xpgrad as xg
    >>> x = xg.asarray([-1.0, 2.0], dtype=xg.float64)
    >>> [round(v, 12) for v in expi(x).tolist()]
    [-0.219383934396, 4.954234356002]
    """
    return apply(_expi, _real("expi", x))


__all__ = ["exp1", "expi"]
