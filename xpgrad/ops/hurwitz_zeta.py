"""``xg.special.zeta(s, q)``, the Hurwitz zeta function ``sum_k>=0 (q + k)^-s`` for real
``s > 1`` (not only integers) and ``q > 0`` (``scipy.special.zeta``, ``jax.scipy.special.zeta``;
``zeta(s)`` is Riemann's, q = 1). Differentiable in ``q`` to any order,
``d/dq zeta(s, q) = -s zeta(s + 1, q)`` (as JAX), and in ``s``:
``-sum_k log(q + k) (q + k)^-s``, summed alongside the value, whose own derivative in ``q`` is
again closed-form; a second derivative in ``s`` raises NotImplementedError naming it.

The sum is the first terms up to ``q + k >= 10 + s`` (at least 10, at most 20), then
Euler-Maclaurin's tail with 12 Bernoulli terms (as ``special_formulas._hurwitz_positive``, the
integer orders behind ``polygamma``), carried with its derivative in ``s``.

>>> import xpgrad as xg
>>> s = xg.asarray([2.0, 3.5], dtype=xg.float64)
>>> [round(v, 12) for v in zeta(s, 1.0).tolist()]                # pi^2 / 6, zeta(3.5)
[1.644934066848, 1.126733867317]
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from .incomplete_gamma import _arguments, _in_float64
from .special import _call, _quiet
from .special_formulas import _BERNOULLI, _SHIFT

_BERNOULLI_TERMS = 12


def _tail(xp, s, y, with_s_derivative):
    """Euler-Maclaurin's ``sum_k>=0 (y + k)^-s`` (and its derivative in ``s``)."""
    log_y = xp.log(y)
    power = y ** -s
    tail = y * power / (s - 1.0) + 0.5 * power
    by_s = -log_y * tail - y * power / ((s - 1.0) * (s - 1.0))
    rising, log_rising_by_s = s, 1.0 / s        # s (s + 1) ... (s + 2j - 2)
    power = power / y
    inverse_square = 1.0 / (y * y)
    for j, b in enumerate(_BERNOULLI[:_BERNOULLI_TERMS], 1):
        term = (b / math.factorial(2 * j)) * rising * power
        tail = tail + term
        if with_s_derivative:
            by_s = by_s + term * (log_rising_by_s - log_y)
        rising = rising * ((s + (2 * j - 1)) * (s + 2 * j))
        log_rising_by_s = log_rising_by_s + 1.0 / (s + (2 * j - 1)) + 1.0 / (s + 2 * j)
        power = power * inverse_square
    # past s ~ 250 y^-s underflows to 0, and from s ~ 1e13 the rising factorial overflows:
    # inf * 0 would make the (vanishing) tail NaN
    vanished = y ** -s == 0
    return xp.where(vanished, 0.0, tail), xp.where(vanished, 0.0, by_s)


def _sum(xp, s, q, with_s_derivative):
    total, by_s = xp.zeros_like(q), xp.zeros_like(q)
    y = q
    for k in range(2 * int(_SHIFT)):
        low = (y < _SHIFT + s) if k >= _SHIFT else None
        term = y ** -s
        if low is not None:
            term = xp.where(low, term, 0.0)
        total = total + term
        if with_s_derivative:
            by_s = by_s - xp.log(y) * term
        y = y + 1.0 if low is None else xp.where(low, y + 1.0, y)
    tail, tail_by_s = _tail(xp, s, y, with_s_derivative)
    return total + tail, by_s + tail_by_s


def _valid(xp, s, q):
    s, q = xp.broadcast_arrays(s, q)
    valid = (s > 1) & (s < xp.inf) & (q > 0) & (q < xp.inf)
    return s, q, valid, xp.where(valid, s, 2.0), xp.where(valid, q, 1.0)


def hurwitz_zeta(xp, s, q):
    """``zeta(s, q)`` for s > 1, q > 0; SciPy's edges: inf at s = 1 and at q = 0, 0 at
    q = inf; NaN for s < 1, s = inf or a NaN, and for q < 0 (SciPy sums those for integer
    s: ``polygamma`` covers them)."""
    s, q, valid, ss, qq = _valid(xp, s, q)
    value, _ = _sum(xp, ss, qq, False)
    edge = xp.where(((s == 1) & (q > 0)) | ((q == 0) & (s > 1)), xp.inf,
                    xp.full_like(value, xp.nan))
    edge = xp.where((q == xp.inf) & (s > 1) & (s < xp.inf), 0.0, edge)
    return xp.where(valid, value, edge)


def hurwitz_zeta_by_s(xp, s, q):
    """``d zeta(s, q) / ds = -sum_k log(q + k) (q + k)^-s``; NaN outside s > 1, q > 0."""
    s, q, valid, ss, qq = _valid(xp, s, q)
    _, by_s = _sum(xp, ss, qq, True)
    return xp.where(valid, by_s, xp.nan)


def _no_second_derivative_in_s(xp, g, ans, s, q):
    raise NotImplementedError(
        "xg.special.zeta: second derivatives in s are not implemented (the first derivative "
        "in s is, and every order in q); pass s as a constant or through xg.stop_gradient(s)")


def _by_s_in_q(xp, g, ans, s, q):
    """``d/dq dzeta/ds = d/ds (-s zeta(s + 1, q)) = -zeta(s + 1, q) - s dzeta/ds(s + 1, q)``."""
    return -g * (_call(_zeta, xp, s + 1.0, q) + s * _call(_zeta_by_s, xp, s + 1.0, q))


_zeta_by_s = Primitive("special_zeta_s_derivative", _quiet(_in_float64(hurwitz_zeta_by_s)),
                       _no_second_derivative_in_s, _quiet(_by_s_in_q), saves=(0, 1))
_zeta = Primitive(
    "special_zeta", _quiet(_in_float64(hurwitz_zeta)),
    _quiet(lambda xp, g, ans, s, q: g * _call(_zeta_by_s, xp, s, q)),
    _quiet(lambda xp, g, ans, s, q: -g * s * _call(_zeta, xp, s + 1.0, q)), saves=(0, 1))


def zeta(s, q=1.0, /):
    """The Hurwitz zeta function ``zeta(s, q) = sum_k>=0 (q + k)^-s`` (``scipy.special.zeta``,
    ``jax.scipy.special.zeta``; Riemann's with the default q = 1), for real s > 1 and q > 0,
    with broadcasting: inf at s = 1 and at q = 0, 0 at q = inf, NaN for s < 1 and q < 0.
    float64 within ~1e-15 relative of mpmath (s up to 50). Its gradient in ``q`` is
    ``-s zeta(s + 1, q)`` (to any order), in ``s`` ``-sum_k log(q + k) (q + k)^-s``, summed
    alongside (once: a second derivative in ``s`` raises NotImplementedError).

    >>> import xpgrad as xg
    >>> q = xg.asarray(0.5, dtype=xg.float64)
    >>> round(xg.special.zeta(2.5, q).item(), 12), round(xg.grad(lambda q: zeta(2.5, q))(q)
    ...                                                  .item(), 10)
    (6.247110634569, -29.0520116586)
    """
    s, q = _arguments("zeta", s, q, ("s", "q"))
    return apply(_zeta, s, q)


__all__ = ["zeta"]
