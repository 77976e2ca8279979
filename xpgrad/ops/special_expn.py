"""The generalized exponential integral ``expn(n, x) = int_1^inf e^(-x t) / t^n dt`` of integer
order (``scipy.special.expn``, ``jax.scipy.special.expn``), differentiable in x to any order:
``E_n' = -E_(n-1)``, with ``E_0 = e^-x / x``. The power series (with its logarithmic term
where ``i = n - 1``) up to x = 1, the continued fraction ``e^-x / (x + n - 1 n / (x + n + 2 -
...))`` beyond, as in Numerical Recipes' ``expint`` (written here; the fraction evaluated from its
last term up), each for a fixed number of terms; ``n`` an int or an integer array broadcast
against x.

>>> import xpgrad as xg
>>> round(xg.special.expn(1, xg.asarray(1.0, dtype=xg.float64)).item(), 12)       # exp1(1)
0.219383934396
"""
from __future__ import annotations

import numpy as np

from ..primitive import Primitive, apply
from ..tensor import Tensor
from .selection import where
from .special import _call, _in_float64, _quiet, _real, integer_orders, whole

_EULER_GAMMA = 0.5772156649015329
_SERIES_UP_TO = 1.0
_SERIES_TERMS = 30              # x^30 / 30! < 1e-32 at x = 1
_FRACTION_TERMS = 150           # at x = 1: 2e-16 of mpmath (80 terms: 8e-15)


def _series(xp, x, n):
    """``E_n(x)`` for ``0 < x <= 1`` and ``n >= 1``."""
    nm1 = n - 1
    total = (xp.zeros_like(x) + 1.0 / nm1) if nm1 else -xp.log(x) - _EULER_GAMMA
    factor = xp.ones_like(x)
    for i in range(1, _SERIES_TERMS):
        factor = factor * (-x / i)
        if i != nm1:
            total = total - factor / (i - nm1)
        else:
            psi = -_EULER_GAMMA + sum(1.0 / k for k in range(1, nm1 + 1))
            total = total + factor * (psi - xp.log(x))
    return total


def _fraction(xp, x, n):
    """``E_n(x)`` for ``x > 1``: the continued fraction ``e^-x / (b_0 + a_1 / (b_1 + ...))``,
    ``b_i = x + n + 2i``, ``a_i = -i (n - 1 + i)``, evaluated from its last term up (a
    forward evaluation's running product drifts by an ulp a term)."""
    tail = x + (n + 2.0 * _FRACTION_TERMS)
    for i in range(_FRACTION_TERMS, 0, -1):
        tail = x + (n + 2.0 * (i - 1)) - i * (n - 1.0 + i) / tail
    return xp.exp(-x) / tail


def _expn(xp, x, n):
    if n < 0:
        return xp.full_like(x, xp.nan)
    inside = (x > 0) & (x < xp.inf)
    if n == 0:
        value = xp.exp(-x) / x
    else:
        near = x <= _SERIES_UP_TO
        value = xp.where(near, _series(xp, xp.where(near & inside, x, 0.5), n),
                         _fraction(xp, xp.where(near | ~inside, 2.0, x), n))
    at_zero = xp.inf if n <= 1 else 1.0 / (n - 1)
    edge = xp.where(x == 0, at_zero, xp.where(x == xp.inf, xp.zeros_like(x), xp.nan))
    return xp.where(inside, value, edge)


def _expn_slope(xp, g, ans, x, n):
    """``-g E_(n-1)(x)``; for n = 0, ``-g E_0 (1 + 1/x)``."""
    if n == 0:
        return -g * ans * (1.0 + 1.0 / x)
    return -g * _call(_expn_prim, xp, x, n=n - 1)


_expn_prim = Primitive("special_expn", _quiet(_in_float64(_expn)), _quiet(_expn_slope),
                       saves=(0, "output"))


def expn(n, x, /):
    """``E_n(x) = int_1^inf e^(-x t) / t^n dt`` for an integer ``n`` (an int, or an integer
    array or Tensor broadcast against ``x``; NaN where n < 0, as SciPy's): ``1 / (n - 1)`` at
    x = 0 (inf for n <= 1), NaN below 0, 0 at inf. Its derivative in x is ``-E_(n-1)(x)``.

    >>> import xpgrad as xg
    >>> x = xg.asarray([0.0, 2.0], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.expn(3, x).tolist()]
    [0.5, 0.030133379798]
    """
    x = _real("expn", x)
    if not isinstance(n, (list, tuple, np.ndarray, Tensor)):
        return apply(_expn_prim, x, n=whole("expn", "n", n, -1 << 62))
    from ..creation import asarray
    from .shape import broadcast_to

    orders, shape = integer_orders("expn", n, x)
    here = asarray(np.maximum(orders, -1), backend=x.backend)
    out = None
    for order in np.unique(np.maximum(orders, -1)).tolist() or [0]:
        value = apply(_expn_prim, x, n=order)
        out = value if out is None else where(here == order, value, out)
    return broadcast_to(out, shape)


__all__ = ["expn"]
