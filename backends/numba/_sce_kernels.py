"""Numba loops of softmax cross-entropy for rows of few classes: SIMD across rows.

A row of 10 classes fills 10 of a register's 16 float32 lanes at best, so these loops put rows
in lanes instead: each tile of ``TILE`` rows is transposed in registers
(``_transpose.transpose_block``) into a (classes, TILE) buffer, the exponentials and sums run
along the buffer's rows, and the gradient is transposed back; rows of 2 or 3 classes are
transposed by loops (``sce_*_gathered``, in ``_sce_gathered``); rows of up to 16 float32
classes (24 with labels) stay in registers (``sce_*_regs``, in ``_sce_registers``). The
same ``(x, target, grad, losses, scale)`` contract as the row-at-a-time loops of
``_loss_kernels``; ``sce_loops`` names all of them, and the forward (``_losses``) picks one by
row length.

>>> import numpy as np
>>> x = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], np.float32)
>>> grad, losses = np.empty_like(x), np.empty(2, np.float32)
>>> total = sce_labels_short(x, np.array([0, 0]), grad, losses, np.float32(1.0))
>>> [round(float(v), 4) for v in losses], round(total, 4), [round(float(v), 4) for v in grad[0]]
([1.3863, 0.7437], 2.13, [-0.75, 0.25, 0.25, 0.25])
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import _loss_kernels as _rows      # (a module: its kernels stay listed there only)
from ._math import LOOP_OPTIONS, exp_neg, log_pos
from ._sce_gathered import (_label_loss_vec, _labels_in_range, sce_labels_gathered,
                            sce_probs_gathered)
from ._sce_registers import _count, regs_loops, sce_labels_regs, sce_probs_regs
from ._templates import parallel_blocks
from ._transpose import (lanes, prefetch_read, prefetch_write, target_sums_block,
                         transpose_block)
from ._transpose import streamed as _streamed


# -- softmax cross-entropy for short rows: SIMD across rows ------------------------------------
#: rows per tile of the short-row kernels; a tile is transposed into a buffer of (classes
#: rounded up to whole registers) rows of TILE + _PAD entries (the padding keeps the buffer's
#: rows out of each other's cache sets: a stride of 1 KiB was 10x slower)
TILE = 64
_PAD = 16
_STRIDE = TILE + _PAD


#: a last column block of at most this many classes goes by loops, not by a register transpose
#: (which costs as much for 1 class as for 16: 17 and 33 float32 classes took 10-12% longer)
_LOOSE = 2


@njit(inline="always", **LOOP_OPTIONS)
def _block_columns(x):
    """How many of ``x``'s classes the register transposes move: all, or all but a last block
    of at most ``_LOOSE`` classes (``_loose_in``, ``_loose_out`` move those)."""
    c, lw = x.shape[1], lanes(x)
    return c if c % lw == 0 or c % lw > _LOOSE else c - c % lw


@njit(inline="always", **LOOP_OPTIONS)
def _tile_in(xf, c, r0, rn, xtf, m, cut):
    """Classes ``0 .. cut`` of rows ``r0 .. r0 + rn`` of the flat (n, c) array ``xf`` into
    the tile buffer ``xtf``, transposed (class ``j`` of row ``r0 + r`` at ``xtf[j * _STRIDE +
    r]``); with an array ``m`` (else None), ``m[r]`` becomes the max of its row's entries moved
    (NaN skipped) and its start value."""
    lw = lanes(xf)
    for rb in range(0, rn, lw):
        nr = min(lw, rn - rb)
        for j0 in range(0, cut, lw):
            nc = min(lw, cut - j0)
            transpose_block(xf, (r0 + rb) * c + j0, c, nr, nc, xtf, j0 * _STRIDE + rb, _STRIDE,
                            nc, nr, None, m, rb)


@njit(inline="always", **LOOP_OPTIONS)
def _loose_in(xf, c, r0, rn, xt, m, cut):
    """``_tile_in`` with a max, by loops, for classes ``cut .. c``."""
    xs = xf[r0 * c:(r0 + rn) * c]
    for j in range(cut, c):
        xtj = xt[j]
        for r in range(rn):
            v = xs[r * c + j]
            xtj[r] = v
            m[r] = v if v > m[r] else m[r]      # NaN skipped, as by transpose_block


@njit(inline="always", **LOOP_OPTIONS)
def _tile_out(xtf, c, r0, rn, gf, factors, cut):
    """Classes ``0 .. cut`` of the tile buffer ``xtf`` back into rows ``r0 .. r0 + rn`` of the
    flat (n, c) array ``gf``, each row times its entry of ``factors``. Column blocks go last
    first, so the first one overwrites what the others spill into the next row."""
    lw = lanes(gf)
    for rb in range(0, rn, lw):
        nr = min(lw, rn - rb)
        for j0 in range((cut - 1) // lw * lw, -1, -lw):
            nc = min(lw, cut - j0)
            transpose_block(xtf, j0 * _STRIDE + rb, _STRIDE, nc, nr, gf, (r0 + rb) * c + j0, c,
                            nr, nc, factors, None, rb)


@njit(inline="always", **LOOP_OPTIONS)
def _loose_out(xt, c, r0, rn, gf, factors, cut):
    """``_tile_out`` by loops for classes ``cut .. c`` (whole blocks before them spill
    nothing into them)."""
    gs = gf[r0 * c:(r0 + rn) * c]
    for j in range(cut, c):
        xtj = xt[j]
        for r in range(rn):
            gs[r * c + j] = xtj[r] * factors[r]


@njit(**LOOP_OPTIONS)
def _tile_buffer(x):
    """A tile buffer for ``x``'s rows (classes rounded up to whole registers) and its 2-D view."""
    lw = lanes(x)
    flat = np.empty((x.shape[1] + lw - 1) // lw * lw * _STRIDE, x.dtype)
    return flat, flat.reshape(-1, _STRIDE)


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
def _tile_exp(xt, c, rn, m, s, xf, gf, r0, ahead):
    """``xt[j, r] = exp(xt[j, r] - m[r])`` for ``j < c``, summed into ``s[r]``, over all
    ``TILE`` lanes (those from ``rn`` on hold unused values: a loop of a fixed length needs no
    remainder loop, 5-8% faster); two classes a step (two independent exponentials: 5-10%
    faster than one), each step asking for its part of a later tile (``_prefetch_part``) when
    ``ahead``."""
    j = 0
    while j + 2 <= c:
        if ahead:
            _prefetch_part(xf, gf, c, r0, j, 2)
        x0, x1 = xt[j], xt[j + 1]
        for r in range(TILE):
            mr = m[r]
            e0 = exp_neg(x0[r] - mr)
            e1 = exp_neg(x1[r] - mr)
            x0[r] = e0
            x1[r] = e1
            s[r] += e0 + e1
        j += 2
    if j < c:
        if ahead:
            _prefetch_part(xf, gf, c, r0, j, 1)
        x0 = xt[j]
        for r in range(TILE):
            e0 = exp_neg(x0[r] - m[r])
            x0[r] = e0
            s[r] += e0


@njit(**LOOP_OPTIONS)
def sce_labels_short(x, labels, grad, losses, scale):
    """``sce_labels_block`` for rows of a few classes: each tile of ``TILE`` rows is
    transposed in registers (``_transpose.transpose_block``, which also takes each row's max on
    the way) into a (classes, TILE) buffer, so the exponentials and sums run along rows in SIMD
    lanes rather than along a row too short to fill them; the way back scales each row, and
    the one-hot is subtracted last, in the rows' own layout. Returns the losses' sum in
    float64, or NaN at the first tile with a label outside ``[0, classes)`` (what it wrote is
    then unspecified)."""
    return _labels_short(x, labels, grad, losses, scale, _streamed(x))


@njit(**LOOP_OPTIONS)
def sce_labels_short_streamed(x, labels, grad, losses, scale):
    """``sce_labels_short`` asking for later tiles whatever the size: the loop of the threaded
    kernel, whose blocks are small but whose logits as a whole are not in cache. (``ahead`` is
    a runtime bool, ``np.bool_(True)``, not the literal ``True``: a literal would compile a
    second ``_labels_short`` per dtype, ~2 CPU-s each, for the same machine code.)"""
    return _labels_short(x, labels, grad, losses, scale, np.bool_(True))


@njit(**LOOP_OPTIONS)
def _labels_short(x, labels, grad, losses, scale, ahead):
    n, c = x.shape
    xf, gf = x.reshape(-1), grad.reshape(-1)
    xtf, xt = _tile_buffer(x)
    m = np.empty(_STRIDE, x.dtype)
    s = np.empty(_STRIDE, x.dtype)
    xl = np.empty(_STRIDE, x.dtype)
    low = x.dtype.type(-np.inf)
    cut = _block_columns(x)
    total = 0.0
    for r0 in range(0, n, TILE):
        rn = min(TILE, n - r0)
        ls, lr = labels[r0:r0 + rn], losses[r0:r0 + rn]
        if not _labels_in_range(ls, c):
            return np.nan
        for r in range(_STRIDE):
            m[r] = low
            s[r] = 0
        _tile_in(xf, c, r0, rn, xtf, m, cut)
        _loose_in(xf, c, r0, rn, xt, m, cut)
        xs, gs = xf[r0 * c:(r0 + rn) * c], gf[r0 * c:(r0 + rn) * c]
        for r in range(rn):             # (unsigned: no negative-index wraparound code)
            xl[r] = xs[np.uint64(r * c + ls[r])]
        # a NaN is skipped in m, but it makes its row's sum, loss and gradient NaN here
        _tile_exp(xt, c, rn, m, s, xf, gf, r0, ahead)
        for r in range(rn):
            lr[r] = _label_loss_vec(s[r], xl[r], m[r])
            s[r] = scale / s[r]
        for r in range(rn):
            total += lr[r]
        _tile_out(xtf, c, r0, rn, gf, s, cut)
        _loose_out(xt, c, r0, rn, gf, s, cut)
        for r in range(rn):
            gs[np.uint64(r * c + ls[r])] -= scale
    return total


@njit(inline="always", **LOOP_OPTIONS)
def _tile_target_sums(tf, c, r0, rn, xt, m, ts, gap, ahead):
    """``ts[r]`` = the targets' sum of row ``r0 + r`` and ``gap[r]`` = ``-sum(t * (x - m))``
    (a class without target weight adding 0), block by block of the targets in registers
    (``_transpose.target_sums_block``: transposed, never stored) beside the logits already in
    the tile ``xt``; each block asks for its part of the targets ``_AHEAD`` tiles on when
    ``ahead``."""
    lw = lanes(tf)
    xtf = xt.reshape(-1)
    for rb in range(0, rn, lw):
        nr = min(lw, rn - rb)
        for j0 in range(0, c, lw):
            if ahead:
                at = (r0 + rb + _AHEAD * TILE) * c + j0 * lw
                prefetch_read(tf, at, at + lw * lw)
            target_sums_block(tf, (r0 + rb) * c + j0, c, nr, min(lw, c - j0), xtf,
                              j0 * _STRIDE + rb, _STRIDE, m, ts, gap, rb)


@njit(**LOOP_OPTIONS)
def sce_probs_short(x, t, grad, losses, scale):
    """``sce_probs_block`` for rows of a few classes, in transposed tiles as
    ``sce_labels_short`` (returning the losses' float64 sum). The loss is ``-sum(t * (x - m))
    + log(s) * sum(t)`` (two sums of terms of one sign for targets >= 0, so the same to
    rounding as the row kernel's ``-sum(t * ((x - m) - log(s)))``); both sums of the targets
    are taken in registers as their blocks are transposed (``_tile_target_sums``), so the
    targets never enter the tile buffer, and ``scale * t`` is subtracted after the way back,
    in the rows' own layout."""
    return _probs_short(x, t, grad, losses, scale, _streamed(x))


@njit(**LOOP_OPTIONS)
def sce_probs_short_streamed(x, t, grad, losses, scale):
    """``sce_probs_short`` asking for later tiles whatever the size (the threaded kernel's
    loop, as ``sce_labels_short_streamed``)."""
    return _probs_short(x, t, grad, losses, scale, np.bool_(True))


@njit(**LOOP_OPTIONS)
def _probs_short(x, t, grad, losses, scale, ahead):
    n, c = x.shape
    xf, tf, gf = x.reshape(-1), t.reshape(-1), grad.reshape(-1)
    xtf, xt = _tile_buffer(x)
    m = np.empty(_STRIDE, x.dtype)
    s = np.empty(_STRIDE, x.dtype)
    ts = np.empty(_STRIDE, x.dtype)
    gap = np.empty(_STRIDE, x.dtype)
    low = x.dtype.type(-np.inf)
    cut = _block_columns(x)
    total = 0.0
    for r0 in range(0, n, TILE):
        rn = min(TILE, n - r0)
        for r in range(_STRIDE):
            m[r] = low
            s[r] = 0
            ts[r] = 0
            gap[r] = 0
        _tile_in(xf, c, r0, rn, xtf, m, cut)   # a NaN is skipped in m but makes its row NaN below
        _loose_in(xf, c, r0, rn, xt, m, cut)
        _tile_target_sums(tf, c, r0, rn, xt, m, ts, gap, ahead)
        _tile_exp(xt, c, rn, m, s, xf, gf, r0, ahead)
        lr = losses[r0:r0 + rn]
        for r in range(rn):
            lr[r] = gap[r] + log_pos(s[r]) * ts[r]
            s[r] = scale * ts[r] / s[r]             # s now holds the gradient's factor
        for r in range(rn):
            total += lr[r]
        _tile_out(xtf, c, r0, rn, gf, s, cut)
        _loose_out(xt, c, r0, rn, gf, s, cut)
        gs, tr = gf[r0 * c:(r0 + rn) * c], tf[r0 * c:(r0 + rn) * c]
        for i in range(gs.shape[0]):
            gs[i] -= scale * tr[i]
    return total


sce_labels_short_par = parallel_blocks(sce_labels_short_streamed, arrays=4, sums=True,
                                       name="sce_labels_short_par")
sce_labels_gathered_par = parallel_blocks(sce_labels_gathered, arrays=4, sums=True)
sce_probs_short_par = parallel_blocks(sce_probs_short_streamed, arrays=4, sums=True,
                                      name="sce_probs_short_par")
sce_probs_gathered_par = parallel_blocks(sce_probs_gathered, arrays=4, sums=True)


def sce_labels_regs_par(x, labels, grad, losses, scale, block):
    """The threaded register loop (``_sce_registers.regs_loops``) for ``x``'s class count."""
    return regs_loops("labels", _count(x, "labels"))[1](x, labels, grad, losses, scale, block)


def sce_probs_regs_par(x, t, grad, losses, scale, block):
    """The threaded register loop (``_sce_registers.regs_loops``) for ``x``'s class count."""
    return regs_loops("probs", _count(x, "probs"))[1](x, t, grad, losses, scale, block)


def sce_loops(kind, length, classes=None):
    """The softmax cross-entropy loops ``(one thread, threaded)`` for targets ``kind``
    ("labels", "probs") and rows of ``length``: "gathered" (up to GATHERED_MAX classes),
    "regs" (up to ``_sce_registers.regs_max`` classes: those made for ``classes``, or with
    None those that pick them by the logits), "short" (up to
    ``_config``'s limits) or "rows". The caller picks: a kernel that called the
    gathered loop for its short rows ran 1.4-1.7x slower on its own rows (LLVM inlined the
    other loop into it). (Named here, not kept in a table, so that the background compiler
    finds them in this function's code.)

    >>> sce_loops("probs", "short")[0] is sce_probs_short
    True
    """
    if kind == "labels":
        if length == "gathered":
            return sce_labels_gathered, sce_labels_gathered_par
        if length == "regs":
            return (sce_labels_regs, sce_labels_regs_par) if classes is None \
                else regs_loops(kind, classes)
        if length == "short":
            return sce_labels_short, sce_labels_short_par
        return _rows.sce_labels_block, _rows.sce_labels_par
    if length == "gathered":
        return sce_probs_gathered, sce_probs_gathered_par
    if length == "regs":
        return (sce_probs_regs, sce_probs_regs_par) if classes is None \
            else regs_loops(kind, classes)
    if length == "short":
        return sce_probs_short, sce_probs_short_par
    return _rows.sce_probs_block, _rows.sce_probs_par
