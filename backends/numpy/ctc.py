"""The NumPy backend's CTC loss kernel (``ctc_loss``, ``xg.losses.ctc``): the loss and its
gradient in one forward, the vjp a product per sample (the Numba backend's kernel shares
``Saved``, ``reduce_losses`` and ``ctc_vjp``).

The generic rule (``xpgrad/ops/ctc.py``) runs the alpha recursion in its forward, then again
in its vjp before the betas, each step a dozen array-API calls (shifts by ``concat``,
``where``). Here the recursions run once, in float64, over the batch at a time, a step five
ufunc calls into buffers: the alphas are kept, the betas go backward once, and the gradient
of all steps is one vectorized product, its sum per class a batched matrix product (float32
T=100, N=16, C=30, S=30, one core: forward+backward 9.1 ms -> about 2). The values are the
generic rule's: the true partial derivative with respect to ``log_probs``, NaN on the steps
of an infeasible sample (0 with ``zero_infinity``), 0 past each sample's input length.

>>> import numpy as np
>>> lp = np.log(np.full((2, 1, 2), 0.5))          # T=2, N=1, C=2: every path has p = 1/4
>>> out, saved = KERNELS["ctc_loss"].forward(lp, np.array([[1]]), np.array([2]),
...                                          np.array([1]), blank=0, reduction="sum",
...                                          zero_infinity=False)
>>> round(float(out), 4), saved.grad.shape       # -log(3/4): 3 of the 4 paths read "1"
(0.2877, (2, 1, 2))
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import FLOATS

NEG_INF = -np.inf


class Saved:
    """The unscaled gradient (the first vjp may scale it in place) and the losses."""

    __slots__ = ("grad", "nll", "taken")

    def __init__(self, grad, nll):
        self.grad, self.nll, self.taken = grad, nll, False


def reduce_losses(nll, target_lengths, reduction, zero_infinity, dtype):
    """PyTorch's reductions of the float64 losses ``nll``, in ``dtype``."""
    if zero_infinity:
        nll = np.where(nll == np.inf, 0.0, nll)
    if reduction == "none":
        return nll.astype(dtype)
    if reduction == "sum":
        return np.asarray(nll.sum(), dtype)
    return np.asarray((nll / np.maximum(target_lengths, 1)).mean(), dtype)


def ctc_vjp_for(forward):
    """The vjp of a CTC kernel whose ``forward`` saves a ``Saved``: the saved gradient scaled
    per sample by the output gradient and the reduction (a second vjp runs ``forward`` again:
    the first scaled the saved one in place)."""
    def vjp(g, saved, log_probs, targets, input_lengths, target_lengths, blank, reduction,
            zero_infinity):
        if saved.taken:
            saved = forward(log_probs, targets, input_lengths, target_lengths, blank,
                            reduction, zero_infinity)[1]
        saved.taken = True
        n = saved.nll.shape[0]
        g = np.asarray(g, np.float64)
        if reduction == "none":
            gs = g
        elif reduction == "sum":
            gs = np.full(n, float(g))
        else:
            gs = float(g) / (np.maximum(np.asarray(target_lengths), 1) * n)
        if zero_infinity:             # those rows are 0 already; inf * 0 would make NaN
            gs = np.where(saved.nll == np.inf, 0.0, gs)
        grad = saved.grad
        grad *= gs.astype(grad.dtype)[None, :, None]
        return grad, None, None, None

    return vjp


def _extended(targets, target_lengths, blank):
    """``(ext, skip)``: the extended labels ``(N, 2S+1)`` (blank, l1, blank, ..., blank; past
    a sample's length blank) and, as 0 or -inf, whether ``s - 2 -> s`` may skip a blank."""
    n, s = targets.shape
    labels = np.where(np.arange(s) < target_lengths[:, None], targets, blank)
    ext = np.full((n, 2 * s + 1), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    skip = np.full(ext.shape, NEG_INF)
    skip[:, 2:][(ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])] = 0.0
    return ext, skip


def _alphas(lpe, skip):
    """All steps' alphas ``(T, N, W)`` (each includes ``lpe`` at its step)."""
    alphas = np.full(lpe.shape, NEG_INF)
    alphas[0, :, :2] = lpe[0, :, :2]
    buf = np.empty(lpe.shape[1:])
    jump = np.empty((lpe.shape[1], max(lpe.shape[2] - 2, 0)))
    for t in range(1, lpe.shape[0]):
        prev = alphas[t - 1]
        buf[:, 0] = prev[:, 0]
        np.logaddexp(prev[:, 1:], prev[:, :-1], out=buf[:, 1:])
        np.add(prev[:, :-2], skip[:, 2:], out=jump)
        np.logaddexp(buf[:, 2:], jump, out=buf[:, 2:])
        np.add(buf, lpe[t], out=alphas[t])
    return alphas


