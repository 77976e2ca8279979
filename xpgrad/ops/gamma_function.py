"""``xg.special.gamma``, Euler's gamma function itself (``gammaln`` is its log): a primitive
whose derivative ``gamma(x) digamma(x)`` is written with the differentiable ``digamma``, so
gradients of any order follow.

>>> import xpgrad as xg
>>> x = xg.asarray([0.5, 4.0], dtype=xg.float64)
>>> [round(v, 10) for v in xg.grad(lambda x: xg.sum(gamma(x)))(x).tolist()]  # Gamma psi
[-3.4802309069, 7.5367060106]
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from . import special_formulas as sf
from .special import _call, _digamma, _in_float64, _quiet, _real


def _gamma(xp, x):
    """``sign * exp(gammaln(x))``, the sign that of ``sin(pi x)`` below 0 (the reflection
    formula's); SciPy's edges: inf at +0, -inf at -0, NaN at the negative integers and -inf."""
    sign = xp.where((x <= 0) & (sf._sin_pi(xp, x) < 0), -1.0, xp.ones_like(x))
    value = sign * xp.exp(sf.gammaln(xp, x))
    pole = (x < 0) & (x == xp.round(x))
    value = xp.where(pole | (x == -xp.inf), xp.nan, value)
    infinite = xp.full_like(x, xp.inf)
    return xp.where(x == 0, xp.where(xp.signbit(x), -infinite, infinite), value)


_gamma_prim = Primitive(
    "special_gamma", _quiet(_in_float64(_gamma)),
    _quiet(lambda xp, g, ans, x: g * ans * _call(_digamma, xp, x)), saves=(0, "output"))


def gamma(x, /):
    """The gamma function ``Gamma(x)`` (``scipy.special.gamma``): ``(n - 1)!`` at the positive
    integers, inf at +0 (-inf at -0), NaN at -1, -2, ... and overflowing to inf past 171.6.
    Its derivative is ``gamma(x) * digamma(x)``. On the NumPy backend the value is SciPy's
    ufunc where SciPy imports; elsewhere ``exp(gammaln(x))`` with the sign of the reflection,
    within about ``|gammaln(x)|`` ulps (8e-14 relative near 171).

    >>> import xpgrad as xg
    >>> xg.special.gamma(xg.asarray([5.0, 0.5], dtype=xg.float64)).tolist()[0]
    24.0
    """
    return apply(_gamma_prim, _real("gamma", x))


__all__ = ["gamma"]
