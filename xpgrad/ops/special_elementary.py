"""``xg.special``'s elementary functions under SciPy's names: ``cbrt``, the trigonometric
functions of degrees ``sindg``, ``cosdg``, ``tandg``, ``cotdg``, and ``exprel``
(``expm1(x) / x``). Compositions of differentiable functions, so SciPy's array-API dispatch
and NumPy's ufunc dispatch (``scipy.special.sindg(t)``) record them on a tape.

The degree functions reduce the angle exactly (``remainder`` by 360 or 180 of ``|x|``, then
to within 45 degrees of a multiple of 90), so they are exactly 0, 1 or ``inf`` where SciPy's
are; above ``|x| = 1e14`` degrees, where no digit of the angle is left, they are 0, as SciPy's.

>>> import xpgrad as xg
>>> xg.special.sindg(xg.asarray(180.0, dtype=xg.float64)).item() == 0.0   # sin(pi) is 1e-16
True
"""
from __future__ import annotations

import math

from .elementwise import exp, expm1, isinf, remainder
from .elementwise_nodiff import round as round_half_even
from .elementwise_unary import cos, sin, tan
from .selection import where
from .special import _real
from ..tape import stop_gradient

_RADIANS_PER_DEGREE = math.pi / 180.0
_NO_DIGITS_LEFT = 1e14          # SciPy's (cephes') bound above which an angle in degrees is lost
_SERIES_BELOW = 0.01            # exprel's Taylor series below, expm1(x) / x above
#: by itemsize, the x above which exp(x) overflows, and the shift s of exprel's
#: ``exp(x - s) (e**s / x)`` there (x - s exact; no product on the way, nor in its gradient,
#: larger than the value)
_EXP_OVERFLOWS = {8: (709.782712893384, 64.0), 4: (88.72283, 32.0)}
# 1 / (n + 1)! for n = 8, ..., 1: the Taylor coefficients of exprel from the highest down
_EXPREL_COEFFICIENTS = [1.0 / math.factorial(n + 1) for n in range(8, 0, -1)]


def _odd(x):
    """``(negative, |x|)`` with ``|x|`` differentiable at 0 (slope 1 there, not 0)."""
    negative = x < 0
    return negative, where(negative, -x, x)


def cbrt(x, /):
    """The real cube root, negative for negative ``x`` (``scipy.special.cbrt``, ``np.cbrt``):
    ``|x|**(1/3)`` refined by one Newton step, so it is within an ulp of the exact root. The
    gradient ``1 / (3 cbrt(x)**2)`` is ``inf`` at 0, as ``torch.pow(x, 1/3)``'s.

    >>> import xpgrad as xg
    >>> xg.special.cbrt(xg.asarray([-27.0, 8.0], dtype=xg.float64)).tolist()
    [-3.0, 2.0]
    """
    negative, magnitude = _odd(_real("cbrt", x))
    root = magnitude ** (1.0 / 3.0)
    edge = (root == 0) | isinf(root)
    safe = where(edge, 1.0, root)
    refined = where(edge, root, safe + (where(edge, 1.0, magnitude) / (safe * safe) - safe) / 3.0)
    return where(negative, -refined, refined)


def _degrees(name, x, period):
    """``(t, negative, quarter, sin(t), cos(t), lost)``: ``|x| mod period`` is ``90 quarter +
    t`` degrees with ``|t| <= 45`` (``sin``/``cos`` of ``t`` in radians); ``lost`` where
    ``|x| > 1e14``."""
    x = _real(name, x)
    negative, magnitude = _odd(x)
    lost = magnitude > _NO_DIGITS_LEFT
    turns = remainder(where(lost, 0.0, magnitude), period)
    quarter = round_half_even(turns / 90.0)
    reduced = turns - 90.0 * quarter
    angle = reduced * _RADIANS_PER_DEGREE
    return reduced, negative, quarter, sin(angle), cos(angle), lost


def _exactly_one_at_45(reduced, value):
    """``value`` with its values at ``t = +-45`` degrees made exactly +-1 (``sin / cos`` there
    is 1 - 1e-16), its gradient kept."""
    diagonal = (reduced == 45.0) | (reduced == -45.0)
    exact = where(value < 0, -1.0, 1.0)
    return where(diagonal, value - stop_gradient(value) + exact, value)


