"""Softmax cross-entropy for rows of one or two registers of classes, kept in registers.

Rows of 4 to 16 float32 classes (4 to 8 float64) fit one SIMD register each, so a group of
``L`` rows (``L`` = 16 float32 or 8 float64 lanes, ``_transpose.lanes``) is one ``L x L``
block (with labels, rows of up to 24 float32 classes are two such blocks side by side):
``softmax_labels_block`` (``softmax_targets_block`` with probabilities) loads it, transposes
it in registers (rows into lanes), takes each row's max, exponentials and sum
across the class registers, scales them, subtracts the targets, transposes back and stores
the gradient, without the tile buffer of ``_sce_kernels`` (whose passes over the buffer cost
as much as the exponentials at 10 classes). The exponential is ``_math.exp_neg``'s, written
as vector IR here (the same reduction, polynomial and underflow rule). The code is
specialized per class count (one straight-line block, for a count known when compiling), so a
row of 10 classes takes 10 exponentials, not 16, and the shuffles of unused classes drop out.

Each class count has loops of its own (``regs_loops``), made and compiled when first used:
compiling every count into one kernel (a switch over 21 counts of straight-line code) took
about 20 of the softmax warmup's 55 seconds, most of them for counts a program never meets.
``sce_labels_regs`` and ``sce_probs_regs`` pick them by the logits' class count. They keep the
contract of every softmax loop, ``(x, target, grad, losses, scale)``, returning the losses'
float64 sum (NaN at a bad label).

>>> import numpy as np
>>> x = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]], np.float32)
>>> grad, losses = np.empty_like(x), np.empty(2, np.float32)
>>> total = sce_labels_regs(x, np.array([0, 0]), grad, losses, np.float32(1.0))
>>> [round(float(v), 4) for v in losses], round(total, 4), [round(float(v), 4) for v in grad[0]]
([1.3863, 0.7437], 2.13, [-0.75, 0.25, 0.25, 0.25])
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._math import _E32, _E64, _T64, LOOP_OPTIONS, log_pos
from ._sce_gathered import _labels_in_range
from ._templates import parallel_blocks
from ._transpose import (_I32, _I64, _Block, _transposed, lanes, prefetch_read, prefetch_write)
from ._transpose import streamed as _streamed

#: fewest classes the register kernels take (fewer go by loops: ``_sce_gathered``)
REGS_MIN = 4
#: most float32 classes (float64: half as many) of the register kernels, with labels and
#: with probabilities: past one register of classes a row takes two register transposes
#: side by side. Measured (one thread, ratio to the copy floor, register against tile
#: kernel, shared machine): labels at 24 classes 4.9x against 5.2x in cache, 3.2x against
#: 3.5x for 4M logits; at 28 and 32 the tile kernel (5.5x, 5.9x against 5.2x, 5.5x in cache);
#: probabilities at 32 classes, 4M logits, 6.5x against 4.9x (three arrays streamed, and
#: twice the registers spilled)
REGS_MAX = {"labels": 24, "probs": 16}
_LABELS_MAX, _PROBS_MAX = REGS_MAX["labels"], REGS_MAX["probs"]


def regs_max(dtype, kind="labels") -> int:
    """Most classes the register kernels take for ``dtype`` with targets ``kind`` ("labels",
    "probs"): ``REGS_MAX[kind]`` float32 classes, half as many float64.

    >>> regs_max(np.dtype(np.float32)), regs_max(np.dtype(np.float64), "probs")
    (24, 8)
    """
    return REGS_MAX[kind] * 4 // np.dtype(dtype).itemsize


# -- vector IR ---------------------------------------------------------------------------------
def _splat(vty, value):
    return ir.Constant(vty, [ir.Constant(vty.element, float(value))] * vty.count)


def _fma(builder, a, b, c):
    vty = a.type
    bits = 32 if isinstance(vty.element, ir.FloatType) else 64
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                        f"llvm.fma.v{vty.count}f{bits}")
    return builder.call(fn, [a, b, c])


def _exp_neg(builder, x):
    """``_math.exp_neg`` of each lane of the float vector ``x``: ``x`` clamped at the lowest
    argument with a normal result, ``x = k ln2 + r`` (Cody-Waite), a polynomial for
    ``exp(r)``, times ``2**k`` built in the exponent bits; 0 below that argument; NaN stays."""
    vty = x.type
    f32 = isinstance(vty.element, ir.FloatType)
    if f32:
        log2e, ln2hi, ln2lo, magic, lo = (float(v) for v in _E32[:5])
        poly, ity, bias, shift = [float(v) for v in _E32[5:]], ir.IntType(32), 127, 23
    else:
        log2e, ln2hi, ln2lo, magic, lo = _E64
        poly, ity, bias, shift = list(_T64), ir.IntType(64), 1023, 52
    b = builder
    below = b.fcmp_ordered("<", x, _splat(vty, lo))
    xc = b.select(below, _splat(vty, lo), x)
    t = _fma(b, xc, _splat(vty, log2e), _splat(vty, magic))
    k = b.fsub(t, _splat(vty, magic))
    r = _fma(b, k, _splat(vty, -ln2hi), xc)
    r = _fma(b, k, _splat(vty, -ln2lo), r)
    p = _splat(vty, poly[0])
    for coef in poly[1:]:
        p = _fma(b, p, r, _splat(vty, coef))
    y = b.fadd(_fma(b, p, b.fmul(r, r), r), _splat(vty, 1.0))
    ivty = ir.VectorType(ity, vty.count)
    bits = b.shl(b.add(b.bitcast(t, ivty), ir.Constant(ivty, [ir.Constant(ity, bias)] * vty.count)),
                 ir.Constant(ivty, [ir.Constant(ity, shift)] * vty.count))
    y = b.fmul(y, b.bitcast(bits, vty))
    return b.select(below, _splat(vty, 0.0), y)


def _row_max(builder, cols, k):
    """Each lane's max over the first ``k`` class registers (a NaN is skipped: the sums see it)."""
    best = cols[0]
    for col in cols[1:k]:
        best = builder.select(builder.fcmp_ordered(">", col, best), col, best)
    return best


