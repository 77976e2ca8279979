"""Scalar math for the Numba kernels, written so that LLVM vectorizes the loops calling it.

Numba calls the C library for ``exp``/``log1p``, and LLVM cannot vectorize such calls
without a vector math library (SVML). These versions use only +, *, compares, selects and bit
casts, so a loop over them compiles to SIMD code. Each is accurate to about 1 ulp of its dtype
(tests compare them with NumPy) and lets NaN through. The bit-level intrinsics they build on
(``split_float``, ``pow2_of_rounded``, ``ordered_key``, ...) are ``_float_bits.py``'s.

Numba compiles these helpers into the kernels that call them and checks only the kernel's own
file; the backend's cache directory is keyed by a hash of every file here (``_cache_key``), so
after an edit of this one the next process compiles the kernels anew.

Compile these helpers without ``reassoc``: the exponential's rounding trick
(``(x + MAGIC) - MAGIC``) must not be simplified away. Callers may use ``reassoc``; LLVM keeps
each inlined instruction's own flags.

>>> import numpy as np
>>> from numba import njit
>>> f = njit(lambda x: (exp_neg(x), log1p01(-x), sigmoid(x), expm1_neg(x), tanh(x)))
>>> [round(float(v), 6) for v in f(np.float32(-0.5))]
[0.606531, 0.405465, 0.377541, -0.393469, -0.462117]
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._float_bits import (key_to_float, ordered_key, pow2_of_rounded,  # noqa: F401
                          split_float)

#: fast-math flags for kernel loops: reassociation (vectorized sums), FMA contraction,
#: reciprocals, no signed zeros. Never 'nnan'/'ninf'/'afn': NaN and inf must propagate and
#: sqrt/division must stay exact.
LOOP_FLAGS = {"nsz", "arcp", "contract", "reassoc"}
#: Numba options of every kernel loop: those flags, NumPy's error model (a division by zero
#: gives inf or NaN, never an exception) and the disk cache
LOOP_OPTIONS = {"fastmath": LOOP_FLAGS, "error_model": "numpy", "cache": True}
MATH_FLAGS = {"contract"}
_JIT = {"fastmath": MATH_FLAGS, "error_model": "numpy"}

_F32 = np.float32


# -- exp(x) for x <= 0 -------------------------------------------------------------------------
# Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, then a polynomial for exp(r).
# float32: Cephes expf polynomial (degree 7); float64: Taylor series to degree 13
# (truncation error below 1e-17 on |r| <= ln2/2).
_E32 = tuple(_F32(c) for c in (1.4426950408889634, 0.693359375, -2.12194440e-4, 12582912.0,
                               -87.33654, 1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                               4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1))
_E64 = (1.4426950408889634, 6.93147180369123816490e-01, 1.90821492927058770002e-10,
        6755399441055744.0, -708.3964185322641)
_T64 = tuple(1.0 / float(np.prod(np.arange(1, k + 1, dtype=np.float64))) for k in range(13, 1, -1))
# exp_neg's subnormal results: 2**k is built as 2**(k + UP) (MAGIC + UP puts k + UP in the low
# bits), normal down to the lowest k, and the polynomial's last step, ``+ 1``, is taken as
# ``* 2**-UP + 2**-UP`` (one FMA: exact scaling, the same rounding), so the one product with
# 2**(k + UP) rounds onto the subnormal grid: no instruction more than a flush to 0 costs.
# (MAGIC + UP, the lowest argument whose exponential rounds above 0, 2**-UP); UP = 26 / 54.
_SUB32 = (_F32(12582912.0 + 26), _F32(-103.97208), _F32(2.0 ** -26))
_SUB64 = (6755399441055744.0 + 54, -745.1332191019412, 2.0 ** -54)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _exp_parts32(x, magic, lo):
    """``(r, p, 2**(k + u))`` with ``exp(x) = 2**k * (1 + r + r*r*p)`` for ``x`` clamped at
    ``lo`` (callers select that case away); ``magic`` is MAGIC + u."""
    log2e, ln2hi, ln2lo, _, _, p0, p1, p2, p3, p4, p5 = _E32
    xc = lo if x < lo else x
    t = xc * log2e + magic
    k = t - magic
    r = (xc - k * ln2hi) - k * ln2lo
    p = ((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5
    return r, p, pow2_of_rounded(t)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _exp_parts64(x, magic, lo):
    """``_exp_parts32`` in float64."""
    log2e, ln2hi, ln2lo, _, _ = _E64
    xc = lo if x < lo else x
    t = xc * log2e + magic
    k = t - magic
    r = (xc - k * ln2hi) - k * ln2lo
    c = _T64
    p = ((((((((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) * r + c[6])
               * r + c[7]) * r + c[8]) * r + c[9]) * r + c[10]) * r + c[11]
    return r, p, pow2_of_rounded(t)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _exp_neg32(x):
    magic, lo, down = _SUB32
    r, p, scale_up = _exp_parts32(x, magic, lo)
    y = ((p * (r * r) + r) * down + down) * scale_up
    return _F32(0.0) if x < _SUB32[1] else y


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _exp_neg64(x):
    magic, lo, down = _SUB64
    r, p, scale_up = _exp_parts64(x, magic, lo)
    y = ((p * (r * r) + r) * down + down) * scale_up
    return 0.0 if x < _SUB64[1] else y


def exp_neg(x):
    """``exp(x)`` for ``x <= 0`` or NaN, subnormal results included (NumPy's to 2 ulps); valid
    up to x = 70 in float32, 670 in float64 (2**(k + UP) must stay finite)."""
    return np.exp(x)


@overload(exp_neg, jit_options=_JIT)
def _exp_neg_impl(x):
    if x == types.float32:
        return lambda x: _exp_neg32(x)
    if x == types.float64:
        return lambda x: _exp_neg64(x)
    return None


# -- expm1(x) for x <= 0: the same reduction as exp_neg, without 1 + (r + r*r*p) rounding away
# the low digits: expm1(x) = 2**k (r + r*r*p) + (2**k - 1), which is exact (k = 0) or free of
# cancellation (k <= -1: 2**k - 1 <= -1/2 dominates).
@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _expm1_neg32(x):
    r, p, scale = _exp_parts32(x, _E32[3], _E32[4])
    y = scale * (p * (r * r) + r) + (scale - _F32(1.0))
    return _F32(-1.0) if x < _E32[4] else y


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _expm1_neg64(x):
    r, p, scale = _exp_parts64(x, _E64[3], _E64[4])
    y = scale * (p * (r * r) + r) + (scale - 1.0)
    return -1.0 if x < _E64[4] else y


def expm1_neg(x):
    """``expm1(x)`` for ``x <= 0`` or NaN (-1 below exp's underflow)."""
    return np.expm1(x)


@overload(expm1_neg, jit_options=_JIT)
def _expm1_neg_impl(x):
    if x == types.float32:
        return lambda x: _expm1_neg32(x)
    if x == types.float64:
        return lambda x: _expm1_neg64(x)
    return None


# -- log1p(e) for 0 <= e <= 1 -----------------------------------------------------------------
# log1p(e) = 2 atanh(s), s = e / (2 + e) in [0, 1/3]; atanh(s)/s = sum z**k / (2k + 1), z = s*s.
_L32 = tuple(_F32(1.0 / (2 * k + 1)) for k in range(7, 0, -1))
_L64 = tuple(1.0 / (2 * k + 1) for k in range(17, 0, -1))


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _log1p01_32(e):
    s = e / (_F32(2.0) + e)
    z = s * s
    c = _L32
    p = (((((c[0] * z + c[1]) * z + c[2]) * z + c[3]) * z + c[4]) * z + c[5]) * z + c[6]
    return _F32(2.0) * (s + s * z * p)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _log1p01_64(e):
    s = e / (2.0 + e)
    z = s * s
    c = _L64
    p = c[0]
    p = (((((((p * z + c[1]) * z + c[2]) * z + c[3]) * z + c[4]) * z + c[5]) * z + c[6]) * z
         + c[7])
    p = (((((((p * z + c[8]) * z + c[9]) * z + c[10]) * z + c[11]) * z + c[12]) * z + c[13])
         * z + c[14])
    p = (p * z + c[15]) * z + c[16]
    return 2.0 * (s + s * z * p)


def log1p01(e):
    """``log1p(e)`` for ``0 <= e <= 1`` or NaN."""
    return np.log1p(e)


@overload(log1p01, jit_options=_JIT)
def _log1p01_impl(e):
    if e == types.float32:
        return lambda e: _log1p01_32(e)
    if e == types.float64:
        return lambda e: _log1p01_64(e)
    return None


# -- log(x) for x > 0: x = f 2**k with f in [sqrt(1/2), sqrt(2)), log(x) = k ln2 + log1p(f - 1);
# f - 1 is exact, and log1p01's series converges as well for f - 1 in [-0.3, 0) (|s| < 0.18)
def log_pos(x):
    """``log(x)`` for ``x > 0``; NaN and +inf pass through (subnormal ``x``: wrong)."""
    return np.log(x)


@overload(log_pos, jit_options=_JIT)
def _log_pos_impl(x):
    if x not in (types.float32, types.float64):
        return None
    ln2 = _F32(0.6931471805599453) if x == types.float32 else 0.6931471805599453
    one = _F32(1.0) if x == types.float32 else 1.0
    inf = _F32(np.inf) if x == types.float32 else np.inf

    half = one / (one + one)
    sqrt2 = _F32(1.4142135) if x == types.float32 else 1.4142135623730951

    def impl(x):
        f, k = split_float(x)
        big = f > sqrt2
        f = f * half if big else f
        k = k + one if big else k
        y = k * ln2 + log1p01(f - one)
        return y if x < inf else x

    return impl


# -- the logistic function ---------------------------------------------------------------------
def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow, the generic rule's formula."""
    return 1.0 / (1.0 + np.exp(-x))


@overload(sigmoid, jit_options=_JIT)
def _sigmoid_impl(x):
    if x not in (types.float32, types.float64):
        return None
    one = _F32(1.0) if x == types.float32 else 1.0

    def impl(x):
        e = exp_neg(-abs(x))
        r = one / (one + e)             # one division: e / (1 + e) is e * r
        return r if x >= 0 else e * r

    return impl


# -- the hyperbolic tangent ------------------------------------------------------------------
def tanh(x):
    """``tanh(x)``: ``-m / (2 + m)`` with ``m = expm1(-2|x|)``, the sign of ``x`` put back
    (within 3 ulp of the true value in float32 and float64)."""
    return np.tanh(x)


@overload(tanh, jit_options=_JIT)
def _tanh_impl(x):
    if x not in (types.float32, types.float64):
        return None
    two = _F32(2.0) if x == types.float32 else 2.0
    zero = two - two

    def impl(x):
        m = expm1_neg(-two * abs(x))
        y = -m / (two + m)
        if x == zero:
            return x                    # keeps the sign of a zero
        return -y if x < zero else y

    return impl


# -- the complementary error function ---------------------------------------------------------
# formulas.erfc's two forms: erfc(z) = t exp(-z*z + P(t)), t = 2 / (2 + z), z = |v| clipped at
# 30; P a polynomial in t (float32) or a Chebyshev series in 4t - 2 (float64). The coefficients
# are copies of formulas' (a test checks): compiled kernels keep their constants, and the
# cache key (``_cache_key``) follows this package's files only.
ERFC_FLOAT32 = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)
ERFC_COEFFS = (
    -1.3026537197817094, 0.6419697923564902, 0.019476473204185756,
    -0.009561514786808528, -0.0009465953444820287, 0.00036683949785273906,
    4.252332480708388e-05, -2.027857811259817e-05, -1.6242900041714467e-06,
    1.303655835168244e-06, 1.5626442410425238e-08, -8.523809643466487e-08,
    6.529055022630698e-09, 5.0593429854563584e-09, -9.913636700637783e-10,
    -2.2736569335075878e-10, 9.646880185760507e-11, 2.3933469422714144e-12,
    -6.885428434737109e-12, 8.939401351750337e-13, 3.1335314757997646e-13,
    -1.1311492654802512e-13, 8.33208848983016e-16, 6.416604603120215e-15,
)
_ERFC32 = tuple(_F32(c) for c in ERFC_FLOAT32)
_ERFC64_FIRST = ERFC_COEFFS[0]
# Clenshaw runs backwards, over an array (a constant of the compiled code): LLVM unrolls it, and
# a loop calling only the series vectorizes (2.0-2.5 ns per entry on two cores at load 8, 1.5 on
# a quieter machine; 16 with ``literal_unroll`` over a tuple). gelu's float64 loops, with an exp
# besides, still run scalar (_gelu_math).
_ERFC64_REST = np.array(ERFC_COEFFS[:0:-1])


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _erfc_exponent32(t):
    c = _ERFC32
    return ((((((((c[9] * t + c[8]) * t + c[7]) * t + c[6]) * t + c[5]) * t + c[4]) * t + c[3])
             * t + c[2]) * t + c[1]) * t + c[0]


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _erfc_exponent64(t):
    ty = 4.0 * t - 2.0
    d = dd = 0.0
    for k in range(_ERFC64_REST.shape[0]):          # Clenshaw's recurrence
        d, dd = ty * d - dd + _ERFC64_REST[k], d
    return 0.5 * (_ERFC64_FIRST + ty * d) - dd


def erfc(v):
    """``1 - erf(v)``, formulas.erfc's formulas (relative error ~1e-7 in float32, ~1e-13 in
    float64, in the tail too)."""
    import array_api_compat.numpy as xp

    from xpgrad.ops import formulas
    return formulas.erfc(xp, np.asarray(v))


@overload(erfc, jit_options=_JIT)
def _erfc_impl(v):
    if v not in (types.float32, types.float64):
        return None
    exponent = _erfc_exponent32 if v == types.float32 else _erfc_exponent64
    one = _F32(1.0) if v == types.float32 else 1.0
    two, cap, zero = one + one, one * 30, one - one

    def impl(v):
        z = abs(v)
        z = cap if z > cap else z
        t = two / (two + z)
        tail = t * exp_neg(exponent(t) - z * z)
        return tail if v >= zero else two - tail

    return impl
