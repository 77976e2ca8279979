"""Elementwise primitives: forward and vjp side by side, one line each where possible.

Rules are ``vjp(xp, g, ans, *inputs)``: ``g`` the output's gradient, ``ans`` the output.
Broadcast gradients are summed back to each input's shape centrally (``tape._fit``).

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.sum(xg.exp(x) * x)
>>> tape.gradient(y, x).numpy().round(4).tolist()
[5.4366, 22.1672]
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ._define import as_tensor, binary, public, unary


def _zero(xp, g, ans, *args):
    return xp.zeros_like(g)


def _half_where(xp, cond, tie, g):
    """``g`` where ``cond``, half of it where ``tie`` (ties split the gradient), else 0."""
    return xp.where(cond, g, xp.where(tie, g * 0.5, 0.0))


# -- arithmetic --------------------------------------------------------------------------------
add = binary("add", lambda xp, x, y: xp.add(x, y),
             lambda xp, g, ans, x, y: g,
             lambda xp, g, ans, x, y: g)
subtract = binary("subtract", lambda xp, x, y: xp.subtract(x, y),
                  lambda xp, g, ans, x, y: g,
                  lambda xp, g, ans, x, y: -g)
multiply = binary("multiply", lambda xp, x, y: xp.multiply(x, y),
                  lambda xp, g, ans, x, y: g * y,
                  lambda xp, g, ans, x, y: g * x)
divide = binary("divide", lambda xp, x, y: xp.divide(x, y),
                lambda xp, g, ans, x, y: g / y,
                lambda xp, g, ans, x, y: -g * ans / y)


def _pow_dy(xp, g, ans, x, y):
    safe = xp.where(x > 0, x, 1.0)
    return g * ans * xp.where(x > 0, xp.log(safe), 0.0)


pow = binary("pow", lambda xp, x, y: xp.pow(x, y),
             lambda xp, g, ans, x, y: g * y * xp.pow(x, y - 1),
             _pow_dy,
             doc="Elementwise ``x1 ** x2``. The gradient for ``x2`` is taken as 0 where x1 <= 0.")
maximum = binary("maximum", lambda xp, x, y: xp.maximum(x, y),
                 lambda xp, g, ans, x, y: _half_where(xp, x > y, x == y, g),
                 lambda xp, g, ans, x, y: _half_where(xp, y > x, x == y, g),
                 doc="Elementwise maximum; at ties each input gets half the gradient.")
minimum = binary("minimum", lambda xp, x, y: xp.minimum(x, y),
                 lambda xp, g, ans, x, y: _half_where(xp, x < y, x == y, g),
                 lambda xp, g, ans, x, y: _half_where(xp, y < x, x == y, g),
                 doc="Elementwise minimum; at ties each input gets half the gradient.")
logaddexp = binary("logaddexp", lambda xp, x, y: xp.logaddexp(x, y),
                   lambda xp, g, ans, x, y: g * xp.exp(x - ans),
                   lambda xp, g, ans, x, y: g * xp.exp(y - ans),
                   doc="Elementwise ``log(exp(x1) + exp(x2))``, computed stably.")

negative = unary("negative", lambda xp, x: xp.negative(x), lambda xp, g, ans, x: -g)
square = unary("square", lambda xp, x: xp.square(x), lambda xp, g, ans, x: 2.0 * x * g)
sqrt = unary("sqrt", lambda xp, x: xp.sqrt(x), lambda xp, g, ans, x: g / (2.0 * ans))
exp = unary("exp", lambda xp, x: xp.exp(x), lambda xp, g, ans, x: g * ans)
expm1 = unary("expm1", lambda xp, x: xp.expm1(x), lambda xp, g, ans, x: g * (ans + 1.0))
log = unary("log", lambda xp, x: xp.log(x), lambda xp, g, ans, x: g / x)
log1p = unary("log1p", lambda xp, x: xp.log1p(x), lambda xp, g, ans, x: g / (x + 1.0))
abs = unary("abs", lambda xp, x: xp.abs(x), lambda xp, g, ans, x: g * xp.sign(x),
            doc="Elementwise absolute value (gradient 0 at 0).")
sign = unary("sign", lambda xp, x: xp.sign(x), _zero,
             doc="Elementwise sign; its gradient is zero everywhere.")
sin = unary("sin", lambda xp, x: xp.sin(x), lambda xp, g, ans, x: g * xp.cos(x))
cos = unary("cos", lambda xp, x: xp.cos(x), lambda xp, g, ans, x: -g * xp.sin(x))
tanh = unary("tanh", lambda xp, x: xp.tanh(x), lambda xp, g, ans, x: g * (1.0 - ans * ans))

# -- without a gradient (never recorded) ------------------------------------------------------
floor = unary("floor", lambda xp, x: xp.floor(x), doc="Elementwise floor (no gradient).")
ceil = unary("ceil", lambda xp, x: xp.ceil(x), doc="Elementwise ceiling (no gradient).")
round = unary("round", lambda xp, x: xp.round(x), doc="Round half to even (no gradient).")
trunc = unary("trunc", lambda xp, x: xp.trunc(x), doc="Round toward zero (no gradient).")
isnan = unary("isnan", lambda xp, x: xp.isnan(x))
isinf = unary("isinf", lambda xp, x: xp.isinf(x))
isfinite = unary("isfinite", lambda xp, x: xp.isfinite(x))
logical_not = unary("logical_not", lambda xp, x: xp.logical_not(x), example="[True, False]")

equal = binary("equal", lambda xp, x, y: xp.equal(x, y), nodiff=True)
not_equal = binary("not_equal", lambda xp, x, y: xp.not_equal(x, y), nodiff=True)
less = binary("less", lambda xp, x, y: xp.less(x, y), nodiff=True)
less_equal = binary("less_equal", lambda xp, x, y: xp.less_equal(x, y), nodiff=True)
greater = binary("greater", lambda xp, x, y: xp.greater(x, y), nodiff=True)
greater_equal = binary("greater_equal", lambda xp, x, y: xp.greater_equal(x, y), nodiff=True)
logical_and = binary("logical_and", lambda xp, x, y: xp.logical_and(x, y), nodiff=True)
logical_or = binary("logical_or", lambda xp, x, y: xp.logical_or(x, y), nodiff=True)
logical_xor = binary("logical_xor", lambda xp, x, y: xp.logical_xor(x, y), nodiff=True)

# -- selection ----------------------------------------------------------------------------------
_where = Primitive("where", lambda xp, c, x, y: xp.where(c, x, y),
                   None,
                   lambda xp, g, ans, c, x, y: xp.where(c, g, 0.0),
                   lambda xp, g, ans, c, x, y: xp.where(c, 0.0, g))


def where(condition, x1, x2, /):
    """``x1`` where ``condition`` is true, else ``x2`` (broadcasting all three).

    >>> import xpgrad as xg
    >>> xg.where(xg.asarray([True, False]), 1.0, xg.asarray([5.0, 6.0])).tolist()
    [1.0, 6.0]
    """
    return apply(_where, condition, x1, x2)


_clip = Primitive("clip", lambda xp, x, min=None, max=None: xp.clip(x, min, max),
                  lambda xp, g, ans, x, min=None, max=None: xp.where(
                      _inside(xp, x, min, max), g, 0.0))


def _inside(xp, x, lo, hi):
    if lo is None:
        return x <= hi
    if hi is None:
        return x >= lo
    return xp.logical_and(x >= lo, x <= hi)


def clip(x, /, min=None, max=None):
    """Limit ``x`` to ``[min, max]``; the gradient is zero where a bound is active.

    >>> import xpgrad as xg
    >>> xg.clip(xg.asarray([-2.0, 0.5, 3.0]), -1.0, 1.0).tolist()
    [-1.0, 0.5, 1.0]
    """
    if min is None and max is None:
        return as_tensor(x)
    scalar = (int, float)
    if (min is None or isinstance(min, scalar)) and (max is None or isinstance(max, scalar)):
        return apply(_clip, x, min=min, max=max)
    out = x if min is None else maximum(x, min)
    return out if max is None else minimum(out, max)


__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "annotations", "Primitive", "apply", "as_tensor", "binary", "public", "unary")]
