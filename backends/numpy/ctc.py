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


#: the scaled recursions decline where a probability they would multiply lies this far (in
#: log) below its step's largest: one step then could take an entry from normal to 0
_GAP = 200.0

#: ... and where an entry of theirs, scaled to sum 1 per step, falls below this (but not to
#: 0): in float64 such an entry could underflow on a later step, where the log space keeps it
_TINY = 1e-200


def _scaled_alphas(lpe, skip):
    """``(alphas (T, N, W), the log of their scale (T, N), p, 0/1 may_skip)`` of the alpha
    recursion in probability space ``p = exp(lpe - shift)``, each step scaled to sum 1 per
    sample (Graves's rescaling): sums and products where the log space takes two
    ``logaddexp`` (13 ns an element); None where that could lose an entry to underflow
    (``_GAP``, ``_TINY``)."""
    shift = np.max(lpe, axis=2, keepdims=True)                   # (T, N, 1)
    shift[~np.isfinite(shift)] = 0.0
    gap = lpe - shift
    if np.any((gap < -_GAP) & (gap != NEG_INF)):
        return None
    p = np.exp(gap)
    may_skip = (skip == 0.0).astype(np.float64)                  # into s from s - 2
    alphas, scales = _forward_scaled(p, may_skip, None, None)
    alphas = alphas[:, :, 2:]
    if _lost(alphas):
        return None
    np.log(scales, out=scales)
    scales += shift[:, :, 0]
    np.cumsum(scales, axis=0, out=scales)
    return alphas, scales, p, may_skip


def _scaled_betas(p, may_skip, last, widths):
    """The betas of ``_scaled_alphas``'s recursion (each sample's from its ``last`` step
    back, scaled likewise): the alphas' recursion over reversed labels and steps; None where
    an entry could be lost (``_TINY``)."""
    steps, n, w = p.shape
    ahead = np.zeros((n, w))
    ahead[:, :-2] = may_skip[:, 2:]                              # from s + 2 into s
    cols = np.arange(w)
    start = ((cols >= widths[:, None] - 2) & (cols < widths[:, None])).astype(np.float64)
    betas, _ = _forward_scaled(p[::-1, :, ::-1], ahead[:, ::-1], start[:, ::-1],
                               steps - 1 - last)
    betas = betas[::-1, :, :1:-1]
    return None if _lost(betas) else betas


def _lost(scaled) -> bool:
    """Whether a scaled entry is small enough that a later step could underflow it."""
    return bool(np.any((scaled < _TINY) & (scaled > 0.0)))


def _forward_scaled(p, may_skip, start, first):
    """The scaled alpha recursion over ``p`` (T, N, W) with the 0/1 ``may_skip`` (N, W):
    ``(out, scales)``, ``out`` (T, N, 2 + W) with two columns of zeros before each row's W
    (so each step's shifts are offsets into the flat rows: whole contiguous passes), scales
    (T, N) each step's sum before scaling. ``start`` (N, W), given, is a sample's row at its
    step ``first`` (before the product by ``p``), the rows before that 0; else each sample
    starts at step 0 with its first two entries."""
    steps, n, w = p.shape
    padded = np.zeros((steps, n, w + 2))
    padded[:, :, 2:] = p
    skips = np.zeros((n, w + 2))
    skips[:, 2:] = may_skip
    skips = skips.reshape(-1)
    out = np.zeros(padded.shape)
    scales = np.empty((steps, n))
    jump = np.empty(n * (w + 2))
    starting = {}
    if start is None:
        out[0, :, 2:4] = 1.0
    else:
        for i, t in enumerate(first.tolist()):
            starting.setdefault(t, []).append(i)
    for t in range(steps):
        cur = out[t]
        flat = cur.reshape(-1)
        if t:
            prev = out[t - 1].reshape(-1)
            np.add(prev[1:], prev[:-1], out=flat[1:])
            np.multiply(prev[:-2], skips[2:], out=jump[2:])
            flat[2:] += jump[2:]
        rows = starting.get(t)
        if rows is not None:
            cur[rows, 2:] = start[rows]
        cur *= padded[t]                        # (the pads' zeros clear what came in)
        total = np.add.reduce(cur, axis=1, out=scales[t])
        np.maximum(total, 1e-300, out=total)    # a sample with no path: its zeros kept
        cur /= total[:, None]
    return out, scales


