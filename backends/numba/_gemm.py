"""The host BLAS's ``cblas_?gemm`` called from compiled Numba loops, so that a recurrent scan's
loop over its steps runs without a Python call per step (each step a product and a fused pass:
from Python, ~0.9 us for the ctypes call and ~0.6 for Numba's dispatch; 0.08 ms of an LSTM
forward of 50 steps, batch 64, hidden 128).

``blas.stepped_plan(stack, b, out)`` gives the product ``stack[t] @ b -> out`` as a tuple of
integers (the gemm's address, the operands' addresses and leading dimensions), the ``plan`` of
``step_product(plan, t, one, zero)``, which a loop calls for step ``t`` (one compiled loop
serves OpenBLAS's 64-bit integers and MKL's 32-bit ones); ``step_products(plans, t, one,
zero)`` runs the rows of ``blas.stepped_plans``, a step's product in blocks. The arrays must
outlive the loop: the caller holds them.

>>> import numpy as np
>>> from xpgrad.backends import blas
>>> stack, w, out = np.ones((3, 2, 4)), np.full((4, 2), 0.5), np.zeros((2, 2))
>>> stack[2] = 3.0
>>> plan = blas.stepped_plan(stack, w, out)
>>> if plan is not None:          # a direct gemm is in use (XPGRAD_BLAS is not numpy)
...     njit(lambda plan: step_product(plan, 2, 1.0, 0.0))(plan)
...     assert out.tolist() == [[6.0, 6.0], [6.0, 6.0]]
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_ROW_MAJOR = 101


def _integer(builder, v, kind):
    if v.type.width > kind.width:
        return builder.trunc(v, kind)
    return builder.sext(v, kind) if v.type.width < kind.width else v


@intrinsic
def gemm_call(typingctx, fn, int_bytes, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
              c, ldc):
    """``cblas_?gemm(RowMajor, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
    ldc)`` through the function at address ``fn``, whose sizes are integers of ``int_bytes``
    bytes (8: OpenBLAS's 64-bit interface; else 4, MKL's LP64: both calls are compiled, one
    taken); ``a``, ``b``, ``c`` addresses; ``alpha`` and ``beta`` float32 (sgemm) or float64."""
    if alpha not in (types.float32, types.float64) or beta != alpha:
        return None

    def codegen(context, builder, sig, args):
        fn_, int_bytes_, ta, tb, m_, n_, k_, alpha_, a_, lda_, b_, ldb_, beta_, c_, ldc_ = args
        i32, address = ir.IntType(32), ir.IntType(8).as_pointer()
        scalar = context.get_value_type(alpha)

        def call(size):
            fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, size, size, size, scalar,
                                                   address, size, address, size, scalar,
                                                   address, size])
            builder.call(builder.inttoptr(fn_, fnty.as_pointer()), [
                ir.Constant(i32, _ROW_MAJOR), _integer(builder, ta, i32),
                _integer(builder, tb, i32), _integer(builder, m_, size),
                _integer(builder, n_, size), _integer(builder, k_, size), alpha_,
                builder.inttoptr(a_, address), _integer(builder, lda_, size),
                builder.inttoptr(b_, address), _integer(builder, ldb_, size), beta_,
                builder.inttoptr(c_, address), _integer(builder, ldc_, size)])

        wide = builder.icmp_signed("==", int_bytes_, ir.Constant(int_bytes_.type, 8))
        with builder.if_else(wide) as (then, otherwise):
            with then:
                call(ir.IntType(64))
            with otherwise:
                call(i32)
        return context.get_dummy_value()

    return types.void(fn, int_bytes, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                      ldc), codegen


@njit(inline="always")
def step_product(plan, t, one, zero):
    """Step ``t``'s product of ``plan`` (``blas.stepped_plan``'s): ``out = stack[t] @ b``; ``one``
    and ``zero`` of the arrays' dtype."""
    (fn, int_bytes, trans_a, trans_b, m, n, k, ld_a, base, stride, ld_b, address_b,
     address_out, ld_out) = plan
    gemm_call(fn, int_bytes, trans_a, trans_b, m, n, k, one, base + t * stride, ld_a,
              address_b, ld_b, zero, address_out, ld_out)


@njit(inline="always")
def step_products(plans, t, one, zero):
    """Step ``t``'s product of ``plans`` (``blas.stepped_plans``' rows, an int64 array): each
    row's block in turn, added onto ``out`` where its last number is 1."""
    for j in range(plans.shape[0]):
        p = plans[j]
        gemm_call(p[0], p[1], p[2], p[3], p[4], p[5], p[6], one, p[8] + t * p[9], p[7],
                  p[11], p[10], one if p[14] else zero, p[12], p[13])
