"""Numba loops of the fused losses: loss and gradient in one pass over the data.

Each ``*_block`` function runs on one thread, over rows ``lo:hi`` (softmax) or over whole 1-D
arrays (elementwise: loops over ``range(n)``, since an index Numba cannot prove non-negative
gets a wraparound check that turns vector loads into gathers); each ``*_par`` function splits
the work into fixed blocks and runs them on all threads (``prange``). Block sums add up in
float64 in block order, so a result does not depend on the number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._math import LOOP_FLAGS, exp_neg, key_to_float, log1p01, ordered_key, sigmoid

_OPTS = dict(fastmath=LOOP_FLAGS, error_model="numpy", cache=True)


# -- softmax cross-entropy, one row at a time ---------------------------------------------------
@njit(**_OPTS)
def _row_max(xr):
    """Max of a row through integer keys (vectorizes; a float max loop does not)."""
    m = ordered_key(xr[0])
    for j in range(1, xr.shape[0]):
        k = ordered_key(xr[j])
        m = k if k > m else m
    return key_to_float(m, xr[0])


@njit(**_OPTS)
def _row_exp(xr, gr, m):
    """``gr = exp(xr - m)``; returns the sum. (NaN anywhere in the row makes the sum NaN.)"""
    s = xr.dtype.type(0)
    for j in range(xr.shape[0]):
        e = exp_neg(xr[j] - m)
        gr[j] = e
        s += e
    return s


@njit(**_OPTS)
def sce_labels_block(x, labels, grad, losses, scale, lo, hi):
    """Rows ``lo:hi`` with integer labels: ``losses[i]`` and ``grad[i] = scale*(p - onehot)``."""
    for i in range(lo, hi):
        xr = x[i]
        gr = grad[i]
        m = _row_max(xr)
        s = _row_exp(xr, gr, m)
        inv = scale / s
        for j in range(xr.shape[0]):
            gr[j] *= inv
        lab = labels[i]
        gr[lab] -= scale
        losses[i] = np.log(s) - (xr[lab] - m)


@njit(parallel=True, **_OPTS)
def sce_labels_par(x, labels, grad, losses, scale, rows):
    nb = (x.shape[0] + rows - 1) // rows
    for b in prange(nb):
        sce_labels_block(x, labels, grad, losses, scale, b * rows,
                         min((b + 1) * rows, x.shape[0]))


@njit(**_OPTS)
def sce_probs_block(x, t, grad, losses, scale, lo, hi):
    """Rows ``lo:hi`` with probability targets: ``grad[i] = scale*(p*sum(t) - t)``."""
    for i in range(lo, hi):
        xr = x[i]
        tr = t[i]
        gr = grad[i]
        m = _row_max(xr)
        tsum = tr.dtype.type(0)
        for j in range(tr.shape[0]):
            tsum += tr[j]
        s = _row_exp(xr, gr, m)
        ls = np.log(s)
        a = scale * tsum / s
        loss = xr.dtype.type(0)
        zero = xr.dtype.type(0)
        for j in range(xr.shape[0]):
            tj = tr[j]
            gr[j] = gr[j] * a - scale * tj
            # 0 * log(0) counts as 0: a masked class (logit -inf) without target weight is free
            loss -= tj * ((xr[j] - m) - ls) if tj != zero else zero
        losses[i] = loss


@njit(parallel=True, **_OPTS)
def sce_probs_par(x, t, grad, losses, scale, rows):
    nb = (x.shape[0] + rows - 1) // rows
    for b in prange(nb):
        sce_probs_block(x, t, grad, losses, scale, b * rows, min((b + 1) * rows, x.shape[0]))


# -- elementwise losses: gradient into ``grad``; per-entry loss into ``out`` or summed ---------
# Sums run in float32 over chunks of _CHUNK entries (a float64 accumulator halves the vector
# width and measured 1.8x slower), chunk sums add up in float64: about 1e-10 relative error.
_CHUNK = 1024


@njit(**_OPTS)
def _sigmoid_mse(xi, ti, c, one):
    """``(sigmoid(x) - t)**2`` and its gradient ``c * (s - t) * s * (1 - s)`` (c = 2 * scale)."""
    s = sigmoid(xi)
    d = s - ti
    return d * d, c * d * s * (one - s)


@njit(**_OPTS)
def _mse(xi, ti, c, one):
    """``(x - t)**2`` and its gradient ``c * (x - t)`` (c = 2 * scale)."""
    d = xi - ti
    return d * d, c * d


@njit(**_OPTS)
def _sigmoid_ce(xi, ti, c, one):
    """``max(x, 0) - x t + log1p(exp(-|x|))`` and ``c * (sigmoid(x) - t)`` (c = scale),
    sharing one exponential."""
    zero = one - one
    e = exp_neg(-abs(xi))
    loss = (xi if xi > zero else zero) - xi * ti + log1p01(e)
    r = one / (one + e)
    s = r if xi >= zero else e * r
    return loss, c * (s - ti)


@njit(**_OPTS)
def sigmoid_mse_block(x, t, grad, out, c):
    one = x.dtype.type(1)
    if out.shape[0]:
        for i in range(grad.shape[0]):
            out[i], grad[i] = _sigmoid_mse(x[i], t[i], c, one)
        return 0.0
    total = 0.0
    for b in range(0, grad.shape[0], _CHUNK):
        xs, ts, gs = x[b:b + _CHUNK], t[b:b + _CHUNK], grad[b:b + _CHUNK]
        acc = x.dtype.type(0)
        for i in range(gs.shape[0]):
            loss, gs[i] = _sigmoid_mse(xs[i], ts[i], c, one)
            acc += loss
        total += acc
    return total


@njit(**_OPTS)
def mse_block(x, t, grad, out, c):
    one = x.dtype.type(1)
    if out.shape[0]:
        for i in range(grad.shape[0]):
            out[i], grad[i] = _mse(x[i], t[i], c, one)
        return 0.0
    total = 0.0
    for b in range(0, grad.shape[0], _CHUNK):
        xs, ts, gs = x[b:b + _CHUNK], t[b:b + _CHUNK], grad[b:b + _CHUNK]
        acc = x.dtype.type(0)
        for i in range(gs.shape[0]):
            loss, gs[i] = _mse(xs[i], ts[i], c, one)
            acc += loss
        total += acc
    return total


@njit(**_OPTS)
def sigmoid_ce_block(x, t, grad, out, c):
    one = x.dtype.type(1)
    if out.shape[0]:
        for i in range(grad.shape[0]):
            out[i], grad[i] = _sigmoid_ce(x[i], t[i], c, one)
        return 0.0
    total = 0.0
    for b in range(0, grad.shape[0], _CHUNK):
        xs, ts, gs = x[b:b + _CHUNK], t[b:b + _CHUNK], grad[b:b + _CHUNK]
        acc = x.dtype.type(0)
        for i in range(gs.shape[0]):
            loss, gs[i] = _sigmoid_ce(xs[i], ts[i], c, one)
            acc += loss
        total += acc
    return total


@njit(parallel=True, **_OPTS)
def sigmoid_mse_par(x, t, grad, out, c, block):
    nb = (x.shape[0] + block - 1) // block
    parts = np.empty(nb)
    for b in prange(nb):
        lo = b * block
        hi = min(lo + block, x.shape[0])
        parts[b] = sigmoid_mse_block(x[lo:hi], t[lo:hi], grad[lo:hi], out[lo:hi], c)
    return parts.sum()


@njit(parallel=True, **_OPTS)
def mse_par(x, t, grad, out, c, block):
    nb = (x.shape[0] + block - 1) // block
    parts = np.empty(nb)
    for b in prange(nb):
        lo = b * block
        hi = min(lo + block, x.shape[0])
        parts[b] = mse_block(x[lo:hi], t[lo:hi], grad[lo:hi], out[lo:hi], c)
    return parts.sum()


@njit(parallel=True, **_OPTS)
def sigmoid_ce_par(x, t, grad, out, c, block):
    nb = (x.shape[0] + block - 1) // block
    parts = np.empty(nb)
    for b in prange(nb):
        lo = b * block
        hi = min(lo + block, x.shape[0])
        parts[b] = sigmoid_ce_block(x[lo:hi], t[lo:hi], grad[lo:hi], out[lo:hi], c)
    return parts.sum()
