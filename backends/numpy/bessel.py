"""NumPy kernels for ``xg.special.j0``, ``j1``, ``y0``, ``y1``: each method on its own entries.

The generic formulas (``xpgrad/ops/bessel_formulas.py``) run the series, Miller's recurrence
from order 80 and Hankel's expansion on every entry and pick by ``where``: ~900 array passes.
Here the entries are split once (by index): ``x <= 2`` take the formulas' series, ``x > 25``
Hankel's expansion as two polynomials in ``1 / x^2`` (Horner, 12 coefficients each), and
``2 < x <= 25``, where the recurrence ran, a Taylor polynomial about the nearest of 184 centers
``2.0625, 2.1875, ..., 24.9375`` (``|h| <= 1/16``): its coefficients come, once per process,
from the value and slope at the center (the formulas' recurrence in long double) through
Bessel's equation. 4.6e-16 of the amplitude ``max(|f|, sqrt(2 / (pi x)))`` off mpmath's
values on [0.05, 45] (the generic formulas 1.6e-15, SciPy's 3e-15); ~25 array passes over
each entry, ~100x fewer. float64 throughout (a float32 input's result rounded, as the generic
forward does); other dtypes decline. The derivatives (``J0' = -J1``, ``J1' = J0 - J1 / x``,
the same for Y) use these kernels' values too.

>>> import numpy as np
>>> out, _ = KERNELS["special_j0"].forward(np.array([1.0, 10.0, 30.0]))
>>> [round(v, 12) for v in out.tolist()]
[0.765197686558, -0.245935764451, -0.086367983581]
"""
from __future__ import annotations

import math

import array_api_compat.numpy as npx
import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops import bessel_formulas as formulas, special_bessel

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_STEP = 0.125
_ONE_OVER_SQRT_PI = 1.0 / math.sqrt(math.pi)
_CENTERS = int(round((formulas.ASYMPTOTIC_FROM - formulas.SERIES_UP_TO) / _STEP))   # 184
#: Taylor terms by kind: the tail's largest, at the first center 2.0625 (Y's singular point 0
#: 33 steps away), is below 1e-19 of the amplitude (9 terms leave Y1 1e-14 off, 10 3e-16)
TAYLOR_TERMS = {"j": 9, "y": 11}
#: P's and Q's coefficients kept: the first left out is below 1.5e-19 at x = 25
_HANKEL_COEFFICIENTS = 12
#: ``{(kind, order): coefficients}``, kind "j" or "y": (TAYLOR_TERMS[kind], _CENTERS), lowest
#: first
_TABLES = {}


def _value_and_slope(kind, order, x):
    """``f(x)`` and ``f'(x)`` at the centers ``x`` by the formulas' recurrence in long double
    (x86's 64-bit mantissa: the centers' values exact to float64's rounding, where the
    recurrence in float64 is 1.7e-15 off; a platform whose long double is float64 gets the
    formulas' accuracy)."""
    j0, j1, y0, y1 = formulas._miller(np, x)
    zero, one = (j0, j1) if kind == "j" else (y0, y1)
    return (zero, -one) if order == 0 else (one, zero - one / x)


def _table(kind, order):
    """Taylor coefficients ``a_k`` of ``f(c + h)`` about each center ``c``, from Bessel's
    equation ``x^2 f'' + x f' + (x^2 - n^2) f = 0`` at ``x = c + h``: ``c^2 (k+2)(k+1)
    a_(k+2) = -((2k+1)(k+1) c a_(k+1) + (k^2 + c^2 - n^2) a_k + 2c a_(k-1) + a_(k-2))``."""
    key = (kind, order)
    if key not in _TABLES:
        c = formulas.SERIES_UP_TO + _STEP * (np.arange(_CENTERS, dtype=np.longdouble) + 0.5)
        value, slope = _value_and_slope(kind, order, c)
        a = [value, slope]
        zero = np.zeros_like(c)
        for k in range(TAYLOR_TERMS[kind] - 2):
            back1 = a[k - 1] if k >= 1 else zero
            back2 = a[k - 2] if k >= 2 else zero
            a.append(-((2 * k + 1) * (k + 1) * c * a[k + 1] + (k * k + c * c - order * order)
                       * a[k] + 2.0 * c * back1 + back2) / (c * c * (k + 2) * (k + 1)))
        _TABLES[key] = np.stack(a).astype(np.float64)
    return _TABLES[key]


def _small(x, kind, order):
    """``f(x)`` for ``0 < x <= 2``: the formulas' series."""
    first, second = formulas._small(npx, x, order, False)
    return first if kind == "j" else second


def _taylor(x, kind, order):
    """``f(x)`` for ``2 < x <= 25`` from the table of its nearest center."""
    index = np.minimum(((x - formulas.SERIES_UP_TO) * (1.0 / _STEP)).astype(np.intp),
                       _CENTERS - 1)
    h = x - (formulas.SERIES_UP_TO + 0.5 * _STEP + _STEP * index)      # exact (Sterbenz)
    table = _table(kind, order)
    out = table[-1].take(index)
    for row in table[-2::-1]:
        out *= h
        out += row.take(index)
    return out


