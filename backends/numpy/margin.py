"""Fused NumPy kernels of ``multi_margin`` and ``weighted_multi_margin`` (PyTorch's
``multi_margin_loss``; the generic rules are in ``xpgrad/ops/multi_margin.py``): the losses
and the gradient of the scores in one pass over one (N, C) buffer, saved for the vjp.

>>> x = np.array([[0.1, 0.2, 0.4, 0.8]])
>>> out, saved = KERNELS["multi_margin"].forward(x, np.array([3]), reduction="mean", p=1,
...                                              margin=1.0)
>>> round(float(out), 4), saved.round(3).tolist()
(0.325, [[0.25, 0.25, 0.25, -0.75]])
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import FLOATS, _times
from .loss_kernels import _total


def _forward(x, y, weight, reduction, p, margin):
    """``(losses reduced, gradient for an output gradient of 1)``, or None where the generic
    rule runs: another dtype or layout, or a NaN among the losses (a NaN or infinite score,
    which the masks below would turn into NaN where the generic rule counts nothing)."""
    if x.dtype not in FLOATS or x.ndim != 2 or y.ndim != 1 or y.dtype.kind not in "iu" \
            or (weight is not None and weight.dtype != x.dtype):
        return None
    n, c = x.shape
    rows = np.arange(n)
    with np.errstate(invalid="ignore"):             # inf - inf, inf * 0: declined below
        h = x - (x[rows, y] - x.dtype.type(margin))[:, None]     # margin - x[i, y_i] + x[i, j]
        h[rows, y] = 0.0                             # the label's column does not count
        counted = h > 0                              # (a mask, then arithmetic: no branches)
        h *= counted
        per = h.sum(axis=1) if p == 1 else np.einsum("ij,ij->i", h, h)
    factor = x.dtype.type(1.0 / c) if weight is None else weight[y] * x.dtype.type(1.0 / c)
    per *= factor
    total = per.sum()
    if total != total:
        return None
    if reduction == "mean" and n:
        factor = factor * x.dtype.type(1.0 / n)
    if p == 2:
        factor = factor + factor                     # the slope 2 h
    factor = factor if weight is None else factor[:, None]
    if p == 1:
        np.multiply(counted, factor, out=h)          # the slope: 1 where counted
    else:
        h *= factor
    h[rows, y] = -h.sum(axis=1)
    return (per if reduction == "none" else _total(total, reduction, n, per.dtype)), h


def _plain_forward(x, y, reduction, p, margin):
    return _forward(x, y, None, reduction, p, margin)


def _weighted_forward(x, y, weight, reduction, p, margin):
    return _forward(x, y, weight, reduction, p, margin)


def _dx(g, saved, reduction):
    return g[:, None] * saved if reduction == "none" else _times(g, saved)


def _plain_vjp(g, saved, x, y, reduction, p, margin):
    return _dx(g, saved, reduction), None


def _weighted_vjp(g, saved, x, y, weight, reduction, p, margin):
    return _dx(g, saved, reduction), None, NotImplemented      # weight: the generic rule


KERNELS = {
    "multi_margin": Kernel(_plain_forward, _plain_vjp),
    "weighted_multi_margin": Kernel(_weighted_forward, _weighted_vjp),
}
