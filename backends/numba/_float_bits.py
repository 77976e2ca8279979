"""LLVM intrinsics that read and build floats through their bit patterns, for the scalar math
of ``_math.py`` (re-exported there): ``2**k`` from a rounded ``k``, a float's mantissa and
exponent, and an integer key in the order of the floats (``_loss_kernels`` finds a row's maximum
by integer compares).

>>> import numpy as np
>>> from numba import njit
>>> f = njit(lambda x: (split_float(x), key_to_float(ordered_key(x), x)))
>>> f(np.float64(12.0))
((1.5, 3.0), 12.0)
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


def _bits(ty):
    return (ir.IntType(32), ir.FloatType(), 127, 23) if ty == types.float32 else \
           (ir.IntType(64), ir.DoubleType(), 1023, 52)


@intrinsic
def pow2_of_rounded(typingctx, t):
    """``2**k`` for ``t = k + MAGIC`` (``k`` an integer held in the low mantissa bits).

    Adding the exponent bias to the bit pattern and shifting it into the exponent field gives
    the float 2**k; MAGIC's own bits shift out. No float-to-int conversion, so NaN is harmless.
    """
    if t not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        ity, fty, bias, shift = _bits(sig.args[0])
        b = builder.bitcast(args[0], ity)
        b = builder.shl(builder.add(b, ir.Constant(ity, bias)), ir.Constant(ity, shift))
        return builder.bitcast(b, fty)

    return t(t), codegen


@intrinsic
def ordered_key(typingctx, x):
    """An integer with the same order as the float ``x`` (NaN with sign 0 above +inf)."""
    if x not in (types.float32, types.float64):
        return None
    ity = types.int32 if x == types.float32 else types.int64

    def codegen(context, builder, sig, args):
        irt, _, _, _ = _bits(sig.args[0])
        width = irt.width
        b = builder.bitcast(args[0], irt)
        sign = builder.ashr(b, ir.Constant(irt, width - 1))
        mask = builder.and_(sign, ir.Constant(irt, (1 << (width - 1)) - 1))
        return builder.xor(b, mask)

    return ity(x), codegen


@intrinsic
def key_to_float(typingctx, k, like):
    """Inverse of ``ordered_key`` (``like`` picks the float type)."""
    if like not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        irt, fty, _, _ = _bits(sig.args[1])
        b = args[0]
        if b.type != irt:
            b = builder.trunc(b, irt) if b.type.width > irt.width else builder.sext(b, irt)
        width = irt.width
        sign = builder.ashr(b, ir.Constant(irt, width - 1))
        mask = builder.and_(sign, ir.Constant(irt, (1 << (width - 1)) - 1))
        return builder.bitcast(builder.xor(b, mask), fty)

    return like(k, like), codegen


@intrinsic
def split_float(typingctx, x):
    """``(f, k)`` with ``x = f * 2**k``, ``f`` in [1, 2) and ``k`` an integer held as a float,
    for a positive normal ``x`` (anything else gives garbage: callers select it away)."""
    if x not in (types.float32, types.float64):
        return None

    def codegen(context, builder, sig, args):
        ity, fty, bias, shift = _bits(sig.args[0])
        b = builder.bitcast(args[0], ity)
        mant = builder.and_(b, ir.Constant(ity, (1 << shift) - 1))
        f = builder.bitcast(builder.or_(mant, ir.Constant(ity, bias << shift)), fty)
        k = builder.sub(builder.lshr(b, ir.Constant(ity, shift)), ir.Constant(ity, bias))
        k = builder.sitofp(k, fty)
        return context.make_tuple(builder, sig.return_type, (f, k))

    return types.UniTuple(x, 2)(x), codegen
