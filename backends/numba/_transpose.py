"""Block transposes in SIMD registers, for kernels that run across rows of short rows.

A kernel whose rows hold a few entries (softmax over 10 classes) runs fastest with rows in SIMD
lanes: it transposes a tile of rows into a buffer, works along the buffer's rows, and transposes
back. A transpose written as a Numba loop becomes gathers and scatters (or scalar code) for any
row length above 8; ``transpose_block`` instead loads one register per row, transposes the
``L x L`` block of registers with shuffles, and stores one register per column (``L`` = 16
float32 or 8 float64 lanes: one AVX-512 register; a CPU without AVX-512 runs each as two).

Loads and stores are whole registers whenever all ``L`` of them lie inside their array: loads
may read past the block (what they read there is never stored), stores may write past each
column (the caller overwrites that later). At an array's end they are masked instead, so that
nothing outside the block is touched there: a thread's rows end its arrays' views, and the
next thread's rows follow. (Masked loads are several times slower than plain ones on this
machine, an AMD Zen 5.)

As with ``_math``, an edit of this file makes the next process compile the kernels calling it
anew (the cache directory is keyed by every file here: ``_cache_key``).

>>> import numpy as np
>>> from numba import njit
>>> @njit
... def t(a, b):    # a is 3 rows of 5 (stride 5); b gets 5 rows of 3 (stride 4)
...     transpose_block(a, 0, 5, 3, 5, b, 0, 4, 5, 3, None, None, 0)
>>> a, b = np.arange(15.0), np.zeros(20)
>>> t(a, b)
>>> columns = b.reshape(5, 4)
>>> columns[:, :3].tolist() == a.reshape(3, 5).T.tolist(), bool(columns[:, 3].any())
(True, False)
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def lanes(x):
    """The number of SIMD lanes ``transpose_block`` uses for the dtype of array ``x``."""
    return 16 if x.dtype.itemsize == 4 else 8


@overload(lanes)
def _lanes_impl(x):
    if isinstance(x, types.Array) and x.dtype in (types.float32, types.float64):
        n = 16 if x.dtype == types.float32 else 8
        return lambda x: n
    return None


def _splat(builder, value, vty):
    vec = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(_I32, 0))
    zeros = ir.Constant(ir.VectorType(_I32, vty.count), [0] * vty.count)
    return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), zeros)


def _row_masks(builder, n_rows, n_lanes, count):
    """Per register ``i``: lanes ``< n_lanes`` when ``i < n_rows``, else none."""
    ivty = ir.VectorType(_I64, count)
    lane_mask = builder.icmp_signed("<", ir.Constant(ivty, list(range(count))),
                                    _splat(builder, n_lanes, ivty))
    none = ir.Constant(ir.VectorType(ir.IntType(1), count), [0] * count)
    return [builder.select(builder.icmp_signed("<", ir.Constant(_I64, i), n_rows), lane_mask,
                           none) for i in range(count)]


def _transposed(builder, rows):
    """The registers of the transposed block: log2(L) rounds of pairwise shuffles, each
    swapping the off-diagonal sub-blocks of width ``b`` between rows ``i`` and ``i + b``."""
    count = len(rows)
    b = 1
    while b < count:
        low = ir.Constant(ir.VectorType(_I32, count),
                          [j if not j & b else count + j - b for j in range(count)])
        high = ir.Constant(ir.VectorType(_I32, count),
                           [j + b if not j & b else count + j for j in range(count)])
        new = list(rows)
        for i in range(count):
            if not i & b:
                new[i] = builder.shuffle_vector(rows[i], rows[i + b], low)
                new[i + b] = builder.shuffle_vector(rows[i], rows[i + b], high)
        rows = new
        b *= 2
    return rows


def _masked(builder, name, vty, args_types, ret):
    suffix = f"v{vty.count}f{32 if isinstance(vty.element, ir.FloatType) else 64}"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, args_types),
                                          f"llvm.masked.{name}.{suffix}.p0")


class _Block:
    """The LLVM IR of one ``transpose_block`` call."""

    def __init__(self, context, builder, sig, args):
        self.builder = builder
        self.fty = context.get_value_type(sig.args[0].dtype)
        self.count = 16 if sig.args[0].dtype == types.float32 else 8
        self.vty = ir.VectorType(self.fty, self.count)
        self.align = ir.Constant(_I32, 4 if self.count == 16 else 8)
        self.mask_ty = ir.VectorType(ir.IntType(1), self.count)
        self.arrays = {i: context.make_array(sig.args[i])(context, builder, args[i])
                       for i, ty in enumerate(sig.args) if isinstance(ty, types.Array)}

    def pointer(self, array, start, stride, i):
        b = self.builder
        at = b.add(start, b.mul(stride, ir.Constant(_I64, i)))
        return b.bitcast(b.gep(array.data, [at]), self.vty.as_pointer())

    def fits(self, array, start, stride):
        """Whether all ``count`` registers from ``start`` (``stride`` apart) lie in ``array``."""
        b = self.builder
        end = b.add(b.add(start, b.mul(stride, ir.Constant(_I64, self.count - 1))),
                    ir.Constant(_I64, self.count))
        return b.icmp_signed("<=", end, array.nitems)

    def load_rows(self, array, start, stride, n_rows, n_cols):
        """The block's rows as registers: plain loads when they fit, else masked ones."""
        b, vty = self.builder, self.vty
        load = _masked(b, "load", vty, [vty.as_pointer(), _I32, self.mask_ty, vty], vty)
        with b.if_else(self.fits(array, start, stride), likely=True) as (whole, edge):
            with whole:
                plain = [b.load(self.pointer(array, start, stride, i), align=4)
                         for i in range(self.count)]
                from_whole = b.basic_block
            with edge:
                zero = ir.Constant(vty, [ir.Constant(self.fty, 0.0)] * self.count)
                masks = _row_masks(b, n_rows, n_cols, self.count)
                masked = [b.call(load, [self.pointer(array, start, stride, i), self.align,
                                        masks[i], zero]) for i in range(self.count)]
                from_edge = b.basic_block
        rows = []
        for p, m in zip(plain, masked):
            phi = b.phi(vty)
            phi.add_incoming(p, from_whole)
            phi.add_incoming(m, from_edge)
            rows.append(phi)
        return rows

    def store_rows(self, rows, array, start, stride, n_rows, n_cols):
        """Whole registers when they fit (the caller writes what they spill over later), else
        masked ones (exactly ``n_cols`` entries of the first ``n_rows``)."""
        b, vty = self.builder, self.vty
        store = _masked(b, "store", vty, [vty, vty.as_pointer(), _I32, self.mask_ty],
                        ir.VoidType())
        with b.if_else(self.fits(array, start, stride), likely=True) as (whole, edge):
            with whole:
                for i, row in enumerate(rows):
                    b.store(row, self.pointer(array, start, stride, i), align=4)
            with edge:
                masks = _row_masks(b, n_rows, n_cols, self.count)
                for i, row in enumerate(rows):
                    b.call(store, [row, self.pointer(array, start, stride, i), self.align,
                                   masks[i]])

    def lane_vector(self, array, at):
        return self.builder.load(self.pointer(array, at, ir.Constant(_I64, 0), 0), align=4)

    def max_into(self, rows, n_rows, array, at):
        """``array[at:at + count] = max(itself, rows[0], ..., rows[n_rows - 1])``, lane by lane
        (a NaN in a row is skipped: the kernels see it again in their sums)."""
        b = self.builder
        low = ir.Constant(self.vty, [ir.Constant(self.fty, float("-inf"))] * self.count)
        best = self.lane_vector(array, at)
        for i, row in enumerate(rows):
            row = b.select(b.icmp_signed("<", ir.Constant(_I64, i), n_rows), row, low)
            best = b.select(b.fcmp_ordered(">", row, best), row, best)
        b.store(best, self.pointer(array, at, ir.Constant(_I64, 0), 0), align=4)


