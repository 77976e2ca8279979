"""Connectionist temporal classification (``xg.losses.ctc``): the primitive and its generic
rules, written against ``xp``; the public function and its checks are ``ctc_args.py``'s.

The forward is the alpha recursion of Graves et al. (2006) in log space, vectorized over the
batch and the extended label sequence ``l' = (blank, l_1, blank, l_2, ..., blank)`` of
``L = 2 S + 1`` symbols, looping over time only. The rule recomputes the alphas, runs the beta
recursion and returns the true partial derivative of the loss with respect to ``log_probs``:
``-exp(alpha_t(s) + beta_t(s) - log_probs_t(l'_s) + nll)`` summed over the ``s`` of each class.
PyTorch's ``ctc_loss`` returns ``exp(log_probs)`` plus that instead, the gradient as if
``log_probs`` were a ``log_softmax`` of something; through a ``log_softmax`` both give the same
gradient for the logits, and only xpgrad's agrees with finite differences on ``log_probs``.

>>> import numpy as np
>>> lp = np.log(np.full((2, 1, 2), 0.5))          # T=2, N=1, C=2: every path has p = 1/4
>>> nll = _ctc_forward(np, lp, np.array([[1]]), np.array([2]), np.array([1]), blank=0,
...                    reduction="sum", zero_infinity=False)
>>> round(float(nll), 4)            # -log(3/4): 3 of the 4 paths read "1"
0.2877
"""
from __future__ import annotations

from ..primitive import Primitive
from ..tensor import Tensor

NEG_INF = float("-inf")


def _smooth_lae(xp, a, b):
    """``logaddexp`` whose gradient is 0, not NaN, where both inputs are ``-inf`` (no path):
    for the rules run by an outer tape (``xp`` = xpgrad), where the NaN that logaddexp's
    gradient has there (as PyTorch's) would reach every entry through ``0 * NaN``."""
    m = xp.maximum(a, b)
    live = m != NEG_INF
    top = xp.where(live, m, 0.0)
    rest = xp.where(live, xp.minimum(a, b) - top, NEG_INF)
    return xp.where(live, top + xp.log1p(xp.exp(rest)), NEG_INF)


def _lae_of(arr):
    """The logaddexp for the recursions: NumPy's (or CuPy's) on raw arrays, else the smooth
    one."""
    if isinstance(arr, Tensor):
        return _smooth_lae
    return lambda xp, a, b: xp.logaddexp(a, b)


def _extended(xp, targets, input_lengths, target_lengths, blank):
    """``(ext, skip, pos)``: the extended labels ``(N, 2S+1)`` (padding past a sample's length
    reads as blank), where ``s -> s + 2`` may skip a blank into ``s`` (a label differing from
    the one two back), and each column's index."""
    n, s = targets.shape
    ones = xp.ones_like(targets)
    col = xp.cumulative_sum(ones, axis=1) - 1
    targets = xp.where(col < target_lengths[:, None], targets, blank)
    blank_col = xp.reshape(xp.astype(input_lengths, targets.dtype) * 0 + blank, (n, 1))
    pairs = xp.stack((targets, xp.zeros_like(targets) + blank), axis=2)
    ext = xp.concat((blank_col, xp.reshape(pairs, (n, 2 * s))), axis=1)
    skip = xp.concat((ext[:, :2] != ext[:, :2],
                      (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])), axis=1)
    pos = xp.cumulative_sum(xp.ones_like(ext), axis=1) - 1
    return ext, skip, pos


def _gathered(xp, log_probs, ext):
    """``log_probs[t, n, ext[n, s]]`` as a ``(T, N, L)`` array."""
    t, n, c = log_probs.shape
    row = xp.cumulative_sum(xp.ones_like(ext[:, :1]), axis=0) - 1          # (N, 1): n
    idx = xp.reshape(ext + row * c, (-1,))
    return xp.reshape(xp.take(xp.reshape(log_probs, (t, n * c)), idx, axis=1),
                      (t, n, ext.shape[1]))


