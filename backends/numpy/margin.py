"""Fused NumPy kernels of ``multi_margin`` and ``weighted_multi_margin`` (PyTorch's
``multi_margin_loss``; the generic rules are in ``xpgrad/ops/multi_margin.py``): the losses
and the gradient of the scores in one pass over one (N, C) buffer, saved for the vjp; and of
``multilabel_margin`` (``xpgrad/ops/multilabel_margin.py``), whose hinges span only the
positions up to the longest target list.

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


def _multilabel_forward(x, y, reduction):
    """``multilabel_margin``'s losses and the gradient for an output gradient of 1, or None
    where the generic rule runs: another dtype or layout, no rows, or a NaN among the losses.
    The hinges are laid out (K, N * C), list position by list position (K up to the longest
    list), so each operation runs along long rows; sums over the classes are matrix-vector
    products (NumPy's sums along short rows cost ~40 ns a row)."""
    if x.dtype not in FLOATS or x.ndim != 2 or y.shape != x.shape or y.dtype.kind not in "iu" \
            or not x.size:
        return None
    n, c = x.shape
    ends = y == -1
    lengths = np.where(ends.any(axis=1), ends.argmax(axis=1), c)     # each row's list
    k = max(1, int(lengths.max()))              # no row lists more: the rest count nothing
    listed = np.arange(k) < lengths[:, None]
    labels = np.where(listed, y[:, :k], 0)
    targets = (np.arange(0, n * c, c)[:, None] + labels)[listed]    # flat (row, class)
    counts = np.ones(n * c, bool)               # counts: not a target of its row
    counts[targets] = False
    # z[j, i * C + c] = 1 - x[i, label j of row i] + x[i, c], as the generic rule rounds it
    z = np.repeat((1 - np.take_along_axis(x, labels, axis=1)).T, c, axis=1)
    with np.errstate(invalid="ignore"):         # inf - inf: declined below
        z += x.reshape(1, -1)
        active = z > 0
    active &= counts
    active &= np.repeat(listed.T, c, axis=1)
    weights = active.astype(x.dtype)
    z *= weights
    ones = np.ones(c, x.dtype)
    per = (z.reshape(k * n, c) @ ones).reshape(k, n).sum(axis=0)
    per *= x.dtype.type(1.0 / c)
    total = per.sum()
    if total != total:
        return None
    slope = np.add.reduce(weights, axis=0).reshape(n, c)     # +1 per counted hinge of class c
    hinges = (weights.reshape(k * n, c) @ ones).reshape(k, n).T[listed]
    slope -= np.bincount(targets, hinges, n * c).reshape(n, c).astype(x.dtype)   # -1 per j
    slope *= x.dtype.type(1.0 / c / n if reduction == "mean" else 1.0 / c)
    return (per if reduction == "none" else _total(total, reduction, n, per.dtype)), slope


def _multilabel_vjp(g, saved, x, y, reduction):
    return _dx(g, saved, reduction), None


KERNELS = {
    "multi_margin": Kernel(_plain_forward, _plain_vjp),
    "weighted_multi_margin": Kernel(_weighted_forward, _weighted_vjp),
    "multilabel_margin": Kernel(_multilabel_forward, _multilabel_vjp, saves=()),
}
