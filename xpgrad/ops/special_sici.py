"""The sine and cosine integrals ``sici(x) = (Si(x), Ci(x))`` (``scipy.special.sici``),
``Si(x) = int_0^x sin(t) / t dt`` and ``Ci(x) = gamma + log|x| + int_0^|x| (cos(t) - 1) / t dt``
(SciPy's real part for x < 0), differentiable to any order: ``Si' = sin(x) / x``,
``Ci' = cos(x) / x``.

Up to ``|x| = 3`` their power series, beyond it the continued fraction of ``E1(i x) e^(i x)``
(``E1(ix) = -Ci(x) + i (Si(x) - pi/2)``, Numerical Recipes' ``cisi``) evaluated from its
last term up in real arithmetic, with Smith's division (no overflow up to 1.7e308). Si and Ci
are two primitives, so ``sici`` computes the fraction twice.

>>> import xpgrad as xg
>>> si, ci = xg.special.sici(xg.asarray(1.0, dtype=xg.float64))
>>> round(si.item(), 12), round(ci.item(), 12)
(0.946083070367, 0.337403922901)
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from .special import _in_float64, _quiet, _real

_EULER_GAMMA = 0.5772156649015329
_SERIES_UP_TO = 3.0
_SERIES_TERMS = 22              # 3^44 / 44! ~ 1e-35
_FRACTION_TERMS = 80            # at x = 3: 60 terms give 1e-15 of mpmath, 80 below 2e-16


def _series(xp, x):
    """``(Si(x), Ci(x) - gamma - log|x|)`` for ``|x| <= 3``."""
    minus_square = -x * x
    odd, si = x, x                       # (-1)^k x^(2k+1) / (2k+1)!
    even, ci = xp.ones_like(x), xp.zeros_like(x)        # (-1)^k x^(2k) / (2k)!
    for k in range(1, _SERIES_TERMS):
        even = even * minus_square / ((2 * k - 1) * (2 * k))
        ci = ci + even / (2 * k)
        odd = odd * minus_square / ((2 * k) * (2 * k + 1))
        si = si + odd / (2 * k + 1)
    return si, ci


def _reciprocal(xp, re, im):
    """``1 / (re + i im)`` by Smith's method: ``(real, imaginary)``."""
    wide = xp.abs(re) >= xp.abs(im)
    ratio = xp.where(wide, im / re, re / im)
    scale = xp.where(wide, re + im * ratio, re * ratio + im)
    return (xp.where(wide, 1.0 / scale, ratio / scale),
            xp.where(wide, -ratio / scale, -1.0 / scale))


def _fraction(xp, x):
    """``(Si(x), Ci(x))`` for ``x >= 3``: ``E1(ix) e^(ix) = 1 / (b_0 - 1 / (b_1 - 4 / (b_2 -
    ...)))``, ``b_i = 2i + 1 + ix``."""
    tail_re, tail_im = xp.full_like(x, 2.0 * _FRACTION_TERMS + 1.0), x
    for i in range(_FRACTION_TERMS, 0, -1):
        q_re, q_im = _reciprocal(xp, tail_re, tail_im)
        tail_re, tail_im = (2.0 * i - 1.0) - (i * i) * q_re, x - (i * i) * q_im
    h_re, h_im = _reciprocal(xp, tail_re, tail_im)
    cosine, sine = xp.cos(x), xp.sin(x)                  # E1(ix) = h e^(-ix)
    return (math.pi / 2 + (h_im * cosine - h_re * sine), -(h_re * cosine + h_im * sine))


def _sici(xp, x):
    """``(Si(x), Ci(x))`` with SciPy's edges: Ci(0) = -inf, Ci(-inf) = NaN."""
    size = xp.abs(x)
    near = size <= _SERIES_UP_TO
    far = ~near & (size < xp.inf)
    si_near, ci_near = _series(xp, xp.where(near, size, 1.0))
    si_far, ci_far = _fraction(xp, xp.where(far, size, 2.0 * _SERIES_UP_TO))
    log_size = xp.log(xp.where(near & (size > 0), size, 1.0))
    si = xp.where(near, si_near, xp.where(far, si_far, math.pi / 2 + xp.zeros_like(x)))
    ci = xp.where(near, _EULER_GAMMA + log_size + ci_near, xp.where(far, ci_far, xp.zeros_like(x)))
    si = xp.where(x < 0, -si, xp.where(x == 0, x, si))            # odd, signed zero at 0
    ci = xp.where(x == 0, -xp.inf, xp.where(x == -xp.inf, xp.nan, ci))
    return xp.where(x == x, si, x), xp.where(x == x, ci, x)


def _si_slope(xp, g, ans, x):
    """``g sin(x) / x``, g at 0."""
    zero = x == 0
    safe = xp.where(zero, 1.0, x)
    return g * xp.where(zero, 1.0, xp.sin(safe) / safe)


def _ci_slope(xp, g, ans, x):
    """``g cos(x) / x``."""
    return g * (xp.cos(x) / x)


_si_prim = Primitive("special_si", _quiet(_in_float64(lambda xp, x: _sici(xp, x)[0])),
                     _quiet(_si_slope), saves=(0,))
_ci_prim = Primitive("special_ci", _quiet(_in_float64(lambda xp, x: _sici(xp, x)[1])),
                     _quiet(_ci_slope), saves=(0,))


def sici(x, /):
    """The sine and cosine integrals ``(Si(x), Ci(x))`` as ``scipy.special.sici`` returns them:
    Si odd, +-pi/2 at +-inf; Ci(0) = -inf, Ci(inf) = 0, and for x < 0 SciPy's ``Ci(|x|)`` (the
    real part), NaN at -inf. Within 2e-15 of mpmath relative to the amplitude (Ci relative
    error grows next to its zeros). Derivatives: ``sin(x) / x`` (1 at 0) and ``cos(x) / x``.

    >>> import xpgrad as xg
    >>> si, ci = xg.special.sici(xg.asarray([0.0, 2.0], dtype=xg.float64))
    >>> [round(v, 12) for v in si.tolist()], round(ci.tolist()[1], 12)
    ([0.0, 1.605412976803], 0.422980828775)
    """
    x = _real("sici", x)
    return apply(_si_prim, x), apply(_ci_prim, x)


__all__ = ["sici"]
