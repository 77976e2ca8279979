"""The NumPy backend's mish kernel: ``x tanh(softplus(x))`` by one exponential, where the
generic rule (``ops/activations_torch.py``) takes a softplus (an exponential, a ``log1p`` and
selects), a tanh and two more selects, and its backward all of them again and a sigmoid.

With ``w = exp(x)`` and ``n = w (w + 2)``, ``tanh(softplus(x)) = n / (n + 2)`` (``(1 + w)**2``
is ``n + 1``), and the derivative ``t + x sigmoid(x) (1 - t**2)`` is ``t + 4 x w (1 + w) / (n +
2)**2``. ``x`` is capped at 30 inside the exponential: ``t`` is 1 there in float64 already,
``x`` times the second term is below 1e-23, and ``n`` stays finite in float32. Nothing cancels
for negative ``x`` (``t`` is ``w`` times a factor near 1). ``x`` is clipped to the finite range
where it meets a zero (-inf times ``t``), so the limits at +-inf are the generic rule's (0 and
inf, gradients 0 and 1). A taped forward keeps the derivative (seven passes more than the
value's eight), so the backward is one product.

>>> import numpy as np
>>> x = np.array([-np.inf, -1.0, 0.0, 1.0, np.inf])
>>> y, slope = KERNEL.forward(x)
>>> y.round(4).tolist()
[-0.0, -0.3034, 0.0, 0.8651, inf]
>>> slope.round(4).tolist()
[0.0, 0.0592, 0.6, 1.049, 1.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .activations import _FLOATS, _times_slope, _times_slope_in_place
from .blocks import blocked
from .ufuncs import clip

#: where the exponential stops growing: tanh(softplus(30)) is 1 in float64
_CAP = 30.0


def _value_into(x, y, capped, w, t, d):
    """``y`` <- ``x t``; ``capped`` <- ``x`` clipped to [-max, 30], ``w`` <- ``exp(capped)``,
    ``t`` <- ``tanh(softplus(x)) = n / d``, ``d`` <- ``n + 2``: eight passes."""
    big = float(np.finfo(x.dtype).max)
    clip(x, -big, _CAP, out=capped)
    np.exp(capped, out=w)
    np.add(w, 2.0, out=t)
    t *= w                               # n
    np.add(t, 2.0, out=d)
    t /= d
    clip(x, -big, np.inf, out=y)
    y *= t


def _value(x):
    """The forward for a call no tape records: ``_value_into``'s eight passes."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    y = np.empty(x.shape, x.dtype)
    blocked(_value_into, (x, y), 4)
    return y, None


def _forward(x):
    """The value and the derivative ``t + 4 x w (1 + w) / d / d``, ``d = n + 2``."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim:
        return None
    y, slope = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)

    def body(part, y_part, slope_part, capped, w, t, d):
        _value_into(part, y_part, capped, w, t, d)
        np.add(w, 1.0, out=slope_part)
        slope_part *= w
        slope_part /= d
        slope_part /= d                  # twice: d**2 overflows float32 from x ~ 22
        slope_part *= capped
        slope_part *= 4.0
        slope_part += t
    blocked(body, (x, y, slope), 4)
    return y, slope


KERNEL = Kernel(_forward, _times_slope, saves=(), vjp_in_place=_times_slope_in_place,
                value=_value)

__all__ = ["KERNEL"]
