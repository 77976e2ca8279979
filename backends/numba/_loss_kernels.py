"""Numba loops of the fused losses: loss and gradient in one pass over the data.

Each ``*_block`` function runs on one thread over all it is given: the rows of a 2-D array
(softmax) or whole 1-D arrays (elementwise: loops over ``range(n)``, since an index Numba cannot
prove non-negative gets a wraparound check that turns vector loads into gathers). The three
elementwise ones are one loop (``_templates.ELEMENTWISE_LOSS``) around a per-element function.
Each ``*_par`` function (``_templates.parallel_blocks``) runs its ``*_block`` on fixed blocks of
rows or entries on all threads; block sums add up in float64 in block order, so a result does
not depend on the number of threads. Rows of few classes have their own loops, SIMD across rows
(``_sce_kernels``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._math import LOOP_OPTIONS, MATH_FLAGS, exp_neg, key_to_float, log1p01, ordered_key, sigmoid
from ._templates import elementwise_loss, elementwise_loss_only, parallel_blocks
from ._transpose import prefetch_read, prefetch_write


# -- softmax cross-entropy, one row at a time ---------------------------------------------------
# Rounding-sensitive steps live in helpers compiled with MATH_FLAGS (no ``reassoc``): inlined,
# their instructions keep their own flags, so a caller's ``reassoc`` cannot reach into them. (A
# helper compiled with no fastmath option at all takes its caller's flags, so they say so.) In a
# loop with ``reassoc`` LLVM rewrote ``log(s) - (x - m)`` into ``(log(s) + m) - x``, which with
# logits near 1e4 loses every digit of a loss near 1 in float32 (ulp(1e4) = 1e-3; the loss was
# off by 1e-4 relative), and ``(x - m) - ls`` may become ``x - (m + ls)`` the same way.
@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _label_loss(s, x, m):
    """``log(s) - (x - m)``, in this order: the loss of a row whose label has logit ``x``."""
    return np.log(s) - (x - m)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _log_prob(x, m, ls):
    """``(x - m) - ls``, in this order: a log-probability."""
    return (x - m) - ls


@njit(**LOOP_OPTIONS)
def _row_max(xr):
    """Max of a row through integer keys (vectorizes; a float max loop does not)."""
    m = ordered_key(xr[0])
    for j in range(1, xr.shape[0]):
        k = ordered_key(xr[j])
        m = k if k > m else m
    return key_to_float(m, xr[0])


@njit(**LOOP_OPTIONS)
def _row_exp(xr, gr, m):
    """``gr = exp(xr - m)``; returns the sum. (NaN anywhere in the row makes the sum NaN.)"""
    s = xr.dtype.type(0)
    for j in range(xr.shape[0]):
        e = exp_neg(xr[j] - m)
        gr[j] = e
        s += e
    return s


#: classes of a row whose sums run in its dtype, the chunks' sums then in float64: float32
#: chains over a whole row (one per SIMD lane) left the loss of a row of 1e6 probabilities off
#: by 6e-7 relative (PyTorch's 5e-8); float64 throughout cost 10-15% at 1000 classes
_ROW_CHUNK = 4096


@njit(**LOOP_OPTIONS)
def _row_sum(tr):
    """The sum of a row, chunk by chunk (``_ROW_CHUNK``), the chunks' sums in float64."""
    total = 0.0
    for j0 in range(0, tr.shape[0], _ROW_CHUNK):
        total += _part_sum(tr[j0:j0 + _ROW_CHUNK])
    return total


@njit(**LOOP_OPTIONS)
def _part_sum(tr):
    s = tr.dtype.type(0)
    for j in range(tr.shape[0]):
        s += tr[j]
    return s