def _broadcast(builder, vty, value):
    """A vector of ``vty`` with ``value`` (a scalar of its element type) in every lane."""
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(_I32, vty.count), [0] * vty.count))


def _total(builder, values):
    out = values[0]
    for v in values[1:]:
        out = builder.fadd(out, v)
    return out


def _load_columns(block, array, s0, c, n_rows, k):
    """The first ``k`` class registers of the block of ``n_rows`` rows at ``array[s0:]``
    (rows ``c`` apart), one ``L x L`` register transpose per ``L`` classes; the shuffles that
    make no wanted register drop out."""
    b, L, cols = block.builder, block.count, []
    for j0 in range(0, k, L):
        nc = min(L, k - j0)
        rows = block.load_rows(array, b.add(s0, ir.Constant(_I64, j0)), c, n_rows,
                               ir.Constant(_I64, nc))
        cols += _transposed(b, rows)[:nc]
    return cols


def _store_columns(block, cols, array, s0, c, n_rows):
    """Class registers ``cols`` back into the rows at ``array[s0:]``, the last ``L`` classes
    first: their whole-register stores spill into the next row's first classes, which the
    first block's stores (within their row when there are two blocks) then overwrite."""
    b, L, vty = block.builder, block.count, block.vty
    for j0 in reversed(range(0, len(cols), L)):
        part = cols[j0:j0 + L]
        rows = _transposed(b, part + [ir.Constant(vty, ir.Undefined)] * (L - len(part)))
        block.store_rows(rows, array, b.add(s0, ir.Constant(_I64, j0)), c, n_rows,
                         ir.Constant(_I64, len(part)))


def _store_lanes(block, vector, array, at):
    block.builder.store(vector, block.pointer(array, at, ir.Constant(_I64, 0), 0), align=4)


def _check(src, arrays):
    return (isinstance(src, types.Array) and src.dtype in (types.float32, types.float64)
            and all(isinstance(a, types.Array) and a.ndim == 1 and a.layout == "C"
                    and a.dtype == src.dtype for a in (src,) + arrays))


def _classes(c):
    """The class count the block intrinsics are compiled for: the literal value of ``c``
    (None where ``c`` is not a literal: they decline it)."""
    return c.literal_value if isinstance(c, types.IntegerLiteral) else None


