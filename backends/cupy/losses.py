"""Fused loss kernels: forward and d(loss)/d(input) in one launch, saved for a one-multiply vjp.

Registered under the primitive names of ``xpgrad/ops/losses.py``; each forward returns None (the
generic rule runs) for what it does not cover: a dtype other than float32/float64, mismatched
dtypes or shapes, non-contiguous arrays, empty arrays, unknown parameters. Gradients for targets
are left to the generic rule (``NotImplemented``).

``saved`` is the gradient for an output gradient of 1. For a scalar loss the vjp returns
``saved`` itself when the output gradient is exactly 1 and the array is large (this reads the
scalar back from the device: one synchronization, instead of another full pass over the
array); otherwise it multiplies.
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.dtypes import FLOAT_NAMES

from . import _sources as S
from ._launch import ce_plan, ce_threads, elementwise_grid

# a scalar output gradient is read back (one device sync) to skip the multiply from this size on
SYNC_TO_SKIP_MULTIPLY = 1 << 20
# benchmark knobs: keep CE rows in shared memory (as much as leaves room for this many blocks
# per multiprocessor, or fewer where the kernel's registers do not fit more -- float64's on
# sm_90; 1 caches whole rows of up to ~56k float32 on an H100, but then one block per SM
# alternates between reading and writing)
CE_CACHE_ROWS = True
CE_BLOCKS_PER_SM = 2

_INT = ("int32", "int64")


def _contiguous(a, kinds) -> bool:
    return (hasattr(a, "dtype") and a.dtype.name in kinds and a.flags.c_contiguous)


def scale_by_output_grad(xp, g, saved, reduction, rows=False):
    """``g * saved`` for the fused losses' vjp (``g[:, None]`` per row for CE ``"none"``)."""
    if reduction == "none":
        return (g[:, None] if rows else g) * saved
    if saved.size >= SYNC_TO_SKIP_MULTIPLY and float(g) == 1.0:
        return saved
    return g * saved


def softmax_cross_entropy(L) -> Kernel:
    xp = L.xp

    def forward(logits, labels, reduction="mean", **other):
        if other or not _contiguous(logits, FLOAT_NAMES) or logits.ndim != 2 or logits.size == 0:
            return None
        n, c = logits.shape
        t = S.CTYPE[logits.dtype.name]
        probs = getattr(labels, "dtype", None) == logits.dtype
        if probs and _contiguous(labels, FLOAT_NAMES) and labels.shape == logits.shape:
            name = S.expr("softmax_ce_probs", t)
        elif _contiguous(labels, _INT) and labels.shape == (n,):
            name = S.expr("softmax_ce_labels", t, S.CTYPE[labels.dtype.name])
        else:
            return None
        grad = xp.empty_like(logits)
        per_row = xp.empty((n,), dtype=logits.dtype)
        blocks = L.blocks_per_sm("softmax_ce", name, ce_threads(c, logits.itemsize),
                                 CE_BLOCKS_PER_SM)
        budget = L.smem_budget("softmax_ce", name, blocks)
        threads, smem, n_cached = ce_plan(c, logits.itemsize, probs, budget, CE_CACHE_ROWS)
        scale = logits.dtype.type(1.0 / n if reduction == "mean" else 1.0)
        L.kernel("softmax_ce", name)(
            n, threads, (logits, labels, grad, per_row, np.int64(c), scale, np.int64(n_cached)),
            smem)
        return _reduce(xp, per_row, reduction), grad

    def vjp(g, saved, logits, labels, reduction="mean", **other):
        d = scale_by_output_grad(xp, g, saved, reduction, rows=True)
        return d, (NotImplemented if labels.dtype.kind == "f" else None)

    return Kernel(forward, vjp)


def _reduce(xp, per, reduction):
    if reduction == "mean":
        return xp.asarray(xp.mean(per))
    if reduction == "sum":
        return xp.asarray(xp.sum(per))
    return per


def pointwise(L, op: str) -> Kernel:
    """sigmoid_mse, sigmoid_cross_entropy_with_logits or mse of same-shape (x, t)."""
    xp = L.xp
    functor = S.POINTWISE_LOSSES[op]

    def forward(x, t, reduction="mean", **other):
        if (other or not _contiguous(x, FLOAT_NAMES) or not _contiguous(t, FLOAT_NAMES)
                or t.dtype != x.dtype or t.shape != x.shape or x.size == 0):
            return None
        n = x.size
        threads = S.POINTWISE_THREADS
        grid = elementwise_grid(n, x.itemsize, threads, L.sm_count)
        per_element = reduction == "none"
        grad = xp.empty_like(x)
        loss = xp.empty_like(x) if per_element else grad          # unused unless per element
        partial = xp.empty((1 if per_element else grid,), dtype=np.float64)
        scale = x.dtype.type(1.0 / n if reduction == "mean" else 1.0)
        L.kernel("pointwise_loss", S.expr("pointwise_loss", S.CTYPE[x.dtype.name], functor))(
            grid, threads,
            (x, t, grad, loss, partial, np.int64(n), scale, np.int32(per_element)))
        if per_element:
            return loss, grad
        total = xp.sum(partial)
        if reduction == "mean":
            total = total / n
        return xp.asarray(total).astype(x.dtype), grad

    def vjp(g, saved, x, t, reduction="mean", **other):
        return scale_by_output_grad(xp, g, saved, reduction), NotImplemented

    return Kernel(forward, vjp)


def kernels(L) -> dict:
    """The loss kernels for launcher ``L``, keyed by primitive name."""
    out = {"softmax_cross_entropy": softmax_cross_entropy(L)}
    for op in S.POINTWISE_LOSSES:
        out[op] = pointwise(L, op)
    return out
