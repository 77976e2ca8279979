"""NumPy kernels of two-argument elementwise functions whose NumPy ufuncs are scalar loops:
``logaddexp``, ``remainder`` and float32 ``hypot``, rewritten as vectorized ufunc passes.

``np.logaddexp`` calls the C library's ``exp`` and ``log1p`` once per element: 840 us for
256x256 float32. Here it is ``max + log1p(exp(min - max))``, the same formula, in vectorized
passes, from the difference taken exactly in float64 (150 us; within half an ulp, where
NumPy's float32 loop is up to 760 ulps off near 0); its gradient ``g exp(x - out)`` is three
more passes per input.

``np.remainder`` runs a scalar ``divmod`` per element (920 us for 256x256 float32, 1100
float64). Its value is ``x - floor(x / y) y`` rounded once (NumPy's ``fmod`` is exact, and
it adds ``y`` where the signs differ): a float32 pair's is exact in float64 while the
quotient has under 29 bits (170 us), a float64 pair's with ``q y`` split into an exact sum by
Dekker's product (550 us); the entries either cannot vouch for (a quotient rounded to the
next integer, underflow, an infinite or zero divisor, NaN) go to ``np.remainder`` itself, so
the values are NumPy's, bit for bit.

``np.hypot`` calls the C library's ``hypotf`` per element (180 us for 256x256 float32,
PyTorch's 48); a float32 ``sqrt(x**2 + y**2)`` is four vectorized passes (40 us), within 1.2
ulp where no square leaves float32's normal range, and the entries where one may have go to
``np.hypot``. float64 stays with ``np.hypot``'s values.

>>> x, y = np.array([1.0, -np.inf, 3.0]), np.array([2.0, -np.inf, np.nan])
>>> out, _ = KERNELS["logaddexp"].forward(x, y)
>>> out.round(6).tolist()
[2.313262, -inf, nan]
>>> KERNELS["remainder"].forward(np.float32([5.5, -1.0, 3.0]), np.float32([2.0, 2.0, -2.0]))[0]
array([ 1.5,  1. , -1. ], dtype=float32)
>>> KERNELS["remainder"].forward(np.array([-5e-324, 7.5]), np.array([7.0, -2.0]))[0].tolist()
[7.0, -0.5]
>>> KERNELS["hypot"].forward(np.float32([3.0, 0.0, 1e30]), np.float32([4.0, 0.0, 1e30]))[0]
array([5.0000000e+00, 0.0000000e+00, 1.4142135e+30], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import _FLOAT_SET

#: float32 quotients below this are exact integers whose product with a float32 divisor is
#: exact in float64 (29 + 24 bits)
_EXACT_QUOTIENT = 2.0 ** 29
_VELTKAMP = 2.0 ** 27 + 1.0
#: a float64 product q y below this has low halves whose products are subnormal
_SMALLEST_PRODUCT = 2.0 ** -967
_NOT_MINE = (NotImplemented, NotImplemented)
#: a float32 ``sqrt(x**2 + y**2)`` in this range squared nothing past float32's range (nor into
#: its subnormals, where the smaller square's lost digits would show)
_HYPOT_SAFE = (2.0 ** -50, 2.0 ** 60)


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


def _remainder_operands(x, y):
    """``x`` and ``y`` as arrays of one float dtype where one is a float32 or float64 array
    and the other one of its dtype too or a Python number; else None."""
    arrays = [v for v in (x, y) if v.__class__ is np.ndarray]
    if not arrays or arrays[0].dtype not in _FLOAT_SET or \
            any(a.dtype != arrays[0].dtype for a in arrays):
        return None
    if any(v.__class__ is not np.ndarray and v.__class__ not in (float, int) for v in (x, y)):
        return None
    if not any(a.ndim for a in arrays):          # 0-d: NumPy would answer a scalar
        return None
    return tuple(np.asarray(v, arrays[0].dtype) for v in (x, y))


def _vouched(r, y):
    """Where ``r`` lies in ``[0, y)`` (y > 0) or ``(y, 0]`` (y < 0): a floor's remainder. (Not
    by ``r / y``, which can underflow to a zero.)"""
    ok = r >= 0.0
    ok &= r < y
    below = r <= 0.0
    below &= r > y
    ok |= below
    return ok


def _float32_remainder(x, y):
    """``x - floor(x / y) y`` in float64, exact while the quotient is below 2**29 (its
    product with a float32 has under 53 bits), and whether each entry is vouched for."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    q = np.divide(x64, y64)
    np.floor(q, out=q)
    r = np.multiply(q, y64)
    np.subtract(x64, r, out=r)
    vouched = _vouched(r, y64)
    np.abs(q, out=q)
    vouched &= q < _EXACT_QUOTIENT
    return r.astype(np.float32), vouched


