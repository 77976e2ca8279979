"""PyTorch's ``spherical_bessel_j0(x) = sin(x) / x`` (``torch.special.spherical_bessel_j0``,
SciPy's ``spherical_jn(0, x)``): 1 at 0, 0 at +-inf; a composition of differentiable
functions, so gradients of any order. Below ``|x| = 0.5`` its Taylor series (to ``x^16``, the
next term ~1e-21 of the value), where the quotient's derivatives would cancel.

>>> import xpgrad as xg
>>> round(xg.special.spherical_bessel_j0(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
0.841470984808
"""
from __future__ import annotations

from .elementwise_unary import abs as _abs
from .elementwise_unary import sin
from .selection import where
from .special import _real

_SERIES_BELOW = 0.5
# (-1)^k / (2k + 1)! for k = 0..8
_COEFFICIENTS = [1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880, -1.0 / 39916800,
                 1.0 / 6227020800, -1.0 / 1307674368000, 1.0 / 355687428096000]


def spherical_bessel_j0(x, /):
    """The spherical Bessel function of the first kind of order 0, ``sin(x) / x``
    (``torch.special.spherical_bessel_j0``, ``scipy.special.spherical_jn(0, x)``): 1 at 0,
    0 at +-inf, NaN at NaN; its derivative ``(x cos x - sin x) / x^2`` (-x/3 near 0).

    >>> import xpgrad as xg
    >>> xg.special.spherical_bessel_j0(xg.asarray([0.0, float("inf")])).tolist()
    [1.0, 0.0]
    """
    x = _real("spherical_bessel_j0", x)
    near = _abs(x) < _SERIES_BELOW
    small = where(near, x, 0.0)
    square = small * small
    series = _COEFFICIENTS[-1]
    for coefficient in reversed(_COEFFICIENTS[:-1]):
        series = series * square + coefficient
    far = where(near | (_abs(x) == float("inf")), 1.0, x)
    quotient = where(_abs(x) == float("inf"), 0.0, sin(far) / far)
    return where(near, series, quotient)


__all__ = ["spherical_bessel_j0"]
