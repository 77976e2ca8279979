"""Owen's T function ``T(h, a) = 1/(2 pi) int_0^a exp(-h^2 (1 + x^2) / 2) / (1 + x^2) dx``
(``scipy.special.owens_t``, ``jax.scipy.special.owens_t``), with broadcasting, differentiable
in both arguments to any order by its closed-form partials:
``dT/dh = -phi(h) erf(a h / sqrt 2) / 2`` and ``dT/da = exp(-h^2 (1 + a^2) / 2) / (2 pi (1 +
a^2))``.

Even in h and odd in a. For ``|a| <= 1`` a 40-point Gauss-Legendre rule on ``[0, min(a, 9 /
h)]`` (the integrand is below ``e^-40`` of its peak beyond ``9 / h``), ``exp(-h^2 / 2)`` with the
rounding of ``h^2`` put back; for ``|a| > 1`` the reflection ``T(h, a) = (Q(h) + Q(ah)) / 2 -
Q(h) Q(ah) - T(ah, 1/a)``, ``Q(x) = ndtr(-x)`` written so that no digit is lost in the upper
tail; ``T(0, a) = atan(a) / (2 pi)`` exactly.

>>> import xpgrad as xg
>>> round(xg.special.owens_t(xg.asarray(0.5, dtype=xg.float64), 2.0).item(), 12)
0.141580603654
"""
from __future__ import annotations

import math

import numpy as np

from ..primitive import Primitive, apply
from .exact_square import square_and_error
from .incomplete_gamma import _arguments, _in_float64
from .special import _call, _erf, _ndtr, _quiet

_NODES, _WEIGHTS = (v.tolist() for v in np.polynomial.legendre.leggauss(40))
_GAUSSIAN_REACH = 9.0           # exp(-81 / 2) ~ 2.6e-18 of the peak
_SQRT_HALF = math.sqrt(0.5)
_TWO_PI = 2.0 * math.pi


def _half_gauss(xp, h):
    """``exp(-h^2 / 2)`` with the rounding error of ``h * h`` corrected to first order."""
    square, error = square_and_error(h)
    return xp.exp(-0.5 * square) * (1.0 - 0.5 * error)


def _quadrature(xp, h, a):
    """``T(h, a)`` for ``h >= 0`` finite and ``0 <= a <= 1``."""
    reach = xp.where(h * a > _GAUSSIAN_REACH, _GAUSSIAN_REACH / xp.where(h > 0, h, 1.0), a)
    half = 0.5 * reach
    half_square = 0.5 * h * h
    total = xp.zeros_like(h)
    for node, weight in zip(_NODES, _WEIGHTS):
        x = half * (1.0 + node)
        square = 1.0 + x * x
        total = total + weight * xp.exp(-half_square * (x * x)) / square
    return _half_gauss(xp, h) * half * total / _TWO_PI


def _owens_t(xp, h, a):
    h, a = xp.broadcast_arrays(h, a)
    size, slope = xp.abs(h), xp.abs(a)
    finite = (size < xp.inf) & (slope < xp.inf)
    steep = slope > 1
    s = xp.where(finite, size, 1.0)
    inner_h = xp.where(steep & finite, s * slope, s)
    inner_a = xp.where(steep & finite, 1.0 / slope, xp.where(finite, slope, 0.5))
    inner = _quadrature(xp, inner_h, inner_a)
    upper_h, upper_ah = _ndtr(xp, -size), _ndtr(xp, -size * slope)
    reflected = 0.5 * (upper_h + upper_ah) - upper_h * upper_ah - inner
    value = xp.where(steep, reflected, inner)
    value = xp.where(slope == xp.inf, 0.5 * upper_h, xp.where(size == xp.inf, 0.0, value))
    value = xp.where(size == 0, xp.atan(slope) / _TWO_PI, value)
    # odd in a; +0.0 at a = -0.0 as SciPy's (JAX's is -0.0)
    value = xp.where(a < 0, -value, xp.where(a == 0, xp.zeros_like(value), value))
    return xp.where((h == h) & (a == a), value, h + a)


def _by_h(xp, g, ans, h, a):
    """``-g phi(h) erf(a h / sqrt 2) / 2``."""
    gauss = xp.exp(-0.5 * (h * h)) / math.sqrt(_TWO_PI)
    return -g * 0.5 * gauss * _call(_erf, xp, _SQRT_HALF * (a * h))


def _by_a(xp, g, ans, h, a):
    """``g exp(-h^2 (1 + a^2) / 2) / (2 pi (1 + a^2))``."""
    square = 1.0 + a * a
    return g * xp.exp(-0.5 * (h * h) * square) / (_TWO_PI * square)


_owens_t_prim = Primitive("special_owens_t", _quiet(_in_float64(_owens_t)), _quiet(_by_h),
                          _quiet(_by_a), saves=(0, 1))


def owens_t(h, a, /):
    """Owen's T function ``T(h, a)`` (``scipy.special.owens_t``, ``jax.scipy.special.owens_t``):
    the probability that ``X > h`` and ``0 < Y < a X`` for independent standard normals, with
    broadcasting; even in h, odd in a, ``atan(a) / (2 pi)`` at h = 0, ``ndtr(-|h|) / 2`` at
    a = inf. Differentiable in both arguments to any order (``dT/dh = -phi(h) erf(a h /
    sqrt 2) / 2``, ``dT/da = exp(-h^2 (1 + a^2) / 2) / (2 pi (1 + a^2))``).

    >>> import xpgrad as xg
    >>> h = xg.asarray([0.0, 1.0], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.owens_t(h, 1.0).tolist()]
    [0.125, 0.066741882166]
    """
    h, a = _arguments("owens_t", h, a, ("h", "a"))
    return apply(_owens_t_prim, h, a)


__all__ = ["owens_t"]
