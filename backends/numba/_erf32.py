"""float32 ``erf``, ``erfc``, ``ndtr``, ``erfinv`` and ``ndtri`` for the Numba backend: the NumPy
backend's fitted polynomials (``backends/numpy/erf_float32.py``, fitted by
``tools/fit_erf32.py``) in one compiled loop each, in float32 arithmetic that LLVM vectorizes
(``_math``'s exp, log and tanh: no C library call in the loops).

- ``erf(x) = tanh(x G(x**2))``, ``x`` clipped to +-3.95;
- ``erfc``, ``ndtr``: ``Phi(-a) = t 2**(v Q(v)) exp(-k z**2)`` (``a = sqrt(2k) z``, ``z = |x|``,
  k 1 or 1/2), the Gaussian factor through ``z**2 = hi + lo`` exactly (an FMA) with ``lo`` in
  the exponential's reduced argument (``_gelu_math.times_exp_neg_square32``), the other side
  ``total - Phi(-a)``;
- ``erfinv(y) = y P(L + 2.5)`` or ``y R(sqrt(-L) - 3)`` beyond L = -5, ``L = log((1 - y)(1 + y))``;
- ``ndtri(p) = sqrt(2) erfinv(2q - 1)`` on ``q = min(p, 1 - p)``, its sign put back, with
  ``(1 - y)(1 + y)`` taken as ``(2 - 2q) 2q`` (no digit of a small ``q`` lost in ``2q - 1``);
  below q = 3e-8 (past erfinv's fitted range), and for p outside [0, 1] or NaN, the caller
  takes the float64 ``_special._ndtri`` (a second loop, run where there are such entries).

The coefficients are copies of ``erf_float32``'s (a test checks): compiled kernels keep their
constants, and the cache key (``_cache_key``) follows this package's files only.

>>> import numpy as np
>>> x = np.float32([-1.0, 0.0, 0.5, 3.0, np.nan])
>>> out = np.empty_like(x)
>>> erf32_loop(x, out); [round(float(v), 6) for v in out]
[-0.842701, 0.0, 0.5205, 0.999978, nan]
>>> p = np.float32([0.0, 0.025, 0.5, 0.975, 1.0, 2.0])
>>> out = np.empty_like(p)
>>> ndtri32_loop(p, out), [round(float(v), 5) for v in out[1:4]]
(3, [-1.95996, 0.0, 1.95996])
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..numpy.erf_float32 import _ERF_TANH as ERF_TANH
from ..numpy.erf_float32 import _ERFINV_FAR as ERFINV_FAR
from ..numpy.erf_float32 import _ERFINV_NEAR as ERFINV_NEAR
from ..numpy.erf_float32 import _TAIL as TAIL
from ..numpy.gelu import _C32 as C32
from ._gelu_math import times_exp_neg_square32
from ._math import LOOP_OPTIONS, MATH_FLAGS, exp_neg, log_pos, tanh

_F32 = np.float32
_SCALAR = {"fastmath": MATH_FLAGS, "error_model": "numpy", "cache": True}

# the NumPy backend's fits (tools/fit_erf32.py), as float32 constants of the compiled loops
_G, _Q = tuple(_F32(c) for c in ERF_TANH), tuple(_F32(c) for c in TAIL)
_P_NEAR, _R_FAR = tuple(_F32(c) for c in ERFINV_NEAR), tuple(_F32(c) for c in ERFINV_FAR)
_C, _HALF_C = _F32(C32), _F32(0.5 * C32)
_ERF_X_MAX = _F32(3.95)
#: float32 ``Phi(-a)`` rounds to 0 from a = 14.1 on (erfc from |x| = 10.0): ``z`` is capped
#: just beyond, where ``k z**2`` stays above -103.9 (``times_exp_neg_square32``'s range)
_NDTR_Z_MAX, _ERFC_Z_MAX = _F32(14.2), _F32(10.1)
_SQRT2, _LN2 = _F32(math.sqrt(2.0)), _F32(math.log(2.0))
_ONE, _TWO, _HALF, _ZERO = _F32(1.0), _F32(2.0), _F32(0.5), _F32(0.0)
_SPLIT, _INF = _F32(-5.0), _F32(np.inf)
#: ndtri's q below which erfinv's far fit (out to float32's largest y below 1) would be
#: extrapolated: such entries take the float64 ``_ndtri``
NDTRI_Q_MIN = _F32(3e-8)


# Horner's rule written out over tuples: a loop over a constant array is left rolled (and the
# kernel loop calling it scalar: 7 ns an entry instead of 0.3)
@njit(**_SCALAR)
def _poly7(c, u):
    return ((((((c[7] * u + c[6]) * u + c[5]) * u + c[4]) * u + c[3]) * u + c[2]) * u
            + c[1]) * u + c[0]


@njit(**_SCALAR)
def _poly8(c, u):
    return _poly7(c[1:], u) * u + c[0]


@njit(**_SCALAR)
def _poly9(c, u):
    return _poly8(c[1:], u) * u + c[0]


@njit(**_SCALAR)
def erf32(x):
    """float32 ``erf(x) = tanh(x G(x**2))``."""
    xc = _ERF_X_MAX if x > _ERF_X_MAX else x
    xc = -_ERF_X_MAX if xc < -_ERF_X_MAX else xc     # NaN passes both
    return tanh(xc * _poly7(_G, xc * xc))


@njit(**_SCALAR)
def lower_tail32(a, z, k):
    """``Phi(-a)`` for float32 ``a = sqrt(2k) z``, ``z`` in [0, 14.4] or NaN (the callers pass
    ``a`` themselves: a select on ``k`` here left the ndtr loop scalar)."""
    t = _HALF_C / (_C + a)
    v = a * t
    power = exp_neg(v * _poly9(_Q, v) * _LN2)     # 2**(v Q(v)), v Q(v) in [-2.4, 0]
    return times_exp_neg_square32(t * power, z, k)


@njit(**_SCALAR)
def erfinv_from_log32(y, log_p):
    """``erfinv(y)`` from ``log_p = log((1 - y)(1 + y))`` for float32 ``|y| < 1``."""
    near = y * _poly8(_P_NEAR, log_p + _F32(2.5))
    far = y * _poly8(_R_FAR, math.sqrt(-log_p) - _F32(3.0))
    return near if log_p >= _SPLIT else far


@njit(**_SCALAR)
def erfinv32(y):
    """float32 ``erfinv(y)``: +-inf at +-1, NaN outside [-1, 1]."""
    a = abs(y)
    p = (_ONE - a) * (_ONE + a)
    x = erfinv_from_log32(y, log_pos(p))
    x = y * _INF if a == _ONE else x
    return x if a <= _ONE else y - y + _F32(np.nan)


@njit(**LOOP_OPTIONS)
def erf32_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = erf32(x[i])


# erfc and ndtr select in the loop itself: LLVM leaves a scalar function holding the tail and
# the select uninlined (a scalar loop, 20x slower)
@njit(**LOOP_OPTIONS)
def erfc32_loop(x, out):
    """``erfc(x) = 2 Phi(-sqrt(2) |x|)``, or 2 minus that left of 0."""
    for i in range(x.shape[0]):
        z = min(abs(x[i]), _ERFC_Z_MAX)
        tail = _TWO * lower_tail32(z * _SQRT2, z, _ONE)
        other = _TWO - tail
        out[i] = other if x[i] < _ZERO else tail


@njit(**LOOP_OPTIONS)
def ndtr32_loop(x, out):
    """``Phi(x)``: ``Phi(-|x|)``, or 1 minus that right of 0."""
    for i in range(x.shape[0]):
        z = min(abs(x[i]), _NDTR_Z_MAX)
        tail = lower_tail32(z, z, _HALF)
        other = _ONE - tail
        out[i] = tail if x[i] < _ZERO else other


@njit(**LOOP_OPTIONS)
def erfinv32_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = erfinv32(x[i])


@njit(**LOOP_OPTIONS)
def ndtri32_loop(p, out):
    """float32 ``ndtri`` where ``q = min(p, 1 - p) >= 3e-8``; return how many entries are left
    (farther out, NaN, outside [0, 1]: ``_special.ndtri_rest32_loop`` fills them in)."""
    left = 0
    for i in range(p.shape[0]):
        upper = p[i] > _HALF
        q = _ONE - p[i] if upper else p[i]
        left += not q >= NDTRI_Q_MIN
        q = NDTRI_Q_MIN if q < NDTRI_Q_MIN else q
        two_q = _TWO * q
        x = _SQRT2 * erfinv_from_log32(two_q - _ONE, log_pos((_TWO - two_q) * two_q))
        out[i] = -x if upper else x
    return left
