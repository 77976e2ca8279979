"""The NumPy backend's ``erfcx`` kernel: W. J. Cody's rational approximations (his coefficients,
which the Numba backend's ``_erf64`` loops take from here) as in-place float64 passes over
cache-sized blocks,
instead of the generic rule's erfc series and asymptotic sum (~130 passes, 70 ns a number).

Every block computes Cody's three regions on all its entries and picks one per entry:
``x erf-ratio(x**2)`` up to 0.46875 (erf), ``C(a) / D(a)`` up to 4, ``(s Q*(s) / sqrt(pi) -
P*(s)) / (a s Q*(s))`` beyond (``a = |x|``, ``s = a**2``), one division; then ``exp(x**2) (1 -+
erf(a))`` within 0.46875, and left of -0.46875 ``2 exp(x**2) - erfcx(a)`` with ``exp(x**2)`` as
``exp(h**2) exp((a - h)(a + h))``, ``h`` = ``a`` rounded down to 1/16 (Cody's split: the
rounding of ``x**2`` does not reach the result); inf past -26.64, ``1 / (a sqrt(pi))`` past
1e20. The vjp ``2 x erfcx(x) - 2 / sqrt(pi)`` takes the saved output; right of 4, where that
cancels, the entries beyond take ``-2 P*(s) / (s Q*(s))`` (Cody's third region) and past 30
its asymptotic series. A float32 input's result is the float64 one rounded (as the generic
forward).

>>> import numpy as np
>>> x = np.array([-1.0, 0.0, 0.3, 2.0, 50.0])
>>> out, saved = KERNELS["special_erfcx"].forward(x)
>>> [round(float(v), 12) for v in out]
[5.008980080762, 1.0, 0.734599334568, 0.255395676311, 0.011281536265]
>>> [round(float(v), 9) for v in KERNELS["special_erfcx"].vjp(np.ones(5), saved, x)[0]]
[-11.146339329, -1.128379167, -0.687619566, -0.106796462, -0.000225541]
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel

from .blocks import blocked
from .gelu import _horner_into

# W. J. Cody, CALERF (netlib specfun), as published (the Numba backend's _erf64 loops take
# them from here): erf on [0, 0.46875], x A(x**2) / B(x**2) ...
CODY_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
CODY_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
# ... erfcx on [0.46875, 4], C(x) / D(x) ...
CODY_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
CODY_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
# ... and beyond 4, (1/sqrt(pi) - P(1/x**2) / (x**2 Q(1/x**2))) / x
CODY_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
CODY_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
# the same, lowest coefficient first (the third region's multiplied through by s**5, s = x**2:
# P*(s), Q*(s)), for _horner_into
_A = CODY_A[3::-1] + CODY_A[4:]
_B = CODY_B[::-1] + (1.0,)
_C = CODY_C[7::-1] + CODY_C[8:]
_D = CODY_D[::-1] + (1.0,)
_P = CODY_P[5:] + CODY_P[:5]
_Q = (1.0,) + CODY_Q
_INV_SQRT_PI = 5.6418958354775628695e-1
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_THRESH, _MIDDLE_END, _ASYMPTOTIC_FROM = 0.46875, 4.0, 30.0
#: past 1e20 the fractions' powers of s overflow (erfcx is 1 / (a sqrt(pi)) to rounding there);
#: exp(x**2) is inf from |x| = 26.64 on
_A_MAX, _EXP_SQUARE_MAX = 1e20, 27.0


def _cody_into(x, out, a, s, num, den, work):
    """``out`` <- ``erfcx(x)`` for the float64 block ``x`` (scratch: the rest)."""
    np.abs(x, out=a)
    np.minimum(a, _A_MAX, out=a)                  # NaN stays NaN
    np.multiply(a, a, out=s)
    _horner_into(_P, s, num)                      # third region: s Q* / sqrt(pi) - P*, a s Q*
    _horner_into(_Q, s, den)
    den *= s
    np.multiply(den, _INV_SQRT_PI, out=work)
    np.subtract(work, num, out=num)
    den *= a
    middle = a <= _MIDDLE_END
    _horner_into(_C, a, work)
    np.copyto(num, work, where=middle)
    _horner_into(_D, a, work)
    np.copyto(den, work, where=middle)
    small = a <= _THRESH
    _horner_into(_A, s, work)
    work *= a
    np.copyto(num, work, where=small)
    _horner_into(_B, s, work)
    np.copyto(den, work, where=small)
    np.divide(num, den, out=out)                  # erf(a) within 0.46875, erfcx(a) beyond
    # exp(x**2) = exp(h**2) exp((a - h)(a + h)), |x| capped where it is inf anyway
    np.minimum(a, _EXP_SQUARE_MAX, out=a)
    np.multiply(a, 16.0, out=s)
    np.floor(s, out=s)
    s *= 1.0 / 16.0
    np.subtract(a, s, out=num)
    np.add(a, s, out=den)
    num *= den
    np.exp(num, out=num)
    s *= s
    np.exp(s, out=s)
    s *= num                                      # exp(x**2)
    np.copysign(out, x, out=work)
    np.subtract(1.0, work, out=work)
    work *= s
    np.copyto(out, work, where=small)             # exp(x**2) (1 - erf(x))
    left = x < -_THRESH
    s *= 2.0
    np.subtract(s, out, out=s)
    np.copyto(out, s, where=left)
    big = np.abs(x) > _A_MAX
    if big.any():
        out[big] = np.where(x[big] > 0, _INV_SQRT_PI / np.abs(x[big]), np.inf)


def _forward(x):
    if getattr(x, "dtype", None) not in (np.dtype(np.float32), np.dtype(np.float64)):
        return None
    wide = np.asarray(x, np.float64)
    out = np.empty(wide.shape)
    with np.errstate(over="ignore", invalid="ignore"):     # exp(x**2) past 26.64: inf
        blocked(_cody_into, (wide, out), 5)
    if x.dtype != out.dtype:
        with np.errstate(over="ignore"):
            out = out.astype(x.dtype)
    return out, out


def _slope_far(x):
    """``erfcx'(x)`` for ``x > 4``: ``-2 P*(s) / (s Q*(s))``, past 30 ``-2 / sqrt(pi) sum_n>=1
    (-1)**(n+1) (2n - 1)!! w**n`` (``w = 1 / (2 x**2)``, to n = 10)."""
    s = np.minimum(x, _A_MAX) ** 2
    middle = -2.0 * _horner_into(_P, s, np.empty_like(s)) / (s * _horner_into(_Q, s,
                                                                            np.empty_like(s)))
    w = 0.5 / (x * x)
    series = np.ones_like(w)
    for k in range(19, 1, -2):
        series = 1.0 - k * w * series
    return np.where(x <= _ASYMPTOTIC_FROM, middle, 0.0 - _TWO_OVER_SQRT_PI * (w * series))


def _vjp(g, saved, x):
    """``g (2 x erfcx(x) - 2 / sqrt(pi))`` from the saved output (``_slope_far`` right of 4),
    in float64, rounded to the output's dtype."""
    x = np.asarray(x, np.float64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        slope = np.asarray(2.0 * x * saved - _TWO_OVER_SQRT_PI)     # (0-d: an array too)
        far = x > _MIDDLE_END
        if far.any():
            slope[far] = _slope_far(x[far])
        grad = np.asarray(g * slope)
    return (grad.astype(saved.dtype, copy=False),)


KERNELS = {"special_erfcx": Kernel(_forward, _vjp, saves=(0, "output"))}

__all__ = ["KERNELS", "CODY_A", "CODY_B", "CODY_C", "CODY_D", "CODY_P", "CODY_Q"]
