"""The NumPy backend's GELU kernel: the generic rule's formulas (``ops/activations_torch.py``,
``ops/formulas.py``) as in-place ufunc passes over blocks that stay in cache (``blocks.py``).

Exact GELU is ``x Phi(x) = max(x, -0.0) - |x| Phi(-|x|)`` (nothing cancels on either side);
a taped forward keeps ``r = Phi(-|x|) - |x| phi(x)``, and the backward, ``Phi(x) + x phi(x)``, is
``r`` below 0 and ``1 - r`` above. In float32, ``Phi(-|x|)`` is ``t 2**(v Q(v) -
x**2 log2(e) / 2)`` with ``t = (C/2) / (C + |x|)`` and ``v = |x| t``, ``Q`` a fitted polynomial
of degree 6 (``_tail32``): 26 passes (25 where no tape records: ``_value``) where the generic
float32 ``erfc`` (a polynomial of degree 9) and its select took 34, and ``exp2`` for ``exp`` (a
third faster). Against ``x Phi(x)`` exactly: within 3.2 ulp for ``|x| < 1`` and 2.9 ulp times
``1 + x**2`` (the conditioning of the exponential) beyond; the generic float32 rule is 7.0 and
6.3 ulp off there. Float64 takes ``formulas.erfc``'s Chebyshev series (``_erfc_half64``). The
tanh form, ``x sigmoid(2u)``, takes 10 passes, and a taped one keeps its derivative (11 more),
so that the backward is one product (it took 12 and about 25); a block without infinities,
NaNs or values past +-1e4 leaves out two clips, one without an overflowing exponential a third
and a sum (``_tanh_inside``), the same bits. The limits at +-inf are the
generic rule's (``gelu(-inf)`` is -0.0 here, as the underflowed values below, 0.0 there),
signed zeros too.

>>> import numpy as np
>>> x = np.array([-np.inf, -1.0, 0.0, 1.0, np.inf], np.float32)
>>> y, r = KERNEL.forward(x)
>>> [round(float(v), 4) for v in y]
[-0.0, -0.1587, 0.0, 0.8413, inf]
>>> [round(float(v), 4) for v in KERNEL.vjp(np.ones(5, np.float32), r, x)[0]]
[0.0, -0.0833, 0.5, 1.0833, 1.0]
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops.activations_torch import _INV_SQRT_2PI, _SQRT_HALF, _TANH_C, _TANH_K
from xpgrad.ops.formulas import _ERFC_COEFFS

from .activations import _FLOATS, _largest, _least
from .blocks import blocked, gradient_by_blocks
from .ufuncs import clip

#: float32 ``Phi(-a)``, ``a = |x|``, is ``t 2**(v Q(v) - a**2 log2(e) / 2)`` with
#: ``t = (C/2) / (C + a)`` and ``v = a t`` (so ``a Phi(-a)`` is ``v`` times the power);
#: ``Q``'s coefficients (of ``v**0`` to ``v**6``, float32 numbers) are a minimax fit of
#: ``log2(erfcx(a / sqrt 2) / 2t)``, weighted by ``1 / (1 + a**2)`` (the conditioning of the
#: exponential) up to a = 15, where float32 ``Phi`` underflows: 4.3e-8 relative at 0
#: (``tools/fit_gelu_erfc32.py``)
_C32 = 4.876598358154297
_Q32 = (-1.7105317115783691, 0.22574935853481293, 0.08565717935562134, -0.021472034975886345,
        -0.02039989084005356, 0.011256721802055836, -0.0017197823617607355)
#: ``-a**2 / 2`` in the base of the exponential each dtype takes: float32's ``exp2`` is a
#: third faster than its ``exp`` (and as accurate); float64's ``exp`` is the faster one
_HALF_SQUARE = {np.dtype(np.float32): (0.5 / math.log(2.0), np.exp2),
                np.dtype(np.float64): (0.5, np.exp)}


def _horner_into(coeffs, u, out):
    """``out`` <- ``sum(c_k u**k)`` (lowest coefficient first) in ``u``'s dtype."""
    np.multiply(u, coeffs[-1], out=out)
    out += coeffs[-2]
    for c in coeffs[-3::-1]:
        out *= u
        out += c
    return out


def _gaussian_into(a, out):
    """``out`` <- ``exp(-a**2 / 2)`` (``a`` finite)."""
    scale, exponential = _HALF_SQUARE[a.dtype]
    np.multiply(a, -scale, out=out)
    out *= a
    return exponential(out, out=out)


def _tail32(a, power, scratch):
    """For float32 ``a`` in [0, 1e4]: ``power`` <- ``2**(v Q(v) - a**2 log2(e) / 2)``,
    ``scratch[0]`` <- ``v = a t``, ``scratch[1]`` <- ``t = (C/2) / (C + a)``: ``Phi(-a)`` is
    ``t power`` and ``a Phi(-a)`` is ``v power`` (``_C32``, ``_Q32``)."""
    v, t, square = scratch[:3]
    np.add(a, _C32, out=t)
    np.divide(0.5 * _C32, t, out=t)
    np.multiply(a, t, out=v)
    _horner_into(_Q32, v, power)
    power *= v
    scale, _ = _HALF_SQUARE[a.dtype]
    np.multiply(a, -scale, out=square)
    square *= a
    power += square
    return np.exp2(power, out=power)