def _hankel_coefficients(order):
    """``(p, q)``: Hankel's ``P = sum_m p_m w^m``, ``Q = (1 / x) sum_m q_m w^m``,
    ``w = 1 / x^2``, as the formulas' terms (``formulas._hankel``) summed by powers."""
    mu = 4.0 * order * order
    term, p, q = 1.0, [1.0], []
    for k in range(1, 2 * _HANKEL_COEFFICIENTS):
        term *= (mu - (2 * k - 1) ** 2) / (8.0 * k)
        (p if k % 2 == 0 else q).append((-1.0) ** (k // 2) * term)
    return p, q


_HANKEL = {order: _hankel_coefficients(order) for order in (0, 1)}


def _polynomial(coefficients, w):
    out = coefficients[-1] * w
    for c in coefficients[-2:0:-1]:
        out += c
        out *= w
    out += coefficients[0]
    return out


def _large(x, kind, order):
    """``J`` or ``Y`` for ``x > 25``: ``sqrt(2 / (pi x)) (P cos chi - Q sin chi)`` (J) or
    ``(P sin chi + Q cos chi)`` (Y), ``chi = x - (order / 2 + 1/4) pi`` from ``cos x``,
    ``sin x`` (as the formulas')."""
    p_coefficients, q_coefficients = _HANKEL[order]
    w = 1.0 / (x * x)
    p = _polynomial(p_coefficients, w)
    q = _polynomial(q_coefficients, w)
    q /= x
    cos, sin = np.cos(x), np.sin(x)
    plus, minus = cos + sin, sin - cos           # sqrt 2 cos(x - pi/4), sqrt 2 sin(x - pi/4)
    if order == 0:
        cos_chi, sin_chi = plus, minus
    else:
        cos_chi, sin_chi = minus, -plus
    if kind == "j":
        out = p * cos_chi
        out -= q * sin_chi
    else:
        out = p * sin_chi
        out += q * cos_chi
    out *= _ONE_OVER_SQRT_PI / np.sqrt(x)    # sqrt(2 / (pi x)) / sqrt 2 (pi x overflows past 5e307)
    return out


def _positive(x, kind, order):
    """``J_order`` or ``Y_order`` of a flat float64 array of finite ``x > 0``: each region's
    entries by index (``take`` and ``put`` are 4x faster than boolean indexing)."""
    regions = ((x <= formulas.SERIES_UP_TO, _small),
               ((x > formulas.SERIES_UP_TO) & (x <= formulas.ASYMPTOTIC_FROM), _taylor),
               (x > formulas.ASYMPTOTIC_FROM, _large))
    out = np.empty_like(x)
    for where, method in regions:
        index = np.flatnonzero(where)
        if index.size == x.size:
            return method(x, kind, order)
        if index.size:
            out.put(index, method(x.take(index), kind, order))
    return out


def bessel(x, kind, order):
    """``J_order(x)`` (kind "j") or ``Y_order(x)`` ("y") of a float64 array, with the generic
    forward's edges (``formulas.first_kind``, ``second_kind``)."""
    flat = x.reshape(-1)
    z = np.abs(flat) if kind == "j" else flat
    inside = (z > 0) & (z < np.inf)
    if inside.all():
        out = _positive(z, kind, order)
    else:
        out = np.empty_like(z)
        out[inside] = _positive(z[inside], kind, order)
        edges = ~inside
        with np.errstate(all="ignore"):
            edge = formulas.first_kind if kind == "j" else formulas.second_kind
            out[edges] = edge(npx, flat[edges], order)
    if kind == "j" and order == 1:
        np.negative(out, out=out, where=inside & (flat < 0))        # odd
    return out.reshape(x.shape)


def _forward(kind, order):
    def forward(x):
        if getattr(x, "dtype", None) not in _FLOATS:
            return None
        with np.errstate(all="ignore"):
            out = bessel(np.asarray(x, np.float64), kind, order)
        return out.astype(x.dtype, copy=False), None
    return forward


def _slope(kind, order):
    """The kernel's vjp: ``-g f_1`` (order 0), ``g (f_0 - f_1 / x)`` (order 1; J1's is 1/2 near
    0, as the generic rule's), from the kernels' values (``ans``: the saved output)."""
    def vjp(g, ans, x):
        wide = np.asarray(x, np.float64)
        with np.errstate(all="ignore"):
            if order == 0:
                slope = -bessel(wide, kind, 1)
            else:
                slope = bessel(wide, kind, 0) - ans / wide
                if kind == "j":
                    slope = np.where(np.abs(wide) < special_bessel.TINY, 0.5, slope)
        return (np.asarray(g * slope).astype(g.dtype, copy=False),)
    return vjp


def _kernel(kind, order):
    forward = _forward(kind, order)

    def forward_saving_output(x):
        res = forward(x)
        return None if res is None else (res[0], res[0])
    return Kernel(forward_saving_output, _slope(kind, order), saves=(0, "output"))


KERNELS = {f"special_{kind}{order}": _kernel(kind, order) for kind in "jy" for order in (0, 1)}
