"""The normal distribution's lower tail for the Numba gelu loops (``_act_kernels``).

``gelu_lower(x)`` is ``x Phi(-|x|)`` (Phi, phi: the standard normal's CDF and density);
``gelu_lower_and_slope(x)`` is that and ``Phi(-|x|) - |x| phi(x)``, sharing their work (a taped
forward saves the slope for the backward). gelu's value ``x Phi(x)`` is that at
``x <= 0`` and ``x - x Phi(-x)`` above; its slope ``Phi(x) + x phi(x)`` is the second, or 1
minus it above 0: nothing cancels on either side, and the negative tail stays exact in
relative terms down to float32's subnormals (PyTorch's ``1 + erf(x)`` is 0 below x = -5.9).

float32: ``Phi(-u) = exp(-u**2 / 2) R(u)``, ``R(u) = erfcx(u / sqrt 2) / 2``, with
- ``R`` a rational function of degrees 4 and 5 fitted on [0, CAP32] (``tools/fit_gelu_tail.py``:
  relative error 6e-9), evaluated in float64: in float32 its ten roundings alone reach 6 ulp;
- ``u**2 = hi + lo`` exactly (an FMA), ``lo`` taken into the exponential's reduced argument:
  the rounding of ``u**2`` would cost about ``u**2 / 2`` ulp (50 at u = 10);
- the exponential's last step multiplying the rational's value in (one rounding, no separate
  product; subnormal results rounded once, as ``_math.exp_neg``'s).
Values within 1.72 ulp of ``x Phi(x)`` on every 16th float32 in [-16, 16], slopes within 1.8
ulp of ``Phi(x) + |x| phi(x)`` (tests: every 509th float32). The loops vectorize; one thread,
4096x256: forward 1.2x, backward 1.6x faster than the ``_math.erfc`` form they replace, whose
float32 tail was 250 ulp off (it rounded ``x / sqrt 2`` and ``z**2``); the forward 1.0-1.1 ns
per entry, the taped one 1.2, PyTorch's 0.95 (medians of thread CPU time, 2 shared cores at load
8). An all-float32 ``R`` ran the forward about 30% faster, at up to 5.7 ulp.

float64: ``_math.erfc``'s series ``t exp(-z**2 + E(t)) / 2`` (t = 2 / (2 + z), z = u / sqrt 2)
with ``-z**2`` as ``-(hi + lo) / 2`` and the rounding of ``E(t) - hi / 2`` put back (TwoSum):
within 4e-15 of mpmath on [-37, 9] (the plain form: 1e-13 at -37). These loops do not
vectorize (nor did the ones they replace): 32 ns per entry, the taped forward 40, PyTorch's 8.

>>> import numpy as np
>>> from numba import njit
>>> f = njit(lambda x: gelu_lower_and_slope(x))
>>> [round(float(v), 6) for v in f(np.float32(-1.0))]
[-0.158655, -0.083315]
>>> [round(float(v), 6) for v in f(-1.0)]
[-0.158655, -0.083315]
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from ._math import (_E32, _JIT, _SUB32, MATH_FLAGS, _erfc_exponent64, erfc, exp_neg,
                    pow2_of_rounded)

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: |x| where float32 stops: x Phi(x) rounds to 0 beyond (and exp's argument stays in range)
CAP32 = np.float32(14.4)
#: float64's: exp(-40**2 / 2) is 0
CAP64 = 40.0
#: R(u) = P(u) / Q(u), lowest coefficient first (tools/fit_gelu_tail.py)
TAIL_P = (0.5, 0.43738821812998174, 0.18253723514771336, 0.04039034281721961,
          0.004077984350711161)
TAIL_Q = (1.0, 1.6726612777539656, 1.1996612005589602, 0.46762136703024143,
          0.10125022629652854, 0.010221866563478371)
_F32 = np.float32


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's fma: one instruction where the CPU has FMA)."""
    if not (a == b == c) or a not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _tail_ratio(v):
    """``R(v)`` for float64 ``v`` in [0, CAP32]."""
    p, q = TAIL_P, TAIL_Q
    num = (((p[4] * v + p[3]) * v + p[2]) * v + p[1]) * v + p[0]
    den = ((((q[5] * v + q[4]) * v + q[3]) * v + q[2]) * v + q[1]) * v + q[0]
    return num / den


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def times_exp_neg_square32(s, u, scale):
    """``s exp(-scale u**2)`` for float32 ``u`` in [0, CAP32] and ``scale`` 1/2 or 1 (a power
    of 2: ``scale u**2`` is exact): ``_math.exp_neg``'s reduction and polynomial, with
    ``u**2``'s rounding error ``lo`` in the reduced argument and ``s`` in the last step."""
    e, power = _exp_neg_square_parts32(u, scale)
    return _times_parts32(s, e, power)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _exp_neg_square_parts32(u, scale):
    """``(e, power)``, ``exp(-scale u**2) = (1 + e) power 2**-26`` (``times_exp_neg_square32``'s
    range), for one or more factors ``s`` to take in at the last step (``_times_parts32``)."""
    log2e, ln2hi, ln2lo, _, _, p0, p1, p2, p3, p4, p5 = _E32
    magic = _SUB32[0]
    hi = u * u
    lo = fma(u, u, -hi)
    a = -scale * hi
    t = a * log2e + magic
    k = t - magic
    r = ((a - k * ln2hi) - k * ln2lo) - scale * lo
    p = ((((p0 * r + p1) * r + p2) * r + p3) * r + p4) * r + p5
    return p * (r * r) + r, pow2_of_rounded(t)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _times_parts32(s, e, power):
    """``s exp(-scale u**2)`` from ``_exp_neg_square_parts32``'s ``(e, power)``."""
    return (fma(s, e, s) * power) * _SUB32[2]


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _times_exp_half_square32(s, u):
    """``s exp(-u**2 / 2)`` for float32 ``u`` in [0, CAP32]."""
    return times_exp_neg_square32(s, u, _F32(0.5))


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _lower_tail64(u):
    """``(Phi(-u), hi, lo)`` for float64 ``u`` in [0, CAP64], ``hi + lo = u**2`` exactly:
    ``_math.erfc``'s ``t exp(-z**2 + E(t)) / 2`` (z = u / sqrt 2, t = 2 / (2 + z)) with ``-z**2``
    as ``-(hi + lo) / 2`` and the rounding of ``E(t) - hi / 2`` (TwoSum) put back."""
    z = _SQRT_HALF * u
    t = 2.0 / (2.0 + z)
    hi = u * u
    lo = fma(u, u, -hi)
    a = -0.5 * hi
    b = _erfc_exponent64(t)
    s = a + b
    bv = s - a
    err = (a - (s - bv)) + (b - bv)
    return (0.5 * t) * (exp_neg(s) * (1.0 + (err - 0.5 * lo))), hi, lo


