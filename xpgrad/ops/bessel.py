"""The modified Bessel functions of the first kind of orders 0 and 1: ``xg.special.i0``,
``i1`` and their exponentially scaled ``i0e``, ``i1e`` (``torch.special``'s and SciPy's
names), differentiable to any order: ``I0' = I1``, ``I1' = I0 - I1 / x`` (1/2 at 0), and the
scaled ones' derivatives follow from those with ``e^-|x|``'s (``sign(0) = 0`` at the kink of
``i0e``, as PyTorch's).

>>> import xpgrad as xg
>>> x = xg.asarray([0.0, 1.0], dtype=xg.float64)
>>> [round(v, 12) for v in xg.grad(lambda x: xg.sum(i0(x)))(x).tolist()]     # i1
[0.0, 0.565159103992]
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from . import bessel_formulas as formulas
from .special import _call, _in_float64, _quiet, _real

_SERIES_UP_TO = 30.0        # |x| above: the asymptotic expansion (its terms fall to 1e-17)
_SERIES_TERMS = 90          # (x^2 / 4)^k / (k! (k + order)!) at |x| = 30 is below 1e-17 of the sum
_ASYMPTOTIC_TERMS = 30


def _scaled(xp, x, order):
    """``e^-|x| I_order(|x|)`` for order 0 or 1: the power series up to 30 (positive terms:
    no cancelling), the asymptotic expansion ``sum_k (-1)^k a_k / |x|^k / sqrt(2 pi |x|)``
    beyond."""
    z = xp.abs(x)
    near = z <= _SERIES_UP_TO
    s = xp.where(near, z, 1.0)
    quarter = 0.25 * s * s
    term = xp.ones_like(s) if order == 0 else 0.5 * s
    total = term
    for k in range(1, _SERIES_TERMS):
        term = term * quarter / (k * (k + order))
        total = total + term
    series = total * xp.exp(-s)
    f = xp.where(near, _SERIES_UP_TO + 1.0, z)
    mu = 4.0 * order * order
    coefficient, total = xp.ones_like(f), xp.ones_like(f)
    for k in range(1, _ASYMPTOTIC_TERMS):
        coefficient = -coefficient * (mu - (2 * k - 1) ** 2) / (k * 8.0 * f)
        total = total + coefficient
    asymptotic = total / xp.sqrt(2.0 * math.pi * f)
    out = xp.where(near, series, asymptotic)
    out = xp.where(z == xp.inf, xp.zeros_like(out), out)
    return xp.where(x != x, x, out)


def _i0e(xp, x):
    return _scaled(xp, x, 0)


def _i1e(xp, x):
    value = _scaled(xp, x, 1)
    return xp.where(x < 0, -value, value)


def _i0(xp, x):
    z = xp.abs(x)
    return _scaled(xp, x, 0) * xp.exp(z)            # inf past 713, as SciPy's


def _i1(xp, x):
    return _i1e(xp, x) * xp.exp(xp.abs(x))


def _over_x(xp, ans, x, limit):
    """``ans / x`` for ``ans`` = I1 or i1e, ``limit`` (the ratio's value as x -> 0, to 1e-18
    relative) where ``|x| < 1e-9``: there ``I1 = x / 2`` rounds (to 0 at subnormal x, where
    ``1 / x`` is inf) and the quotient would be NaN or inf."""
    tiny = xp.abs(x) < 1e-9
    return xp.where(tiny, limit, ans / xp.where(tiny, xp.ones_like(x), x))


def _i1_slope(xp, g, ans, x):
    """``g (I0 - I1 / x)``, 1/2 at x = 0."""
    return g * (_call(_i0_prim, xp, x) - _over_x(xp, ans, x, 0.5))


def _far_slope(xp, x, name, near):
    """``near`` (the slope from the functions) for ``|x| <= 25``, beyond it the asymptotic
    series of the slope itself at ``|x|`` (``bessel_formulas.scaled_slope``: i1e - i0e
    keeps only ``eps |x|`` of it), odd for ``i0e``, even for ``i1e``."""
    z = xp.abs(x)
    far = z > formulas.ASYMPTOTIC_FROM
    slope = formulas.scaled_slope(xp, xp.where(far, z, 30.0), name)
    return xp.where(far, xp.sign(x) * slope if name == "i0e" else slope, near)


def _i0e_slope(xp, g, ans, x):
    """``g (i1e - sign(x) i0e)``."""
    return g * _far_slope(xp, x, "i0e", _call(_i1e_prim, xp, x) - xp.sign(x) * ans)


def _i1e_slope(xp, g, ans, x):
    """``g (i0e - i1e (sign(x) + 1 / x))``, 1/2 at x = 0 (``i1e / x = exp(-|x|) / 2`` at
    tiny x)."""
    return g * _far_slope(xp, x, "i1e", _call(_i0e_prim, xp, x) - ans * xp.sign(x)
                          - _over_x(xp, ans, x, 0.5 * xp.exp(-xp.abs(x))))


_i0_prim = Primitive("special_i0", _quiet(_in_float64(_i0)),
                     lambda xp, g, ans, x: g * _call(_i1_prim, xp, x), saves=(0,))
_i1_prim = Primitive("special_i1", _quiet(_in_float64(_i1)), _quiet(_i1_slope),
                     saves=(0, "output"))
_i0e_prim = Primitive("special_i0e", _quiet(_in_float64(_i0e)), _quiet(_i0e_slope),
                      saves=(0, "output"))
_i1e_prim = Primitive("special_i1e", _quiet(_in_float64(_i1e)), _quiet(_i1e_slope),
                      saves=(0, "output"))


def i0(x, /):
    """The modified Bessel function ``I0(x) = sum_k (x^2 / 4)^k / k!^2`` (``torch.special.i0``,
    ``scipy.special.i0``); its derivative is ``i1``. Overflows to inf past |x| = 713.

    >>> import xpgrad as xg
    >>> round(xg.special.i0(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    1.266065877752
    """
    return apply(_i0_prim, _real("i0", x))


def i0e(x, /):
    """``e^-|x| I0(x)``, finite for every x (``torch.special.i0e``, ``scipy.special.i0e``).

    >>> import xpgrad as xg
    >>> round(xg.special.i0e(xg.asarray(1000.0, dtype=xg.float64)).item(), 12)
    0.012617240456
    """
    return apply(_i0e_prim, _real("i0e", x))


def i1(x, /):
    """The modified Bessel function ``I1(x) = (x / 2) sum_k (x^2 / 4)^k / (k! (k + 1)!)``, odd
    (``torch.special.i1``); its derivative is ``I0 - I1 / x`` (1/2 at 0).

    >>> import xpgrad as xg
    >>> round(xg.special.i1(xg.asarray(-1.0, dtype=xg.float64)).item(), 12)
    -0.565159103992
    """
    return apply(_i1_prim, _real("i1", x))


def i1e(x, /):
    """``e^-|x| I1(x)`` (``torch.special.i1e``, ``scipy.special.i1e``).

    >>> import xpgrad as xg
    >>> round(xg.special.i1e(xg.asarray(2.0, dtype=xg.float64)).item(), 12)
    0.215269289249
    """
    return apply(_i1e_prim, _real("i1e", x))


__all__ = ["i0", "i0e", "i1", "i1e"]
