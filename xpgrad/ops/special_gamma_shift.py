"""``log_gamma_shift(x, s)``: ``gammaln(x + s) - gammaln(x)`` for an ``s`` far below x's
distance to the nearest pole, with no digits cancelled in it or in its gradients (``betaln``
and ``poch`` use it where one argument is below 1e-3 of the other).

It is one primitive, ``special_gamma_shift``, of order ``n``: ``D_n(x, s) = P_n(x + s) -
P_n(x)`` with ``P_0 = gammaln`` and ``P_k = polygamma(k - 1, .)``, computed as Taylor's series
``sum_{k=1..6} s^k / k! P_{n+k}(x)`` (and, for ``|x| < 1e-30``, from the pole's term alone:
``-log1p(s / x) - Euler s`` for n = 0). Its gradients are ``D_{n+1}(x, s)`` in x (the series
again: ``psi(x + s) - psi(x)`` would be 0 for ``s`` below x's last bit) and ``P_{n+1}(x + s)``
in s (no cancelling there), so gradients of any order follow. Where ``|s|`` exceeds 1e-3 of
x's distance to the nearest pole the series does not hold: NaN (callers guard with ``where``).
The NumPy backend's kernel (``backends/numpy/gamma_shift.py``) evaluates the series on the
entries with ``s != 0`` only; the rule here takes every entry (other backends).

>>> import xpgrad as xg
>>> x = xg.asarray(1.0, dtype=xg.float64)
>>> s = xg.asarray(1e-20, dtype=xg.float64)
>>> round(log_gamma_shift(x, s, x > 0).item() * 1e20, 12)          # -Euler s
-0.577215664902
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from . import special_formulas as sf
from .selection import where
from .special import _call, _digamma, _polygamma, _quiet

#: the series holds for |s| <= this times x's distance to the nearest pole: its 7th term is
#: below 1e-18 of the first there (psi^(k)(x) ~ k! / dist^(k+1) next to a pole, (k-1)! / x^k
#: far from one: the terms shrink by |s| / dist or faster)
SHIFT_RATIO = 1e-3
#: below this |x|, P_n(x) is its pole's term to the last bit (gammaln: -log x - Euler x)
TINY_X = 1e-30
TERMS = 6
_EULER = 0.5772156649015329


def polygamma_of_order(xp, k, x):
    """``P_k(x)``: ``gammaln`` for k = 0, ``digamma`` for 1, ``polygamma(k - 1, x)`` above."""
    if k == 0:
        return sf.gammaln(xp, x)
    return sf.digamma(xp, x) if k == 1 else sf.polygamma(xp, k - 1, x)


def distance_to_pole(xp, x):
    """x for x > 0, else the distance to the nearest whole number (0, -1, ...)."""
    return xp.where(x > 0, x, xp.abs(x - xp.round(x)))


def series_holds(xp, x, s):
    """Where the Taylor series holds: ``|s| <= 1e-3`` of x's distance to the nearest pole,
    x finite and off the poles (False for NaN)."""
    to_pole = distance_to_pole(xp, x)
    return (xp.abs(s) <= SHIFT_RATIO * to_pole) & (to_pole > 0) & (xp.abs(x) < math.inf)


def shift_next_to_zero(xp, x, s, n):
    """``D_n(x, s)`` from the pole's term ``(-1)^n (n-1)! x^-n`` of ``P_n`` alone (|x| <
    1e-30: the next term is 1e-30 of it): ``x^-n expm1(-n log1p(s / x))`` times that
    constant, divided by x n times (``x^-n`` alone may overflow where the result does not);
    for n = 0 ``-log1p(s / x) - Euler s``."""
    ratio = xp.log1p(s / x)
    if n == 0:
        return -ratio - _EULER * s
    out = (-1) ** n * math.factorial(n - 1) * xp.expm1(-n * ratio)
    for _ in range(n):
        out = out / x
    return out


def taylor_shift(xp, x, s, n, orders=None):
    """``sum_{k=1..6} s^k / k! P_{n+k}(x)``; ``orders(k, x)`` gives ``P_k`` (the generic
    formulas by default)."""
    orders = orders or (lambda k, at: polygamma_of_order(xp, k, at))
    term = s
    total = term * orders(n + 1, x)
    for k in range(2, TERMS + 1):
        term = term * s / float(k)
        total = total + term * orders(n + k, x)
    return total


def digamma_difference(xp, x, s):
    """``psi(x + s) - psi(x)`` of arrays, as ``D_1(x, s)``'s series where it holds (no
    digits cancelled: 0 for ``s`` below x's last bit otherwise), the difference elsewhere,
    each on its own entries (``_by_mask``).

    >>> import array_api_compat.numpy as xp
    >>> float(digamma_difference(xp, xp.asarray([3.0]), xp.asarray([1e-20]))[0])  # s psi'(3)
    3.949340668482264e-21
    """
    from .incomplete_gamma_formulas import _by_mask

    x, s = xp.broadcast_arrays(x, s)
    return _by_mask(xp, series_holds(xp, x, s) & (s != 0),
                    lambda x, s: _gamma_shift(xp, x, s, 1),
                    lambda x, s: sf.digamma(xp, x + s) - sf.digamma(xp, x), (x, s),
                    ((1.0, 0.0), (None, None)))


def _gamma_shift(xp, x, s, n):
    """The generic forward: both branches over every entry, guarded by ``where``."""
    if x.dtype == xp.float32:
        wide = _gamma_shift(xp, xp.astype(x, xp.float64), xp.astype(s, xp.float64), n)
        return xp.astype(wide, xp.float32)
    holds = series_holds(xp, x, s)
    tiny = holds & (xp.abs(x) < TINY_X)
    taylor = holds & ~tiny
    at_taylor = taylor_shift(xp, xp.where(taylor, x, 1.0), xp.where(taylor, s, 0.0), n)
    at_tiny = shift_next_to_zero(xp, xp.where(tiny, x, 1.0), xp.where(tiny, s, 0.0), n)
    nan = xp.asarray(math.nan, dtype=x.dtype)
    return xp.where(tiny, at_tiny, xp.where(taylor, at_taylor, nan))


def _d_shift_dx(xp, g, ans, x, s, n):
    return g * _call(gamma_shift_prim, xp, x, s, n=n + 1)


def _d_shift_ds(xp, g, ans, x, s, n):
    """``P_{n+1}(x + s)``: digamma for n = 0, else polygamma(n, .)."""
    total = x + s
    return g * (_call(_digamma, xp, total) if n == 0 else _call(_polygamma, xp, total, n=n))


gamma_shift_prim = Primitive("special_gamma_shift", _quiet(_gamma_shift), _quiet(_d_shift_dx),
                             _quiet(_d_shift_ds), saves=(0, 1))


def log_gamma_shift(x, s, used):
    """``gammaln(x + s) - gammaln(x)`` on ``used`` (0 elsewhere), where ``|s|`` is at most
    1e-3 of x's distance to the nearest pole: no digits cancelled in it or in its gradients
    (``psi(x + s) - psi(x)``, x's gradient, is the series, not 0 for ``s`` below x's last
    bit). ``x`` and ``s`` are float Tensors, ``used`` a boolean one.

    >>> import xpgrad as xg
    >>> x = xg.asarray([1.0, 5.0], dtype=xg.float64)
    >>> s = xg.asarray([1e-20, 3.0], dtype=xg.float64)
    >>> [round(v * 1e20, 12) for v in log_gamma_shift(x, s, s < 1e-3 * x).tolist()]
    [-0.577215664902, 0.0]
    """
    return apply(gamma_shift_prim, where(used, x, 1.0), where(used, s, 0.0), n=0)
