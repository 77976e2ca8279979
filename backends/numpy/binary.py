"""NumPy kernels of two-argument elementwise functions whose NumPy ufuncs are scalar loops:
``logaddexp`` and float32 ``remainder``, rewritten as a few vectorized ufunc passes.

``np.logaddexp`` calls the C library's ``exp`` and ``log1p`` once per element: 840 us for
256x256 float32. Here it is ``max + log1p(exp(min - max))``, the same formula, in vectorized
passes, from the difference taken exactly in float64 (150 us; within half an ulp, where
NumPy's float32 loop is up to 760 ulps off near 0); its gradient ``g exp(x - out)`` is three
more passes per input. ``np.remainder`` runs a scalar ``divmod`` per element (920 us for
256x256 float32); a float32 pair's remainder is exact in float64 arithmetic (``x - floor(x /
y) y`` while the quotient has under 29 bits), so it is that, rounded once to float32, as
NumPy's own addition rounds it (170 us); the entries it cannot vouch for (a quotient rounded
up to the next integer, past 2**29, an infinite or zero divisor, NaN) go to ``np.remainder``
itself. float64 has no wider type here: its ``remainder`` stays NumPy's.

>>> x, y = np.array([1.0, -np.inf, 3.0]), np.array([2.0, -np.inf, np.nan])
>>> out, _ = KERNELS["logaddexp"].forward(x, y)
>>> out.round(6).tolist()
[2.313262, -inf, nan]
>>> KERNELS["remainder"].forward(np.float32([5.5, -1.0, 3.0]), np.float32([2.0, 2.0, -2.0]))[0]
array([ 1.5,  1. , -1. ], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import _FLOAT_SET

#: float32 quotients below this are exact integers whose product with a float32 divisor is
#: exact in float64 (29 + 24 bits)
_EXACT_QUOTIENT = 2.0 ** 29
_NOT_MINE = (NotImplemented, NotImplemented)


def _float_pair(x, y):
    """Both arrays (not 0-d both: NumPy would answer scalars) of one float dtype."""
    return (x.__class__ is np.ndarray and y.__class__ is np.ndarray and x.dtype in _FLOAT_SET
            and x.dtype == y.dtype and (x.ndim or y.ndim))


def _logaddexp_forward(x, y):
    """``max + log1p(exp(min - max))``, NumPy's formula, in float64 (a float32 pair's
    difference is exact there, and the result is rounded once: within an ulp where NumPy's
    float32 loop is hundreds of ulps off near 0, where ``log1p`` cancels ``max``); the same
    infinity twice (``min - max`` is NaN) gives that infinity, as NumPy's ``x == y`` case."""
    if not _float_pair(x, y):
        return None
    top = np.maximum(x, y)
    with np.errstate(invalid="ignore"):
        wide = np.subtract(np.minimum(x, y), top, dtype=np.float64)
    np.exp(wide, out=wide)
    np.log1p(wide, out=wide)
    wide += top
    out = wide if wide.dtype == x.dtype else wide.astype(x.dtype)
    if np.isnan(out).any():
        np.copyto(out, top, where=np.isinf(top))
    return out, out


def _weight(g, a, out):
    """``g exp(a - out)``, the gradient for input ``a``."""
    w = np.subtract(a, out)
    np.exp(w, out=w)
    w *= g
    return w


def _logaddexp_vjp(g, out, x, y):
    if not np.isfinite(out).all():     # inf - inf: the generic rule's selects
        return _NOT_MINE
    return _weight(g, x, out), _weight(g, y, out)


def _float32_operands(x, y):
    """``x`` and ``y`` as float32 arrays where one is a float32 array and the other one too or
    a Python number; else None."""
    arrays = [v for v in (x, y) if v.__class__ is np.ndarray]
    if not arrays or any(a.dtype != np.float32 for a in arrays):
        return None
    if any(v.__class__ is not np.ndarray and v.__class__ not in (float, int) for v in (x, y)):
        return None
    if not any(a.ndim for a in arrays):          # 0-d: NumPy would answer a scalar
        return None
    return tuple(np.asarray(v, np.float32) for v in (x, y))


def _remainder_forward(x, y):
    """float32 ``x % y`` (Python's sign convention, as ``np.remainder``) through float64."""
    pair = _float32_operands(x, y)
    if pair is None:
        return None
    x, y = pair
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(all="ignore"):
        q = np.divide(x64, y64)
        np.floor(q, out=q)
        r = np.multiply(q, y64)
        np.subtract(x64, r, out=r)                   # exact below _EXACT_QUOTIENT
        share = np.divide(r, y64)                    # in [0, 1) where q was the floor
        vouched = share >= 0.0
        vouched &= share < 1.0
        np.abs(q, out=q)
        vouched &= q < _EXACT_QUOTIENT
    out = r.astype(np.float32)
    np.copysign(out, y, out=out)                     # a zero takes the divisor's sign
    if not vouched.all():
        doubt = ~vouched
        xb, yb = np.broadcast_arrays(x, y)
        out[doubt] = np.remainder(xb[doubt], yb[doubt])
    return out, None


def _remainder_vjp(g, saved, x, y):
    return _NOT_MINE                    # the generic rules: g, and -g floor(x / y) from out


KERNELS = {
    "logaddexp": Kernel(_logaddexp_forward, _logaddexp_vjp, saves=(0, 1, "output")),
    "remainder": Kernel(_remainder_forward, _remainder_vjp, saves=(0, 1, "output")),
}