def _erfc_half64(z, out, scratch):
    """``out`` <- ``erfc(z) / 2`` for float64 ``z`` in [0, 30]: ``formulas.erfc``'s Chebyshev
    series and its split of ``exp(-z**2)``."""
    t, ty, d, dd, tmp = scratch[:5]
    np.add(z, 2.0, out=t)
    np.divide(2.0, t, out=t)
    np.multiply(t, 4.0, out=ty)
    ty -= 2.0
    d[...] = 0.0
    dd[...] = 0.0
    for c in _ERFC_COEFFS[:0:-1]:                # Clenshaw: d, dd = ty d - dd + c, d
        np.multiply(ty, d, out=tmp)
        tmp -= dd
        tmp += c
        d, dd, tmp = tmp, d, dd
    np.multiply(ty, d, out=tmp)                  # the exponent: (c0 + ty d) / 2 - dd
    tmp += _ERFC_COEFFS[0]
    tmp *= 0.5
    tmp -= dd
    h = np.multiply(z, 16.0, out=d)
    np.floor(h, out=h)
    h /= 16.0
    np.subtract(z, h, out=dd)
    np.add(z, h, out=ty)
    dd *= ty
    tmp -= dd                                    # exponent - (z - h)(z + h)
    np.exp(tmp, out=tmp)
    h *= h
    np.negative(h, out=h)
    np.exp(h, out=h)
    np.multiply(t, h, out=out)
    out *= tmp
    out *= 0.5
    return out


def _exact_into(x, y, kept, scratch):
    """``y`` <- ``x Phi(x) = max(x, -0.0) - |x| Phi(-|x|)`` (``max(x, -0.0)`` keeps ``x``'s sign
    of zero, and so does the difference), ``kept`` <- ``r = Phi(-|x|) - |x| phi(x)`` (the
    backward's) unless None, ``|x|`` capped at 1e4."""
    a, phi = scratch[:2]
    np.abs(x, out=a)
    clip(a, 0.0, 1e4, out=a)                     # (clip: a faster loop than minimum's)
    clip(x, -0.0, np.inf, out=y)
    if x.dtype == np.float32:
        power = kept if kept is not None else phi
        v, t, square = scratch[2:5]
        _tail32(a, power, scratch[2:])
        v *= power
        y -= v
        if kept is not None:
            kept *= t                            # Phi(-|x|)
            np.exp2(square, out=phi)             # square: -x**2 log2(e) / 2
            _less_x_phi(kept, a, phi)
        return
    z = scratch[-1]
    np.multiply(a, _SQRT_HALF, out=z)
    clip(z, 0.0, 30.0, out=z)
    lower = _erfc_half64(z, phi if kept is None else kept, scratch[2:])
    part = np.multiply(a, lower, out=scratch[2])
    y -= part
    if kept is not None:
        _less_x_phi(kept, a, _gaussian_into(a, scratch[2]))


def _less_x_phi(lower, a, gaussian):
    """``lower`` <- ``lower - a phi(a)``, ``gaussian`` holding ``exp(-a**2 / 2)`` (overwritten)."""
    gaussian *= a
    gaussian *= _INV_SQRT_2PI
    lower -= gaussian


#: the tanh form's ``x`` above which ``exp(-2u)`` and ``1 + exp(-2u)`` are finite, by dtype
_TANH_EXP_FINITE_ABOVE = {np.dtype(np.float32): -10.0, np.dtype(np.float64): -20.0}


def _tanh_inside(x):
    """``(within_cap, no_overflow)`` for the block ``x`` by two reductions (a pass's time):
    whether it lies in (-1e4, 1e4), where the clips of ``_tanh_value_into`` change nothing (no
    infinity, NaN or capped value: an ``exp(-2u)`` that overflows makes the value -0.0 either
    way), and also above ``_TANH_EXP_FINITE_ABOVE``, where those of ``_tanh_slope_into`` do
    not either."""
    least = _least(x, None)
    within_cap = -1e4 < least and _largest(x, None) < 1e4
    return within_cap, within_cap and least > _TANH_EXP_FINITE_ABOVE[x.dtype]


