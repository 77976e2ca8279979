"""The host BLAS's ``cblas_?gemm`` called from compiled Numba loops, so that a recurrent scan's
loop over its steps runs without a Python call per step (each step a product and a fused pass:
from Python, ~0.9 us for the ctypes call and ~0.6 for Numba's dispatch; 0.08 ms of an LSTM
forward of 50 steps, batch 64, hidden 128).

``blas.stepped_plan(stack, b, out)`` gives the product ``stack[t] @ b -> out`` as integers
(the gemm's address, the operands' addresses and leading dimensions); ``loop_plan`` turns those
into the arguments of ``step_product(plan, ints, t, one, zero)``, which a loop calls for step
``t``. ``ints`` is a zero of the library's integer type (OpenBLAS's 64-bit interface, MKL's
32-bit LP64), so each compiles its own call. The arrays must outlive the loop: the caller
holds them.

>>> import numpy as np
>>> from xpgrad.backends import blas
>>> stack, w, out = np.ones((3, 2, 4)), np.full((4, 2), 0.5), np.zeros((2, 2))
>>> stack[2] = 3.0
>>> plan = loop_plan(blas.stepped_plan(stack, w, out))
>>> if plan is not None:          # a direct gemm is in use (XPGRAD_BLAS is not numpy)
...     njit(lambda plan, ints: step_product(plan, ints, 2, 1.0, 0.0))(*plan)
...     assert out.tolist() == [[6.0, 6.0], [6.0, 6.0]]
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_ROW_MAJOR = 101


def loop_plan(plan):
    """``(plan, ints)`` for ``step_product`` from ``blas.stepped_plan``'s integers, or None
    for None (no direct gemm takes the operands: the caller loops in Python)."""
    if plan is None:
        return None
    address, int_bytes, *rest = plan
    return (address, *rest), (np.int64(0) if int_bytes == 8 else np.int32(0))


@intrinsic
def gemm_call(typingctx, fn, ints, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc):
    """``cblas_?gemm(RowMajor, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
    ldc)`` through the function at address ``fn``; ``a``, ``b``, ``c`` addresses; sizes passed
    as integers of ``ints``'s type; ``alpha`` and ``beta`` float32 (sgemm) or float64."""
    if alpha not in (types.float32, types.float64) or beta != alpha \
            or ints not in (types.int32, types.int64):
        return None

    def codegen(context, builder, sig, args):
        i32, size = ir.IntType(32), ir.IntType(ints.bitwidth)
        scalar, address = context.get_value_type(alpha), ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, size, size, size, scalar, address,
                                               size, address, size, scalar, address, size])
        fn_, _, ta, tb, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args

        def integer(v, kind):
            if v.type.width > kind.width:
                return builder.trunc(v, kind)
            return builder.sext(v, kind) if v.type.width < kind.width else v

        builder.call(builder.inttoptr(fn_, fnty.as_pointer()),
                     [ir.Constant(i32, _ROW_MAJOR), integer(ta, i32), integer(tb, i32),
                      integer(m_, size), integer(n_, size), integer(k_, size), alpha_,
                      builder.inttoptr(a_, address), integer(lda_, size),
                      builder.inttoptr(b_, address), integer(ldb_, size), beta_,
                      builder.inttoptr(c_, address), integer(ldc_, size)])
        return context.get_dummy_value()

    return types.void(fn, ints, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                      ldc), codegen


@njit(inline="always")
def step_product(plan, ints, t, one, zero):
    """Step ``t``'s product of ``plan`` (``loop_plan``'s): ``out = stack[t] @ b``; ``one``
    and ``zero`` of the arrays' dtype."""
    fn, trans_a, trans_b, m, n, k, ld_a, base, stride, ld_b, address_b, address_out, ld_out = plan
    gemm_call(fn, ints, trans_a, trans_b, m, n, k, one, base + t * stride, ld_a, address_b,
              ld_b, zero, address_out, ld_out)

