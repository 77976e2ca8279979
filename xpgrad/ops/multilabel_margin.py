"""The primitive of ``multilabel_margin`` (PyTorch's ``multilabel_margin_loss``, the
multi-label hinge) on scores ``x`` (N, C) and integer targets ``y`` (N, C) already checked:
row ``i`` lists its target classes up to its first -1, and its loss is
``sum over listed targets j and non-target classes c of max(0, 1 - x[i, j] + x[i, c]) / C``
(only positive hinges count, PyTorch's kernel; a duplicated target counts twice). The generic
rules below are the reference (and the rules of higher orders); the NumPy kernel computes the
loss and its gradient in one pass (``backends/numpy/margin.py``).

>>> import xpgrad as xg
>>> x = xg.asarray([[0.1, 0.2, 0.4, 0.8]], dtype=xg.float64)
>>> round(float(apply(multilabel_margin, x, xg.asarray([[3, 0, -1, 1]]),
...                   reduction="mean")), 4)
0.85
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from .loss_rules import _reduce, _scale
from .special import _quiet


def _terms(xp, x, y):
    """``(z, active, picks)``: the hinges ``1 - x[i, j_k] + x[i, c]`` (N, K, C) of each
    position ``k`` of a row's list, where they count (a listed target, a non-target class, a
    positive hinge), and each listed position's one-hot row of its class (N, K, C)."""
    listed = xp.cumulative_sum(xp.astype(y == -1, xp.int32), axis=1) == 0
    labels = xp.where(listed, y, 0)
    classes = xp.cumulative_sum(xp.ones_like(x), axis=1) - 1.0      # 0..C-1 on x's device
    picks = (xp.astype(labels, x.dtype)[:, :, None] == classes[:, None, :]) \
        & listed[:, :, None]
    is_target = xp.any(picks, axis=1)
    z = (1.0 - xp.take_along_axis(x, labels, axis=1))[:, :, None] + x[:, None, :]
    active = listed[:, :, None] & ~is_target[:, None, :] & (z > 0)
    return z, active, picks


def _forward(xp, x, y, reduction):
    z, active = _terms(xp, x, y)[:2]
    per = xp.sum(xp.where(active, z, 0.0), axis=(1, 2)) * (1.0 / x.shape[1])
    return _reduce(xp, per, reduction)


def _dx(xp, g, ans, x, y, reduction):
    _, active, picks = _terms(xp, x, y)
    counted = xp.astype(active, x.dtype)
    # +1 at each counted class, -1 at the listed target of each counted hinge
    slope = xp.sum(counted, axis=1) - xp.sum(
        xp.astype(picks, x.dtype) * xp.sum(counted, axis=2)[:, :, None], axis=1)
    coefficient = _scale(g, reduction, x.shape[0]) * (1.0 / x.shape[1])
    return slope * (coefficient[:, None] if reduction == "none" else coefficient)


# quiet: an infinite score makes inf - inf (NaN, which counts nothing) without a warning
multilabel_margin = Primitive("multilabel_margin", _quiet(_forward), _quiet(_dx), None)
