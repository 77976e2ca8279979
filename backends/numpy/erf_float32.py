"""The NumPy backend's float32 ``erf``, ``erfc``, ``ndtr`` and ``erfinv``: fitted polynomials in
float32 by in-place ufunc passes over cache-sized blocks (``blocks.py``), instead of SciPy's
ufuncs (a scalar C loop over float64: 0.76 ms for 256x256 numbers, PyTorch 0.07) or the
generic formulas (~100 passes in float64).

``erf(x) = tanh(x G(x**2))`` with ``x`` clipped to +-3.95 (erf rounds to 1 from 3.92 on) and
``G`` of degree 7 (``tools/fit_erf32.py``): NumPy's float32 ``tanh`` is vectorized, and its
flattening slope leaves G's error no weight where erf nears 1, so one polynomial covers the
line: 18 passes. ``erfc`` and ``ndtr`` are ``Phi(-a)``, ``a = sqrt(2) |x|`` or ``|x|``, by the
GELU kernel's form ``t 2**(v Q(v)) exp(-a**2 / 2)`` (``gelu.py``) with ``Q`` of degree 9 fitted
to a uniform relative error (6.4e-8 up to a = 15), and ``exp(-a**2 / 2) = exp(-k z**2)`` split
as ``2**(-k h**2 L1) 2**(-k (z - h)(z + h) log2 e - k h**2 L2)``, ``h`` = ``z`` rounded down to
1/16 and ``L1`` 8 bits of ``log2 e`` (``L2`` the rest), so that ``h**2 L1`` is exact: the
rounding of ``z**2`` (``x**2`` ulps far out) does not reach the result. The other side is
``1 - Phi(-a)`` (``2 - erfc(|x|)``), selected by the sign bit of ``x``: 38 passes. ``erfinv``
is Giles' form (two regions of ``log((1 - y)(1 + y))``, refitted), the far one (|y| > 0.9966)
on its own entries: 22 passes where there are none.

Against float64's values (rounded to float32) on grids of 3e6 points: ``erf`` within 2.8 ulp
(mean 0.64), ``erfinv`` 3.8 (mean 0.8), ``erfc`` and ``ndtr`` within 9 ulp of their (normal)
values out to their underflow (mean 0.7); the float64 path gives 0.5, PyTorch's erf 0.7,
its erfinv 0.5 (its ndtr is ``(1 + erf(x / sqrt 2)) / 2``, which keeps no digits left of -5).
Float64 stays with SciPy (``special_scipy.py``) or the generic rules.

>>> import numpy as np
>>> x = np.float32([-np.inf, -1.0, 0.0, 0.5, 3.0, np.nan])
>>> [round(float(v), 6) for v in erf(x)]
[-1.0, -0.842701, 0.0, 0.5205, 0.999978, nan]
>>> [round(float(v), 6) for v in erfc(x)], [round(float(v), 6) for v in ndtr(x)]
([2.0, 1.842701, 1.0, 0.4795, 2.2e-05, nan], [0.0, 0.158655, 0.5, 0.691462, 0.99865, nan])
>>> [round(float(v), 6) for v in erfinv(np.float32([-1.0, -0.5, 0.0, 0.999, 1.0, 2.0]))]
[-inf, -0.476936, 0.0, 2.326756, inf, nan]
"""
from __future__ import annotations

import math

import numpy as np

from .blocks import blocked, gradient_by_blocks
from .gelu import _C32, _horner_into
from .ufuncs import clip

#: ``atanh(erf(x)) = x G(x**2)`` on |x| <= 3.95: ``G``'s coefficients (of ``s**0`` up, float32
#: numbers), a minimax fit of the relative error it leaves in erf (``tools/fit_erf32.py``)
_ERF_TANH = (1.128379225730896, 0.10277038812637329, -0.00019740538846235722,
             -0.0006119812023825943, 8.294206054415554e-05, -4.3472741708683316e-06,
             -2.7380876232996343e-08, 7.867606122147208e-09)
_ERF_X_MAX = 3.95
#: ``Phi(-a) = t 2**(v Q(v)) exp(-a**2 / 2)``, ``t = (C/2) / (C + a)``, ``v = a t``: ``Q``'s
#: coefficients (of ``v**0`` up), a uniform minimax fit up to a = 15 (``tools/fit_erf32.py``)
_TAIL = (-1.710526704788208, 0.2256191372871399, 0.08679229021072388, -0.026157833635807037,
         -0.009863177314400673, -0.002495813649147749, 0.00888014305382967,
         -0.004695799667388201, 0.001085735042579472, -9.859306737780571e-05)