@intrinsic
def transpose_block(typingctx, src, s0, s_stride, s_rows, s_cols, dst, d0, d_stride, d_rows,
                    d_cols, factors, lane_max, at):
    """Transpose a block of at most ``L x L`` entries between two 1-D C-contiguous arrays.

    The block's row ``i < s_rows`` is ``src[s0 + i*s_stride:][:s_cols]``; its column ``j <
    d_rows`` goes to ``dst[d0 + j*d_stride:][:d_cols]`` (so ``d_rows <= s_cols`` and ``d_cols
    <= s_rows`` for every stored entry to come from the block; an entry from outside it is
    unspecified). When all ``L`` registers of ``L`` entries fit in ``dst`` they are stored
    whole, each over the ``L - d_cols`` entries after its column: the caller stores blocks in
    increasing address order, so that later blocks overwrite what an earlier one spilled.
    Otherwise exactly the block's entries are stored.

    With an array ``factors`` (else None), each row is multiplied by ``factors[at:at + L]``
    entry by entry first. With an array ``lane_max`` (else None), ``lane_max[at:at + L]``
    becomes the entry-wise max of itself and the stored columns. (Both need ``at + L`` entries.)
    """
    arrays = (src, dst) + tuple(a for a in (factors, lane_max) if not isinstance(a, types.NoneType))
    if not all(isinstance(a, types.Array) and a.ndim == 1 and a.dtype == src.dtype
               for a in arrays) or src.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        block = _Block(context, builder, sig, args)
        s0, s_stride, s_rows, s_cols, _, d0, d_stride, d_rows, d_cols, _, _, at = args[1:]
        rows = block.load_rows(block.arrays[0], s0, s_stride, s_rows, s_cols)
        if 10 in block.arrays:
            scale = block.lane_vector(block.arrays[10], at)
            rows = [builder.fmul(row, scale) for row in rows]
        columns = _transposed(builder, rows)
        block.store_rows(columns, block.arrays[5], d0, d_stride, d_rows, d_cols)
        if 11 in block.arrays:
            block.max_into(columns, d_rows, block.arrays[11], at)
        return context.get_dummy_value()

    intp = types.intp
    return types.void(src, intp, intp, intp, intp, dst, intp, intp, intp, intp, factors, lane_max,
                      intp), codegen