def _tanh_value_into(x, y, e, ones_plus, capped, big, inside=False):
    """``y`` <- ``x sigmoid(2u) = x / (1 + e)`` (the tanh form's ``x (1 + tanh(u)) / 2``
    without its cancellation below 0), ``e`` <- ``exp(-2u)`` with ``2u = 2 sqrt(2/pi) (xc +
    0.044715 xc**3)`` rounded as the numba kernel's, ``ones_plus`` <- ``1 + e``, ``capped`` <-
    ``xc``, ``x`` clipped to +-1e4 (tanh is saturated long before: no ``x**3`` overflow): ten
    passes (``x`` clipped to the finite range for the quotient: -inf / inf would be NaN), eight
    where ``inside`` (``_tanh_inside``'s ``within_cap``: both clips leave ``x`` as it is)."""
    if not inside:                                 # (inside, ``capped`` is ``x`` itself)
        clip(x, -1e4, 1e4, out=capped)
    np.multiply(capped, _TANH_C, out=e)
    e *= capped
    e *= capped
    e += capped
    e *= -2.0 * _TANH_K
    np.exp(e, out=e)
    np.add(e, 1.0, out=ones_plus)
    if inside:
        np.divide(x, ones_plus, out=y)
        return
    clip(x, -big, np.inf, out=y)
    y /= ones_plus


def _tanh_slope_into(slope, e, ones_plus, capped, square, big, inside=False):
    """``slope`` <- ``s (1 + xc c 2 sqrt(2/pi) (1 + 3 0.044715 xc**2))``, the tanh form's
    derivative, from ``_tanh_value_into``'s arrays (overwritten): ``s = 1 / (1 + e)``, ``c =
    sigmoid(-2u) = e / (1 + e)`` with ``e`` capped at the dtype's largest value (1 where it
    overflowed: no inf / inf; ``s`` is 0 there). Eleven passes, nine where ``inside``
    (``_tanh_inside``'s ``no_overflow``: the cap and the second ``1 + e`` change nothing)."""
    np.divide(1.0, ones_plus, out=slope)
    if not inside:
        clip(e, 0.0, big, out=e)
        np.add(e, 1.0, out=ones_plus)
    e /= ones_plus
    np.multiply(capped, capped, out=square)
    square *= 6.0 * _TANH_K * _TANH_C
    square += 2.0 * _TANH_K
    square *= e
    square *= capped
    square += 1.0
    slope *= square


def _forward(x, approximate="none", keep=True):
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim or not x.size:
        return None
    y = np.empty(x.shape, x.dtype)
    saved = np.empty(x.shape, x.dtype) if keep else None
    if approximate == "tanh":
        big = float(np.finfo(x.dtype).max)

        def body(part, y_part, *rest):
            slope, scratch = (rest[0], rest[1:]) if keep else (None, rest)
            e, ones_plus, capped, square = scratch[:4]
            within_cap, no_overflow = _tanh_inside(part)
            capped = part if within_cap else capped
            _tanh_value_into(part, y_part, e, ones_plus, capped, big, within_cap)
            if keep:
                _tanh_slope_into(slope, e, ones_plus, capped, square, big, no_overflow)
        arrays = (x, y, saved) if keep else (x, y)
    elif keep:
        def body(part, y_part, lower, *scratch):
            _exact_into(part, y_part, lower, scratch)
        arrays = (x, y, saved)
    else:
        def body(part, y_part, *scratch):
            _exact_into(part, y_part, None, scratch)
        arrays = (x, y)
    with np.errstate(over="ignore"):                         # exp(-2u) beyond the float range: 0
        blocked(body, arrays, 8)
    return y, saved


def _value(x, approximate="none"):
    """The forward for a call no tape records: the exact form keeps no ``Phi(-|x|)`` (a pass
    fewer in float32)."""
    return _forward(x, approximate, keep=False)


def _normal_slope(x, r, out, scratch):
    """``out`` <- ``Phi(x) + x phi(x)`` from the forward's ``r = Phi(-|x|) - |x| phi(x)``: ``r``
    below 0 and ``1 - r`` above (nothing cancels in the negative tail)."""
    above = np.greater(x, 0.0)
    a = scratch[0]
    np.multiply(r, -2.0, out=a)
    a += 1.0
    a *= above
    np.add(r, a, out=out)
    return out


def _vjp_into(g, saved, x, approximate, out=None):
    """``g`` times the derivative of GELU at ``x`` (``saved`` the forward's: ``Phi(-|x|) - |x|
    phi(x)``, or the tanh form's derivative itself), into ``out`` (a new array where None)."""
    if approximate == "tanh":
        return np.multiply(g, saved, out=out, dtype=saved.dtype)

    def body(g_part, saved_part, x_part, out_part, *scratch):
        np.multiply(g_part, _normal_slope(x_part, saved_part, scratch[1], scratch), out=out_part)
    return gradient_by_blocks(body, g, (saved, x), 2, out=out)


def _vjp(g, saved, x, approximate="none"):
    return (_vjp_into(g, saved, x, approximate),)


def _vjp_in_place(g, saved, x, approximate="none"):
    if not (type(g) is np.ndarray and g.shape == saved.shape and g.dtype == saved.dtype
            and g.flags.c_contiguous and g.flags.writeable):
        return _vjp(g, saved, x, approximate)
    return (_vjp_into(g, saved, x, approximate, g),)


KERNEL = Kernel(_forward, _vjp, saves=(0,), vjp_in_place=_vjp_in_place, value=_value)

__all__ = ["KERNEL"]
