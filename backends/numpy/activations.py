"""NumPy kernels of activations whose generic rules take many passes: a few in-place ufunc
calls each, on float32/float64 (anything else: the generic rule).

``silu``: the generic forward computes a stable sigmoid (two branches and a select) and guards
the limits with two more selects; its rule computes two sigmoids. Here the forward is
``x * 1 / (1 + exp(-x))`` in five passes, keeping the sigmoid for the backward,
``g * s * (1 + x * sigmoid(-x))``. ``exp(-x)`` overflows to inf below x ~ -88 (float32), where the
sigmoid is 0 instead of a subnormal; ``x`` is clipped to the finite range where it would meet
a zero (-inf in the forward, both infinities in the backward), so the limits at +-inf come out
as the generic rule's (0 and inf, gradients 0 and 1) with no inf * 0.

>>> import numpy as np
>>> x = np.array([-np.inf, 0.0, 1.0, np.inf])
>>> y, s = KERNELS["silu"].forward(x)
>>> y.round(4).tolist()
[-0.0, 0.0, 0.7311, inf]
>>> KERNELS["silu"].vjp(np.ones(4), s, x)[0].round(4).tolist()
[-0.0, 0.5, 0.9277, 1.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _sigmoid_into(x, out, sign=1.0):
    """``1 / (1 + exp(-sign * x))`` (sign 1 or -1) written into ``out``: 0 where exp
    overflows, NaN where x is."""
    if sign > 0:
        np.negative(x, out=out)
    else:
        out[...] = x
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.divide(1.0, out, out=out)
    return out


def _finite(x, out):
    """``x`` clipped to its dtype's finite range, into ``out`` (NaN stays NaN)."""
    big = np.finfo(x.dtype).max
    np.maximum(x, -big, out=out)
    return np.minimum(out, big, out=out)


def _silu_forward(x):
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    s = _sigmoid_into(x, np.empty_like(x))
    y = np.maximum(x, -np.finfo(x.dtype).max)       # -inf * 0 would be NaN; inf * 1 is inf
    y *= s
    return y, s


def _silu_derivative(s, x, out):
    """``s (1 + x sigmoid(-x))``, the derivative of silu at ``x`` with ``s = sigmoid(x)``; the
    complement computed as its own sigmoid, as the generic rule does (``1 - s`` loses its
    digits where s is near 1)."""
    _finite(x, out)
    out *= _sigmoid_into(x, np.empty_like(s), -1.0)
    out += 1.0
    out *= s
    return out


def _silu_vjp(g, s, x):
    return (_silu_derivative(s, x, np.empty_like(s)) * g,)


def _silu_vjp_in_place(g, s, x):
    if type(g) is not np.ndarray or not g.flags.writeable or g.shape != s.shape \
            or g.dtype != s.dtype:          # a NumPy scalar, a read-only or broadcast gradient
        return _silu_vjp(g, s, x)
    g *= _silu_derivative(s, x, np.empty_like(s))
    return (g,)


KERNELS = {
    "silu": Kernel(_silu_forward, _silu_vjp, saves=(0,), vjp_in_place=_silu_vjp_in_place),
}
