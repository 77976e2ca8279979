"""Elementwise primitives: forward and vjp side by side, one line each where possible (where
and clip, which select among their inputs, are in ``selection.py``). This module holds those of
two arguments; those of one are ``elementwise_unary.py``'s, re-exported here.

Rules are ``vjp(xp, g, ans, *inputs)``: ``g`` the output's gradient, ``ans`` the output.
Broadcast gradients are summed back to each input's shape centrally (``gradient_fit.py``), which
also keeps the real part of a complex gradient that reaches a real input.

Complex gradients follow PyTorch's convention: for a real loss ``L`` of ``z = x + iy`` the
gradient is ``dL/dx + i dL/dy``, so a holomorphic ``f`` has the rule ``g * conj(f'(z))``
(``_conj`` conjugates only complex values: real paths do no extra pass; it and the other dtype
helpers are ``elementwise_dtypes.py``'s). Integer inputs to functions that are only defined on
floating point (``sin``, ``sqrt``, ``divide``, ...) are computed in the default floating dtype,
float32, as PyTorch and JAX do. Rounding functions,
``floor_divide``, ``nextafter``, ``sign`` of reals and comparisons have no (or a zero)
gradient; the functions that have none at all are ``elementwise_nodiff.py``'s, re-exported here.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 2.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.sum(xg.exp(x) * x)
>>> tape.gradient(y, x).numpy().round(4).tolist()
[5.4366, 22.1672]
"""
from __future__ import annotations

import cmath
import math

from ._define import binary, is_complex, public
from .elementwise_dtypes import _REAL, _alike, _conj, _inexact, _numeric  # noqa: F401


def _zero(xp, g, ans, *args):
    return xp.zeros_like(g)


def _half_where(xp, cond, tie, g):
    """``g`` where ``cond``, half of it where ``tie`` (ties split the gradient), else 0."""
    return xp.where(cond, g, xp.where(tie, g * 0.5, 0.0))


def _signbit(xp, a):
    if getattr(a, "dtype", None) is None:
        return math.copysign(1.0, a) < 0
    return xp.signbit(a)


# -- arithmetic --------------------------------------------------------------------------------
_INEXACT_SCALARS = frozenset((float, complex))


def _beside_inexact_scalar(xp, x, y):
    """``x, y`` with an integer or boolean array cast to float32 (complex64) when the other is
    a Python float (complex): xpgrad's default float, as PyTorch (NumPy would give float64).

    >>> import numpy as np
    >>> [str(a.dtype) for a in _beside_inexact_scalar(np, np.array([1], np.int64), 0.5)[:1]]
    ['float32']
    """
    scalar, array = (x, y) if x.__class__ in _INEXACT_SCALARS else (y, x)
    dt = getattr(array, "dtype", None)
    kind = getattr(dt, "kind", None)        # NumPy's and xpgrad's dtypes: no isdtype (~2 us)
    if dt is None or kind == "f" or kind == "c" or (
            kind is None and xp.isdtype(dt, ("real floating", "complex floating"))):
        return x, y
    array = xp.astype(array, xp.complex64 if scalar.__class__ is complex else xp.float32)
    return (scalar, array) if scalar is x else (array, scalar)


# + - * spelled out rather than made by _arithmetic: they run once per operation of every
# eager chain, and the closure's extra call cost ~3% there
def _add(xp, x, y):
    if x.__class__ in _INEXACT_SCALARS or y.__class__ in _INEXACT_SCALARS:   # int beside 0.5
        x, y = _beside_inexact_scalar(xp, x, y)
    return xp.add(x, y)


def _subtract(xp, x, y):
    if x.__class__ in _INEXACT_SCALARS or y.__class__ in _INEXACT_SCALARS:
        x, y = _beside_inexact_scalar(xp, x, y)
    return xp.subtract(x, y)


def _multiply(xp, x, y):
    if x.__class__ in _INEXACT_SCALARS or y.__class__ in _INEXACT_SCALARS:
        x, y = _beside_inexact_scalar(xp, x, y)
    return xp.multiply(x, y)


