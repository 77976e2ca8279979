"""The Fresnel integrals ``fresnel(x) = (S(x), C(x))`` (``scipy.special.fresnel``, same order),
``S(x) = int_0^x sin(pi t^2 / 2) dt`` and ``C(x) = int_0^x cos(pi t^2 / 2) dt``, differentiable
to any order: ``S' = sin(pi x^2 / 2)``, ``C' = cos(pi x^2 / 2)``.

Up to ``|x| = 1.5`` their power series in ``t = pi x^2 / 2``, beyond it Numerical Recipes'
continued fraction for ``erfc`` (``frenel``) evaluated from its last term up in real arithmetic
(Smith's division), its phase ``pi x^2 / 2`` reduced exactly (``x^2`` split in two by Dekker's
method, its high part taken modulo 4), so large x keep their digits; 1/2 from ``|x| > 1e150``
(where ``1 / (pi x)`` is below 1e-150). S and C are two primitives: ``fresnel`` computes the
fraction twice.

>>> import xpgrad as xg
>>> s, c = xg.special.fresnel(xg.asarray(1.0, dtype=xg.float64))
>>> round(s.item(), 12), round(c.item(), 12)
(0.43825914739, 0.779893400377)
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from .exact_square import square_and_error
from .special import _in_float64, _quiet, _real
from .special_sici import _reciprocal

_SERIES_UP_TO = 1.5
_SERIES_TERMS = 20              # t = 3.53 at x = 1.5: t^40 / 40! ~ 1e-26
_FRACTION_TERMS = 60
_HALF_FROM = 1e150


def _series(xp, x):
    """``(S(x), C(x))`` for ``|x| <= 1.5``."""
    t = (math.pi / 2) * x * x
    minus_square = -t * t
    even, c = xp.ones_like(x), xp.ones_like(x)         # (-1)^k t^(2k) / (2k)!
    odd, s = t, t / 3.0                                 # (-1)^k t^(2k+1) / (2k+1)!
    for k in range(1, _SERIES_TERMS):
        even = even * minus_square / ((2 * k - 1) * (2 * k))
        c = c + even / (4 * k + 1)
        odd = odd * minus_square / ((2 * k) * (2 * k + 1))
        s = s + odd / (4 * k + 3)
    return x * s, x * c


def _phase(xp, x):
    """``(cos, sin)`` of ``pi x^2 / 2``, ``x^2 = high + low`` exactly and ``high`` modulo 4."""
    square, low = square_and_error(x)
    angle = (math.pi / 2) * (xp.remainder(square, 4.0) + low)
    return xp.cos(angle), xp.sin(angle)


def _fraction(xp, x, terms=_FRACTION_TERMS):
    """``(S(x), C(x))`` for ``1.5 < x <= 1e150`` (``terms``: 60 hold from 1.5, 8 from 4):
    ``h = 1 / (b_1 + a_2 / (b_2 + ...))``,
    ``b_k = 4k - 3 - i pi x^2``, ``a_k = -(2k - 3)(2k - 2)``; ``C + iS = (1 + i)/2 (1 - e^(i pi
    x^2 / 2) (x - ix) h)``."""
    pix2 = math.pi * x * x
    tail_re, tail_im = xp.full_like(x, 4.0 * terms - 3.0), -pix2
    for k in range(terms, 1, -1):
        a = -(2.0 * k - 3.0) * (2.0 * k - 2.0)
        q_re, q_im = _reciprocal(xp, tail_re, tail_im)
        tail_re, tail_im = (4.0 * k - 7.0) + a * q_re, -pix2 + a * q_im
    h_re, h_im = _reciprocal(xp, tail_re, tail_im)
    h_re, h_im = x * (h_re + h_im), x * (h_im - h_re)           # h (x - ix)
    cosine, sine = _phase(xp, x)
    u_re = 1.0 - (cosine * h_re - sine * h_im)
    u_im = -(cosine * h_im + sine * h_re)
    return 0.5 * (u_re + u_im), 0.5 * (u_re - u_im)             # (Im, Re) of (1 + i)/2 u


def _fresnel(xp, x, terms=_FRACTION_TERMS):
    size = xp.abs(x)
    near = size <= _SERIES_UP_TO
    far = ~near & (size <= _HALF_FROM)
    s_near, c_near = _series(xp, xp.where(near, size, 1.0))
    s_far, c_far = _fraction(xp, xp.where(far, size, 2.0 * _SERIES_UP_TO), terms)
    half = xp.full_like(x, 0.5)
    s = xp.where(near, s_near, xp.where(far, s_far, half))
    c = xp.where(near, c_near, xp.where(far, c_far, half))
    s, c = xp.where(x < 0, -s, s), xp.where(x < 0, -c, c)
    s, c = xp.where(x == 0, x, s), xp.where(x == 0, x, c)       # signed zeros
    return xp.where(x == x, s, x), xp.where(x == x, c, x)


def _s_slope(xp, g, ans, x):
    """``g sin(pi x^2 / 2)``, the phase reduced exactly as the value's (unreduced, ``pi x^2 /
    2`` kept ``eps x^2`` of its rounding: 1e-9 off at x = 12345.678, 0.07 at 3e7)."""
    return g * _phase(xp, x)[1]


def _c_slope(xp, g, ans, x):
    """``g cos(pi x^2 / 2)``, the phase reduced exactly."""
    return g * _phase(xp, x)[0]


_s_prim = Primitive("special_fresnel_s", _quiet(_in_float64(lambda xp, x: _fresnel(xp, x)[0])),
                    _quiet(_s_slope), saves=(0,))
_c_prim = Primitive("special_fresnel_c", _quiet(_in_float64(lambda xp, x: _fresnel(xp, x)[1])),
                    _quiet(_c_slope), saves=(0,))


def fresnel(x, /):
    """The Fresnel integrals ``(S(x), C(x))`` in SciPy's order (``scipy.special.fresnel``,
    ``jax.scipy.special.fresnel``): both odd, +-1/2 at +-inf; derivatives
    ``sin(pi x^2 / 2)`` and ``cos(pi x^2 / 2)``.

    >>> import xpgrad as xg
    >>> s, c = xg.special.fresnel(xg.asarray([0.0, 2.0], dtype=xg.float64))
    >>> [round(v, 12) for v in s.tolist()], round(c.tolist()[1], 12)
    ([0.0, 0.343415678364], 0.488253406075)
    """
    x = _real("fresnel", x)
    return apply(_s_prim, x), apply(_c_prim, x)


__all__ = ["fresnel"]