#: ``erfinv(y) = y P(log((1 - y)(1 + y)) + 2.5)`` where the log is above -5, else
#: ``y R(sqrt(-log((1 - y)(1 + y))) - 3)``: Giles' two regions, refitted to 1.2e-7 relative
#: (``tools/fit_erf32.py``)
_ERFINV_NEAR = (1.5014094114303589, -0.24664072692394257, -0.004177712835371494,
                0.0012536982540041208, 0.00021860841661691666, 4.4004091250826605e-06,
                -3.5309797112859087e-06, -3.4411931437716703e-07, 2.8746784508371093e-08)
_ERFINV_FAR = (2.832976818084717, 1.0016740560531616, 0.009439654648303986,
               -0.007621312979608774, 0.005734346341341734, -0.0036776780616492033,
               0.001360674505122006, 0.00010517786722630262, -0.00020834954921156168)
_ERFINV_SPLIT = -5.0
_LOG2E = 1.4426950408889634
#: log2(e) as 8 bits and the rest: ``h**2`` (16 bits) times the first is exact in float32
_LOG2E_HIGH = 1.4453125
_LOG2E_LOW = _LOG2E - _LOG2E_HIGH
_SQRT2 = math.sqrt(2.0)
#: float32 ``Phi(-a)`` is 0 from a = 14.1 on (erfc from |x| = 10.0): beyond, ``z`` is capped
_NDTR_Z_MAX = 15.0
_ERFC_Z_MAX = _NDTR_Z_MAX / _SQRT2
_SIGN = np.int32(-2 ** 31)


def _erf_into(x, out, s, g):
    """``out`` <- ``erf(x)``."""
    clip(x, -_ERF_X_MAX, _ERF_X_MAX, out=out)
    np.multiply(out, out, out=s)
    _horner_into(_ERF_TANH, s, g)
    g *= out
    np.tanh(g, out=out)


def _lower_tail_into(z, k, out, scratch):
    """``out`` <- ``Phi(-a)`` for ``z`` in [0, 15], ``a = z sqrt(2k)``, ``k`` 1/2 (``ndtr``)
    or 1 (``erfc``: ``erfc(z) = 2 Phi(-sqrt(2) z)``)."""
    a, t, v, h = scratch
    if k == 1.0:
        np.multiply(z, _SQRT2, out=a)
    else:
        a = z
    np.add(a, _C32, out=t)
    np.divide(0.5 * _C32, t, out=t)
    np.multiply(a, t, out=v)
    _horner_into(_TAIL, v, out)
    out *= v
    np.multiply(z, 16.0, out=h)
    np.floor(h, out=h)
    h *= 1.0 / 16.0
    np.add(z, h, out=v)
    np.subtract(z, h, out=a)                     # (a is no longer needed)
    v *= a
    v *= -k * _LOG2E                             # -k (z - h)(z + h) in base 2
    out += v
    h *= h                                       # exact: h has at most 8 bits
    np.multiply(h, -k * _LOG2E_LOW, out=v)
    out += v
    np.exp2(out, out=out)
    out *= t
    h *= -k * _LOG2E_HIGH                        # exact: 8 bits of log2(e)
    np.exp2(h, out=h)
    out *= h


def _select_by_sign(x, tail, total, left, scratch):
    """``tail`` <- itself where the sign bit of ``x`` is set (``left``) or clear (not
    ``left``), else ``total - tail``: by the bits, as ``namespace.where`` selects."""
    other, mask = scratch
    np.subtract(total, tail, out=other)
    bits, other_bits, mask_bits = tail.view(np.int32), other.view(np.int32), mask.view(np.int32)
    np.right_shift(x.view(np.int32), 31, out=mask_bits)     # all ones where the sign is set
    if left:                                     # other ^ ((other ^ tail) & mask)
        bits ^= other_bits
        bits &= mask_bits
        bits ^= other_bits
    else:                                        # tail ^ ((tail ^ other) & mask)
        other_bits ^= bits
        other_bits &= mask_bits
        bits ^= other_bits


def _tail_body(k, z_max, total, left):
    def body(x, out, z, *scratch):
        np.abs(x, out=z)
        clip(z, 0.0, z_max, out=z)
        _lower_tail_into(z, k, out, scratch)
        if k == 1.0:
            out *= 2.0                           # erfc(|x|)
        _select_by_sign(x, out, total, left, scratch[:2])
    return body