@intrinsic
def target_sums_block(typingctx, tgt, t0, t_stride, t_rows, t_cols, xt, x0, x_stride, m, ts,
                      gap, at):
    """Sums of a block of probability targets, transposed in registers and never stored: the
    block's row ``i < t_rows`` is ``tgt[t0 + i*t_stride:][:t_cols]`` (as ``transpose_block``'s
    source), its column ``j < t_cols`` meets the logits ``xt[x0 + j*x_stride:][:L]`` (the
    same classes, already transposed into lanes). Lane by lane, ``ts[at:at + L]`` adds the
    targets and ``gap[at:at + L]`` adds ``-t * (x - m[at:at + L])``, 0 where ``t == 0`` (a
    masked class, logit -inf, without target weight adds nothing; a NaN target counts). The
    columns add in order; lanes from ``t_rows`` on add unspecified values."""
    arrays = (tgt, xt, m, ts, gap)
    if not all(isinstance(a, types.Array) and a.ndim == 1 and a.dtype == tgt.dtype
               for a in arrays) or tgt.dtype not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        block = _Block(context, builder, sig, args)
        t0, t_stride, t_rows, t_cols, _, x0, x_stride, _, _, _, at = args[1:]
        b, vty = builder, block.vty
        columns = _transposed(b, block.load_rows(block.arrays[0], t0, t_stride, t_rows, t_cols))
        zero = ir.Constant(vty, [ir.Constant(block.fty, 0.0)] * block.count)
        mv = block.lane_vector(block.arrays[8], at)
        tsum, gsum = block.lane_vector(block.arrays[9], at), block.lane_vector(block.arrays[10], at)
        for j, t in enumerate(columns):
            inside = b.icmp_signed("<", ir.Constant(_I64, j), t_cols)
            x = b.load(block.pointer(block.arrays[5], x0, x_stride, j), align=4)
            term = b.select(b.fcmp_unordered("!=", t, zero),
                            b.fsub(zero, b.fmul(t, b.fsub(x, mv))), b.fsub(t, t))
            tsum = b.select(inside, b.fadd(tsum, t), tsum)
            gsum = b.select(inside, b.fadd(gsum, term), gsum)
        zero_at = ir.Constant(_I64, 0)
        b.store(tsum, block.pointer(block.arrays[9], at, zero_at, 0), align=4)
        b.store(gsum, block.pointer(block.arrays[10], at, zero_at, 0), align=4)
        return context.get_dummy_value()

    intp = types.intp
    return types.void(tgt, intp, intp, intp, intp, xt, intp, intp, m, ts, gap, intp), codegen


