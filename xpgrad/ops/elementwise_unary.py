"""Elementwise functions of one argument, forward and vjp side by side: arithmetic (negative,
square, sqrt, reciprocal), exponentials and logarithms, abs and sign, the trigonometric and
hyperbolic functions and their inverses, and the complex parts (real, imag, conj);
``elementwise.py`` re-exports them, its conventions (rules, complex gradients, integer inputs)
hold here.

>>> import xpgrad as xg
>>> x = xg.asarray([0.5, 2.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.sum(xg.log(x) + xg.sqrt(x))
>>> tape.gradient(y, x).numpy().round(4).tolist()
[2.7071, 0.8536]
"""
from __future__ import annotations

import math

from ._define import is_complex, unary
from .elementwise_dtypes import _REAL, _conj, _inexact

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# -- one argument ------------------------------------------------------------------------------
negative = unary("negative", lambda xp, x: xp.negative(x), lambda xp, g, ans, x: -g, saves=())
positive = unary("positive", lambda xp, x: xp.positive(x), lambda xp, g, ans, x: g, saves=())
square = unary("square", lambda xp, x: xp.square(x),
               lambda xp, g, ans, x: g * _conj(xp, 2.0 * x))
sqrt = unary("sqrt", lambda xp, x: xp.sqrt(_inexact(xp, x)),
             lambda xp, g, ans, x: g / _conj(xp, 2.0 * ans))
reciprocal = unary("reciprocal", lambda xp, x: xp.divide(1.0, _inexact(xp, x)),
                   lambda xp, g, ans, x: -g * _conj(xp, ans * ans),
                   doc="Elementwise ``1 / x``.")
exp = unary("exp", lambda xp, x: xp.exp(_inexact(xp, x)),
            lambda xp, g, ans, x: g * _conj(xp, ans), saves="output")
def _expm1(xp, x):
    x = _inexact(xp, x)
    out = xp.expm1(x)
    if not is_complex(xp, x):
        return out
    # the standard's special values where NumPy's complex expm1 gives nan
    re, im = xp.real(x), xp.imag(x)
    inf = float("inf")
    unbounded = xp.logical_not(xp.isfinite(im))
    out = xp.where(xp.logical_and(re == -inf, unbounded), complex(-1.0, 0.0), out)
    out = xp.where(xp.logical_and(re == inf, unbounded), complex(inf, float("nan")), out)
    negative = xp.signbit(im)
    for value, rows in ((inf, re == inf), (float("nan"), xp.isnan(re)), (0.0, re == 0)):
        rows = xp.logical_and(rows, im == 0)
        out = xp.where(xp.logical_and(rows, negative), complex(value, -0.0),
                       xp.where(rows, complex(value, 0.0), out))
    return out


# exp(x), not ans + 1: that is 0 once expm1(x) rounds to -1 (x < -37), where exp(x) is not
expm1 = unary("expm1", _expm1,
              lambda xp, g, ans, x: g * _conj(xp, xp.exp(x)), saves=0)
log = unary("log", lambda xp, x: xp.log(_inexact(xp, x)),
            lambda xp, g, ans, x: g / _conj(xp, x), saves=0)
log1p = unary("log1p", lambda xp, x: xp.log1p(_inexact(xp, x)),
              lambda xp, g, ans, x: g / _conj(xp, x + 1.0))
log2 = unary("log2", lambda xp, x: xp.log2(_inexact(xp, x)),
             lambda xp, g, ans, x: g / _conj(xp, x * _LN2))
log10 = unary("log10", lambda xp, x: xp.log10(_inexact(xp, x)),
              lambda xp, g, ans, x: g / _conj(xp, x * _LN10))


def _sign_vjp(xp, g, ans, x):
    if not is_complex(xp, x):
        return xp.zeros_like(g)
    # sign(z) = z / |z| is not holomorphic: g conj(d/dz) + conj(g) d/dconj(z), both over 2|z|
    size = xp.abs(x)
    nonzero = size > 0
    return xp.where(nonzero, (g - xp.conj(g) * ans * ans) / (2.0 * xp.where(nonzero, size, 1.0)),
                    0.0)


def _abs_vjp(xp, g, ans, x):
    if is_complex(xp, x):
        return g * x / xp.where(ans == 0, 1.0, ans)
    return g * xp.sign(x)


def _sign_forward(xp, x):
    if is_complex(xp, x):       # z / |z|, +0 at (signed) zeros, without dividing by zero
        size = xp.abs(x)
        zero = size == 0
        return xp.where(zero, 0.0, x / xp.where(zero, 1.0, size))
    return xp.sign(x)


