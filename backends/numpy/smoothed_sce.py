"""The fused NumPy softmax cross-entropy with label smoothing and an ignored label: the losses
from the shifted logits' row sums, the gradient ``softmax - target`` written over their
exponentials and saved.

>>> import numpy as np
>>> loss, grad = _smoothed_sce_forward(np.zeros((2, 2)), np.array([0, 1]), "mean", 0.1, -100)
>>> round(float(loss), 4), grad.tolist()
(0.6931, [[-0.225, 0.225], [0.225, -0.225]])
"""
from __future__ import annotations

import numpy as np

from .kernel_common import FLOATS, _times
from .loss_kernels import _total


def _smoothed_sce_forward(logits, labels, reduction, smoothing, ignore_index):
    """Integer labels against ``(1 - smoothing) onehot + smoothing / C``, rows labelled
    ``ignore_index`` left out: the losses from the shifted logits' row sums (no target
    array), the gradient ``softmax - target`` written over their exponentials."""
    if logits.dtype not in FLOATS or logits.ndim != 2 or labels.dtype.kind not in "iu" \
            or labels.shape != logits.shape[:1]:
        return None
    n, c = logits.shape
    ignored = labels == ignore_index
    count = n - int(np.count_nonzero(ignored))
    safe = labels if count == n else np.where(ignored, 0, labels)
    keep, spread = 1.0 - smoothing, smoothing / c
    e = logits - logits.max(axis=1, keepdims=True)           # shifted logits
    rows = np.arange(n)
    bracket = e.sum(axis=1)
    bracket *= spread
    bracket += keep * e[rows, safe]
    np.exp(e, out=e)
    s = e.sum(axis=1, keepdims=True)
    per = np.log(s.reshape(n))
    per -= bracket
    coef = 1.0 / count if reduction == "mean" and count else 1.0
    np.divide(coef, s, out=s)
    e *= s                                                   # softmax, scaled for "mean"
    e -= coef * spread
    e[rows, safe] -= coef * keep
    if count != n:
        per[ignored] = 0.0
        e[ignored] *= 0.0        # NaN where a row has no softmax (no finite logit), as PyTorch
    if reduction == "none":
        return per, e
    return _total(per.sum(), reduction, count, per.dtype), e


def _smoothed_sce_vjp(g, saved, logits, labels, reduction, smoothing, ignore_index):
    return (g[:, None] * saved if reduction == "none" else _times(g, saved)), None
