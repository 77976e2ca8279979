"""Numba loops of the fused losses: loss and gradient in one pass over the data.

Each ``*_block`` function runs on one thread over all it is given: the rows of a 2-D array
(softmax) or whole 1-D arrays (elementwise: loops over ``range(n)``, since an index Numba cannot
prove non-negative gets a wraparound check that turns vector loads into gathers). The three
elementwise ones are one loop (``_templates.ELEMENTWISE_LOSS``) around a per-element function.
Each ``*_par`` function (``_templates.parallel_blocks``) runs its ``*_block`` on fixed blocks of
rows or entries on all threads; block sums add up in float64 in block order, so a result does
not depend on the number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._math import (LOOP_OPTIONS, MATH_FLAGS, exp_neg, key_to_float, log1p01, log_pos,
                    ordered_key, sigmoid)
from ._templates import elementwise_loss, parallel_blocks
from ._transpose import lanes, prefetch_read, prefetch_write, transpose_block


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
    Returns 0, or 1 at the first label outside ``[0, classes)`` (the rows after it unwritten)."""
    xf, gf = x.reshape(-1), grad.reshape(-1)
    for i in range(x.shape[0]):
        _prefetch_row(xf, gf, x.shape[1], i)
        xr = x[i]
        gr = grad[i]
        lab = labels[i]
        if lab < 0 or lab >= xr.shape[0]:
            return 1
        m = _row_max(xr)
        s = _row_exp(xr, gr, m)
        inv = scale / s
        for j in range(xr.shape[0]):
            gr[j] *= inv
        gr[lab] -= scale
        losses[i] = _label_loss(s, xr[lab], m)
    return 0


@njit(**LOOP_OPTIONS)
def sce_probs_block(x, t, grad, losses, scale):
    """Every row with probability targets: ``grad[i] = scale*(p*sum(t) - t)``."""
    xf, tf, gf = x.reshape(-1), t.reshape(-1), grad.reshape(-1)
    for i in range(x.shape[0]):
        _prefetch_row(xf, gf, x.shape[1], i)
        _prefetch_row(tf, tf, x.shape[1], i)
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
            loss -= tj * _log_prob(xr[j], m, ls) if tj != zero else zero
        losses[i] = loss


# -- softmax cross-entropy for short rows: SIMD across rows ------------------------------------
#: rows per tile of the short-row kernels; a tile is transposed into a buffer of (classes
#: rounded up to whole registers) rows of TILE + _PAD entries (the padding keeps the buffer's
#: rows out of each other's cache sets: a stride of 1 KiB was 10x slower)
TILE = 64
_PAD = 16
_STRIDE = TILE + _PAD


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _label_loss_vec(s, x, m):
    """``log(s) - (x - m)`` in this order, with a log that vectorizes (s >= 1 here)."""
    return log_pos(s) - (x - m)


@njit(inline="always", **LOOP_OPTIONS)
def _tile_in(xf, c, r0, rn, xtf, m):
    """Rows ``r0 .. r0 + rn`` of the flat (n, c) array ``xf`` into the tile buffer ``xtf``,
    transposed (class ``j`` of row ``r0 + r`` at ``xtf[j * _STRIDE + r]``); with an array ``m``
    (else None), ``m[r]`` becomes the max of its row (NaN skipped) over its start value."""
    lw = lanes(xf)
    for rb in range(0, rn, lw):
        nr = min(lw, rn - rb)
        for j0 in range(0, c, lw):
            nc = min(lw, c - j0)
            transpose_block(xf, (r0 + rb) * c + j0, c, nr, nc, xtf, j0 * _STRIDE + rb, _STRIDE,
                            nc, nr, None, m, rb)