@intrinsic(prefer_literal=True)
def softmax_labels_block(typingctx, src, s0, c, n_rows, dst, labels, d_out, s_out, at, scale):
    """Softmax cross-entropy of the block of ``n_rows <= L`` rows of ``c`` classes
    (``REGS_MIN <= c <= L``, a literal: the code is for that count) at ``src[s0:]`` (rows ``c`` apart) with integer labels
    (``labels[at + i]`` for row ``i``, int32, in ``[0, c)``): the gradient ``scale * (p -
    onehot)`` into ``dst[s0:]``; each row's label logit minus the row's max into
    ``d_out[at + i]`` and its sum of exponentials into ``s_out[at + i]``, so its loss is
    ``log(s) - d`` (``at + L`` entries needed; the lanes from ``n_rows`` on are unspecified).
    As ``_transpose.transpose_block``, the stores of whole registers spill past each row into
    the next ones (the caller stores blocks in increasing address order), masked at the
    array's end."""
    if not (_check(src, (dst, d_out, s_out)) and scale == src.dtype
            and isinstance(labels, types.Array) and labels.dtype == types.int32
            and labels.ndim == 1 and labels.layout == "C" and _classes(c) is not None):
        return None
    k = _classes(c)

    def codegen(context, builder, sig, args):
        block = _Block(context, builder, sig, args)
        s0, c, n_rows, _, lab_arr, _, _, at, scale = args[1:]
        L, vty = block.count, block.vty
        x_arr, g_arr, d_arr, s_arr = (block.arrays[i] for i in (0, 4, 6, 7))
        lab = context.make_array(sig.args[5])(context, builder, lab_arr)
        ivty = ir.VectorType(_I32, L)
        labv = builder.load(builder.bitcast(builder.gep(lab.data, [at]), ivty.as_pointer()),
                            align=4)
        scales = _broadcast(builder, vty, scale)

        def region(k):
            cols = _load_columns(block, x_arr, s0, c, n_rows, k)
            m = _row_max(builder, cols, k)
            d = [builder.fsub(col, m) for col in cols]
            e = [_exp_neg(builder, v) for v in d]
            s = _total(builder, e)
            f = builder.fdiv(scales, s)
            dl, g = _splat(vty, 0.0), []
            for j in range(k):
                hit = builder.icmp_signed("==", labv, ir.Constant(ivty, [ir.Constant(_I32, j)] * L))
                dl = builder.select(hit, d[j], dl)
                gj = builder.fmul(e[j], f)
                g.append(builder.select(hit, builder.fsub(gj, scales), gj))
            _store_columns(block, g, g_arr, s0, c, n_rows)
            return [dl, s]

        dl, s = region(k)
        _store_lanes(block, dl, d_arr, at)
        _store_lanes(block, s, s_arr, at)
        return context.get_dummy_value()

    intp = types.intp
    return types.void(src, intp, c, intp, dst, labels, d_out, s_out, intp, scale), codegen