def _arithmetic(operation):
    """``operation(xp, x, y)`` through ``_beside_inexact_scalar`` when one is a Python
    float or complex (integer arrays beside a float scalar give float32)."""
    def forward(xp, x, y):
        if x.__class__ in _INEXACT_SCALARS or y.__class__ in _INEXACT_SCALARS:
            x, y = _beside_inexact_scalar(xp, x, y)
        return operation(xp, x, y)
    return forward


add = binary("add", _add,
             lambda xp, g, ans, x, y: g,
             lambda xp, g, ans, x, y: g, saves=(), scalar_arrays=True)
subtract = binary("subtract", _subtract,
                  lambda xp, g, ans, x, y: g,
                  lambda xp, g, ans, x, y: -g, saves=(), scalar_arrays=True)


# the product's rules, and sin's and cos's below, take a real factor as it is without calling
# _conj (a dtype in _REAL: seen real by _conj): one Python call less per such node of every
# backward pass
def _multiply_dx(xp, g, ans, x, y):
    return g * (y if id(getattr(y, "dtype", None)) in _REAL else _conj(xp, y))


def _multiply_dy(xp, g, ans, x, y):
    return g * (x if id(getattr(x, "dtype", None)) in _REAL else _conj(xp, x))


multiply = binary("multiply", _multiply, _multiply_dx, _multiply_dy, saves=(0, 1),
                  scalar_arrays=True)
divide = binary("divide", lambda xp, x, y: xp.divide(_inexact(xp, x), _inexact(xp, y)),
                lambda xp, g, ans, x, y: g / _conj(xp, y),
                lambda xp, g, ans, x, y: -g * _conj(xp, ans) / _conj(xp, y),
                doc="Elementwise ``x1 / x2`` (integers divide in float32).", saves=(1, "output"),
                scalar_arrays=True)


def _power(xp, x, y):
    """``x ** y``; by multiplications for a Python exponent 2, 3 or 4 and a real floating
    ``x``, as PyTorch does (NumPy's float32 ``pow`` by 3 takes ~100x as long as ``x*x*x``)."""
    if type(y) in (int, float) and y in (2, 3, 4) and \
            getattr(getattr(x, "dtype", None), "kind", None) == "f":
        square = x * x
        return square if y == 2 else square * x if y == 3 else square * square
    return xp.pow(x, y)


def _pow_dx(xp, g, ans, x, y):
    if getattr(y, "dtype", None) is None:                 # a Python exponent: x ** 3
        return xp.zeros_like(g) if y == 0 else g * _conj(xp, y * _power(xp, x, y - 1))
    x, y = _alike(xp, x, y)
    return g * _conj(xp, xp.where(y == 0, 0.0, y * xp.pow(x, y - 1)))


def _pow_dy(xp, g, ans, x, y):
    if getattr(x, "dtype", None) is None:                 # a Python base: 2.0 ** x
        if type(x) is complex:
            return g * _conj(xp, ans * (cmath.log(x) if x != 0 else 0.0))
        return g * _conj(xp, ans) * math.log(x) if x > 0 else xp.zeros_like(g)
    x, y = _alike(xp, x, y)
    if is_complex(xp, x):
        nonzero = x != 0
        return g * _conj(xp, xp.where(nonzero, ans * xp.log(xp.where(nonzero, x, 1.0)), 0.0))
    positive = x > 0                   # not ans * 0: ans is inf for a zero base, y < 0
    return g * _conj(xp, xp.where(positive, ans * xp.log(xp.where(positive, x, 1.0)), 0.0))


pow = binary("pow", _arithmetic(_power), _pow_dx, _pow_dy,
             doc="Elementwise ``x1 ** x2``. The gradient for ``x2`` is taken as 0 where x1 <= 0 "
                 "(where x1 == 0 for complex x1).")