def _shift(xp, a, k, fill):
    """``a`` moved ``k`` columns right (``k`` > 0) or left, ``fill`` (``a``'s shape) coming in."""
    width = a.shape[1]
    if k > 0:
        return xp.concat((fill[:, :min(k, width)], a[:, :max(width - k, 0)]), axis=1)
    k = -k
    return xp.concat((a[:, min(k, width):], fill[:, :min(k, width)]), axis=1)


def _alphas(xp, lpe, skip, input_lengths, keep):
    """The alpha recursion: ``(alphas or None, alpha at each sample's last step)``."""
    lae = _lae_of(lpe)
    ninf = xp.full_like(lpe[0, ...], NEG_INF)
    pos = xp.cumulative_sum(xp.ones_like(lpe[0, ...]), axis=1) - 1.0
    alpha = xp.where(pos < 2.0, lpe[0, ...], NEG_INF)
    last = (input_lengths - 1)[:, None]
    end = xp.where(last == 0, alpha, ninf)
    kept = [alpha] if keep else None
    for t in range(1, lpe.shape[0]):
        a = lae(xp, alpha, _shift(xp, alpha, 1, ninf))
        a = lae(xp, a, xp.where(skip, _shift(xp, alpha, 2, ninf), NEG_INF))
        alpha = a + lpe[t, ...]
        end = xp.where(last == t, alpha, end)
        if keep:
            kept.append(alpha)
    return kept, end


def _nll(xp, end, pos, input_lengths, target_lengths):
    """Each sample's negative log-likelihood from its final alphas (inf if infeasible)."""
    final = xp.astype(2 * target_lengths, end.dtype)[:, None]    # s of the last blank
    ll = _lae_of(end)(xp, xp.max(xp.where(pos == final, end, NEG_INF), axis=1),
                      xp.max(xp.where(pos == final - 1.0, end, NEG_INF), axis=1))
    # no input steps: the empty target has probability 1, any other 0 (as PyTorch)
    empty = (input_lengths == 0) & (target_lengths == 0)
    return xp.where(empty, 0.0, -ll)


def ctc_nll(xp, log_probs, targets, input_lengths, target_lengths, blank, keep=False):
    """``(nll per sample, extended labels, skip mask, log_probs at them (T, N, L), alphas or
    None)``."""
    ext, skip, pos = _extended(xp, targets, input_lengths, target_lengths, blank)
    lpe = _gathered(xp, log_probs, ext)
    # the steps past a sample's input length read as 0: padding there (NaN too) reaches
    # neither the loss nor, through an outer tape's 0 * NaN, the second derivatives
    step = xp.cumulative_sum(xp.ones_like(lpe[:, :1, :1]), axis=0) - 1.0       # (T, 1, 1): t
    lpe = xp.where(step < xp.astype(input_lengths, lpe.dtype)[None, :, None], lpe, 0.0)
    alphas, end = _alphas(xp, lpe, skip, input_lengths, keep)
    nll = _nll(xp, end, xp.astype(pos, log_probs.dtype), input_lengths, target_lengths)
    return nll, ext, skip, lpe, alphas


def reduce_nll(xp, nll, target_lengths, reduction, zero_infinity):
    """PyTorch's reductions: ``"mean"`` divides each loss by its target length (at least 1),
    then averages over the batch."""
    if zero_infinity:
        nll = xp.where(nll == float("inf"), 0.0, nll)
    if reduction == "none":
        return nll
    if reduction == "sum":
        return xp.sum(nll)
    if nll.shape[0] == 0:
        return xp.sum(nll) * float("nan")
    per = nll / xp.astype(xp.maximum(target_lengths, 1), nll.dtype)
    return xp.mean(per)


