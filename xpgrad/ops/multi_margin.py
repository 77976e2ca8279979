"""The primitives of ``multi_margin`` (PyTorch's ``multi_margin_loss``, the multi-class hinge):
``multi_margin(x, y)`` and ``weighted_multi_margin(x, y, weight)`` on scores ``x`` (N, C),
integer labels ``y`` (N,) already checked, and class weights ``weight`` (C,). Row ``i``'s loss
is ``weight[y_i] / C * sum over j != y_i of h_ij**p`` with ``h = max(0, margin - x[i, y_i] +
x[i, j])`` (only ``h > 0`` counts, PyTorch's kernel), ``p`` 1 or 2. The generic rules below are
the reference (and the rules of higher orders); the backends' kernels compute the loss and its
gradient in one pass (``backends/numpy/margin.py``, ``backends/numba/_margin.py``).
``weight`` has a gradient: each row's unweighted loss, summed per label.

>>> import xpgrad as xg
>>> x = xg.asarray([[0.1, 0.2, 0.4, 0.8]], dtype=xg.float64)
>>> round(float(apply(multi_margin, x, xg.asarray([3]), reduction="mean", p=1,
...                   margin=1.0)), 4)
0.325
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from .loss_rules import _onehot, _reduce, _scale
from .special import _quiet


def _hinges(xp, x, y, margin):
    """``(h, active, onehot)``: the hinges with 0 outside ``active`` (``h > 0`` off the
    label's column), the mask, and the labels' one-hot rows in ``x``'s dtype."""
    onehot = _onehot(xp, y, x)
    z = (margin - xp.take_along_axis(x, y[:, None], axis=1)) + x
    active = (z > 0) & (onehot == 0)
    return xp.where(active, z, 0.0), active, onehot


def _row_factor(xp, x, y, weight):
    """``weight[y] / C`` per row (``1 / C`` without weights)."""
    inverse = 1.0 / x.shape[1]
    return inverse if weight is None else xp.take(weight, y, axis=0) * inverse


def _powered(h, p):
    return h if p == 1 else h * h


def _forward(xp, x, y, weight, reduction, p, margin):
    h = _hinges(xp, x, y, margin)[0]
    return _reduce(xp, xp.sum(_powered(h, p), axis=1) * _row_factor(xp, x, y, weight),
                   reduction)


def _dx(xp, g, x, y, weight, reduction, p, margin):
    h, active, onehot = _hinges(xp, x, y, margin)
    coefficient = _scale(g, reduction, x.shape[0]) * _row_factor(xp, x, y, weight)
    slope = xp.astype(active, x.dtype) if p == 1 else h + h
    d = slope * (coefficient[:, None] if getattr(coefficient, "ndim", 0) else coefficient)
    # d is 0 on the label's column: it gets minus the row's sum (a where: an infinite sum
    # times the one-hot rows' zeros would be NaN)
    return xp.where(onehot == 1, -xp.sum(d, axis=1)[:, None], d)


def _dweight(xp, g, ans, x, y, weight, reduction, p, margin):
    h, _, onehot = _hinges(xp, x, y, margin)
    unweighted = xp.sum(_powered(h, p), axis=1) * (1.0 / x.shape[1])
    per_row = _scale(g, reduction, x.shape[0]) * unweighted
    return xp.sum(xp.where(onehot == 1, per_row[:, None], 0.0), axis=0)


def _plain_forward(xp, x, y, reduction, p, margin):
    return _forward(xp, x, y, None, reduction, p, margin)


def _plain_dx(xp, g, ans, x, y, reduction, p, margin):
    return _dx(xp, g, x, y, None, reduction, p, margin)


def _weighted_dx(xp, g, ans, x, y, weight, reduction, p, margin):
    return _dx(xp, g, x, y, weight, reduction, p, margin)


# quiet: an infinite score makes inf - inf (NaN, which counts nothing) without a warning
multi_margin = Primitive("multi_margin", _quiet(_plain_forward), _quiet(_plain_dx), None)
weighted_multi_margin = Primitive("weighted_multi_margin", _quiet(_forward),
                                  _quiet(_weighted_dx), None, _quiet(_dweight))