_ERFC_BODY = _tail_body(1.0, _ERFC_Z_MAX, 2.0, False)
_NDTR_BODY = _tail_body(0.5, _NDTR_Z_MAX, 1.0, True)     # Phi(x) is the tail left of 0


def _float32(x):
    x = np.asarray(x, np.float32)
    return x, np.empty(x.shape, np.float32)


def erf(x):
    """float32 ``erf(x)`` (the module docstring: its form and accuracy)."""
    x, out = _float32(x)

    def body(part, out_part, s, g):
        _erf_into(part, out_part, s, g)
    blocked(body, (x, out), 2)
    return out


def erfinv(y):
    """float32 ``erfinv(y)`` (``_erfinv_body``)."""
    y, out = _float32(y)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # log(0) at +-1
        blocked(_erfinv_body, (y, out), 2)
    return out


def erfc(x):
    """float32 ``erfc(x) = 2 Phi(-sqrt(2) x)``, accurate in relative terms to its underflow."""
    x, out = _float32(x)
    blocked(_ERFC_BODY, (x, out), 5)
    return out


def ndtr(x):
    """float32 ``Phi(x)``, accurate in relative terms far left (to its underflow near -14)."""
    x, out = _float32(x)
    blocked(_NDTR_BODY, (x, out), 5)
    return out


def _erfinv_body(y, out, log_p, u):
    """``out`` <- ``erfinv(y)``: ``y P(log_p + 2.5)``, ``log_p = log((1 - y)(1 + y))``, where
    ``log_p`` is above -5 (nearly everywhere: |y| < 0.9966); ``y R(sqrt(-log_p) - 3)`` on the
    entries beyond, picked out; +-inf at +-1, NaN outside [-1, 1]."""
    np.subtract(1.0, y, out=log_p)
    np.add(y, 1.0, out=u)
    log_p *= u
    np.log(log_p, out=log_p)                     # -inf at +-1, NaN outside
    np.add(log_p, 2.5, out=u)
    _horner_into(_ERFINV_NEAR, u, out)
    out *= y
    far = log_p < _ERFINV_SPLIT
    if far.any():
        w = np.sqrt(-log_p[far])
        w -= 3.0
        ends = np.isinf(w)                       # y = +-1
        w[ends] = 0.0
        values = _horner_into(_ERFINV_FAR, w, np.empty_like(w))
        values *= y[far]
        values[ends] = y[far][ends] * np.inf
        out[far] = values


#: the derivatives ``c exp(-s x**2)``: ``(s, c)`` by primitive
_GAUSSIANS = {"erf": (1.0, 2.0 / math.sqrt(math.pi)), "erfc": (1.0, -2.0 / math.sqrt(math.pi)),
              "ndtr": (0.5, 1.0 / math.sqrt(2.0 * math.pi))}


def gaussian_vjp(name):
    """The vjp ``g c exp(-s x**2)`` of ``special_<name>`` (``_GAUSSIANS``), float32 by ``exp2``
    (a third faster than float32's ``exp``, as accurate), float64 by ``exp``; in one
    pass per operation, in place."""
    s, c = _GAUSSIANS[name]

    def body(g, x, out):
        if x.dtype == np.float32:
            np.multiply(x, -s * _LOG2E, out=out)
            out *= x
            np.exp2(out, out=out)
        else:
            np.multiply(x, -s, out=out)
            out *= x
            np.exp(out, out=out)
        out *= g
        out *= c

    def vjp(g, saved, x):
        return (gradient_by_blocks(body, g, (x,), 0, ignore=("over",)),)
    return vjp


def _erfinv_slope(g, out, grad):
    """``grad`` <- ``g sqrt(pi) / 2 exp(out**2)``, erfinv's derivative from its output."""
    if out.dtype == np.float32:
        np.multiply(out, _LOG2E, out=grad)
        grad *= out
        np.exp2(grad, out=grad)
    else:
        np.multiply(out, out, out=grad)
        np.exp(grad, out=grad)
    grad *= g
    grad *= 0.5 * math.sqrt(math.pi)


def erfinv_vjp(g, out, y):
    """erfinv's vjp from its output ``out`` (the kernel's saved value), in place by blocks."""
    return (gradient_by_blocks(_erfinv_slope, g, (out,), 0, ignore=("over", "invalid")),)


__all__ = ["erf", "erfc", "ndtr", "erfinv", "gaussian_vjp", "erfinv_vjp"]
