"""The NumPy backend's GELU kernel: the generic rule's formulas (``ops/activations_torch.py``,
``ops/formulas.py``) as in-place ufunc passes over blocks that stay in cache.

The generic exact GELU evaluates ``erfc`` in about 30 NumPy passes, each making a new array
the size of the input: 16 ms forward on 4096x256 float32, against 4.7 ms here. Here each pass
writes into one of a few preallocated block-sized buffers
(``blocks.py``), and the forward keeps ``Phi(x)`` (or the tanh form's ``sigmoid(2u)``) for
the backward, as the silu kernel keeps its sigmoid. The values are the generic rule's to a
rounding or two: the float32 ``erfc`` polynomial runs in ``u = t / 2`` with its coefficients
scaled by powers of two (exact), and ``Phi(x)`` for ``x > 0`` is ``h + (1 - 2h)`` instead of
``1 - h``. The limits at +-inf are the generic rule's (``gelu(-inf)`` is -0.0 here, 0.0 there).

>>> import numpy as np
>>> x = np.array([-np.inf, -1.0, 0.0, 1.0, np.inf], np.float32)
>>> y, cdf = KERNEL.forward(x)
>>> [round(float(v), 4) for v in y]
[-0.0, -0.1587, 0.0, 0.8413, inf]
>>> [round(float(v), 4) for v in KERNEL.vjp(np.ones(5, np.float32), cdf, x)[0]]
[0.0, -0.0833, 0.5, 1.0833, 1.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops.activations_torch import _INV_SQRT_2PI, _SQRT_HALF, _TANH_C, _TANH_K
from xpgrad.ops.formulas import _ERFC_COEFFS, _ERFC_FLOAT32

from .activations import _FLOATS, _finite, _sigmoid_into
from .blocks import blocked, gradient_by_blocks
from .ufuncs import clip

#: the float32 erfc exponent's coefficients for the polynomial in u = t / 2 (lowest first)
_HALVED_T = tuple(c * 2.0 ** k for k, c in enumerate(_ERFC_FLOAT32))


def _horner_into(coeffs, u, out):
    """``out`` <- ``sum(c_k u**k)`` (lowest coefficient first) in ``u``'s dtype."""
    np.multiply(u, coeffs[-1], out=out)
    out += coeffs[-2]
    for c in coeffs[-3::-1]:
        out *= u
        out += c
    return out


def _erfc_half32(z, out, scratch):
    """``out`` <- ``erfc(z) / 2`` for float32 ``z`` in [0, 30] (``z`` is overwritten)."""
    u = scratch[0]
    np.add(z, 2.0, out=u)
    np.divide(1.0, u, out=u)                     # u = t / 2, t = 2 / (2 + z)
    _horner_into(_HALVED_T, u, out)
    np.multiply(z, z, out=z)
    out -= z
    np.exp(out, out=out)
    out *= u
    return out


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


def _normal_cdf_into(x, out, scratch):
    """``out`` <- ``Phi(x) = erfc(-x / sqrt 2) / 2``."""
    z, mask = scratch[-2:]
    np.abs(x, out=z)
    z *= _SQRT_HALF
    clip(z, 0.0, 30.0, out=z)                    # (clip: a faster loop than minimum's)
    (_erfc_half32 if x.dtype == np.float32 else _erfc_half64)(z, out, scratch)
    # erfc(v) / 2 for v <= 0 (x >= 0) is 1 - erfc(|v|) / 2: out + (x > 0) (1 - 2 out)
    np.greater(x, 0.0, out=mask)
    np.multiply(out, -2.0, out=z)
    z += 1.0
    z *= mask
    out += z
    return out


def _doubled_tanh_argument(x, out, cube):
    """``out`` <- ``2u = 2 sqrt(2/pi) (x + 0.044715 x**3)``, ``x`` clipped to +-1e4."""
    clip(x, -1e4, 1e4, out=out)
    np.multiply(out, _TANH_C, out=cube)
    cube *= out
    cube *= out
    out += cube
    out *= 2.0 * _TANH_K
    return out


def _tanh_cdf_into(x, out, scratch):
    """``out`` <- ``sigmoid(2u)``, the tanh form's ``(1 + tanh(u)) / 2``."""
    return _sigmoid_into(_doubled_tanh_argument(x, scratch[0], scratch[1]), out)


def _forward(x, approximate="none"):
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    y, cdf = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
    fill, buffers = (_tanh_cdf_into, 2) if approximate == "tanh" else (_normal_cdf_into, 7)
    big = np.finfo(x.dtype).max

    def body(part, y_part, cdf_part, *scratch):
        fill(part, cdf_part, scratch)
        clip(part, -big, np.inf, out=y_part)                # -inf * 0 would be NaN
        y_part *= cdf_part
    with np.errstate(over="ignore"):               # exp(-2u) beyond the float range: 0
        blocked(body, (x, y, cdf), buffers)
    return y, cdf


def _normal_slope(x, cdf, out, scratch):
    """``out`` <- ``Phi(x) + x phi(x)``, ``|x|`` capped at 40 in phi's exponent and ``x``
    clipped to the finite range (at +-inf phi is 0: no inf * 0)."""
    finite = scratch[0]
    np.abs(x, out=finite)
    clip(finite, 0.0, 40.0, out=finite)
    np.multiply(finite, -0.5, out=out)
    out *= finite
    np.exp(out, out=out)
    out *= _INV_SQRT_2PI
    out *= _finite(x, finite)
    out += cdf
    return out


def _tanh_slope(x, cdf, out, scratch):
    """``out`` <- ``cdf + x 2 cdf sigmoid(-2u) sqrt(2/pi) (1 + 3 0.044715 x**2)``, with ``x``
    0 beyond +-1e4 (where the tanh is saturated)."""
    two_u, cube = scratch[:2]
    complement = _sigmoid_into(_doubled_tanh_argument(x, two_u, cube), cube, -1.0)
    np.multiply(cdf, 2.0, out=out)
    out *= complement
    out *= _TANH_K
    xs = clip(x, -1e4, 1e4, out=two_u)
    np.less(np.abs(x, out=complement), 1e4, out=complement)
    xs *= complement
    np.multiply(xs, 3.0 * _TANH_C, out=complement)
    complement *= xs
    complement += 1.0
    out *= complement
    out *= xs
    out += cdf
    return out


def _vjp_into(g, cdf, x, approximate, out=None):
    """``g`` times the derivative of GELU at ``x`` (``cdf`` the forward's), into ``out`` (a
    new array where None)."""
    slope = _tanh_slope if approximate == "tanh" else _normal_slope

    def body(g_part, cdf_part, x_part, out_part, *scratch):
        np.multiply(g_part, slope(x_part, cdf_part, scratch[2], scratch), out=out_part)
    return gradient_by_blocks(body, g, (cdf, x), 3, out=out, ignore=("over",))


def _vjp(g, cdf, x, approximate="none"):
    return (_vjp_into(g, cdf, x, approximate),)


def _vjp_in_place(g, cdf, x, approximate="none"):
    if not (type(g) is np.ndarray and g.shape == cdf.shape and g.dtype == cdf.dtype
            and g.flags.c_contiguous and g.flags.writeable):
        return _vjp(g, cdf, x, approximate)
    return (_vjp_into(g, cdf, x, approximate, g),)


KERNEL = Kernel(_forward, _vjp, saves=(0,), vjp_in_place=_vjp_in_place)

__all__ = ["KERNEL"]
