"""float64 ``erf``, ``erfc``, ``ndtr``, ``erfinv``, ``ndtri``, ``erfcx`` and ``log_ndtr`` for the
Numba backend, in loops that LLVM vectorizes (the C library's ``erf``/``erfc``, which Numba
calls, do not: ~12 ns an entry against ~1.5 here).

W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969; the coefficients of his
CALERF, as the NumPy backend's ``erfcx.py`` holds them), each region's value computed for every
entry and the region's picked by a select:

- ``|x| <= 0.46875``: ``erf(x) = x A(x**2) / B(x**2)``;
- above: ``erfc(y) = erfcx(y) exp(-y**2)``, ``erfcx(y) = C(y) / D(y)`` up to 4, beyond
  ``(1/sqrt(pi) - P(1/y**2) / (y**2 Q(1/y**2))) / y``, written with ``s = y**2`` as
  ``(s Q*(s)/sqrt(pi) - P*(s)) / (y s Q*(s))`` (``P*``, ``Q*`` the reversed polynomials: no
  division but the one), and ``exp(-y**2)`` as ``exp(-hi) (1 - lo)``, ``hi + lo = y**2``
  exactly (an FMA), so the rounding of ``y**2`` (``y**2`` ulps) does not reach the result;
- ``ndtr(x)``: ``Phi(-u) = erfcx(u / sqrt 2) exp(-u**2 / 2) / 2`` with ``u = |x|`` squared
  exactly (only ``erfcx``, which varies slowly, sees the rounding of ``u / sqrt 2``), the other
  side ``1 - Phi(-u)``; ``(1 + erf(x / sqrt 2)) / 2`` near 0.

``erfcx`` is the same ``erf_or_erfcx`` right of 0.46875, ``2 exp(x**2) - erfcx(-x)`` left, and
its slope ``2 x erfcx(x) - 2 / sqrt(pi)`` Cody's third-region fraction itself right of 4
(``-2 P*/(s Q*)``: no cancellation) and its asymptotic series past 30. ``log_ndtr`` is
``log(erfcx(z) / 2) - x**2 / 2`` left of 0 (no underflow), ``-log1p(t / (1 - t))`` right, its
slope ``phi / Phi`` as ``sqrt(2 / pi) / erfcx(z)`` left.

``erfinv`` and ``ndtri`` start from the float32 fits (``_erf32``: 1.2e-7 relative) and take one
Halley step on ``erf(w) = a`` (``a`` below 0.5) or ``erfc(w) = c`` (``c = 1 - a``, exact;
``ndtri(p) = -sqrt(2) erfcinv(2p)``, so a small ``p`` keeps its digits): ``w - r / (f' + w r)``
with ``r`` the residual and ``f' = 2 exp(-w**2) / sqrt(pi)``. Entries past the fits (``|y|``
above float32's largest number below 1, ``min(p, 1 - p)`` below 2**-25), NaN and outside the
domain are left to the scalar ``_special._erfinv``/``_ndtri`` (a second loop, run where there
are such entries).

Against mpmath (tests/test_numba_erf64.py): erf, erfc, ndtr, erfinv, erfcx within 4 or 5 ulp,
log_ndtr 5, ndtri 6 (SciPy's erfc and ndtr are 500 and 2000 ulp off in their tails).

>>> import numpy as np
>>> x = np.array([-1.0, 0.0, 0.5, 3.0, np.nan])
>>> out = np.empty_like(x)
>>> erf64_loop(x, out); [round(float(v), 12) for v in out]
[-0.84270079295, 0.0, 0.520499877813, 0.999977909503, nan]
>>> p = np.array([0.025, 0.5, 0.975, 1e-300])
>>> out = np.empty_like(p)
>>> ndtri64_loop(p, out), [round(float(v), 12) for v in out[:3]]
(1, [-1.95996398454, 0.0, 1.95996398454])
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..numpy.erf_float32 import _ERFINV_FAR as ERFINV_FAR
from ..numpy.erf_float32 import _ERFINV_NEAR as ERFINV_NEAR
from ..numpy.erfcx import CODY_A as _A
from ..numpy.erfcx import CODY_B as _B
from ..numpy.erfcx import CODY_C as _C
from ..numpy.erfcx import CODY_D as _D
from ..numpy.erfcx import CODY_P as _P
from ..numpy.erfcx import CODY_Q as _Q
from ._gelu_math import fma
from ._math import MATH_FLAGS, exp_neg, log1p01, log_pos

#: the loops' options and their helpers': no reassociation (it would undo the exact splits, as
#: ``_math``'s helpers need), FMA contraction only; the helpers inlined by Numba (LLVM left
#: them uninlined and the erfc loop scalar: 9 ns an entry, not 1.7)
_LOOP = {"fastmath": MATH_FLAGS, "error_model": "numpy", "cache": True}
_SCALAR = {**_LOOP, "inline": "always"}

_INV_SQRT_PI = 5.6418958354775628695e-1
_THRESH = 0.46875
#: erfc(y) rounds to 0 from y = 27.3 on, Phi(-u) from u = 38.5: arguments are capped beyond
_Y_MAX, _U_MAX = 27.5, 39.0
_SQRT_HALF, _SQRT2 = math.sqrt(0.5), math.sqrt(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_2_OVER_PI, _INV_SQRT_2PI = math.sqrt(2.0 / math.pi), 1.0 / math.sqrt(2.0 * math.pi)
#: log_ndtr's caps: of ``u`` where ``u**2`` is still finite, of ``z`` where ``erf_or_erfcx``
#: holds
_LOG_U_MAX, _Z_MAX = 1.3e154, 1e20
#: erfcx's exp(x**2) is inf from |x| = 26.65 on: |x| is capped just beyond
_EXP_SQUARE_MAX = 27.0
_P_NEAR, _R_FAR = tuple(ERFINV_NEAR), tuple(ERFINV_FAR)
#: erfinv's fits reach float32's largest number below 1: |y| beyond, and ndtri's q = min(p,
#: 1 - p) below half its distance to 1, go to the scalar functions
ERFINV_A_MAX = float(np.nextafter(np.float32(1.0), np.float32(0.0)))
NDTRI_Q_MIN = (1.0 - ERFINV_A_MAX) / 2.0


@njit(**_SCALAR)
def erf_or_erfcx(y):
    """``erf(y)`` for ``y`` in [0, 0.46875] (Cody's first region), ``erfcx(y) = exp(y**2)
    erfc(y)`` above, to 1e20 (his second region up to 4, his third beyond), or NaN: each
    region's numerator and denominator, the picked ones divided (one division)."""
    t = y * y
    num1 = y * ((((_A[4] * t + _A[0]) * t + _A[1]) * t + _A[2]) * t + _A[3])
    den1 = (((t + _B[0]) * t + _B[1]) * t + _B[2]) * t + _B[3]
    num2 = (((((((_C[8] * y + _C[0]) * y + _C[1]) * y + _C[2]) * y + _C[3]) * y + _C[4]) * y
             + _C[5]) * y + _C[6]) * y + _C[7]
    den2 = (((((((y + _D[0]) * y + _D[1]) * y + _D[2]) * y + _D[3]) * y + _D[4]) * y + _D[5])
            * y + _D[6]) * y + _D[7]
    p = ((((_P[4] * t + _P[3]) * t + _P[2]) * t + _P[1]) * t + _P[0]) * t + _P[5]
    q = ((((_Q[4] * t + _Q[3]) * t + _Q[2]) * t + _Q[1]) * t + _Q[0]) * t + 1.0
    tq = t * q
    num = num1 if y <= _THRESH else (num2 if y <= 4.0 else tq * _INV_SQRT_PI - p)
    den = den1 if y <= _THRESH else (den2 if y <= 4.0 else y * tq)
    return num / den


@njit(**_SCALAR)
def times_exp_neg_square(v, y, k):
    """``v exp(-k y**2)`` (``k`` 1 or 1/2), ``y**2 = hi + lo`` exactly, ``exp(-k lo)`` as
    ``1 - k lo``."""
    hi = y * y
    lo = fma(y, y, -hi)
    scaled = v * exp_neg(-k * hi)
    return fma(scaled, -k * lo, scaled)


@njit(**_SCALAR)
def erf64(x):
    """``erf(x)``: ``1 - erfc(|x|)`` beyond 0.46875, the sign of ``x`` put back (erfc's
    argument capped at 27.5, where it is 0)."""
    a = abs(x)
    ac = _Y_MAX if a > _Y_MAX else a
    v = erf_or_erfcx(ac)
    far = 1.0 - times_exp_neg_square(v, ac, 1.0)
    return math.copysign(v if a <= _THRESH else far, x)


@njit(**_SCALAR)
def erfc64(x):
    """``erfc(x)``: ``1 - erf(x)`` up to 0.46875 from 0, ``erfc(|x|)`` or ``2 - erfc(|x|)``
    beyond."""
    a = abs(x)
    ac = _Y_MAX if a > _Y_MAX else a
    v = erf_or_erfcx(ac)
    tail = times_exp_neg_square(v, ac, 1.0)
    far = tail if x > 0.0 else 2.0 - tail
    return 1.0 - math.copysign(v, x) if a <= _THRESH else far


@njit(**_SCALAR)
def ndtr64(x):
    """``Phi(x)``: ``Phi(-u)`` left of 0 (``u = |x|``), ``1 - Phi(-u)`` right of it, and
    ``(1 + erf(x / sqrt 2)) / 2`` where ``|x| / sqrt 2 <= 0.46875``."""
    u = abs(x)
    uc = _U_MAX if u > _U_MAX else u
    z = uc * _SQRT_HALF
    v = erf_or_erfcx(z)
    tail = times_exp_neg_square(0.5 * v, uc, 0.5)
    far = tail if x < 0.0 else 1.0 - tail
    return 0.5 + 0.5 * math.copysign(v, x) if z <= _THRESH else far


@njit(**_SCALAR)
def _log_ndtr_parts(x):
    """``(log Phi(x), phi(x) / Phi(x))`` for float64 ``x``: left of 0 ``log(erfcx(z) / 2) -
    u**2 / 2`` and ``sqrt(2 / pi) / erfcx(z)`` (``u = |x|``, ``z = u / sqrt 2``; ``u`` past
    z = 1e20, where ``1 / erfcx(z) = z sqrt(pi)`` to rounding), right of it ``-log1p(t / (1
    - t))`` and ``phi(x) / (1 - t)``, ``t = Phi(-u)``, ``phi(x) = t sqrt(2 / pi) / erfcx(z)``;
    near 0 ``Phi = (1 + erf(x / sqrt 2)) / 2``."""
    u = abs(x)
    uc = _LOG_U_MAX if u > _LOG_U_MAX else u
    z = uc * _SQRT_HALF
    v = erf_or_erfcx(_Z_MAX if z > _Z_MAX else z)
    hi = uc * uc
    lo = fma(uc, uc, -hi)
    near = z <= _THRESH
    cdf_near = 0.5 + 0.5 * math.copysign(v, x)
    log_near_or_half_v = log_pos(cdf_near if near else 0.5 * v)      # one log for both
    left = (log_near_or_half_v - 0.5 * lo) - 0.5 * (u * u)
    tail = 0.5 * v * exp_neg(-0.5 * hi)
    tail = fma(tail, -0.5 * lo, tail)
    right = -log1p01(tail / (1.0 - tail))
    inverse = _SQRT_2_OVER_PI / v
    slope_left = u if z > _Z_MAX else inverse
    slope_right = inverse * tail / (1.0 - tail)
    phi_near = times_exp_neg_square(_INV_SQRT_2PI, uc, 0.5)
    value = log_near_or_half_v if near else (left if x < 0.0 else right)
    slope = phi_near / cdf_near if near else (slope_left if x < 0.0 else slope_right)
    return value, slope


@njit(**_SCALAR)
def erfcx64(x):
    """``exp(x**2) erfc(x)``: ``erf_or_erfcx`` right of 0.46875 (``1 / (x sqrt(pi))`` past
    1e20), ``exp(x**2) (1 -+ erf(|x|))`` within, ``2 exp(x**2) - erfcx(|x|)`` left (inf
    past -26.6), ``exp(x**2)`` as ``exp(hi / 2)**2 (1 + lo)``."""
    a = abs(x)
    v = erf_or_erfcx(_Z_MAX if a > _Z_MAX else a)
    right = _INV_SQRT_PI / a if a > _Z_MAX else v
    ac = _EXP_SQUARE_MAX if a > _EXP_SQUARE_MAX else a
    hi = ac * ac
    half = exp_neg(0.5 * hi)            # exp_neg holds up to 670: exp(x**2) as its square
    gauss = half * half * (1.0 + fma(ac, ac, -hi))     # (inf stays inf: not inf - inf)
    near = gauss * (1.0 - math.copysign(v, x))
    far = right if x > 0.0 else 2.0 * gauss - right
    return near if a <= _THRESH else far


@njit(**_SCALAR)
def erfcx_slope64(x):
    """``erfcx'(x) = 2 x erfcx(x) - 2 / sqrt(pi)``; right of 4, where that cancels, ``-2
    P*(s) / (s Q*(s))`` (``s = x**2``; Cody's third region, in which ``2 x erfcx(x)`` is ``2 /
    sqrt(pi)`` minus twice that); right of 30, where that fraction keeps fewer digits (40 ulp),
    its asymptotic series ``-2 / sqrt(pi) sum_n>=1 (-1)**(n+1) (2n - 1)!! w**n``, ``w = 1 / (2
    x**2)``, to n = 10 (the next term 1e-17 of the sum at 30; 0 at inf)."""
    a = abs(x)
    t = _Z_MAX if a > _Z_MAX else a
    t = t * t
    p = ((((_P[4] * t + _P[3]) * t + _P[2]) * t + _P[1]) * t + _P[0]) * t + _P[5]
    q = ((((_Q[4] * t + _Q[3]) * t + _Q[2]) * t + _Q[1]) * t + _Q[0]) * t + 1.0
    w = 0.5 / (x * x)
    series = 1.0 - 19.0 * w
    series = 1.0 - 17.0 * w * series
    series = 1.0 - 15.0 * w * series
    series = 1.0 - 13.0 * w * series
    series = 1.0 - 11.0 * w * series
    series = 1.0 - 9.0 * w * series
    series = 1.0 - 7.0 * w * series
    series = 1.0 - 5.0 * w * series
    series = 1.0 - 3.0 * w * series
    asymptotic = 0.0 - _TWO_OVER_SQRT_PI * (w * series)
    middle = -2.0 * p / (t * q)
    direct = 2.0 * x * erfcx64(x) - _TWO_OVER_SQRT_PI
    return direct if not x > 4.0 else (middle if x <= 30.0 else asymptotic)


@njit(**_SCALAR)
def erfinv_start(a, log_p):
    """``erfinv(a)`` within 1.2e-7 relative for ``log_p = log((1 - a)(1 + a))`` in [-15.94, 0]
    (the float32 fits of ``_erf32``, in float64)."""
    u = log_p + 2.5
    near = a * ((((((((_P_NEAR[8] * u + _P_NEAR[7]) * u + _P_NEAR[6]) * u + _P_NEAR[5]) * u
                    + _P_NEAR[4]) * u + _P_NEAR[3]) * u + _P_NEAR[2]) * u + _P_NEAR[1]) * u
                 + _P_NEAR[0])
    v = math.sqrt(abs(log_p)) - 3.0
    far = a * ((((((((_R_FAR[8] * v + _R_FAR[7]) * v + _R_FAR[6]) * v + _R_FAR[5]) * v
                   + _R_FAR[4]) * v + _R_FAR[3]) * v + _R_FAR[2]) * v + _R_FAR[1]) * v
               + _R_FAR[0])
    return near if log_p >= -5.0 else far


@njit(**_SCALAR)
def erfinv_halley(a, c):
    """``w >= 0`` with ``erf(w) = a``, ``c = 1 - a`` given exactly where ``a >= 0.5``, for
    ``a`` in [0, ERFINV_A_MAX]: the fits' start and one Halley step, on ``erf(w) - a`` below
    ``a = 0.5``, on ``c - erfc(w)`` (the same function, without the cancellation) from it."""
    w = erfinv_start(a, log_pos(c * (2.0 - c)))
    v = erf_or_erfcx(w)
    hi = w * w
    gauss = exp_neg(-hi)
    tail = v * gauss
    tail = fma(tail, -fma(w, w, -hi), tail)
    erf_w = v if w <= _THRESH else 1.0 - tail
    erfc_w = 1.0 - v if w <= _THRESH else tail
    r = erf_w - a if a < 0.5 else c - erfc_w
    return w - r / (_TWO_OVER_SQRT_PI * gauss + w * r)


@njit(**_LOOP)
def erf64_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = erf64(x[i])


@njit(**_LOOP)
def erfc64_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = erfc64(x[i])


@njit(**_LOOP)
def ndtr64_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = ndtr64(x[i])


@njit(**_LOOP)
def erfinv64_loop(y, out):
    """float64 ``erfinv`` where ``|y| <= ERFINV_A_MAX``; return how many entries are left
    (beyond, +-1, outside [-1, 1], NaN: ``_special.erfinv_rest_loop`` fills them in)."""
    left = 0
    for i in range(y.shape[0]):
        a = abs(y[i])
        left += not a <= ERFINV_A_MAX
        a = ERFINV_A_MAX if not a <= ERFINV_A_MAX else a
        w = erfinv_halley(a, 1.0 - a)
        out[i] = math.copysign(w, y[i])
    return left


@njit(**_LOOP)
def ndtri64_loop(p, out):
    """float64 ``ndtri`` where ``q = min(p, 1 - p) >= NDTRI_Q_MIN``: ``-+sqrt(2) w`` with
    ``erfc(w) = 2q``; return how many entries are left (farther out, 0, 1, NaN, outside
    [0, 1]: ``_special.ndtri_rest_loop`` fills them in)."""
    left = 0
    for i in range(p.shape[0]):
        upper = p[i] >= 0.5
        q = 1.0 - p[i] if upper else p[i]
        left += not q >= NDTRI_Q_MIN
        q = NDTRI_Q_MIN if not q >= NDTRI_Q_MIN else q
        c = 2.0 * q
        x = _SQRT2 * erfinv_halley(1.0 - c, c)
        out[i] = x if upper else -x
    return left


@njit(**_LOOP)
def log_ndtr64_loop(x, out):
    """``log Phi(x)`` in float64 (a float32 input's result rounded)."""
    for i in range(x.shape[0]):
        out[i] = _log_ndtr_parts(np.float64(x[i]))[0]


@njit(**_LOOP)
def log_ndtr_vjp_loop(g, x, out):
    """``out`` <- ``g phi(x) / Phi(x)``, log_ndtr's vjp (in float64, rounded to ``out``)."""
    for i in range(x.shape[0]):
        out[i] = np.float64(g[i]) * _log_ndtr_parts(np.float64(x[i]))[1]


@njit(**_LOOP)
def erfcx64_loop(x, out):
    """``erfcx`` in float64 (a float32 input's result rounded)."""
    for i in range(x.shape[0]):
        out[i] = erfcx64(np.float64(x[i]))


@njit(**_LOOP)
def erfcx_vjp_loop(g, x, out):
    """``out`` <- ``g erfcx'(x)`` (in float64, rounded to ``out``)."""
    for i in range(x.shape[0]):
        out[i] = np.float64(g[i]) * erfcx_slope64(np.float64(x[i]))
