"""Numba kernels of ``multi_margin`` and ``weighted_multi_margin`` (PyTorch's
``multi_margin_loss``; generic rules in ``xpgrad/ops/multi_margin.py``, the NumPy kernel in
``backends/numpy/margin.py``): one pass over each row gives its loss and its gradient, saved for
the vjp as the other fused losses' (``_losses``). Rows run on all threads from
``_config.ROW_PAR_MIN`` entries on.

>>> import numpy as np
>>> out, saved = KERNELS["multi_margin"].forward(np.array([[0.1, 0.2, 0.4, 0.8]]),
...                                              np.array([3]), reduction="mean", p=1,
...                                              margin=1.0)
>>> round(float(out), 4), saved.grad.round(3).tolist()
(0.325, [[0.25, 0.25, 0.25, -0.75]])
"""
from __future__ import annotations

import numpy as np
from numba import njit

from xpgrad.backend import Kernel

from ..numpy.kernels import FLOATS
from . import _config
from ._losses import _EMPTY, Saved, _reduce, _take
from ._math import LOOP_OPTIONS
from ._templates import parallel_blocks


@njit(inline="always", **LOOP_OPTIONS)
def _hinges(xr, gr, lo, hi, shift, slope, p, sums):
    """Columns ``lo:hi`` of a row: ``h = max(0, xr[j] + shift)`` (``z > 0`` counts: a NaN
    does not), ``gr[j]`` its slope times ``slope``; returns ``sums`` plus the sum of ``h**p``
    and of the slopes written."""
    zero = xr.dtype.type(0)
    loss, slopes = sums
    for j in range(lo, hi):
        z = xr[j] + shift
        h = z if z > zero else zero
        if p == 1:
            g = slope if z > zero else zero
            loss += h
        else:
            g = (slope + slope) * h
            loss += h * h
        gr[j] = g
        slopes += g
    return loss, slopes


@njit(**LOOP_OPTIONS)
def multi_margin_block(x, labels, grad, losses, weight, margin, scale, p):
    """Every row ``i`` against its label ``y = labels[i]``: ``losses[i] = w / C * sum over
    j != y of max(0, margin - x[i, y] + x[i, j])**p`` with ``w = weight[y]`` (1 where
    ``weight`` is empty), and ``grad[i]`` its gradient times ``scale``. Returns the sum of
    the losses in float64. Labels are checked before (``multi_margin``)."""
    c = x.shape[1]
    one = x.dtype.type(1)
    inverse = one / x.dtype.type(c)
    total = 0.0
    for i in range(x.shape[0]):
        xr = x[i]
        gr = grad[i]
        label = labels[i]
        w = weight[label] if weight.shape[0] else one
        shift = margin - xr[label]
        sums = (x.dtype.type(0), x.dtype.type(0))
        sums = _hinges(xr, gr, 0, label, shift, scale * w * inverse, p, sums)
        loss, slopes = _hinges(xr, gr, label + 1, c, shift, scale * w * inverse, p, sums)
        gr[label] = -slopes
        loss = loss * w * inverse
        losses[i] = loss
        total += loss
    return total


multi_margin_par = parallel_blocks(multi_margin_block, arrays=4, sums=True)


def _forward(x, y, weight, reduction, p, margin):
    dt = x.dtype
    if dt not in FLOATS or x.ndim != 2 or y.ndim != 1 or y.dtype.kind not in "iu" \
            or (weight is not None and weight.dtype != dt):
        return None
    n, c = x.shape
    x = x if x.flags.c_contiguous else np.ascontiguousarray(x)
    labels = y if y.dtype == np.intp else y.astype(np.intp)
    weight = _EMPTY[dt] if weight is None else np.ascontiguousarray(weight)
    grad = np.empty((n, c), dt)
    losses = np.empty(n, dt)
    scale = dt.type(1.0 / n if reduction == "mean" and n else 1.0)
    total = 0.0
    if n:
        total = _config.run_by_rows(multi_margin_block, multi_margin_par, n, c, x, labels,
                                    grad, losses, weight, dt.type(margin), scale, int(p))
    return (losses if reduction == "none" else _reduce(total, n, reduction, dt)), Saved(grad)


def multi_margin_forward(x, y, reduction, p, margin):
    """The loss and the scores' gradient, or None where the generic rule runs."""
    return _forward(x, y, None, reduction, p, margin)


def weighted_multi_margin_forward(x, y, weight, reduction, p, margin):
    """As ``multi_margin_forward``, each row's loss times its label's ``weight``."""
    return _forward(x, y, weight, reduction, p, margin)


def multi_margin_vjp(g, saved, x, y, reduction, p, margin):
    params = {"reduction": reduction, "p": p, "margin": margin}
    return _take(saved, g, multi_margin_forward, (x, y), params), None


def weighted_multi_margin_vjp(g, saved, x, y, weight, reduction, p, margin):
    params = {"reduction": reduction, "p": p, "margin": margin}
    dx = _take(saved, g, weighted_multi_margin_forward, (x, y, weight), params)
    return dx, None, NotImplemented                 # the weight's: the generic rule


KERNELS = {
    "multi_margin": Kernel(multi_margin_forward, multi_margin_vjp),
    "weighted_multi_margin": Kernel(weighted_multi_margin_forward, weighted_multi_margin_vjp),
}
