"""Software prefetch for the Numba loops: ``prefetch_row(row)`` asks the CPU to bring a 1-D
C-contiguous array's cache lines into its caches (LLVM's ``llvm.prefetch``, read, locality 2:
the L2) and goes on without waiting; it changes no value. A recurrent scan's gate pass
(``_rnn.py``) calls it on the rows the next step will read where the hardware prefetcher does not
follow them: short rows (one state, 512 bytes at hidden 128) a whole sequence apart in
batch-first arrays, fetched one line at a time otherwise.

>>> import numpy as np
>>> from numba import njit
>>> row = np.arange(40.0)
>>> njit(lambda r: (prefetch_row(r), r.sum())[1])(row)
780.0
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: bytes of a cache line on the x86-64 and ARM CPUs this runs on
LINE = 64


@intrinsic
def prefetch_at(typingctx, row, i):
    """Prefetch the cache line holding ``row[i]`` (``row`` 1-D; ``i`` in range)."""
    if not isinstance(row, types.Array) or row.ndim != 1 or not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        index = context.cast(builder, args[1], sig.args[1], types.intp)
        address = builder.bitcast(builder.gep(array.data, [index]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32])
        prefetch = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read (0), locality 2 (kept in the L2), data cache (1)
        builder.call(prefetch, [address, ir.Constant(i32, 0), ir.Constant(i32, 2),
                                ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(row, i), codegen


@njit(inline="always")
def prefetch_row(row):
    """Prefetch every cache line of ``row`` (1-D, C-contiguous)."""
    n = row.shape[0]
    for i in range(0, n, max(LINE // row.itemsize, 1)):
        prefetch_at(row, i)
    if n:
        prefetch_at(row, n - 1)         # the last line, where the row starts mid-line