@njit(**LOOP_OPTIONS)
def _probs_part(xr, tr, gr, a, scale, m, ls):
    """``gr[j] = gr[j] * a - scale * t[j]`` over a part of a row; returns ``-sum(t * log_p)``
    there, in the row's dtype. (The part comes sliced: a loop from a variable start gets
    wraparound checks, and no SIMD.)"""
    zero = xr.dtype.type(0)
    loss = zero
    for j in range(xr.shape[0]):
        tj = tr[j]
        gr[j] = gr[j] * a - scale * tj
        # 0 * log(0) counts as 0: a masked class (logit -inf) without target weight is free;
        # 0 * ls keeps a row without a softmax (ls NaN: no finite logit) NaN, as PyTorch
        loss -= tj * _log_prob(xr[j], m, ls) if tj != zero else tj * ls
    return loss


@njit(**LOOP_OPTIONS)
def _probs_loss_part(xr, tr, m, ls):
    """``_probs_part``'s loss alone."""
    zero = xr.dtype.type(0)
    loss = zero
    for j in range(xr.shape[0]):
        tj = tr[j]
        loss -= tj * _log_prob(xr[j], m, ls) if tj != zero else tj * ls
    return loss


@njit(inline="always", **LOOP_OPTIONS)
def _prefetch_row(xf, gf, c, i):
    """Ask for the row about 4 KiB after row ``i`` of the flat (n, c) arrays ``xf`` (to read)
    and ``gf`` (to write) (in memory, 100-1000 float32 classes: 10-20% of the row kernels)."""
    at = (i + max(1, 4096 // (c * xf.itemsize))) * c
    prefetch_read(xf, at, at + c)
    prefetch_write(gf, at, at + c)


@njit(**LOOP_OPTIONS)
def sce_labels_block(x, labels, grad, losses, scale):
    """Every row with integer labels: ``losses[i]`` and ``grad[i] = scale*(p - onehot)``.
    Returns the sum of the losses in float64, or NaN at the first label outside
    ``[0, classes)`` (the rows after it unwritten)."""
    xf, gf = x.reshape(-1), grad.reshape(-1)
    total = 0.0
    for i in range(x.shape[0]):
        _prefetch_row(xf, gf, x.shape[1], i)
        xr = x[i]
        gr = grad[i]
        lab = labels[i]
        if lab < 0 or lab >= xr.shape[0]:
            return np.nan
        m = _row_max(xr)
        s = _row_exp(xr, gr, m)
        inv = scale / s
        for j in range(xr.shape[0]):
            gr[j] *= inv
        gr[lab] -= scale
        loss = _label_loss(s, xr[lab], m)
        losses[i] = loss
        total += loss
    return total


@njit(**LOOP_OPTIONS)
def sce_probs_block(x, t, grad, losses, scale):
    """Every row with probability targets: ``grad[i] = scale*(p*sum(t) - t)``. Returns the
    sum of the losses in float64."""
    xf, tf, gf = x.reshape(-1), t.reshape(-1), grad.reshape(-1)
    total = 0.0
    for i in range(x.shape[0]):
        _prefetch_row(xf, gf, x.shape[1], i)
        _prefetch_row(tf, tf, x.shape[1], i)
        xr = x[i]
        tr = t[i]
        gr = grad[i]
        m = _row_max(xr)
        tsum = _row_sum(tr)
        s = _row_exp(xr, gr, m)
        ls = np.log(s)
        a = xr.dtype.type(scale * tsum / s)
        loss = 0.0
        for j in range(0, xr.shape[0], _ROW_CHUNK):
            k = j + _ROW_CHUNK
            loss += _probs_part(xr[j:k], tr[j:k], gr[j:k], a, scale, m, ls)
        losses[i] = loss
        total += loss
    return total


sce_labels_par = parallel_blocks(sce_labels_block, arrays=4, sums=True)
sce_probs_par = parallel_blocks(sce_probs_block, arrays=4, sums=True)


# -- softmax cross-entropy without the gradient (a call no tape records) -----------------------
@njit(**LOOP_OPTIONS)
def _row_sum_exp(xr, m):
    """The sum of ``exp(xr - m)``."""
    s = xr.dtype.type(0)
    for j in range(xr.shape[0]):
        s += exp_neg(xr[j] - m)
    return s


@njit(**LOOP_OPTIONS)
def sce_labels_loss_block(x, labels, losses):
    """``sce_labels_block``'s losses and sum alone (NaN at a label outside the classes)."""
    total = 0.0
    for i in range(x.shape[0]):
        xr = x[i]
        lab = labels[i]
        if lab < 0 or lab >= xr.shape[0]:
            return np.nan
        m = _row_max(xr)
        loss = _label_loss(_row_sum_exp(xr, m), xr[lab], m)
        losses[i] = loss
        total += loss
    return total


@njit(**LOOP_OPTIONS)
def sce_probs_loss_block(x, t, losses):
    """``sce_probs_block``'s losses and sum alone."""
    total = 0.0
    for i in range(x.shape[0]):
        xr = x[i]
        tr = t[i]
        m = _row_max(xr)
        ls = np.log(_row_sum_exp(xr, m))
        loss = 0.0
        for j in range(0, xr.shape[0], _ROW_CHUNK):
            k = j + _ROW_CHUNK
            loss += _probs_loss_part(xr[j:k], tr[j:k], m, ls)
        losses[i] = loss
        total += loss
    return total


sce_labels_loss_par = parallel_blocks(sce_labels_loss_block, arrays=3, sums=True)
sce_probs_loss_par = parallel_blocks(sce_probs_loss_block, arrays=3, sums=True)


# -- elementwise losses: gradient into ``grad``; per-entry loss into ``out`` or summed ---------
# The loop around each per-element function is ``_templates.ELEMENTWISE_LOSS``; it sums in the
# input's dtype over chunks of _CHUNK entries, the chunk sums in float64.
_CHUNK = 1024


@njit(**LOOP_OPTIONS)
def _sigmoid_mse(xi, ti, c, one):
    """``(sigmoid(x) - t)**2`` and its gradient ``c * (s - t) * s * (1 - s)`` (c = 2 * scale)."""
    s = sigmoid(xi)
    d = s - ti
    return d * d, c * d * s * (one - s)


sigmoid_mse_block = elementwise_loss(_sigmoid_mse, name="sigmoid_mse_block", chunk=_CHUNK)
sigmoid_mse_par = parallel_blocks(sigmoid_mse_block, arrays=4, sums=True)
sigmoid_mse_loss_block = elementwise_loss_only(_sigmoid_mse, name="sigmoid_mse_loss_block",
                                               chunk=_CHUNK)
sigmoid_mse_loss_par = parallel_blocks(sigmoid_mse_loss_block, arrays=3, sums=True)


@njit(**LOOP_OPTIONS)
def _mse(xi, ti, c, one):
    """``(x - t)**2`` and its gradient ``c * (x - t)`` (c = 2 * scale)."""
    d = xi - ti
    return d * d, c * d


mse_block = elementwise_loss(_mse, name="mse_block", chunk=_CHUNK)
mse_par = parallel_blocks(mse_block, arrays=4, sums=True)
mse_loss_block = elementwise_loss_only(_mse, name="mse_loss_block", chunk=_CHUNK)
mse_loss_par = parallel_blocks(mse_loss_block, arrays=3, sums=True)


@njit(**LOOP_OPTIONS)
def _sigmoid_ce(xi, ti, c, one):
    """``max(x, 0) - x t + log1p(exp(-|x|))`` and ``c * (sigmoid(x) - t)`` (c = scale),
    sharing one exponential; the loss as ``formulas.sigmoid_ce`` computes it (no
    cancellation near t = 1; at x = +-inf its limit), with selects only (an ``if`` made the
    loop 9x slower)."""
    zero = one - one
    a = abs(xi)
    e = exp_neg(-a)
    losing = one - ti if xi > zero else ti
    limit = a * losing
    loss = (zero if losing == zero else limit) + log1p01(e)
    r = one / (one + e)
    s = r if xi >= zero else e * r
    return loss, c * (s - ti)


sigmoid_ce_block = elementwise_loss(_sigmoid_ce, name="sigmoid_ce_block", chunk=_CHUNK)
sigmoid_ce_par = parallel_blocks(sigmoid_ce_block, arrays=4, sums=True)
sigmoid_ce_loss_block = elementwise_loss_only(_sigmoid_ce, name="sigmoid_ce_loss_block",
                                              chunk=_CHUNK)
sigmoid_ce_loss_par = parallel_blocks(sigmoid_ce_loss_block, arrays=3, sums=True)


@njit(**LOOP_OPTIONS)
def _huber(xi, ti, c, one):
    """Huber's loss ``half_scale * r * (2|d| - r)`` with ``r = min(|d|, delta)`` (that is
    ``0.5 scale d**2`` below delta, ``scale delta (|d| - delta / 2)`` above) and its gradient
    ``g * clip(d, -delta, delta)``, for ``d = x - t`` and ``c = (g, delta, half_scale)``; NaN
    stays NaN, +-inf costs inf with gradient +-g delta."""
    g, delta, half_scale = c
    d = xi - ti
    a = abs(d)
    inside = not (a >= delta)                   # NaN: inside, so the clipped d stays NaN
    r = a if inside else delta
    dc = d if inside else (delta if d > 0 else -delta)
    return half_scale * r * (a + a - r), g * dc


huber_block = elementwise_loss(_huber, name="huber_block", chunk=_CHUNK)
huber_par = parallel_blocks(huber_block, arrays=4, sums=True)
huber_loss_block = elementwise_loss_only(_huber, name="huber_loss_block", chunk=_CHUNK)
huber_loss_par = parallel_blocks(huber_loss_block, arrays=3, sums=True)


# -- softmax cross-entropy with label smoothing: integer labels, rows maybe ignored -----------
@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _shifted(x, m):
    """``x - m``, never reassociated into a caller's sum (``sum(x) - c m`` loses every digit
    of rows near 1e4 in float32)."""
    return x - m


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _smoothed_loss(s, x, m, shifted_sum, keep, spread):
    """``log(s) - (keep (x - m) + spread sum(x - m))`` in this order: the loss of a row
    against its smoothed one-hot target ``keep * onehot + spread`` (keep = 1 - eps, spread =
    eps / classes), a sum of non-negative terms."""
    return np.log(s) - (keep * (x - m) + spread * shifted_sum)


@njit(**LOOP_OPTIONS)
def _row_shifted_sum(xr, m):
    """The sum of ``xr - m``."""
    total = xr.dtype.type(0)
    for j in range(xr.shape[0]):
        total += _shifted(xr[j], m)
    return total


@njit(**LOOP_OPTIONS)
def sce_smoothed_block(x, labels, grad, losses, scale, keep, spread, ignore):
    """Every row against ``keep * onehot(label) + spread``: ``losses[i]`` and ``grad[i] =
    scale * (p - target)``; a row labelled ``ignore`` costs 0 and gets a zero gradient (NaN
    where it has no softmax).
    Returns the sum of the losses in float64, or NaN at the first other label outside
    ``[0, classes)``."""
    xf, gf = x.reshape(-1), grad.reshape(-1)
    zero = x.dtype.type(0)
    off = scale * spread
    total = 0.0
    for i in range(x.shape[0]):
        _prefetch_row(xf, gf, x.shape[1], i)
        xr = x[i]
        gr = grad[i]
        lab = labels[i]
        if lab == ignore:
            # 0 times the row's softmax: NaN where it has none (no finite logit, a NaN), as
            # PyTorch; the shifted sum is NaN exactly then
            fill = zero * _row_shifted_sum(xr, _row_max(xr))
            for j in range(gr.shape[0]):
                gr[j] = fill
            losses[i] = zero
            continue
        if lab < 0 or lab >= xr.shape[0]:
            return np.nan
        m = _row_max(xr)
        s = _row_exp(xr, gr, m)
        shifted_sum = _row_shifted_sum(xr, m)
        inv = scale / s
        for j in range(xr.shape[0]):
            gr[j] = gr[j] * inv - off
        gr[lab] -= scale * keep
        loss = _smoothed_loss(s, xr[lab], m, shifted_sum, keep, spread)
        losses[i] = loss
        total += loss
    return total


sce_smoothed_par = parallel_blocks(sce_smoothed_block, arrays=4, sums=True)
