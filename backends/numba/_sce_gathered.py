"""Numba loops of softmax cross-entropy for rows of 2 or 3 classes, and the helpers they share
with the register-tile loops of ``_sce_kernels``.

Rows this short are transposed by loops (gathers and scatters) into tiles of rows in SIMD
lanes: a register transpose would move mostly padding. Same contract as every softmax loop:
``(x, target, grad, losses, scale)``, returning the losses' float64 sum (NaN at a bad label).

>>> import numpy as np
>>> x = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
>>> grad, losses = np.empty_like(x), np.empty(2)
>>> total = sce_labels_gathered(x, np.array([2, 0]), grad, losses, 1.0)
>>> [round(float(v), 4) for v in losses], round(total, 4)
([1.0986, 0.2395], 1.3382)
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._loss_kernels import _log_prob
from ._math import LOOP_OPTIONS, MATH_FLAGS, exp_neg, log_pos


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _label_loss_vec(s, x, m):
    """``log(s) - (x - m)`` in this order, with a log that vectorizes (s >= 1 here)."""
    return log_pos(s) - (x - m)


@njit(inline="always", **LOOP_OPTIONS)
def _labels_in_range(labels, c):
    """Whether every label is in ``[0, c)``."""
    bad = 0
    for r in range(labels.shape[0]):
        k = labels[r]
        bad += (k < 0) | (k >= c)
    return bad == 0


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _target_loss(tj, xj, m, ls):
    """``-t * ((x - m) - ls)`` in this order; 0 for a class without target weight (``0 *
    ls``: NaN in a row without a softmax, ``ls`` NaN, as PyTorch)."""
    return -(tj * ((xj - m) - ls)) if tj != 0 else tj * ls


#: classes up to which the short-row kernels transpose by loops (measured: 3 classes 8.6x the
#: copy floor by loops, 10.3x in registers; 4 classes 7.8x and 7.1x)
GATHERED_MAX = 3
_GATHER_TILE = 256
_GATHER_PAD = 16          # (as the register tiles' padding, _sce_kernels._PAD)


@njit(**LOOP_OPTIONS)
def sce_labels_gathered(x, labels, grad, losses, scale):
    """``sce_labels_short`` for rows of at most ``GATHERED_MAX`` classes, where a register
    transpose would move mostly padding: each tile of ``_GATHER_TILE`` rows is transposed by
    loops over rows innermost (gathers and scatters) into a (classes, _GATHER_TILE) buffer."""
    n, c = x.shape
    xt = np.empty((c, _GATHER_TILE + _GATHER_PAD), x.dtype)
    m = np.empty(_GATHER_TILE, x.dtype)
    s = np.empty(_GATHER_TILE, x.dtype)
    xl = np.empty(_GATHER_TILE, x.dtype)
    total = 0.0
    for r0 in range(0, n, _GATHER_TILE):
        rn = min(_GATHER_TILE, n - r0)
        xs = x[r0:r0 + rn]
        gs = grad[r0:r0 + rn]
        ls = labels[r0:r0 + rn]
        if not _labels_in_range(ls, c):
            return np.nan
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                xtj[r] = xs[r, j]
        x0 = xt[0]
        for r in range(rn):
            m[r] = x0[r]
            s[r] = 0
            xl[r] = xs[r, ls[r]]
        # a NaN is skipped here, but it makes its row's sum, loss and gradient NaN below
        for j in range(1, c):
            xtj = xt[j]
            for r in range(rn):
                v = xtj[r]
                m[r] = v if v > m[r] else m[r]
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                e = exp_neg(xtj[r] - m[r])
                xtj[r] = e
                s[r] += e
        lr = losses[r0:r0 + rn]
        for r in range(rn):
            lr[r] = _label_loss_vec(s[r], xl[r], m[r])
            s[r] = scale / s[r]
        for r in range(rn):
            total += lr[r]
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                gs[r, j] = xtj[r] * s[r]
        for r in range(rn):
            gs[r, ls[r]] -= scale
    return total


@njit(**LOOP_OPTIONS)
def sce_probs_gathered(x, t, grad, losses, scale):
    """``sce_probs_short`` for rows of at most ``GATHERED_MAX`` classes, in tiles transposed by
    loops as ``sce_labels_gathered``."""
    n, c = x.shape
    xt = np.empty((c, _GATHER_TILE + _GATHER_PAD), x.dtype)
    tt = np.empty((c, _GATHER_TILE + _GATHER_PAD), x.dtype)
    m = np.empty(_GATHER_TILE, x.dtype)
    s = np.empty(_GATHER_TILE, x.dtype)
    ts = np.empty(_GATHER_TILE, x.dtype)
    total = 0.0
    for r0 in range(0, n, _GATHER_TILE):
        rn = min(_GATHER_TILE, n - r0)
        xs = x[r0:r0 + rn]
        tsrc = t[r0:r0 + rn]
        gs = grad[r0:r0 + rn]
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                xtj[r] = xs[r, j]
        for j in range(c):
            ttj = tt[j]
            for r in range(rn):
                ttj[r] = tsrc[r, j]
        x0 = xt[0]
        for r in range(rn):
            m[r] = x0[r]
            s[r] = 0
            ts[r] = 0
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                v = xtj[r]
                m[r] = v if v > m[r] else m[r]       # a NaN still makes its row NaN below
        for j in range(c):
            ttj = tt[j]
            for r in range(rn):
                ts[r] += ttj[r]
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                s[r] += exp_neg(xtj[r] - m[r])
        lr = losses[r0:r0 + rn]
        for r in range(rn):
            lr[r] = 0
        for r in range(rn):
            s[r] = log_pos(s[r])                     # s now holds log(sum(exp))
        for j in range(c):
            xtj = xt[j]
            ttj = tt[j]
            for r in range(rn):
                lr[r] += _target_loss(ttj[r], xtj[r], m[r], s[r])
        for j in range(c):                 # the gradient, into xt: a scatter loop with the
            xtj = xt[j]                    # exponential in it does not vectorize
            ttj = tt[j]
            for r in range(rn):
                # p = exp((x - m) - log(s)): the softmax without a second division
                p = exp_neg(_log_prob(xtj[r], m[r], s[r]))
                xtj[r] = scale * (p * ts[r] - ttj[r])
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                gs[r, j] = xtj[r]
        for r in range(rn):
            total += lr[r]
    return total
