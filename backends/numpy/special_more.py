"""NumPy kernels of ``xg.special``'s ``exp2``: float32 computed by float64's ``np.exp2`` and
rounded once (NumPy's float32 ``exp2`` is up to 2.8 ulps off, its ``pow(2, x)`` 1 ulp and
9x slower), float64 by ``np.exp2`` (within 0.64 ulp, as ``pow``: 74 us for 65536 numbers
against 311); the gradient ``g 2**x log 2`` from the output, in place.

And ``logit``'s forward (its gradient ``g / (p (1 - p))`` is the generic rule's): float32 as
``log(p / (1 - p))`` in float64, rounded once (the quotient within 2 float64 ulps, so the
logarithm within 3e-16 absolutely; the smallest nonzero float32 logit, at ``1/2 + 2**-25``,
is 1.2e-7: off by at most a float32 ulp from the generic rule's, where the float64 value
lies next to a rounding boundary), float64 as the generic rule's two branches (``2 atanh(2p
- 1)`` within 0.2 of 1/2, ``log(p / (1 - p))`` elsewhere), each on its own entries: the same
values. The generic forward takes both branches over every entry, in float64 for float32
(65536 numbers: 378 us).

>>> import numpy as np
>>> out, saved = KERNELS["special_exp2"].forward(np.float32([3.0, -1.0, -149.0]))
>>> out.tolist(), out.dtype.name
([8.0, 0.5, 1.401298464324817e-45], 'float32')
>>> (d,) = KERNELS["special_exp2"].vjp(np.float32([1.0, 2.0, 0.0]), saved, None)
>>> [round(v, 4) for v in d.tolist()]
[5.5452, 0.6931, 0.0]
>>> out, _ = KERNELS["special_logit"].forward(np.array([0.0, 0.5, 0.6, 0.9, 1.0, 2.0]))
>>> [round(v, 6) for v in out.tolist()]
[-inf, 0.0, 0.405465, 2.197225, inf, nan]
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import _FLOAT_SET

_LN2 = math.log(2.0)


def _exp2_forward(x):
    if getattr(x, "dtype", None) not in _FLOAT_SET:
        return None
    with np.errstate(over="ignore"):            # inf past the largest power, as np.exp2
        if x.dtype == np.float32:
            out = np.exp2(x.astype(np.float64)).astype(np.float32)
        else:
            out = np.exp2(x)
    out = np.asarray(out)                       # 0-d: an array, not a NumPy scalar
    return out, out


def _exp2_vjp(g, out, x):
    d = np.multiply(out, _LN2, out=np.empty(out.shape, out.dtype))
    np.multiply(d, g, out=d)
    return (d,)


#: float64 entries this close to 1/2 take ``2 atanh(2p - 1)`` (the generic rule's ``middle``)
_MIDDLE = 0.2


def _logit_forward(p):
    if getattr(p, "dtype", None) not in _FLOAT_SET:
        return None
    # -inf at 0, inf at 1, NaN outside [0, 1] (log of a negative quotient), as the rule's
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.dtype == np.float32:
            wide = p.astype(np.float64)
            out = np.subtract(1.0, wide, out=np.empty(p.shape))     # (0-d: still an array)
            np.divide(wide, out, out=out)
            return np.log(out, out=out).astype(np.float32), None
        out = np.empty(p.shape, p.dtype)
        middle = np.abs(p - 0.5) < _MIDDLE
        inner = p[middle]
        out[middle] = 2.0 * np.arctanh(2.0 * inner - 1.0)
        outer = p[~middle]
        out[~middle] = np.log(outer / (1.0 - outer))
    return out, None


def _generic_vjp(g, saved, p):
    return (NotImplemented,)        # the generic rule: cheap arithmetic on p


KERNELS = {"special_exp2": Kernel(_exp2_forward, _exp2_vjp, saves=("output",)),
           "special_logit": Kernel(_logit_forward, _generic_vjp, saves=(0,))}