def gelu_lower(x):
    """``x Phi(-|x|)``; 0 for infinite ``x``, NaN for NaN (outside Numba: ``_math.erfc``)."""
    u = np.minimum(np.abs(x), CAP64)
    return np.copysign(u, x) * (0.5 * erfc(_SQRT_HALF * u))


def gelu_lower_and_slope(x):
    """``(gelu_lower(x), Phi(-|x|) - |x| phi(x))``, the second 0 for infinite ``x``, both NaN for
    NaN; in Numba the first is ``gelu_lower(x)`` to the bit, and the two share the tail ratio
    (float32: its division, a third of the time) and the exponential's polynomial."""
    u = np.minimum(np.abs(x), CAP64)
    tail = 0.5 * erfc(_SQRT_HALF * u)
    return np.copysign(u, x) * tail, tail - u * np.exp(-0.5 * u * u) * _INV_SQRT_2PI


@overload(gelu_lower, jit_options=_JIT)
def _gelu_lower_impl(x):
    if x == types.float32:
        def impl32(x):
            xc = min(max(x, -CAP32), CAP32)     # NaN passes (nested selects: not vectorized)
            uc = abs(xc)
            s = _F32(np.float64(xc) * _tail_ratio(np.float64(uc)))
            return _times_exp_half_square32(s, uc)
        return impl32
    if x == types.float64:
        def impl64(x):
            xc = min(max(x, -CAP64), CAP64)
            q, _, _ = _lower_tail64(abs(xc))
            return xc * q
        return impl64
    return None


@overload(gelu_lower_and_slope, jit_options=_JIT)
def _gelu_lower_and_slope_impl(x):
    if x == types.float32:
        def impl32(x):
            xc = min(max(x, -CAP32), CAP32)
            uc = abs(xc)
            v = np.float64(uc)
            ratio = _tail_ratio(v)
            e, power = _exp_neg_square_parts32(uc, _F32(0.5))
            lower = _times_parts32(_F32(np.float64(xc) * ratio), e, power)
            slope = _times_parts32(_F32(ratio - _INV_SQRT_2PI * v), e, power)
            return lower, _F32(0) if abs(x) > CAP32 else slope
        return impl32
    if x == types.float64:
        def impl64(x):
            xc = min(max(x, -CAP64), CAP64)
            uc = abs(xc)
            q, hi, lo = _lower_tail64(uc)
            density = _INV_SQRT_2PI * (exp_neg(-0.5 * hi) * (1.0 - 0.5 * lo))
            return xc * q, 0.0 if abs(x) > CAP64 else q - uc * density
        return impl64
    return None