def _pick(xp, g, wins, x, y):
    """maximum/minimum's gradient for ``x``: all of ``g`` where ``x`` is the output (``wins``,
    or ``x`` a NaN that propagated and ``y`` not), half where they tie (equal, or both NaN);
    so a NaN input gets the gradient of the NaN it caused, never a silent 0 on both sides."""
    x_nan, y_nan = x != x, y != y
    return _half_where(xp, wins | (x_nan & (y == y)), (x == y) | (x_nan & y_nan), g)


maximum = binary("maximum", _arithmetic(lambda xp, x, y: xp.maximum(x, y)),
                 lambda xp, g, ans, x, y: _pick(xp, g, x > y, x, y),
                 lambda xp, g, ans, x, y: _pick(xp, g, y > x, y, x),
                 doc="Elementwise maximum; at ties each input gets half the gradient, and a "
                     "NaN input (which the output propagates) gets it all.")
minimum = binary("minimum", _arithmetic(lambda xp, x, y: xp.minimum(x, y)),
                 lambda xp, g, ans, x, y: _pick(xp, g, x < y, x, y),
                 lambda xp, g, ans, x, y: _pick(xp, g, y < x, y, x),
                 doc="Elementwise minimum; at ties each input gets half the gradient, and a "
                     "NaN input (which the output propagates) gets it all.")
def _logaddexp_d(xp, g, ans, a, other):
    # exp(a - ans), with exp(0) = 1 where ``a`` is the answer, also where both are inf (no
    # inf - inf); NaN where both inputs are that same infinity, as in PyTorch
    top = a == ans
    weight = xp.exp(xp.where(top, 0.0, a) - xp.where(top, 0.0, ans))
    return g * _conj(xp, xp.where(top & (other == ans), xp.nan, weight))


def _logaddexp(xp, x, y):
    """NumPy's real ``logaddexp``; for complex inputs PyTorch's: ``m + log1p(exp(n - m))``,
    ``m`` the input with the larger real part."""
    x, y = _inexact(xp, x), _inexact(xp, y)
    if not (is_complex(xp, x) or is_complex(xp, y)):
        return xp.logaddexp(x, y)
    x_top = xp.real(x) >= xp.real(y)
    m, n = xp.where(x_top, x, y), xp.where(x_top, y, x)
    return m + xp.log1p(xp.exp(n - m))


logaddexp = binary("logaddexp", _logaddexp,
                   lambda xp, g, ans, x, y: _logaddexp_d(xp, g, ans, x, y),
                   lambda xp, g, ans, x, y: _logaddexp_d(xp, g, ans, y, x),
                   doc="Elementwise ``log(exp(x1) + exp(x2))``, computed stably.")
def _floor_quotient(xp, ans, x, y):
    """``floor(x / y)``, NumPy's ``floor_divide``, read off the remainder ``ans`` where every
    one is finite (the values may be read: not while ``xg.function`` traces): ``(x - ans) / y``
    rounded to the integer it is but for rounding (a float32 quotient past 2**21 may land 1
    or 2 away, a relative 2e-7). ``floor_divide`` runs a scalar ``divmod`` per element: 1.4 ms
    for 65536 float32, against 4 passes here."""
    from .linalg_helpers import readable

    if readable(ans) and bool(xp.all(xp.isfinite(ans))):
        return xp.round((x - ans) / y)
    return xp.floor_divide(x, y)


remainder = binary("remainder", _arithmetic(lambda xp, x, y: xp.remainder(x, y)),
                   lambda xp, g, ans, x, y: g,
                   lambda xp, g, ans, x, y: -g * _floor_quotient(xp, ans, x, y),
                   doc="Elementwise ``x1 % x2`` with the sign of ``x2`` (as Python's ``%``); "
                       "its gradient is 1 for ``x1`` and ``-floor(x1 / x2)`` for ``x2``.")
def _atan2_d(xp, g, x, y, of_x):
    """atan2's gradient for ``x`` (``of_x``) or ``y``: ``g y / (x**2 + y**2)`` or
    ``-g x / (x**2 + y**2)``, the squares in the operands' common dtype; 0 at the origin (and
    where the squares underflow), as PyTorch's, not 0 / 0."""
    x, y = _alike(xp, x, y)
    squares = x * x + y * y
    squares = xp.where(squares == 0, 1.0, squares)
    return g * y / squares if of_x else -g * x / squares


