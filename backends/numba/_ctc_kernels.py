"""Numba loops of the CTC loss: per sample, the alpha recursion, the loss, and (with ``grad``)
the beta recursion with the gradient w.r.t. ``log_probs`` in the same backward sweep; the
samples run side by side on the threads in ``ctc_threaded`` (a loop over the samples, the
middle axis, so not one of ``_templates``' ``*_par`` blocks). The recursions run in float64
whatever the dtype of ``log_probs``. The gradient is the generic rule's
(``xpgrad/ops/ctc.py``): the true partial derivative, for an output gradient of 1 on this
sample's loss; NaN on the steps of an infeasible sample (0 with ``zero_infinity``), 0 past each
sample's input length.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

NEG_INF = -np.inf


@njit(error_model="numpy", cache=True)
def _lae(a, b):
    """``log(exp(a) + exp(b))`` (``-inf`` + ``-inf`` is ``-inf``, warning-free)."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a > b:
        return a + np.log1p(np.exp(b - a))
    return b + np.log1p(np.exp(a - b))


@njit(error_model="numpy", cache=True)
def _sample(lp, targets, il, tl, blank, zero_infinity, grad, nll, n, want_grad):
    """Sample ``n``: its loss into ``nll[n]`` and, with ``want_grad``, its gradient into
    ``grad[:, n, :]`` (``lp``, ``grad``: (T, N, C); the rows past its input length zeroed)."""
    steps, labels = il[n], tl[n]
    width = 2 * labels + 1
    if want_grad:
        grad[:, n, :] = 0.0
    if steps == 0:
        nll[n] = 0.0 if labels == 0 else np.inf
        return
    ext = np.empty(width, np.int64)
    for s in range(width):
        ext[s] = blank if s % 2 == 0 else targets[n, s // 2]
    skip = np.zeros(width, np.bool_)
    for s in range(2, width):
        skip[s] = ext[s] != blank and ext[s] != ext[s - 2]
    alpha = np.full((steps, width), NEG_INF)
    alpha[0, 0] = lp[0, n, ext[0]]
    if width > 1:
        alpha[0, 1] = lp[0, n, ext[1]]
    for t in range(1, steps):
        # only s in [lo, hi) can lie on a path: at most 2 symbols a step, forward or to go
        lo, hi = max(0, width - 2 * (steps - t)), min(width, 2 * t + 2)
        for s in range(lo, hi):
            a = alpha[t - 1, s]
            if s >= 1:
                a = _lae(a, alpha[t - 1, s - 1])
            if skip[s]:
                a = _lae(a, alpha[t - 1, s - 2])
            alpha[t, s] = a + lp[t, n, ext[s]] if a != NEG_INF else NEG_INF
    ll = alpha[steps - 1, width - 1]
    if width > 1:
        ll = _lae(ll, alpha[steps - 1, width - 2])
    nll[n] = -ll
    if not want_grad:
        return
    if ll == NEG_INF:
        if not zero_infinity:
            grad[:steps, n, :] = np.nan
        return
    beta = np.full(width, NEG_INF)
    nxt = np.full(width, NEG_INF)
    for t in range(steps - 1, -1, -1):
        lo, hi = max(0, width - 2 * (steps - t)), min(width, 2 * t + 2)
        for s in range(lo, width):          # beta: -inf below lo, alpha: -inf from hi on
            lps = lp[t, n, ext[s]]
            if t == steps - 1:
                b = lps if s >= width - 2 else NEG_INF
            else:
                b = nxt[s]
                if s + 1 < width:
                    b = _lae(b, nxt[s + 1])
                if s + 2 < width and skip[s + 2]:
                    b = _lae(b, nxt[s + 2])
                b = b + lps if b != NEG_INF else NEG_INF
            beta[s] = b
            ab = alpha[t, s] + b
            if s < hi and ab != NEG_INF and lps != NEG_INF:
                grad[t, n, ext[s]] -= np.exp(ab - lps - ll)
        for s in range(lo, width):
            nxt[s] = beta[s]


@njit(error_model="numpy", cache=True)
def ctc_serial(lp, targets, il, tl, blank, zero_infinity, grad, nll, want_grad):
    """Every sample, one after another, on this thread."""
    for n in range(lp.shape[1]):
        _sample(lp, targets, il, tl, blank, zero_infinity, grad, nll, n, want_grad)


@njit(error_model="numpy", cache=True, parallel=True)
def ctc_threaded(lp, targets, il, tl, blank, zero_infinity, grad, nll, want_grad):
    """The samples side by side on all threads (each writes only its own column)."""
    for n in prange(lp.shape[1]):       # (prange's index is unsigned: as int64, the serial
        #                                 loop's _sample is reused rather than compiled again)
        _sample(lp, targets, il, tl, blank, zero_infinity, grad, nll, np.int64(n), want_grad)
