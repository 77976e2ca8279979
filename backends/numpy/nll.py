"""NumPy kernels of the negative log-likelihood's primitives (``xpgrad/ops/probability_losses.py``):
``nll`` (class weights, rows labelled ``ignore_index`` left out) and ``nll_all_kept`` (neither).
The forward gathers the kept rows' label entries only, never a mask or a where over all N rows
(the generic rule's five), and saves those rows, their labels and their gradient factors; the
vjp writes the factors times the output gradient into a zero array at those entries.

>>> import numpy as np
>>> lp = np.log(np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]))
>>> loss, saved = KERNELS["nll"].forward(lp, np.array([1, -100, 0]), np.array([1.0, 3.0]),
...                                      reduction="mean", ignore_index=-100)
>>> round(float(loss), 4)        # (3 * log 2 + log 5) / (3 + 1)
0.9222
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import FLOATS


def _declines(log_probs, labels):
    return log_probs.__class__ is not np.ndarray or log_probs.dtype not in FLOATS \
        or log_probs.ndim != 2 or labels.__class__ is not np.ndarray or labels.ndim != 1


def _kept_rows(labels, ignore_index):
    """The rows whose label is not ``ignore_index`` and their labels."""
    kept = labels != ignore_index
    if kept.all():
        return np.arange(labels.shape[0]), labels
    rows = np.flatnonzero(kept)
    return rows, labels[rows]


def _nll_forward(log_probs, labels, weight, reduction, ignore_index):
    """``(loss, (rows, labels, factors))``: ``factors`` is each kept row's gradient for an
    output gradient of 1 (``-weight[label]``, over the weights' sum for ``"mean"``)."""
    if _declines(log_probs, labels) or weight.__class__ is not np.ndarray \
            or weight.dtype != log_probs.dtype:
        return None
    rows, safe = _kept_rows(labels, ignore_index)
    factors = -weight[safe]
    per = factors * log_probs[rows, safe]
    if reduction == "none":
        out = np.zeros(labels.shape, log_probs.dtype)
        out[rows] = per
        return out, (rows, safe, factors)
    total = per.sum()
    if reduction == "mean":
        weight_sum = -factors.sum()
        if weight_sum == 0:                     # no weight counts: the generic rule's NaNs
            return None
        total = total / weight_sum
        factors = factors / weight_sum
    return np.asarray(total, log_probs.dtype), (rows, safe, factors)


def _nll_vjp(g, saved, log_probs, labels, weight, reduction, ignore_index):
    rows, safe, factors = saved
    out = np.zeros(log_probs.shape, log_probs.dtype)
    out[rows, safe] = (g[rows] if reduction == "none" else g) * factors
    return out, None, None


def _kept_forward(log_probs, labels, reduction):
    if _declines(log_probs, labels):
        return None
    rows = np.arange(labels.shape[0])
    per = -log_probs[rows, labels]
    if reduction == "none":
        return per, rows
    n = per.shape[0]
    if reduction == "sum":
        return np.asarray(per.sum(), log_probs.dtype), rows
    return np.asarray(per.sum() / n if n else np.nan, log_probs.dtype), rows


def _kept_vjp(g, rows, log_probs, labels, reduction):
    out = np.zeros(log_probs.shape, log_probs.dtype)
    n = labels.shape[0]
    out[rows, labels] = -g if reduction != "mean" else -g * (1.0 / max(n, 1))
    return out, None


# the gradient reads the saved rows and the labels, never log_probs' values
KERNELS = {"nll": Kernel(_nll_forward, _nll_vjp, saves=()),
           "nll_all_kept": Kernel(_kept_forward, _kept_vjp, saves=(1,))}