def _split(a):
    """Veltkamp's split of float64 ``a`` into halves of 26 bits: ``a = hi + lo`` exactly."""
    c = a * _VELTKAMP
    hi = c - (c - a)
    return hi, a - hi


def _float64_remainder(x, y):
    """``x - floor(x / y) y`` with ``q y = p + e`` exactly (Dekker's product from the halves),
    so ``(x - p) - e`` is one rounding of the exact value (``x - p`` is exact: within a factor
    2 for |q| >= 2, ``p = -+y`` exactly for |q| = 1), as NumPy's ``fmod + y`` is; vouched for
    where that lands in the floor's range and ``q y`` is no smaller than 2**-967 (below, the
    low halves' products lose bits to subnormals) or ``q`` is 0."""
    q = np.divide(x, y)
    np.floor(q, out=q)
    p = q * y
    q_hi, q_lo = _split(q)
    y_hi, y_lo = _split(y)
    e = q_hi * y_hi
    e -= p
    e += q_hi * y_lo
    e += q_lo * y_hi
    e += q_lo * y_lo
    r = np.subtract(x, p)
    r -= e
    vouched = _vouched(r, y)
    np.abs(p, out=p)
    vouched &= (p >= _SMALLEST_PRODUCT) | (q == 0.0)
    return r, vouched


def _remainder_forward(x, y):
    """``x % y`` (Python's sign convention, as ``np.remainder``), float32 or float64."""
    pair = _remainder_operands(x, y)
    if pair is None:
        return None
    x, y = pair
    with np.errstate(all="ignore"):
        out, vouched = (_float32_remainder if x.dtype == np.float32 else _float64_remainder)(x, y)
    np.copysign(out, y, out=out)                     # a zero takes the divisor's sign
    if not vouched.all():
        doubt = ~vouched
        xb, yb = np.broadcast_arrays(x, y)
        out[doubt] = np.remainder(xb[doubt], yb[doubt])
    return out, None


def _generic_vjps(g, saved, x, y):
    return _NOT_MINE            # the generic rules (remainder: g, and -g floor(x / y) from out)


def _hypot_forward(x, y):
    """float32 ``sqrt(x**2 + y**2)`` in four passes (within 1.2 ulp, bit-equal to NumPy's on
    88% of inputs), the entries whose result lies outside ``_HYPOT_SAFE`` (a square overflowed
    or underflowed, a zero, an infinity, NaN) by ``np.hypot``."""
    if not _float_pair(x, y):
        return None
    if x.dtype != np.float32:
        return np.hypot(x, y), None         # float64: NumPy's (the generic rule's) values
    out = np.empty(np.broadcast_shapes(x.shape, y.shape), np.float32)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        np.multiply(x, x, out=out)
        out += np.multiply(y, y)
        np.sqrt(out, out=out)
    low, high = _HYPOT_SAFE
    if out.size and not (out.min() >= low and out.max() <= high):   # (NaN fails both)
        doubt = ~((out >= low) & (out <= high))
        xb, yb = np.broadcast_arrays(x, y)
        with np.errstate(over="ignore"):      # past float32's range: inf, as NumPy's
            out[doubt] = np.hypot(xb[doubt], yb[doubt])
    return out, None


KERNELS = {
    "logaddexp": Kernel(_logaddexp_forward, _logaddexp_vjp, saves=(0, 1, "output")),
    "remainder": Kernel(_remainder_forward, _generic_vjps, saves=(0, 1, "output")),
    "hypot": Kernel(_hypot_forward, _generic_vjps, saves=(0, 1, "output")),
}