def sindg(x, /):
    """The sine of ``x`` degrees (``scipy.special.sindg``): exactly 0 at multiples of 180 and
    +-1 at odd multiples of 90; 0 beyond ``|x| = 1e14``.

    >>> import xpgrad as xg
    >>> [round(v, 12) for v in xg.special.sindg(xg.asarray([30.0, -90.0, 360.0])).tolist()]
    [0.5, -1.0, 0.0]
    """
    _, negative, quarter, sine, cosine, lost = _degrees("sindg", x, 360.0)
    value = where(quarter == 0, sine, where(quarter == 1, cosine,
                                            where(quarter == 2, -sine,
                                                  where(quarter == 3, -cosine, sine))))
    return where(lost, 0.0, where(negative, -value, value))


def cosdg(x, /):
    """The cosine of ``x`` degrees (``scipy.special.cosdg``): exactly 0 at odd multiples of 90;
    0 beyond ``|x| = 1e14``.

    >>> import xpgrad as xg
    >>> [round(v, 12) for v in xg.special.cosdg(xg.asarray([60.0, -180.0, 0.0])).tolist()]
    [0.5, -1.0, 1.0]
    """
    _, _, quarter, sine, cosine, lost = _degrees("cosdg", x, 360.0)
    value = where(quarter == 0, cosine, where(quarter == 1, -sine,
                                              where(quarter == 2, -cosine,
                                                    where(quarter == 3, sine, cosine))))
    return where(lost, 0.0, value)


def tandg(x, /):
    """The tangent of ``x`` degrees (``scipy.special.tandg``): 0 at multiples of 180, ``+inf``
    (of either side, as SciPy's) at odd multiples of 90, 0 beyond ``|x| = 1e14``.

    >>> import xpgrad as xg
    >>> xg.special.tandg(xg.asarray([45.0, -45.0, 90.0], dtype=xg.float64)).tolist()
    [1.0, -1.0, inf]
    """
    reduced, negative, quarter, sine, cosine, lost = _degrees("tandg", x, 180.0)
    pole = (quarter == 1) & (sine == 0)
    # 1 off the branch too: a subnormal sine there made its masked gradient 0 * inf = NaN
    divisor = where((quarter == 1) & (sine != 0), sine, 1.0)
    value = where(quarter == 1, -cosine / divisor, sine / cosine)
    value = _exactly_one_at_45(reduced, value)
    return where(lost, 0.0, where(pole, math.inf, where(negative, -value, value)))


def cotdg(x, /):
    """The cotangent of ``x`` degrees (``scipy.special.cotdg``): 0 at odd multiples of 90,
    ``+inf`` at multiples of 180, 0 beyond ``|x| = 1e14``.

    >>> import xpgrad as xg
    >>> xg.special.cotdg(xg.asarray([45.0, 135.0, 0.0], dtype=xg.float64)).tolist()
    [1.0, -1.0, inf]
    """
    reduced, negative, quarter, sine, cosine, lost = _degrees("cotdg", x, 180.0)
    pole = (quarter != 1) & (sine == 0)
    value = where(quarter == 1, -sine / cosine, cosine / where(sine == 0, 1.0, sine))
    value = _exactly_one_at_45(reduced, value)
    return where(lost, 0.0, where(pole, math.inf, where(negative, -value, value)))


def exprel(x, /):
    """``(exp(x) - 1) / x``, 1 at 0 (``scipy.special.exprel``): ``expm1(x) / x``, its Taylor
    series for ``|x| < 0.01``, so value and derivatives are accurate near 0;
    ``exp(x - s) (e**s / x)`` where ``exp(x)`` overflows and the
    quotient does not (float32's 90, float64's 710); 0 at ``-inf``, ``inf`` at ``inf``.

    >>> import xpgrad as xg
    >>> xg.special.exprel(xg.asarray([0.0, 1e-20], dtype=xg.float64)).tolist()
    [1.0, 1.0]
    """
    x = _real("exprel", x)
    small = (x < _SERIES_BELOW) & (x > -_SERIES_BELOW)
    near = where(small, x, 0.0)
    series = _EXPREL_COEFFICIENTS[0]
    for coefficient in _EXPREL_COEFFICIENTS[1:]:
        series = series * near + coefficient
    series = series * near + 1.0
    overflows, shift = _EXP_OVERFLOWS[x.dtype.itemsize]
    large = (x > overflows) & ~isinf(x)
    far = where(small | large | (isinf(x) & (x > 0)), 1.0, x)
    beyond = where(large, x, shift)
    at_large = exp(beyond - shift) * (math.exp(shift) / beyond)
    return where(small, series, where(isinf(x) & (x > 0), math.inf,
                                      where(large, at_large, expm1(far) / far)))


__all__ = ["cbrt", "cosdg", "cotdg", "exprel", "sindg", "tandg"]
