"""The NumPy backend's ``log_ndtr`` kernel: ``log Phi(x)`` forward by SciPy where it imports
(``special_scipy.py``), else by the generic formula's two branches from one evaluation of
erfc's fitted exponent (the formula evaluates it for each branch);
its gradient ``phi(x) / Phi(x)`` from the forward's own output.

The generic rule computes the hazard ``phi / Phi`` afresh (both of its branches everywhere,
two 24-term Clenshaw series: 2.5 ms for 256x256). Here it is ``exp(-x**2 / 2) / (sqrt(2 pi)
exp(log Phi(x)))`` from ``x >= -2`` on (both factors within an ulp or two there: 2e-15 of
mpmath, as the generic rule), and ``sqrt(2 / pi) / erfcx(-x / sqrt 2)`` left of -2 (the
generic rule's left branch, on those entries only), where ``exp(-x**2 / 2)`` and ``Phi``
lose their relative accuracy as ``x**2`` grows. float32 inputs take both in float64, from
the unrounded output.

SciPy's ``log_ndtr`` rounds to -0.0 from x = 37.5 on (its ``ndtr(-x)`` underflows early),
where ``log Phi(x) = -Phi(-x)`` is a subnormal down to -5e-324 near 38.5 (as PyTorch's and the
generic formula's): those entries take the formula's right branch.

>>> import numpy as np
>>> x = np.array([-40.0, 0.0, 38.0])
>>> out, saved = KERNELS["special_log_ndtr"].forward(x)
>>> [float(f"{v:.10g}") for v in out]
[-804.608442, -0.6931471806, -2.88542835e-316]
>>> [float(f"{v:.10g}") for v in KERNELS["special_log_ndtr"].vjp(np.ones(3), saved, x)[0]]
[40.02496885, 0.7978845608, 1.097221052e-314]
"""
from __future__ import annotations

import math

import array_api_compat.numpy as npx
import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops import formulas

from . import special_scipy
from .ufuncs import clip

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_SQRT_HALF = math.sqrt(0.5)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LN2 = math.log(2.0)
#: the hazard from the output from here on; left of it the erfcx form
_FROM_OUTPUT = -2.0
#: SciPy's log_ndtr is -0.0 from 37.5 on; right of this, -Phi(-x) by the formula
_SCIPY_TAIL = 37.0


def _right(x):
    """``log Phi(x)`` for x >= 0 (and NaN): ``log1p(-erfc(x / sqrt 2) / 2)``."""
    return np.log1p(-0.5 * formulas.erfc(npx, x * _SQRT_HALF))


def _log_ndtr_numpy(x):
    """The generic formula's two branches, ``log erfc(z) - log 2`` left of 0 and
    ``log1p(-erfc(z) / 2)`` right, ``z = |x| / sqrt 2``, from one evaluation of erfc's fitted
    exponent at ``t = 2 / (2 + z)`` (the formula evaluates it once per branch, over every
    entry); each branch's operations are the formula's, so are its values."""
    shape, x = x.shape, x.reshape(-1)          # 0-d: ufuncs would answer NumPy scalars
    z = np.abs(x)
    z *= _SQRT_HALF
    t = z + 2.0
    np.divide(2.0, t, out=t)
    exponent = formulas.erfc_exponent(npx, t)
    left = np.log(t)
    left -= z * z
    left += exponent
    left -= _LN2
    # the right branch as formulas.erfc: z capped at 30 (erfc is 0 there), exp(-z**2) split
    clip(z, 0.0, 30.0, out=z)               # z >= 0 or NaN: min(z, 30), 4x faster
    h = np.floor(z * 16.0)
    h /= 16.0
    exponent -= (z - h) * (z + h)
    np.exp(exponent, out=exponent)
    np.multiply(h, h, out=h)
    np.negative(h, out=h)
    np.exp(h, out=h)
    h *= t
    exponent *= h                           # t exp(-h**2) exp(E - (z - h)(z + h)): erfc(z)
    exponent *= -0.5
    right = np.log1p(exponent, out=exponent)
    np.copyto(right, left, where=x < 0)
    return right.reshape(shape)


def _log_ndtr_scipy(sc, x):
    out = np.asarray(sc.log_ndtr(x))
    far = x > _SCIPY_TAIL
    if far.any():
        out[far] = _right(x[far])
    return out


def _forward(x):
    if getattr(x, "dtype", None) not in _FLOATS:
        return None
    wide = np.asarray(x, np.float64)
    sc = special_scipy.scipy_special()
    with np.errstate(all="ignore"):          # log(0) at -inf's t: -inf, as the formula; past
        out = np.asarray(_log_ndtr_scipy(sc, wide) if sc is not None    # float32's range: -inf
                         else _log_ndtr_numpy(wide))
        return (out if x.dtype == out.dtype else out.astype(x.dtype)), out


def _hazard_left(x):
    """``phi(x) / Phi(x) = sqrt(2 / pi) / erfcx(-x / sqrt 2)`` for x < 0 (inf at -inf)."""
    z = x * -_SQRT_HALF
    t = 2.0 / (2.0 + z)
    erfcx = np.exp(formulas.erfc_exponent(npx, t))
    erfcx *= t
    return _SQRT_2_OVER_PI / erfcx


def _hazard(x, out):
    """``phi(x) / Phi(x)`` from ``out = log Phi(x)``, float64."""
    h = x * x
    h *= -0.5
    np.exp(h, out=h)
    phi = np.exp(out)
    phi *= _SQRT_2PI
    h /= phi                      # no sum in one exponent: no rounding of it (x**2 ulps)
    left = x < _FROM_OUTPUT
    if left.any():
        h[left] = _hazard_left(x[left])
    return h


def _vjp(g, out, x):
    wide = np.asarray(x, np.float64).reshape(-1)
    with np.errstate(all="ignore"):          # -inf: x * x is inf, exp(-inf) 0; erfcx 0 there
        d = _hazard(wide, out.reshape(-1)).reshape(x.shape)
    d *= g
    return (d if d.dtype == x.dtype else d.astype(x.dtype),)


KERNELS = {"special_log_ndtr": Kernel(_forward, _vjp, saves=(0,))}