def _betas(lpe, skip, last, widths):
    """All steps' betas ``(T, N, W)`` (each includes ``lpe`` at its step), each sample's from
    its last step ``last`` back; -inf after it."""
    steps, n, w = lpe.shape
    betas = np.full(lpe.shape, NEG_INF)
    cols = np.arange(w)
    # a sample's last step: its last label or the blank after it
    start = np.where((cols >= widths[:, None] - 2) & (cols < widths[:, None]), 0.0, NEG_INF)
    ahead = skip[:, 2:]
    jump = np.empty((n, max(w - 2, 0)))
    ends = [np.flatnonzero(last == t) for t in range(steps)]
    for t in range(steps - 1, -1, -1):
        out = betas[t]
        if t + 1 < steps:
            nxt = betas[t + 1]
            out[:, -1] = nxt[:, -1]
            np.logaddexp(nxt[:, :-1], nxt[:, 1:], out=out[:, :-1])
            np.add(nxt[:, 2:], ahead, out=jump)
            np.logaddexp(out[:, :-2], jump, out=out[:, :-2])
        ending = ends[t]
        if ending.size:
            out[ending] = start[ending]
        out += lpe[t]
    return betas


def _losses_and_gradient(lp, targets, il, tl, blank, zero_infinity):
    """``(gradient of each sample's loss (T, N, C) in lp's dtype, losses (N,) float64)``."""
    steps, n, c = lp.shape
    ext, skip = _extended(targets, tl, blank)
    widths = 2 * tl + 1
    lpe = lp[:, np.arange(n)[:, None], ext].astype(np.float64)            # (T, N, W)
    live = np.arange(steps)[:, None] < il[None, :]                         # (T, N)
    lpe[~live] = 0.0        # padding past the input length (NaN too) reaches nothing
    alphas = _alphas(lpe, skip)
    last = il - 1
    rows = np.arange(n)
    end = alphas[np.maximum(last, 0), rows]                                # (N, W)
    final = np.minimum(widths - 1, end.shape[1] - 1)
    ll = np.logaddexp(end[rows, final], np.where(widths > 1, end[rows, final - 1], NEG_INF))
    ll = np.where(il == 0, np.where(tl == 0, 0.0, NEG_INF), ll)
    nll = -ll
    betas = _betas(lpe, skip, last, widths)
    with np.errstate(invalid="ignore", over="ignore"):
        ab = alphas + betas
        ab -= np.where(lpe == NEG_INF, 0.0, lpe)
        ab += np.where(np.isfinite(nll), nll, 0.0)[None, :, None]
        np.exp(ab, out=ab)
    np.negative(ab, out=ab)
    onehot = (ext[:, :, None] == np.arange(c)).astype(np.float64)         # (N, W, C)
    grad = np.matmul(ab.transpose(1, 0, 2), onehot).transpose(1, 0, 2)    # (T, N, C)
    infeasible = ~np.isfinite(nll)
    if infeasible.any() and not zero_infinity:
        grad[:, infeasible] = np.nan
    grad[~live] = 0.0
    return grad.astype(lp.dtype, order="C"), nll


def ctc_forward(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity):
    """``(the reduced loss, Saved)``; None (the generic rule runs) for other dtypes than
    float32/float64, an empty batch or padded 2-D targets missing."""
    dtype = log_probs.dtype
    if dtype not in FLOATS or log_probs.ndim != 3 or log_probs.shape[1] == 0 \
            or targets.ndim != 2 or targets.dtype.kind not in "iu":
        return None
    tl = np.asarray(target_lengths, np.int64)
    grad, nll = _losses_and_gradient(log_probs, np.asarray(targets, np.int64),
                                     np.asarray(input_lengths, np.int64), tl, int(blank),
                                     bool(zero_infinity))
    return reduce_losses(nll, tl, reduction, zero_infinity, dtype), Saved(grad, nll)


KERNELS = {"ctc_loss": Kernel(ctc_forward, ctc_vjp_for(ctc_forward))}
