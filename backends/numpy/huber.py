"""The fused NumPy Huber and smooth L1 losses: the loss per entry in one expression (no mask or
``np.where``), the gradient the clipped residual, saved, so the vjp is one multiply.

>>> import numpy as np
>>> loss, grad = _huber_forward(np.array([0.5, 3.0]), np.zeros(2), "sum", 1.0, 1.0)
>>> float(loss), grad.tolist()
(2.625, [0.5, 1.0])
"""
from __future__ import annotations

import numpy as np

from .kernel_common import _float, _times
from .loss_kernels import _inv, _reduced
from .ufuncs import clip


def _huber_losses(p, t, delta, half_scale):
    """``(d = p - t, the losses per entry)`` (or None where the generic rule runs): ``half_scale
    * r (2|d| - r)`` with ``r = min(|d|, delta)``, the generic rule's two branches in one
    expression, so no mask or ``np.where``. ``r`` is clip's (``|d| >= 0``): NumPy's ``minimum``
    with a scalar bound runs a slower loop (256x256 float32: 20.6 us, clip 5.5)."""
    if not _float(p, t) or p.shape != t.shape or not p.ndim:
        return None                                          # 0-d: the generic rule
    d = p - t
    a = np.abs(d)
    r = clip(a, 0.0, delta)                                  # (NaN stays NaN)
    a += a
    a -= r
    a *= r
    if half_scale != 1.0:
        a *= half_scale
    return d, a


def _huber_forward(p, t, reduction, delta, scale):
    parts = _huber_losses(p, t, delta, 0.5 * scale)
    if parts is None:
        return None
    d, per = parts
    clip(d, -delta, delta, out=d)                            # the gradient, scaled below
    factor = scale * (_inv(d.size) if reduction == "mean" else 1.0)
    if factor != 1.0:
        d *= factor
    return _reduced(per, reduction, p.size), d


def _huber_value(p, t, reduction, delta, scale):
    parts = _huber_losses(p, t, delta, 0.5 * scale)
    return None if parts is None else (_reduced(parts[1], reduction, p.size), None)


def _huber_vjp(g, saved, p, t, reduction, delta, scale):
    return _times(g, saved), NotImplemented