abs = unary("abs", lambda xp, x: xp.abs(x), _abs_vjp,
            doc="Elementwise absolute value (gradient 0 at 0; ``g * z / |z|`` for complex z).")
sign = unary("sign", _sign_forward, _sign_vjp,
             doc="Elementwise sign (``z / |z|`` for complex z); zero gradient for real x.")


def _sin_vjp(xp, g, ans, x):
    d = xp.cos(x)
    return g * (d if id(getattr(d, "dtype", None)) in _REAL else _conj(xp, d))


def _cos_vjp(xp, g, ans, x):
    d = xp.sin(x)
    return -g * (d if id(getattr(d, "dtype", None)) in _REAL else _conj(xp, d))


sin = unary("sin", lambda xp, x: xp.sin(_inexact(xp, x)), _sin_vjp, saves=0)
cos = unary("cos", lambda xp, x: xp.cos(_inexact(xp, x)), _cos_vjp, saves=0)
tan = unary("tan", lambda xp, x: xp.tan(_inexact(xp, x)),
            lambda xp, g, ans, x: g * _conj(xp, 1.0 + ans * ans))
asin = unary("asin", lambda xp, x: xp.asin(_inexact(xp, x)),
             lambda xp, g, ans, x: g / _conj(xp, xp.sqrt(1.0 - x * x)), example="[0.5, -0.2]")
acos = unary("acos", lambda xp, x: xp.acos(_inexact(xp, x)),
             lambda xp, g, ans, x: -g / _conj(xp, xp.sqrt(1.0 - x * x)), example="[0.5, -0.2]")
atan = unary("atan", lambda xp, x: xp.atan(_inexact(xp, x)),
             lambda xp, g, ans, x: g / _conj(xp, 1.0 + x * x))
sinh = unary("sinh", lambda xp, x: xp.sinh(_inexact(xp, x)),
             lambda xp, g, ans, x: g * _conj(xp, xp.cosh(x)))
cosh = unary("cosh", lambda xp, x: xp.cosh(_inexact(xp, x)),
             lambda xp, g, ans, x: g * _conj(xp, xp.sinh(x)))
def _tanh(xp, x):
    x = _inexact(xp, x)
    out = xp.tanh(x)
    if not is_complex(xp, x):
        return out
    # tanh(+-inf + iy) is +-1 with a zero imaginary part of y's sign (NumPy's follows sin(2y))
    re, negative = xp.real(x), xp.signbit(xp.imag(x))
    for value in (1.0, -1.0):
        rows = re == value * float("inf")
        out = xp.where(xp.logical_and(rows, negative), complex(value, -0.0),
                       xp.where(rows, complex(value, 0.0), out))
    return out


tanh = unary("tanh", _tanh,
             lambda xp, g, ans, x: g * _conj(xp, 1.0 - ans * ans), saves="output")
asinh = unary("asinh", lambda xp, x: xp.asinh(_inexact(xp, x)),
              lambda xp, g, ans, x: g / _conj(xp, xp.sqrt(x * x + 1.0)))
# sqrt(x - 1) * sqrt(x + 1), not sqrt(x**2 - 1): the principal branch's derivative for complex x
acosh = unary("acosh", lambda xp, x: xp.acosh(_inexact(xp, x)),
              lambda xp, g, ans, x: g / _conj(xp, xp.sqrt(x - 1.0) * xp.sqrt(x + 1.0)),
              example="[1.5, 2.0]")
atanh = unary("atanh", lambda xp, x: xp.atanh(_inexact(xp, x)),
              lambda xp, g, ans, x: g / _conj(xp, 1.0 - x * x), example="[0.5, -0.2]")

# -- complex parts (linear, not holomorphic: conj(z)'s rule is conj(g)) ------------------------
real = unary("real", lambda xp, x: xp.real(x), lambda xp, g, ans, x: g,
             doc="Elementwise real part (of a real x: x itself).", example="[1 + 2j, 3.0]")
imag = unary("imag", lambda xp, x: xp.imag(x),
             lambda xp, g, ans, x: (xp.astype(g, x.dtype) * 1j if is_complex(xp, x)
                                    else xp.zeros_like(g)),
             doc="Elementwise imaginary part of a complex tensor.", example="[1 + 2j, 3.0]")
conj = unary("conj", lambda xp, x: xp.conj(x), lambda xp, g, ans, x: _conj(xp, g),
             doc="Elementwise complex conjugate (of a real x: x itself).",
             example="[1 + 2j, 3.0]")