def _ctc_forward(xp, log_probs, targets, input_lengths, target_lengths, blank, reduction,
                 zero_infinity):
    nll = ctc_nll(xp, log_probs, targets, input_lengths, target_lengths, blank)[0]
    return reduce_nll(xp, nll, target_lengths, reduction, zero_infinity)


def _betas(xp, lpe, skip, ext_len, input_lengths):
    """The beta recursion (each beta_t(s) includes ``lpe[t, s]``), latest step first."""
    lae = _lae_of(lpe)
    ninf = xp.full_like(lpe[0, ...], NEG_INF)
    pos = xp.cumulative_sum(xp.ones_like(lpe[0, ...]), axis=1) - 1.0
    last_s = xp.astype(ext_len - 1, lpe.dtype)[:, None]
    start = (pos == last_s) | (pos == last_s - 1.0)
    skip_next = _shift(xp, skip, -2, skip != skip)        # s + 2 may be skipped into
    last = (input_lengths - 1)[:, None]
    beta = ninf
    out = []
    for t in range(lpe.shape[0] - 1, -1, -1):
        b = lae(xp, beta, _shift(xp, beta, -1, ninf))
        b = lae(xp, b, xp.where(skip_next, _shift(xp, beta, -2, ninf), NEG_INF))
        beta = xp.where(last == t, xp.where(start, lpe[t, ...], NEG_INF),
                        xp.where(last > t, b + lpe[t, ...], NEG_INF))
        out.append(beta)
    out.reverse()
    return out


def per_sample_scale(xp, g, nll, target_lengths, reduction, zero_infinity):
    """The output gradient per sample ``(N,)``, 0 where ``zero_infinity`` zeroed its loss."""
    n = nll.shape[0]
    if reduction == "none":
        gs = g
    elif reduction == "sum":
        gs = xp.zeros_like(nll) + g
    else:
        gs = (xp.zeros_like(nll) + g) / (xp.astype(xp.maximum(target_lengths, 1), nll.dtype)
                                         * max(n, 1))
    if zero_infinity:
        gs = xp.where(nll == float("inf"), 0.0, gs)
    return gs


def _ctc_dlogp(xp, g, ans, log_probs, targets, input_lengths, target_lengths, blank, reduction,
               zero_infinity):
    nll, ext, skip, lpe, alphas = ctc_nll(xp, log_probs, targets, input_lengths,
                                          target_lengths, blank, keep=True)
    betas = _betas(xp, lpe, skip, 2 * target_lengths + 1, input_lengths)
    gs = per_sample_scale(xp, g, nll, target_lengths, reduction, zero_infinity)
    infeasible = (nll == float("inf"))[:, None]
    nll_finite = xp.where(infeasible[:, 0], 0.0, nll)[:, None]
    steps = []
    for t, (a, b) in enumerate(zip(alphas, betas)):
        ab = a + b                                          # -inf where no path passes
        lp = xp.where(lpe[t, ...] == NEG_INF, 0.0, lpe[t, ...])      # (no -inf - -inf)
        w = -xp.exp(ab - lp + nll_finite)
        # an infeasible sample's gradient is NaN on its steps, as PyTorch's (0 with
        # zero_infinity, through gs), and 0 past its input length
        if not zero_infinity:
            w = xp.where(infeasible, float("nan"), w)
        w = xp.where((input_lengths > t)[:, None], w * gs[:, None], 0.0)
        steps.append(w)
    w = xp.stack(steps, axis=1)                              # (N, T, L)
    cls = xp.cumulative_sum(xp.ones_like(log_probs[0, ...]), axis=1) - 1.0        # (N, C): c
    onehot = xp.astype(xp.astype(ext, log_probs.dtype)[:, :, None] == cls[:, None, :],
                       log_probs.dtype)                     # (N, L, C)
    return xp.permute_dims(xp.matmul(w, onehot), (1, 0, 2))


ctc_primitive = Primitive("ctc_loss", _ctc_forward, _ctc_dlogp, None, None, None)
