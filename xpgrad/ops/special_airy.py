"""The Airy function ``Ai(x)`` (``torch.special.airy_ai``; ``scipy.special.airy(x)[0]``) for
real x, with its derivative ``Ai'(x)`` computed by the same routine; differentiable to any
order (``Ai'' = x Ai``).

Three methods, each to the function's own conditioning (within ``(1 + |x|^(3/2)) eps`` of
mpmath, ``tests/test_special_airy.py``; x's rounding alone moves ``Ai`` by ``x^(3/2) eps``):

- ``-12.25 <= x <= 2.25``: the Taylor series of the Airy equation ``y'' = x y`` about the
  nearest of the centers -12, -11.5, ..., 2, whose ``Ai`` and ``Ai'`` are tabulated below
  (mpmath, 40 digits, rounded once): ``a_(k+2) = (c a_k + a_(k-1)) / ((k + 1)(k + 2))``,
  ``|x - c| <= 1/4``, 26 terms;
- ``x > 2.25``: ``Ai = sqrt(x/3) / pi K_(1/3)(z)`` and ``Ai' = -x / (pi sqrt(3)) K_(2/3)(z)``
  with ``z = 2/3 x^(3/2)``, ``K_nu(z) = int_0^inf exp(-z cosh t) cosh(nu t) dt`` by the
  trapezoidal rule (step ``min(0.2, 0.6 / sqrt(z))``, 32 nodes: the integrand is analytic in a
  strip, so the error falls as ``exp(-2 pi d / h)``, below 1e-16 here); 0 past x = 110;
- ``x < -12.25``: the asymptotic expansion ``Ai(-x) = (sin(z + pi/4) P - cos(z + pi/4) Q) /
  (sqrt(pi) x^(1/4))`` (A&S 10.4.60, 10.4.62), 20 terms of P and Q (at z = 28.6 the terms
  reach 1e-17). Past ``x ~ -1e9`` the phase ``z`` keeps fewer digits than the value needs (as
  any float64 evaluation: SciPy returns NaN there); at ``-inf`` the limit 0.

float32 inputs are computed in float64 and rounded once.

>>> import xpgrad as xg
>>> round(xg.special.airy_ai(xg.asarray(0.0, dtype=xg.float64)).item(), 12)  # 3^(-2/3)/Gamma(2/3)
0.355028053888
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from .special import _call, _in_float64, _quiet, _real

_FIRST_CENTER, _CENTER_STEP, _CENTERS = -12.0, 0.5, 29
_TAYLOR_TERMS = 26
_INTEGRAL_FROM = 2.25              # the last center plus half a step
_ZERO_PAST = 110.0                 # Ai(110) = 1e-337: 0 in float64
_NODES = 32
_ASYMPTOTIC_TERMS = 20

_AI_AT_CENTERS = (
    -0.06655517505437313, 0.30542297004359265, -0.008759589255702381,
    -0.3119260350510506, 0.04024123848644319, 0.3191032477191282,
    -0.022133721547341403, -0.33029023763020887, -0.0527050503563862,
    0.3217757163806479, 0.18428083525050565, -0.2380203019971158,
    -0.3291451736298231, 0.017781541276574976, 0.35076100902411433,
    0.2921527810559595, -0.07026553294928951, -0.37553382314043193,
    -0.37881429367765806, -0.11232506769296609, 0.22740742820168558,
    0.4642565777488694, 0.5355608832923521, 0.4757280916105396,
    0.3550280538878172, 0.23169360648083348, 0.13529241631288141,
    0.07174949700810541, 0.03492413042327438,
)
_AI_PRIME_AT_CENTERS = (
    1.0231104533679707, 0.08772415432178444, -1.0273278736645794,
    0.09095748739068167, 0.99626504413279, -0.10809531881187123,
    -0.9756639809263316, -0.03231334828463914, 0.9355609381983065,
    0.3188095066985546, -0.7710081684101265, -0.6749524925132022,
    0.3459354872813429, 0.8641972177713984, 0.32719281855444315,
    -0.5233625323157477, -0.7906285753685813, -0.34344343345404815,
    0.3145837692165988, 0.6788527342647943, 0.618259020741691,
    0.3091869672024104, -0.01016056711664521, -0.20408167033954738,
    -0.2588194037928068, -0.2249105326646839, -0.1591474412967932,
    -0.09738201284230132, -0.05309038443365363,
)


def _taylor(xp, x):
    """``(Ai, Ai')`` for ``-12.25 <= x <= 2.25`` about the nearest tabulated center."""
    index = xp.astype(xp.clip(xp.round((x - _FIRST_CENTER) / _CENTER_STEP), 0, _CENTERS - 1),
                      xp.int64)
    flat = xp.reshape(index, (-1,))
    center = xp.reshape(_FIRST_CENTER + _CENTER_STEP * xp.astype(flat, x.dtype), x.shape)
    value = xp.reshape(xp.take(xp.asarray(_AI_AT_CENTERS, dtype=x.dtype), flat), x.shape)
    slope = xp.reshape(xp.take(xp.asarray(_AI_PRIME_AT_CENTERS, dtype=x.dtype), flat),
                       x.shape)
    h = x - center
    coefficients = [value, slope]
    for k in range(_TAYLOR_TERMS - 2):
        before = coefficients[k - 1] if k else 0.0
        coefficients.append((center * coefficients[k] + before) / ((k + 1) * (k + 2)))
    ai, ai_prime = coefficients[-1], (_TAYLOR_TERMS - 1) * coefficients[-1]
    for k in range(_TAYLOR_TERMS - 2, -1, -1):        # Horner, the derivative alongside
        ai = ai * h + coefficients[k]
        if k:
            ai_prime = ai_prime * h + k * coefficients[k]
    return ai, ai_prime


def _integral(xp, x):
    """``(Ai, Ai')`` for ``2.25 <= x <= 110`` through ``K_(1/3)`` and ``K_(2/3)``."""
    z = (2.0 / 3.0) * x * xp.sqrt(x)
    step = xp.minimum(xp.asarray(0.2, dtype=x.dtype), 0.6 / xp.sqrt(z))
    third, two_thirds = 0.5 * xp.ones_like(x), 0.5 * xp.ones_like(x)
    for k in range(1, _NODES):
        t = k * step
        weight = xp.exp(-z * (xp.cosh(t) - 1.0))        # e^-z taken out
        third = third + weight * xp.cosh(t / 3.0)
        two_thirds = two_thirds + weight * xp.cosh(2.0 * t / 3.0)
    scale = step * xp.exp(-z) / math.pi
    return (scale * xp.sqrt(x / 3.0) * third,
            -scale * (x / math.sqrt(3.0)) * two_thirds)


def _asymptotic_coefficients():
    """``u_k`` and ``v_k`` of A&S 10.4.58-59, ``k < 2 * _ASYMPTOTIC_TERMS``."""
    u, v = [1.0], [1.0]
    for k in range(1, 2 * _ASYMPTOTIC_TERMS):
        u.append(u[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k))
        v.append(-(6 * k + 1) / (6 * k - 1) * u[-1])
    return u, v


_U, _V = _asymptotic_coefficients()


def _oscillating(xp, x):
    """``(Ai, Ai')`` for ``x < -12.25`` (finite): the modulus-and-phase expansion."""
    size = -x
    z = (2.0 / 3.0) * size * xp.sqrt(size)
    inverse_square = 1.0 / (z * z)
    p, q, r, s = (xp.zeros_like(x) for _ in range(4))
    for k in range(_ASYMPTOTIC_TERMS - 1, -1, -1):
        sign = -1.0 if k % 2 else 1.0
        p = p * inverse_square + sign * _U[2 * k]
        q = q * inverse_square + sign * _U[2 * k + 1]
        r = r * inverse_square + sign * _V[2 * k]
        s = s * inverse_square + sign * _V[2 * k + 1]
    q, s = q / z, s / z
    sine, cosine = xp.sin(z + math.pi / 4.0), xp.cos(z + math.pi / 4.0)
    quarter = xp.sqrt(xp.sqrt(size))
    return ((sine * p - cosine * q) / (math.sqrt(math.pi) * quarter),
            -quarter / math.sqrt(math.pi) * (cosine * r + sine * s))


def _airy(xp, x):
    """``(Ai(x), Ai'(x))`` of a float64 array, each entry by its method."""
    near = (x >= _FIRST_CENTER - 0.5 * _CENTER_STEP) & (x <= _INTEGRAL_FROM)
    right = (x > _INTEGRAL_FROM) & (x <= _ZERO_PAST)
    left = (x < _FIRST_CENTER - 0.5 * _CENTER_STEP) & (x > -xp.inf)
    zero = xp.zeros_like(x)
    ai_near, prime_near = _taylor(xp, xp.where(near, x, zero))
    ai_right, prime_right = _integral(xp, xp.where(right, x, zero + 4.0))
    ai_left, prime_left = _oscillating(xp, xp.where(left, x, zero - 20.0))
    outside = xp.where(x == x, zero, x)          # 0 past 110 and at -inf; NaN kept
    ai = xp.where(near, ai_near, xp.where(right, ai_right, xp.where(left, ai_left, outside)))
    prime = xp.where(near, prime_near,
                     xp.where(right, prime_right, xp.where(left, prime_left, outside)))
    return ai, prime


def _value(xp, x):
    return _airy(xp, x)[0]


def _derivative(xp, x):
    return _airy(xp, x)[1]


def _by_derivative(xp, g, ans, x):
    """``g Ai'(x)``."""
    return g * _call(_airy_ai_prime_prim, xp, x)


def _by_equation(xp, g, ans, x):
    """``g Ai''(x) = g x Ai(x)``."""
    return g * x * _call(_airy_ai_prim, xp, x)


_airy_ai_prim = Primitive("special_airy_ai", _quiet(_in_float64(_value)),
                          _quiet(_by_derivative), saves=(0,))
_airy_ai_prime_prim = Primitive("special_airy_ai_prime", _quiet(_in_float64(_derivative)),
                                _quiet(_by_equation), saves=(0,))


def airy_ai(x, /):
    """The Airy function ``Ai(x)`` (``torch.special.airy_ai``, ``scipy.special.airy(x)[0]``):
    the solution of ``y'' = x y`` that decays as x grows; its gradient is ``Ai'(x)``, and
    ``Ai''(x) = x Ai(x)``. 0 at +-inf, NaN at NaN.

    >>> import xpgrad as xg
    >>> x = xg.asarray([-2.0, 1.0], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.airy_ai(x).tolist()]
    [0.227407428202, 0.135292416313]
    """
    return apply(_airy_ai_prim, _real("airy_ai", x))


__all__ = ["airy_ai"]