@njit(inline="always", **LOOP_OPTIONS)
def _tile_out(xtf, c, r0, rn, gf, factors):
    """The tile buffer ``xtf`` back into rows ``r0 .. r0 + rn`` of the flat (n, c) array ``gf``,
    each row times its entry of ``factors`` (or as it is with None). Column blocks go last
    first, so the first one overwrites what the others spill into the next row."""
    lw = lanes(gf)
    for rb in range(0, rn, lw):
        nr = min(lw, rn - rb)
        for j0 in range((c - 1) // lw * lw, -1, -lw):
            nc = min(lw, c - j0)
            transpose_block(xtf, j0 * _STRIDE + rb, _STRIDE, nc, nr, gf, (r0 + rb) * c + j0, c,
                            nr, nc, factors, None, rb)


@njit(**LOOP_OPTIONS)
def _tile_buffer(x):
    """A tile buffer for ``x``'s rows (classes rounded up to whole registers) and its 2-D view."""
    lw = lanes(x)
    flat = np.empty((x.shape[1] + lw - 1) // lw * lw * _STRIDE, x.dtype)
    return flat, flat.reshape(-1, _STRIDE)


@njit(inline="always", **LOOP_OPTIONS)
def _labels_in_range(labels, c):
    """Whether every label is in ``[0, c)``."""
    bad = 0
    for r in range(labels.shape[0]):
        k = labels[r]
        bad += (k < 0) | (k >= c)
    return bad == 0


#: how many tiles ahead the kernels ask for their rows (_prefetch_part)
_AHEAD = 2


@njit(inline="always", **LOOP_OPTIONS)
def _prefetch_part(xf, gf, c, r0, j, k):
    """Ask for part ``j .. j + k`` of ``c`` of the tile ``_AHEAD`` tiles after the one at
    ``r0``: its logits to read, its gradient to write. The kernels alternate between loading a
    tile and computing on it; asked for piece by piece while computing (one part per class),
    the next tiles arrive meanwhile. (Asked for all at once, the requests fill the CPU's
    miss buffers and stall it: 33 classes took 4.4x the copy floor that way, 2.3x spread,
    4M float32 logits, one thread.)"""
    at = (r0 + _AHEAD * TILE) * c + j * TILE
    prefetch_read(xf, at, at + k * TILE)
    prefetch_write(gf, at, at + k * TILE)


@njit(inline="always", **LOOP_OPTIONS)
def _tile_exp(xt, c, rn, m, s, xf, gf, r0):
    """``xt[j, r] = exp(xt[j, r] - m[r])`` for ``j < c``, ``r < rn``, summed into ``s[r]``;
    two classes a step (two independent exponentials: 5-10% faster than one), each step
    asking for its part of a later tile (``_prefetch_part``)."""
    j = 0
    while j + 2 <= c:
        _prefetch_part(xf, gf, c, r0, j, 2)
        x0, x1 = xt[j], xt[j + 1]
        for r in range(rn):
            mr = m[r]
            e0 = exp_neg(x0[r] - mr)
            e1 = exp_neg(x1[r] - mr)
            x0[r] = e0
            x1[r] = e1
            s[r] += e0 + e1
        j += 2
    if j < c:
        _prefetch_part(xf, gf, c, r0, j, 1)
        x0 = xt[j]
        for r in range(rn):
            e0 = exp_neg(x0[r] - m[r])
            x0[r] = e0
            s[r] += e0


@njit(**LOOP_OPTIONS)
def sce_labels_short(x, labels, grad, losses, scale):
    """``sce_labels_block`` for rows of a few classes: each tile of ``TILE`` rows is
    transposed in registers (``_transpose.transpose_block``, which also takes each row's max on
    the way) into a (classes, TILE) buffer, so the exponentials and sums run along rows in SIMD
    lanes rather than along a row too short to fill them; the way back scales each row, and
    the one-hot is subtracted last, in the rows' own layout. Returns 0, or 1 at the first tile
    with a label outside ``[0, classes)`` (what it wrote is then unspecified)."""
    n, c = x.shape
    xf, gf = x.reshape(-1), grad.reshape(-1)
    xtf, xt = _tile_buffer(x)
    m = np.empty(_STRIDE, x.dtype)
    s = np.empty(_STRIDE, x.dtype)
    xl = np.empty(_STRIDE, x.dtype)
    low = x.dtype.type(-np.inf)
    for r0 in range(0, n, TILE):
        rn = min(TILE, n - r0)
        ls, lr = labels[r0:r0 + rn], losses[r0:r0 + rn]
        if not _labels_in_range(ls, c):
            return 1
        for r in range(_STRIDE):
            m[r] = low
            s[r] = 0
        _tile_in(xf, c, r0, rn, xtf, m)
        xs, gs = xf[r0 * c:(r0 + rn) * c], gf[r0 * c:(r0 + rn) * c]
        for r in range(rn):
            xl[r] = xs[r * c + ls[r]]
        # a NaN is skipped in m, but it makes its row's sum, loss and gradient NaN here
        _tile_exp(xt, c, rn, m, s, xf, gf, r0)
        for r in range(rn):
            lr[r] = _label_loss_vec(s[r], xl[r], m[r])
            s[r] = scale / s[r]
        _tile_out(xtf, c, r0, rn, gf, s)
        for r in range(rn):
            gs[r * c + ls[r]] -= scale
    return 0


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _target_loss(tj, xj, m, ls):
    """``-t * ((x - m) - ls)`` in this order; 0 for a class without target weight."""
    return -(tj * ((xj - m) - ls)) if tj != 0 else tj - tj


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _weighted_gap(tj, xj, m):
    """``-t * (x - m)`` in this order; 0 for a class without target weight."""
    return -(tj * (xj - m)) if tj != 0 else tj - tj


@njit(inline="always", **LOOP_OPTIONS)
def _tile_exp_targets(xt, tt, c, rn, m, s, ts, gap, xf, gf, tf, r0):
    """``_tile_exp`` with targets ``tt`` beside ``xt``: also sums ``t`` into ``ts[r]`` and
    ``-t * (x - m)`` into ``gap[r]``, and asks for a later tile's targets too."""
    j = 0
    while j + 2 <= c:
        _prefetch_part(xf, gf, c, r0, j, 2)
        at = (r0 + _AHEAD * TILE) * c + j * TILE
        prefetch_read(tf, at, at + 2 * TILE)
        x0, x1, t0, t1 = xt[j], xt[j + 1], tt[j], tt[j + 1]
        for r in range(rn):
            mr = m[r]
            a0, a1, b0, b1 = x0[r], x1[r], t0[r], t1[r]
            ts[r] += b0 + b1
            gap[r] += _weighted_gap(b0, a0, mr) + _weighted_gap(b1, a1, mr)
            e0 = exp_neg(a0 - mr)
            e1 = exp_neg(a1 - mr)
            x0[r] = e0
            x1[r] = e1
            s[r] += e0 + e1
        j += 2
    if j < c:
        _prefetch_part(xf, gf, c, r0, j, 1)
        at = (r0 + _AHEAD * TILE) * c + j * TILE
        prefetch_read(tf, at, at + TILE)
        x0, t0 = xt[j], tt[j]
        for r in range(rn):
            mr = m[r]
            a0, b0 = x0[r], t0[r]
            ts[r] += b0
            gap[r] += _weighted_gap(b0, a0, mr)
            e0 = exp_neg(a0 - mr)
            x0[r] = e0
            s[r] += e0


@njit(**LOOP_OPTIONS)
def sce_probs_short(x, t, grad, losses, scale):
    """``sce_probs_block`` for rows of a few classes, in transposed tiles as
    ``sce_labels_short``, in one pass over each tile: the loss is ``-sum(t * (x - m)) +
    log(s) * sum(t)`` (two sums of terms of one sign for targets >= 0, so the same to rounding
    as the row kernel's ``-sum(t * ((x - m) - log(s)))``); ``scale * t`` is subtracted after
    the way back, in the rows' own layout."""
    n, c = x.shape
    xf, tf, gf = x.reshape(-1), t.reshape(-1), grad.reshape(-1)
    xtf, xt = _tile_buffer(x)
    ttf, tt = _tile_buffer(x)
    m = np.empty(_STRIDE, x.dtype)
    s = np.empty(_STRIDE, x.dtype)
    ts = np.empty(_STRIDE, x.dtype)
    gap = np.empty(_STRIDE, x.dtype)
    low = x.dtype.type(-np.inf)
    for r0 in range(0, n, TILE):
        rn = min(TILE, n - r0)
        for r in range(_STRIDE):
            m[r] = low
            s[r] = 0
            ts[r] = 0
            gap[r] = 0
        _tile_in(xf, c, r0, rn, xtf, m)      # a NaN is skipped in m but makes its row NaN below
        _tile_in(tf, c, r0, rn, ttf, None)
        _tile_exp_targets(xt, tt, c, rn, m, s, ts, gap, xf, gf, tf, r0)
        lr = losses[r0:r0 + rn]
        for r in range(rn):
            lr[r] = gap[r] + log_pos(s[r]) * ts[r]
            s[r] = scale * ts[r] / s[r]             # s now holds the gradient's factor
        _tile_out(xtf, c, r0, rn, gf, s)
        gs, tr = gf[r0 * c:(r0 + rn) * c], tf[r0 * c:(r0 + rn) * c]
        for i in range(gs.shape[0]):
            gs[i] -= scale * tr[i]


# -- rows of 2 or 3 classes: the tiles transposed by loops (gathers), cheaper there ----------
#: classes up to which the short-row kernels transpose by loops (measured: 3 classes 8.6x the
#: copy floor by loops, 10.3x in registers; 4 classes 7.8x and 7.1x)
GATHERED_MAX = 3
_GATHER_TILE = 256


@njit(**LOOP_OPTIONS)
def sce_labels_gathered(x, labels, grad, losses, scale):
    """``sce_labels_short`` for rows of at most ``GATHERED_MAX`` classes, where a register
    transpose would move mostly padding: each tile of ``_GATHER_TILE`` rows is transposed by
    loops over rows innermost (gathers and scatters) into a (classes, _GATHER_TILE) buffer."""
    n, c = x.shape
    xt = np.empty((c, _GATHER_TILE + _PAD), x.dtype)
    m = np.empty(_GATHER_TILE, x.dtype)
    s = np.empty(_GATHER_TILE, x.dtype)
    xl = np.empty(_GATHER_TILE, x.dtype)
    for r0 in range(0, n, _GATHER_TILE):
        rn = min(_GATHER_TILE, n - r0)
        xs = x[r0:r0 + rn]
        gs = grad[r0:r0 + rn]
        ls = labels[r0:r0 + rn]
        if not _labels_in_range(ls, c):
            return 1
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
        for j in range(c):
            xtj = xt[j]
            for r in range(rn):
                gs[r, j] = xtj[r] * s[r]
        for r in range(rn):
            gs[r, ls[r]] -= scale
    return 0


@njit(**LOOP_OPTIONS)
def sce_probs_gathered(x, t, grad, losses, scale):
    """``sce_probs_short`` for rows of at most ``GATHERED_MAX`` classes, in tiles transposed by
    loops as ``sce_labels_gathered``."""
    n, c = x.shape
    xt = np.empty((c, _GATHER_TILE + _PAD), x.dtype)
    tt = np.empty((c, _GATHER_TILE + _PAD), x.dtype)
    m = np.empty(_GATHER_TILE, x.dtype)
    s = np.empty(_GATHER_TILE, x.dtype)
    ts = np.empty(_GATHER_TILE, x.dtype)
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


@njit(**LOOP_OPTIONS)
def sum64(a):
    """The sum of the 1-D array ``a`` in float64 (NumPy's ``a.sum(dtype=np.float64)`` of a
    float32 array casts through a buffer, several times slower)."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i]
    return total


sce_labels_par = parallel_blocks(sce_labels_block, arrays=4, sums=True)
sce_labels_short_par = parallel_blocks(sce_labels_short, arrays=4, sums=True)
sce_labels_gathered_par = parallel_blocks(sce_labels_gathered, arrays=4, sums=True)
sce_probs_short_par = parallel_blocks(sce_probs_short, arrays=4)
sce_probs_gathered_par = parallel_blocks(sce_probs_gathered, arrays=4)
sce_probs_par = parallel_blocks(sce_probs_block, arrays=4)

#: the softmax cross-entropy loops by target ("labels", "probs") and row length ("gathered"
#: up to GATHERED_MAX classes, "short" up to _config's limits, "rows"): (one thread, threaded).
#: The caller picks: a kernel that called the gathered loop for its short rows ran 1.4-1.7x
#: slower on its own rows (LLVM inlined the other loop into it).
SCE_LOOPS = {
    ("labels", "gathered"): (sce_labels_gathered, sce_labels_gathered_par),
    ("labels", "short"): (sce_labels_short, sce_labels_short_par),
    ("labels", "rows"): (sce_labels_block, sce_labels_par),
    ("probs", "gathered"): (sce_probs_gathered, sce_probs_gathered_par),
    ("probs", "short"): (sce_probs_short, sce_probs_short_par),
    ("probs", "rows"): (sce_probs_block, sce_probs_par),
}


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


@njit(**LOOP_OPTIONS)
def _mse(xi, ti, c, one):
    """``(x - t)**2`` and its gradient ``c * (x - t)`` (c = 2 * scale)."""
    d = xi - ti
    return d * d, c * d


mse_block = elementwise_loss(_mse, name="mse_block", chunk=_CHUNK)
mse_par = parallel_blocks(mse_block, arrays=4, sums=True)


@njit(**LOOP_OPTIONS)
def _sigmoid_ce(xi, ti, c, one):
    """``max(x, 0) - x t + log1p(exp(-|x|))`` and ``c * (sigmoid(x) - t)`` (c = scale),
    sharing one exponential."""
    zero = one - one
    e = exp_neg(-abs(xi))
    loss = (xi if xi > zero else zero) - xi * ti + log1p01(e)
    r = one / (one + e)
    s = r if xi >= zero else e * r
    return loss, c * (s - ti)


sigmoid_ce_block = elementwise_loss(_sigmoid_ce, name="sigmoid_ce_block", chunk=_CHUNK)
sigmoid_ce_par = parallel_blocks(sigmoid_ce_block, arrays=4, sums=True)