atan2 = binary("atan2", lambda xp, x, y: xp.atan2(_inexact(xp, x), _inexact(xp, y)),
               lambda xp, g, ans, x, y: _atan2_d(xp, g, x, y, True),
               lambda xp, g, ans, x, y: _atan2_d(xp, g, x, y, False),
               doc="Elementwise angle of the point ``(x2, x1)``: ``atan(x1 / x2)`` in the right "
                   "quadrant.")


def _hypot_d(xp, g, ans, a):
    return g * a / xp.where(ans == 0, 1.0, ans)           # 0 at the origin, as abs at 0


hypot = binary("hypot", lambda xp, x, y: xp.hypot(_inexact(xp, x), _inexact(xp, y)),
               lambda xp, g, ans, x, y: _hypot_d(xp, g, ans, x),
               lambda xp, g, ans, x, y: _hypot_d(xp, g, ans, y),
               doc="Elementwise ``sqrt(x1**2 + x2**2)`` without overflow; gradient 0 at the "
                   "origin.")


def _copysign_dx(xp, g, ans, x, y):
    """``g`` with the sign flipped where ``x`` and ``y`` differ in sign; 0 where ``x`` is 0, as
    ``abs`` (``copysign(x, 1.0)``) and PyTorch."""
    flip = xp.signbit(x)
    if getattr(y, "dtype", None) is None:
        signed = xp.where(flip, g, -g) if _signbit(xp, y) else xp.where(flip, -g, g)
    else:
        signed = xp.where(xp.logical_xor(flip, xp.signbit(y)), -g, g)
    return xp.where(x == 0, 0.0, signed)


copysign = binary("copysign", lambda xp, x, y: xp.copysign(_inexact(xp, x), _inexact(xp, y)),
                  _copysign_dx, _zero,
                  doc="Elementwise ``|x1|`` with the sign bit of ``x2``; the gradient for "
                      "``x2`` is zero.")

def _floor_divide(xp, x, y):
    out = xp.floor_divide(x, y)
    if not xp.isdtype(out.dtype, "real floating"):
        return out
    # the standard's values where NumPy follows Python: inf // 2 is inf (not nan), and
    # 1 // -inf is -0 (not -1): floor(x1 / x2) where exactly one operand is infinite
    x, y = (a if hasattr(a, "dtype") else xp.asarray(a, dtype=out.dtype) for a in (x, y))
    return xp.where(xp.logical_xor(xp.isinf(x), xp.isinf(y)), x / y, out)


floor_divide = binary("floor_divide", _arithmetic(_floor_divide), nodiff=True,
                      doc="Elementwise ``floor(x1 / x2)`` (as Python's ``//``, but ``inf // 2`` "
                          "is ``inf`` and ``1 // -inf`` is ``-0.0``, as the standard says; no "
                          "gradient).")
nextafter = binary("nextafter",
                   lambda xp, x, y: xp.nextafter(_inexact(xp, x), _inexact(xp, y)),
                   nodiff=True,
                   doc="The next representable float after ``x1`` toward ``x2`` (no gradient).")

# imported last, so the primitives are registered in the order they always were
from .elementwise_unary import (abs, acos, acosh, asin, asinh, atan, atanh,  # noqa: E402,F401
                                conj, cos, cosh, exp, expm1, imag, log, log1p, log2, log10,
                                negative, positive, real, reciprocal, sign, sin, sinh, sqrt,
                                square, tan, tanh)
from .elementwise_nodiff import (ceil, equal, floor, greater, greater_equal,  # noqa: E402,F401
                                 isfinite, isinf, isnan, less, less_equal, logical_and,
                                 logical_not, logical_or, logical_xor, not_equal, round,
                                 signbit, trunc)

__all__ = [n for n in dir() if not n.startswith("_") and n not in (
    "annotations", "binary", "public", "unary", "cmath", "math", "is_complex")]
