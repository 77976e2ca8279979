"""``xg.special.gammaincinv``, the inverse of ``gammainc`` in ``x``: the quantile of a
Gamma(a, 1) variable (``scipy.special.gammaincinv``), differentiable in the probability to any
order (``dx/dy = 1 / (x^(a-1) e^-x / Gamma(a))``), and once in ``a``, by the implicit
function theorem: ``dx/da = -(dP/da) / (dP/dx)`` at the quantile.

>>> import xpgrad as xg
>>> y = xg.asarray([0.5, 0.9], dtype=xg.float64)
>>> [round(v, 12) for v in xg.special.gammaincinv(1.0, y).tolist()]          # -log(1 - y)
[0.69314718056, 2.302585092994]
"""
from __future__ import annotations

from ..jit.whole import run_quietly
from ..primitive import Primitive, apply
from . import special_formulas as sf
from . import incomplete_gamma_formulas as igf
from .incomplete_gamma import _arguments, _density, _in_float64, _no_second_derivative
from .incomplete_gamma_shape import upper_by_a
from .incomplete_gamma_regions import regularized_gamma
from .special import _call, _quiet
from .special_more import _ndtri

_NEWTON_STEPS = 24


def _start(xp, a, y, upper):
    """A first guess: Wilson and Hilferty's cube of a normal quantile; below it in the lower
    tail ``(y Gamma(a + 1))^(1 / a)`` (the inverse of ``P <= x^a / Gamma(a + 1)``, a bound from
    below), and for small ``a`` in the upper tail ``-log(q Gamma(a))``."""
    z = _ndtri(xp, y)
    cube = 1.0 - 1.0 / (9.0 * a) + z * xp.sqrt(1.0 / (9.0 * a))
    wilson = a * cube * cube * cube
    small = xp.exp((xp.log(y) + sf.gammaln(xp, a + 1.0)) / a)
    tail = -xp.log1p(-y) - sf.gammaln(xp, a)
    lower_guess = xp.where(wilson > small, wilson, small)
    upper_guess = xp.where((wilson > 0) & (a >= 1.0), wilson,
                           xp.where(tail > 1.0, tail, xp.ones_like(tail)))
    return xp.where(upper, upper_guess, lower_guess)


def _inverse(xp, a, y):
    """Newton's steps in ``log x`` on ``log P(a, x) = log y`` (on ``log Q = log(1 - y)`` above
    1/2, so the right tail keeps its digits): both are nearly linear in ``log x`` in their far
    tails, where ``P ~ x^a``, and concave, so the steps close in from either side; SciPy's
    edges: 0 at y = 0, inf at y = 1, NaN for a <= 0 or y outside [0, 1]."""
    a, y = xp.broadcast_arrays(a, y)        # (inside xg.vmap: both batched)
    inside = (a > 0) & (a < xp.inf) & (y > 0) & (y < 1)
    ai, yi = xp.where(inside, a, 1.0), xp.where(inside, y, 0.5)
    upper = yi > 0.5
    log_target = xp.where(upper, xp.log1p(-yi), xp.log(yi))
    u = xp.log(_start(xp, ai, yi, upper))
    for _ in range(_NEWTON_STEPS):
        x = xp.exp(u)
        value = xp.where(upper, regularized_gamma(xp, ai, x, upper=True),
                         regularized_gamma(xp, ai, x, upper=False))
        # d log P / d log x = x^a e^-x / (Gamma(a) P), and minus that for Q
        slope = xp.exp(ai * u - x - sf.gammaln(xp, ai)) / value
        slope = xp.where(upper, -slope, slope)
        step = (xp.log(value) - log_target) / slope
        u = xp.where(step == step, u - step, u)         # 0 / 0 where it has converged exactly
    edge = xp.where(y == 1, xp.inf, xp.zeros_like(y))
    edge = xp.where((a <= 0) | (y < 0) | (y > 1) | (a != a) | (y != y), xp.nan, edge)
    return xp.where(inside, xp.exp(u), edge)


def _inverse_whole(xp, a, y):
    """``_inverse`` in float64, one step of an ``xg.function`` program (``run_whole``): its
    Newton steps evaluate ``regularized_gamma``, whose choice of series and loops read the
    values (unrolled, a trace took a minute)."""
    return run_quietly(xp, _in_float64(_inverse), a, y, name="gammaincinv", all="ignore")


def _quantile_by_a(xp, a, x):
    """``dx/da`` of the quantile ``x`` at fixed ``y``: ``dQ/da / P'(x)`` (``dP/da = -dQ/da``);
    0 where the quantile is 0 or inf (y = 0 or 1, at every a)."""
    inside = (x > 0) & (x < xp.inf)
    xs = xp.where(inside, x, 1.0)
    value = upper_by_a(xp, a, xs) / igf.density(xp, a, xs)
    return xp.where(inside, value, xp.where(x == x, xp.zeros_like(x), xp.nan))


_gammaincinv_by_a = Primitive(
    "special_gammaincinv_a_derivative", _in_float64(_quantile_by_a,
                                                             whole="gammaincinv's a derivative"),
    _no_second_derivative("gammaincinv"), _no_second_derivative("gammaincinv", "y"),
    saves=(0, 1))
_gammaincinv = Primitive(
    "special_gammaincinv", _inverse_whole,
    lambda xp, g, ans, a, y: g * _call(_gammaincinv_by_a, xp, a, ans),
    _quiet(lambda xp, g, ans, a, y: g / _call(_density, xp, a, ans)), saves=(0, "output"))


def gammaincinv(a, y, /):
    """``x`` with ``gammainc(a, x) = y`` (``scipy.special.gammaincinv``): 0 at y = 0, inf at
    y = 1, NaN for a <= 0 or y outside [0, 1]. On the NumPy backend SciPy's ufunc where SciPy
    imports; elsewhere Newton's steps in ``log x`` from Wilson and Hilferty's guess (within
    6e-13 relative of SciPy for a in [1e-3, 1e5] and y from 1e-300 to 1 - 1e-10, where the
    result is above 1e-300). The gradient in ``y`` is
    ``1 / gammainc``'s density at the result (to any order); in ``a`` (once)
    ``-(dP/da) / (dP/dx)`` there, ``gammainc``'s derivatives; 0 at y = 0 and 1.

    >>> import xpgrad as xg
    >>> y = xg.asarray(0.5, dtype=xg.float64)
    >>> round(xg.grad(lambda y: xg.special.gammaincinv(2.0, y))(y).item(), 10)  # e^x / x
    3.1916486948
    """
    return apply(_gammaincinv, *_arguments("gammaincinv", a, y, ("a", "y")))


__all__ = ["gammaincinv"]