def _prefetch(write):
    def typer(typingctx, array, start, stop):
        if not (isinstance(array, types.Array) and array.ndim == 1 and array.layout == "C"):
            return None

        def codegen(context, builder, sig, args):
            arr = context.make_array(sig.args[0])(context, builder, args[0])
            zero = ir.Constant(_I64, 0)
            lo = builder.select(builder.icmp_signed("<", args[1], zero), zero, args[1])
            hi = builder.select(builder.icmp_signed(">", args[2], arr.nitems), arr.nitems,
                                args[2])
            size = context.get_abi_sizeof(context.get_data_type(sig.args[0].dtype))
            step = ir.Constant(_I64, max(1, 64 // size))
            i8p = ir.IntType(8).as_pointer()
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32]),
                "llvm.prefetch.p0")
            with cgutils.for_range_slice(builder, lo, hi, step) as (index, _):
                ptr = builder.bitcast(builder.gep(arr.data, [index]), i8p)
                builder.call(fn, [ptr, ir.Constant(_I32, int(write)), ir.Constant(_I32, 3),
                                  ir.Constant(_I32, 1)])
            return context.get_dummy_value()

        return types.void(array, types.intp, types.intp), codegen

    typer.__name__ = "prefetch_write" if write else "prefetch_read"
    return intrinsic(typer)


#: ``prefetch_read(array, start, stop)``: ask the CPU to bring ``array[start:stop]`` (a 1-D
#: C-contiguous array; the range clipped to it) into its caches, one request per 64-byte line;
#: ``prefetch_write`` for lines that will be written. A kernel that alternates between loading
#: a tile and computing on it stalls on memory at each load unless the next tile is on its way.
prefetch_read = _prefetch(False)
prefetch_write = _prefetch(True)


#: arrays of at most this many bytes are taken to be in cache already: the softmax loops ask
#: for no rows ahead there, where the requests only cost time (softmax cross-entropy with
#: labels, 33 classes, one thread, ratio to the copy floor: 128K float32 logits 7.4x with the
#: requests, 6.7x without; 4M logits 2.9x with them, 3.9x without)
IN_CACHE_BYTES = 1 << 19


@njit(inline="always", cache=True)
def streamed(x):
    """Whether a loop over the array ``x`` should ask for its later parts while it works on
    one (``prefetch_read``, ``prefetch_write``): ``x`` larger than ``IN_CACHE_BYTES``.

    >>> import numpy as np
    >>> streamed(np.empty((4096, 64), np.float32)), streamed(np.empty((128, 64), np.float32))
    (True, False)
    """
    return x.size * x.itemsize > IN_CACHE_BYTES
