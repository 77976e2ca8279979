"""A recurrent scan's per-step products, each step a bare gemm call (MKL's or NumPy's
OpenBLAS, ``blas.py``) planned once per scan (``blas.matmul`` checks its operands on every call:
5 us more per step here, for a 64x192 by 192x512 float32 product).

``stepped_matmul(stack, b, out)`` writes ``stack[t] @ b`` into ``out``; ``stepped_update(stack,
b, outs)`` adds ``stack[t] @ b`` to ``outs[t]`` (the gemm's ``beta = 1``: a scan's gates onto
their input projection, with no pass of its own); ``stepped_plan`` gives a compiled loop what
``stepped_matmul`` would call, as integers. Both hold their arrays: the gemm gets their
bare addresses, which must outlive every call. Without a direct gemm, or for operands it cannot
take, each step is NumPy's product.

>>> import numpy as np
>>> stack, outs = np.ones((3, 2, 4)), np.ones((3, 2, 2))
>>> step = stepped_update(stack, np.eye(4)[:, :2], outs)
>>> step(2); outs[2].tolist()
[[2.0, 2.0], [2.0, 2.0]]
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import blas


def stepped_matmul(stack, b, out):
    """A function of ``t`` (0 <= t < len(stack)) writing ``stack[t] @ b`` into ``out``, for a
    loop over the first axis of ``stack`` (a recurrent scan's steps).

    >>> import numpy as np
    >>> stack, out = np.ones((3, 2, 4)), np.empty((2, 2))
    >>> step = stepped_matmul(stack, np.eye(4)[:, :2], out)
    >>> step(2); out.tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    def generic(t):
        blas.matmul(stack[t], b, out=out)

    return _stepped(stack, b, out, None, generic)


def stepped_update(stack, b, outs, split=None):
    """A function of ``t`` adding ``stack[t] @ b`` to ``outs[t]`` in place (``outs``: a stack
    of C-ordered results, as long as ``stack``). ``split`` (``"columns"`` or ``"depth"``):
    each step's product in the blocks ``stepped_plans`` makes where ``block_width`` says
    the BLAS runs them faster (one gemm call per block; one product elsewhere).

    >>> import numpy as np
    >>> stack, outs = np.ones((2, 64, 256)), np.zeros((2, 64, 512))
    >>> step = stepped_update(stack, np.ones((256, 512)), outs, split="columns")
    >>> step(1); float(outs[1].min()), float(outs[0].max())
    (256.0, 0.0)
    """
    def generic(t):
        outs[t] += blas.matmul(stack[t], b)

    if type(outs) is not np.ndarray or outs.ndim != 3 or len(outs) != len(stack) \
            or len(outs) == 0 or outs.strides[0] % outs.itemsize \
            or np.may_share_memory(outs, stack):     # the plan checks outs[0] alone
        return generic
    if split is not None:
        blocked = _blocked_update(stack, b, outs, split)
        if blocked is not None:
            return blocked
    return _stepped(stack, b, outs[0], outs.strides[0], generic)


def _blocked_update(stack, b, outs, split):
    """``stepped_update``'s step as the blocks of ``stepped_plans(stack, b, outs[0],
    split)``, each added onto ``outs[t]`` by its own gemm call, or None where that plans one
    product or none. From Python as from a compiled loop (``backends/numba/_gemm.py``): an
    LSTM step's (64, 128) @ (128, 512) in 8 column blocks 2.10 ms for 50 steps instead of
    2.26, its (64, 512) @ (512, 128) in 8 depth blocks 2.16 instead of 2.46 (batch 32: 1.19
    and 1.21 instead of 1.45 and 1.38; OpenBLAS's SkylakeX kernels, one thread). Blocked
    wherever ``block_width`` says, under ``blas.MIN_WORK`` too: an Elman RNN step's (64, 128) @
    (128, 128), 1M multiply-adds, in 2 blocks 0.50 ms for 50 steps, 0.64 as NumPy's product and
    an add."""
    if not _plannable(stack, b, outs[0]):
        return None
    plans, held = stepped_plans(stack, b, outs[0], split)
    if plans is None or len(plans) < 2:
        return None
    fn = blas._library().gemm[stack.dtype]
    kinds = getattr(fn, "argtypes", None) or [lambda v: v] * 14     # a test's stand-in
    blocks = []
    for (_, _, trans_a, trans_b, m, n, k, ld_a, base, stride, ld_b, address_b, address_out,
         ld_out, _) in plans.tolist():
        head = tuple(kind(v) for kind, v in
                     zip(kinds, (blas._ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0)))
        middle = tuple(kind(v) for kind, v in zip(kinds[8:12], (ld_a, address_b, ld_b, 1.0)))
        blocks.append((head, base, middle, address_out, kinds[13](ld_out)))
    stride, out_stride, count = stack.strides[0], outs.strides[0], len(stack)
    held = (stack, b, outs, held)

    def step(t, _held=held):
        if not 0 <= t < count:          # a bare address: never outside the stack
            raise IndexError(f"step {t} of a stack of {count}")
        for head, base, middle, address_out, ld_out in blocks:
            fn(*head, base + t * stride, *middle, address_out + t * out_stride, ld_out)

    return step


def stepped_plan(stack, b, out):
    """``stepped_matmul(stack, b, out)`` as plain integers, for a compiled loop that calls the
    gemm itself (``backends/numba/_gemm.py``'s ``step_product``): ``(gemm's address, its
    integers' size in bytes, trans_a, trans_b, m, n, k, ld_a, address of stack[0], bytes from
    one step to the next, ld_b, address of b, address of out, ld_out)``; None where no direct
    gemm is in use or it cannot take the operands. Products of any size are planned
    (``MIN_WORK`` weighs a call from Python). The caller holds the arrays while the addresses
    are in use.

    >>> import numpy as np
    >>> plan = stepped_plan(np.ones((3, 2, 4)), np.ones((4, 2)), np.empty((2, 2)))
    >>> plan is None or plan[4:7] == (2, 2, 4)
    True
    """
    lib = blas._library()
    if lib is None or not _plannable(stack, b, out):
        return None
    call = blas._gemm_call(lib, stack[0], b, out)
    if call is None or not isinstance(call[0], ctypes._CFuncPtr):      # a test's stand-in
        return None
    fn, (m, n, k, (trans_a, ld_a, base), (trans_b, ld_b, address_b), address_out) = call
    return (ctypes.cast(fn, ctypes.c_void_p).value, ctypes.sizeof(fn.argtypes[3]), trans_a,
            trans_b, m, n, k, ld_a, base, stack.strides[0], ld_b, address_b, address_out,
            max(n, 1))


#: OpenBLAS kernels under which ``stepped_plans`` splits a step's product into blocks
BLOCKED_CORES = ("SkylakeX",)
#: a block's width, and the most multiply-adds of one block (and the fewest of a whole product
#: worth splitting): OpenBLAS's SkylakeX gemm runs products under about 100^3 without packing
BLOCK, SMALL_WORK = 64, 100 ** 3


def block_width(lib, m, n, k, split):
    """The width of the blocks ``stepped_plans`` splits an ``(m, k) @ (k, n)`` product into
    along ``split`` (``"columns"``: n, ``"depth"``: k), or 0 for one product. Under OpenBLAS's
    SkylakeX kernels a product over ``SMALL_WORK`` multiply-adds whose blocks of ``BLOCK`` are
    under it: an LSTM step's products (batch 64, hidden 128, 50 steps), forward ``(64, 192) @
    (192, 512)`` in 8 column blocks 2.5 ms instead of 3.3, backward ``(64, 512) @ (512, 128)``
    in 8 depth blocks 1.75 instead of 2.2 (under its Haswell kernels: 4% slower, 3% faster);
    a GRU's ``(64, 128) @ (128, 384)`` in 6 column blocks 1.25 ms instead of 1.56, an Elman
    RNN's ``(64, 128) @ (128, 128)`` in 2: 0.41 instead of 0.57.

    >>> block_width(None, 64, 512, 192, "columns")
    0
    """
    if lib is None or getattr(lib, "core", None) not in BLOCKED_CORES:
        return 0
    size = n if split == "columns" else k
    if size % BLOCK or size == BLOCK or m * n * k <= SMALL_WORK \
            or m * (n * k // size) * BLOCK > SMALL_WORK:
        return 0
    return BLOCK


def stepped_plans(stack, b, out, split):
    """``stepped_plan(stack, b, out)`` as the rows of an int64 array, one per block of the
    product (``block_width``): ``split="columns"``, each row a block of ``b``'s columns (copied
    contiguous: BLAS runs a column slice of a wider matrix ~25% slower) into the same columns of
    ``out``; ``split="depth"``, each a block of the shared dimension, the rows after the first
    added on (the loop's ``beta = 1``). A row is ``stepped_plan``'s 14 numbers and a 15th, 1
    where that block adds onto ``out``. Returns ``(plans, held)``, ``held`` the arrays (block
    copies) the caller keeps while the addresses are in use; ``(None, ())`` where
    ``stepped_plan`` gives None.

    >>> import numpy as np
    >>> plans, held = stepped_plans(np.ones((3, 2, 4)), np.ones((4, 2)), np.empty((2, 2)),
    ...                             "columns")
    >>> plans is None or plans.shape == (1, 15)
    True
    """
    plan = blas.stepped_plan(stack, b, out)
    if plan is None:
        return None, ()
    m, n, k = plan[4:7]
    width = block_width(blas._library(), m, n, k, split)
    if not width:
        return np.array([plan + (0,)], dtype=np.int64), ()
    rows, held = [], []
    for start in range(0, n if split == "columns" else k, width):
        if split == "columns":
            block = np.ascontiguousarray(b[:, start:start + width])
            part = blas.stepped_plan(stack, block, np.empty((m, width), out.dtype))
            if part is None:
                return np.array([plan + (0,)], dtype=np.int64), ()
            held.append(block)
            # written into out's columns from start: out's address there, out's row length
            rows.append(part[:12] + (plan[12] + start * out.itemsize, plan[13], 0))
        else:
            part = blas.stepped_plan(stack[:, :, start:start + width],
                                     b[start:start + width], out)
            if part is None:
                return np.array([plan + (0,)], dtype=np.int64), ()
            rows.append(part + (int(start > 0),))
    return np.array(rows, dtype=np.int64), tuple(held)


def _plannable(stack, b, out):
    """Whether each step ``stack[t] @ b`` into ``out`` is a 2-D product of NumPy arrays at a
    whole number of elements from the last, ``out`` apart from the stack."""
    return type(stack) is np.ndarray and type(b) is np.ndarray and type(out) is np.ndarray \
        and stack.ndim == 3 and b.ndim == 2 and len(stack) > 0 \
        and stack.shape[2] == b.shape[0] and not stack.strides[0] % stack.itemsize \
        and not np.may_share_memory(out, stack)


def _stepped(stack, b, out, out_stride, generic):
    """The planned step (``out_stride``: None, ``out`` fixed and overwritten; else ``out`` is
    the first of results that far apart in bytes, each added to), or ``generic`` where no
    direct gemm is in use or it cannot take the operands."""
    lib = blas._library()
    if lib is None or not _plannable(stack, b, out) or blas.small(stack[0], b):
        return generic
    call = blas._gemm_call(lib, stack[0], b, out)
    if call is None:
        return generic
    fn, (m, n, k, (trans_a, ld_a, base), (trans_b, ld_b, address_b), address_out) = call
    stride, count = stack.strides[0], len(stack)
    beta = 0.0 if out_stride is None else 1.0
    # every argument but the stepping addresses made a C value once: ctypes converting the 13
    # Python numbers on each call took 0.9 of a call's 1.9 us (100 calls per LSTM step)
    values = (blas._ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, None, ld_a, address_b, ld_b,
              beta, None, max(n, 1))
    kinds = getattr(fn, "argtypes", None) or [lambda v: v] * len(values)   # a test's stand-in
    c_args = [None if v is None else kind(v) for kind, v in zip(kinds, values)]
    head, middle, ld_out = tuple(c_args[:7]), tuple(c_args[8:12]), c_args[13]
    held = (stack, b, out)

    def check(t):
        if not 0 <= t < count:          # a bare address: never outside the stack
            raise IndexError(f"step {t} of a stack of {count}")

    if out_stride is None:
        out_c = kinds[12](address_out)

        def step(t, _held=held):
            check(t)
            fn(*head, base + t * stride, *middle, out_c, ld_out)
    else:
        def step(t, _held=held):
            check(t)
            fn(*head, base + t * stride, *middle, address_out + t * out_stride, ld_out)

    return step
