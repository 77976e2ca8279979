"""Dawson's integral ``dawsn(x) = exp(-x^2) int_0^x exp(t^2) dt`` (``scipy.special.dawsn``,
``jax.scipy.special.dawsn``), differentiable to any order: ``dawsn' = 1 - 2 x dawsn``.

Up to ``|x| = 6.5`` the series of positive terms ``exp(-x^2) sum_k x^(2k+1) / (k! (2k+1))``
(no cancelling; ``exp(-x^2)`` with the rounding of ``x^2`` put back, Dekker's split), beyond
it the asymptotic series ``sum_k (2k-1)!! / (2^(k+1) x^(2k+1))`` (its smallest term there is
~e^-42 of the sum): within 4e-15 of mpmath relative (the series' rounding near 6.5);
``x`` at 0 and +-inf give 0 (signed as SciPy's), NaN gives NaN.

>>> import xpgrad as xg
>>> round(xg.special.dawsn(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
0.538079506913
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from .exact_square import square_and_error
from .special import _in_float64, _quiet, _real

_SERIES_UP_TO = 6.5
_SERIES_TERMS = 120             # at x = 6.5 (x^2 = 42.25) term 120 is ~1e-20 of the sum
_ASYMPTOTIC_TERMS = 40          # at x = 6.5 the terms shrink until k ~ 42


def _gauss_exactly(xp, x):
    """``exp(-x^2)`` with the rounding error of ``x * x`` corrected to first order."""
    square, error = square_and_error(x)
    return xp.exp(-square) * (1.0 - error)


def _series(xp, x):
    """``dawsn(x)`` for ``|x| <= 6.5``."""
    square = x * x
    term, total = x, x
    for k in range(1, _SERIES_TERMS):
        term = term * square / k                        # x^(2k+1) / k!
        total = total + term / (2 * k + 1)
    return _gauss_exactly(xp, x) * total


def _asymptotic_sum(xp, total, x):
    """``total + sum_k>=1 (2k-1)!! / (2 x^2)^k``, the asymptotic series' terms past the first
    added to ``total`` one by one."""
    half_inverse_square = 0.5 / (x * x)
    term = xp.ones_like(x)
    for k in range(1, _ASYMPTOTIC_TERMS):
        term = term * (2 * k - 1) * half_inverse_square
        total = total + term
    return total


def _asymptotic(xp, x):
    """``dawsn(x)`` for ``|x| > 6.5``: ``1/(2x) sum_k (2k-1)!! / (2 x^2)^k``."""
    return _asymptotic_sum(xp, xp.ones_like(x), x) / (2.0 * x)


def _dawsn(xp, x):
    near = xp.abs(x) <= _SERIES_UP_TO
    far = ~near & (xp.abs(x) < xp.inf)
    value = xp.where(near, _series(xp, xp.where(near, x, 0.0)),
                     _asymptotic(xp, xp.where(far, x, 2.0 * _SERIES_UP_TO)))
    return xp.where(far | near, value, xp.where(x == x, 1.0 / x, x))      # +-0 at +-inf


def _slope_far(xp, x):
    """``1 - 2 x dawsn(x)`` for ``|x| > 6.5`` without the cancelling 1: ``-sum_k>=1 (2k-1)!! /
    (2 x^2)^k`` (the asymptotic series less its first term)."""
    return -_asymptotic_sum(xp, xp.zeros_like(x), x)


def _dawsn_slope(xp, g, ans, x):
    """``g (1 - 2 x dawsn(x))``; past ``|x| = 6.5`` by ``_slope_far`` (``2 x dawsn(x)`` is
    ``1 + 1 / (2 x^2)``: the difference kept ``eps x^2`` of its digits, 4e-10 relative at
    x = 1e3, and was 0 from 1e8 on, where the slope is ``-1 / (2 x^2)``)."""
    far = xp.abs(x) > _SERIES_UP_TO
    near = 1.0 - 2.0 * x * ans
    return g * xp.where(far, _slope_far(xp, xp.where(far, x, 2.0 * _SERIES_UP_TO)), near)


_dawsn_prim = Primitive("special_dawsn", _quiet(_in_float64(_dawsn)), _quiet(_dawsn_slope),
                        saves=(0, "output"))


def dawsn(x, /):
    """Dawson's integral ``F(x) = exp(-x^2) int_0^x exp(t^2) dt`` (``scipy.special.dawsn``,
    ``jax.scipy.special.dawsn``): odd, 0 at 0 and at +-inf, ~``1 / (2x)`` for large x; its
    derivative is ``1 - 2 x F(x)``.

    >>> import xpgrad as xg
    >>> x = xg.asarray([0.0, 0.5], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.dawsn(x).tolist()]
    [0.0, 0.424436383502]
    """
    return apply(_dawsn_prim, _real("dawsn", x))


__all__ = ["dawsn"]