@intrinsic(prefer_literal=True)
def softmax_targets_block(typingctx, src, tgt, s0, c, n_rows, dst, m_out, s_out, ts_out,
                          gap_out, at, scale):
    """``softmax_labels_block`` with probability targets ``tgt`` (laid out as ``src``): the gradient
    ``scale * (p * sum(t) - t)`` into ``dst``; besides each row's max and sum of exponentials,
    ``sum(t)`` into ``ts_out`` and ``-sum(t * (x - max))`` into ``gap_out`` (a class without
    target weight adds 0, even at a logit of -inf), so the loss is
    ``gap + log(s) * sum(t)``."""
    if (not _check(src, (tgt, dst, m_out, s_out, ts_out, gap_out)) or scale != src.dtype
            or _classes(c) is None):
        return None
    k = _classes(c)

    def codegen(context, builder, sig, args):
        block = _Block(context, builder, sig, args)
        s0, c, n_rows, _, _, _, _, _, at, scale = args[2:]
        L, vty = block.count, block.vty
        x_arr, t_arr, g_arr = (block.arrays[i] for i in (0, 1, 5))
        scales = _broadcast(builder, vty, scale)
        zero = _splat(vty, 0.0)

        def region(k):
            cols = _load_columns(block, x_arr, s0, c, n_rows, k)
            tcols = _load_columns(block, t_arr, s0, c, n_rows, k)
            m = _row_max(builder, cols, k)
            d = [builder.fsub(col, m) for col in cols]
            e = [_exp_neg(builder, v) for v in d]
            s, ts = _total(builder, e), _total(builder, tcols)
            gap = _total(builder, [
                builder.select(builder.fcmp_unordered("!=", t, zero),
                               builder.fsub(zero, builder.fmul(t, v)), builder.fsub(t, t))
                for t, v in zip(tcols, d)])
            f = builder.fdiv(builder.fmul(scales, ts), s)
            g = [builder.fsub(builder.fmul(v, f), builder.fmul(scales, t))
                 for v, t in zip(e, tcols)]
            _store_columns(block, g, g_arr, s0, c, n_rows)
            return [m, s, ts, gap]

        out = region(k)
        for i, value in enumerate(out):
            _store_lanes(block, value, block.arrays[6 + i], at)
        return context.get_dummy_value()

    intp = types.intp
    return types.void(src, tgt, intp, c, intp, dst, m_out, s_out, ts_out, gap_out, intp,
                      scale), codegen


#: rows per tile of the register loops: labels are checked, losses taken a tile at a time
TILE = 64
#: how many tiles ahead the loops ask for their rows
_AHEAD = 2


@njit(inline="always", **LOOP_OPTIONS)
def _prefetch_group(xf, gf, c, r):
    """Ask for the rows ``_AHEAD`` tiles after the group at row ``r``: logits to read,
    gradient to write (one group's worth per group, so the requests stay spread out)."""
    at = (r + _AHEAD * TILE) * c
    prefetch_read(xf, at, at + lanes(xf) * c)
    prefetch_write(gf, at, at + lanes(xf) * c)


def sce_labels_regs(x, labels, grad, losses, scale):
    """``_loss_kernels.sce_labels_block`` for rows of ``REGS_MIN`` to ``regs_max`` classes: the
    one-thread loop of ``regs_loops("labels", classes)``. Each group of rows goes through
    ``softmax_labels_block`` (the labels of a tile copied to int32 first: one register of them
    a group; the one-hot in registers rather than by scalar loads and stores was 5-15%
    faster). Returns the losses' sum in float64, or NaN at the first tile with a label outside
    ``[0, classes)`` (what it wrote is then unspecified)."""
    return regs_loops("labels", _count(x, "labels"))[0](x, labels, grad, losses, scale)


def sce_probs_regs(x, t, grad, losses, scale):
    """``_loss_kernels.sce_probs_block`` for rows of ``REGS_MIN`` to ``regs_max(dtype,
    "probs")`` classes: the one-thread loop of ``regs_loops("probs", classes)``, each group of
    rows through ``softmax_targets_block``; the loss of a row is ``-sum(t * (x - m)) + log(s) *
    sum(t)`` (as ``_sce_kernels.sce_probs_short``). Returns the losses' sum in float64."""
    return regs_loops("probs", _count(x, "probs"))[0](x, t, grad, losses, scale)


def _count(x, kind) -> int:
    """``x``'s class count, checked against what the register loops of ``kind`` take."""
    if x.ndim != 2 or not REGS_MIN <= x.shape[1] <= regs_max(x.dtype, kind):
        raise ValueError(f"sce_{kind}_regs: x must have 4 to {REGS_MAX[kind]} float32 or 4 to "
                         f"{REGS_MAX[kind] // 2} float64 classes")
    return x.shape[1]


#: the register loops made so far, by (targets kind, class count)
_LOOPS: dict = {}


def regs_loops(kind, classes) -> tuple:
    """The register loops ``(one thread, threaded)`` for targets ``kind`` ("labels", "probs")
    and rows of ``classes`` classes, made (and compiled, at their first call) the first time
    asked for. The threaded one asks for later groups of rows whatever the size: its blocks
    are small but the logits as a whole are not in cache.

    >>> one_thread, threaded = regs_loops("labels", 10)
    >>> regs_loops("labels", 10)[0] is one_thread, threaded.__name__
    (True, 'sce_labels_regs10_par')
    """
    loops = _LOOPS.get((kind, classes))
    if loops is None:
        labels = kind == "labels"
        loops = _LOOPS[kind, classes] = (
            _loop(labels, classes, False),
            parallel_blocks(_loop(labels, classes, True), arrays=4, sums=True,
                            name=f"sce_{kind}_regs{classes}_par"))
    return loops


