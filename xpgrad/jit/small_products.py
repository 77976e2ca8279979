"""Small matrix products replayed as NumPy's own ``matmul``.

A trace records ``@`` on the host backends as ``blas.matmul``, which hands a product under
``blas.MIN_WORK`` multiply-adds to NumPy's ``matmul`` (MKL's call costs more than it saves
there). A program's shapes are fixed, so ``small_products_to_numpy(program)`` makes that choice
once: such a step calls ``np.matmul`` itself -- one Python call less per product -- and, a
ufunc, may write into a buffer the program plans (``out=``) instead of a new array. A dense
layer's kernel forward of such a product (``_linear_forward``: ``x @ w``, then ``+= b``) is
replayed as those two ufunc calls, ``np.matmul`` and ``np.add``, with the same arithmetic.
"""
from __future__ import annotations

import numpy as np

from ..backends import blas
from .program_steps import Ref, SlotInfo, Step


def _small(step, slots) -> bool:
    if step.kind != "call" or step.fn is not blas.matmul or step.kwargs \
            or len(step.args) != 2 or not all(type(r) is Ref for r in step.args):
        return False
    return _small_factors(*(slots[r.i] for r in step.args))


def _small_factors(a, b) -> bool:
    if len(a.shape) != 2 or len(b.shape) != 2 or not (a.ndarray and b.ndarray) \
            or a.dynamic is not None or b.dynamic is not None:
        return False
    return blas.small(a, b)           # the slots' shapes: the test ``blas.matmul`` makes


def _small_linear(step, slots) -> bool:
    """Whether ``step`` is a dense layer's kernel forward of a small product whose operands
    and result share one float dtype (the kernel's in-place ``+= b`` is then ``np.add``)."""
    if step.kind != "kernel":
        return False
    from ..backends.numpy.kernels import _linear_forward

    if step.fn is not _linear_forward or step.kwargs \
            or len(step.args) != 3 or not all(type(r) is Ref for r in step.args) \
            or type(step.outs) is not tuple or len(step.outs) != 2 \
            or type(step.outs[0]) is not Ref or step.outs[1] is not None:
        return False
    x, w, b = (slots[r.i] for r in step.args)
    dtype = slots[step.outs[0].i].dtype
    return _small_factors(x, w) and b.ndarray and isinstance(dtype, np.dtype) \
        and dtype.kind == "f" and x.dtype == w.dtype == b.dtype == dtype


def _split_linear(step, slots):
    """The product and bias-add steps replaying ``step`` (``_small_linear``)."""
    y = step.outs[0]
    info = slots[y.i]
    t = len(slots)                      # the product: a new array of the layer's output
    slots.append(SlotInfo(info.shape, info.dtype, info.step, t, True, info.dynamic))
    x, w, b = step.args
    return [Step(np.matmul, (x, w), {}, Ref(t), "call"), Step(np.add, (Ref(t), b), {}, y, "call")]


def small_products_to_numpy(program) -> int:
    """Rewrite ``program.steps`` as the module docstring says; how many steps changed."""
    if not isinstance(program.be.xp.zeros(1), np.ndarray):
        return 0
    slots, steps, count = program.slots, [], 0
    for step in program.steps:
        if _small(step, slots):
            step.fn = np.matmul
            count += 1
        elif _small_linear(step, slots):
            steps += _split_linear(step, slots)
            count += 1
            continue
        steps.append(step)
    program.steps = steps
    return count


__all__ = ["small_products_to_numpy"]