def _gradient(lp, ext, w, nll, live, zero_infinity):
    """``(gradient (T, N, C) in lp's dtype, nll)`` from each step's weight ``w`` (T, N, W) of
    the extended labels: summed per class, NaN on an infeasible sample's steps (unless
    ``zero_infinity``), 0 past each input length."""
    c = lp.shape[2]
    onehot = (ext[:, :, None] == np.arange(c)).astype(np.float64)         # (N, W, C)
    grad = np.matmul(w.transpose(1, 0, 2), onehot).transpose(1, 0, 2)     # (T, N, C)
    infeasible = ~np.isfinite(nll)
    if infeasible.any():
        grad[:, infeasible] = 0.0 if zero_infinity else np.nan
    grad[~live] = 0.0
    return grad.astype(lp.dtype, order="C"), nll


def _final(end, il, tl, combine, nothing, scale=0.0):
    """Each sample's log-likelihood from its alphas ``end`` (N, W) at its last step (and the
    log of their ``scale``): its last label's and the blank after it joined by ``combine``
    (``nothing`` for the label of an empty target)."""
    rows = np.arange(end.shape[0])
    final = 2 * tl
    before = np.where(tl > 0, end[rows, np.maximum(final - 1, 0)], nothing)
    ll = combine(end[rows, final], before) + scale
    # no input steps: the empty target has probability 1, any other 0 (as PyTorch)
    return np.where(il == 0, np.where(tl == 0, 0.0, NEG_INF), ll)


def _losses_and_gradient(lp, targets, il, tl, blank, zero_infinity, want_grad=True):
    """``(gradient of each sample's loss (T, N, C) in lp's dtype or None, losses (N,)
    float64)``: the scaled recursions where they keep every entry, else the log space."""
    steps, n, c = lp.shape
    ext, skip = _extended(targets, tl, blank)
    widths = 2 * tl + 1
    last = il - 1
    lpe = lp[:, np.arange(n)[:, None], ext].astype(np.float64)            # (T, N, W)
    live = np.arange(steps)[:, None] < il[None, :]                         # (T, N)
    lpe[~live] = 0.0        # padding past the input length (NaN too) reaches nothing
    at_end = (np.maximum(last, 0), np.arange(n))
    found = _scaled_alphas(lpe, skip)
    betas = None
    if found is not None:
        alphas, scales, p, may_skip = found
        if want_grad:
            betas = _scaled_betas(p, may_skip, last, widths)
    if found is not None and (betas is not None or not want_grad):
        with np.errstate(divide="ignore"):
            nll = -_final(alphas[at_end], il, tl, _log_of_sum, 0.0, scales[at_end])
        if not want_grad:
            return None, nll
        # each step's occupancy alpha * beta / p, normalized per sample: it sums to the
        # path probability at every step
        with np.errstate(invalid="ignore", divide="ignore"):
            w = alphas * betas
            w /= np.where(p == 0.0, 1.0, p)
            w /= w.sum(axis=2, keepdims=True)
    else:
        alphas = _alphas(lpe, skip)
        nll = -_final(alphas[at_end], il, tl, np.logaddexp, NEG_INF)
        if not want_grad:
            return None, nll
        betas = _betas(lpe, skip, last, widths)
        with np.errstate(invalid="ignore", over="ignore"):
            w = alphas + betas
            w -= np.where(lpe == NEG_INF, 0.0, lpe)
            w += np.where(np.isfinite(nll), nll, 0.0)[None, :, None]
            np.exp(w, out=w)
    np.negative(w, out=w)
    return _gradient(lp, ext, w, nll, live, zero_infinity)


def _log_of_sum(a, b):
    return np.log(a + b)


def ctc_forward(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                zero_infinity, want_grad=True):
    """``(the reduced loss, Saved)``; None (the generic rule runs) for other dtypes than
    float32/float64, an empty batch or padded 2-D targets missing."""
    dtype = log_probs.dtype
    if dtype not in FLOATS or log_probs.ndim != 3 or log_probs.shape[1] == 0 \
            or targets.ndim != 2 or targets.dtype.kind not in "iu":
        return None
    tl = np.asarray(target_lengths, np.int64)
    grad, nll = _losses_and_gradient(log_probs, np.asarray(targets, np.int64),
                                     np.asarray(input_lengths, np.int64), tl, int(blank),
                                     bool(zero_infinity), want_grad)
    return reduce_losses(nll, tl, reduction, zero_infinity, dtype), Saved(grad, nll)


def ctc_value(log_probs, targets, input_lengths, target_lengths, blank, reduction,
              zero_infinity):
    """``ctc_forward`` for a call no tape records: the alphas alone."""
    return ctc_forward(log_probs, targets, input_lengths, target_lengths, blank, reduction,
                       zero_infinity, want_grad=False)


KERNELS = {"ctc_loss": Kernel(ctc_forward, ctc_vjp_for(ctc_forward), value=ctc_value)}