def made_loops() -> dict:
    """The register loops made so far, by name: ``sce_labels_regs10`` (one thread) and
    ``sce_labels_regs10_par`` (threaded) for 10 classes with labels.

    >>> "sce_probs_regs10_par" in made_loops() if regs_loops("probs", 10) else None
    True
    """
    return {f"sce_{kind}_regs{classes}{suffix}": loop for (kind, classes), loops in _LOOPS.items()
            for suffix, loop in zip(("", "_par"), loops)}


def _loop(labels, classes, streamed):
    """The register loop with labels (else probabilities) for ``classes`` classes, asking for
    later groups of rows when ``streamed``, else from the size at which they leave the cache."""
    @njit(**LOOP_OPTIONS)
    def loop(x, target, grad, losses, scale):
        ahead = np.bool_(True) if streamed else _streamed(x)   # (a bool either way: one
        #                                                  _labels_regs per dtype, not two)
        if labels:
            return _labels_regs(x, target, grad, losses, scale, ahead, classes)
        return _probs_regs(x, target, grad, losses, scale, ahead, classes)

    return loop


@njit(**LOOP_OPTIONS)
def _labels_regs(x, labels, grad, losses, scale, ahead, classes):
    n, c = x.shape
    lw = lanes(x)
    if c != classes or c < REGS_MIN or c > _LABELS_MAX * lw // 16:
        raise ValueError("sce_labels_regs: x must have the class count the loop was made for")
    xf, gf = x.reshape(-1), grad.reshape(-1)
    d = np.empty(TILE + lw, x.dtype)
    s = np.empty(TILE + lw, x.dtype)
    lab = np.zeros(TILE + lw, np.int32)
    total = 0.0
    for r0 in range(0, n, TILE):
        rn = min(TILE, n - r0)
        ls, lr = labels[r0:r0 + rn], losses[r0:r0 + rn]
        if not _labels_in_range(ls, c):
            return np.nan
        for r in range(rn):
            lab[r] = ls[r]
        for rb in range(0, rn, lw):
            if ahead:
                _prefetch_group(xf, gf, c, r0 + rb)
            softmax_labels_block(xf, (r0 + rb) * c, classes, min(lw, rn - rb), gf, lab, d, s, rb,
                                 scale)
        for r in range(rn):
            lr[r] = log_pos(s[r]) - d[r]
        for r in range(rn):
            total += lr[r]
    return total


@njit(**LOOP_OPTIONS)
def _probs_regs(x, t, grad, losses, scale, ahead, classes):
    n, c = x.shape
    lw = lanes(x)
    if c != classes or c < REGS_MIN or c > _PROBS_MAX * lw // 16:
        raise ValueError("sce_probs_regs: x must have the class count the loop was made for")
    xf, tf, gf = x.reshape(-1), t.reshape(-1), grad.reshape(-1)
    m = np.empty(TILE + lw, x.dtype)
    s = np.empty(TILE + lw, x.dtype)
    ts = np.empty(TILE + lw, x.dtype)
    gap = np.empty(TILE + lw, x.dtype)
    total = 0.0
    for r0 in range(0, n, TILE):
        rn = min(TILE, n - r0)
        for rb in range(0, rn, lw):
            if ahead:
                _prefetch_group(xf, gf, c, r0 + rb)
                at = (r0 + rb + _AHEAD * TILE) * c
                prefetch_read(tf, at, at + lw * c)
            softmax_targets_block(xf, tf, (r0 + rb) * c, classes, min(lw, rn - rb), gf, m, s, ts,
                                  gap, rb, scale)
        lr = losses[r0:r0 + rn]
        for r in range(rn):
            lr[r] = gap[r] + log_pos(s[r]) * ts[r]
        for r in range(rn):
            total += lr[r]
    return total
