"""Small matrix products replayed as NumPy's own ``matmul``.

A trace records ``@`` on the host backends as ``blas.matmul``, which hands a product under
``blas.MIN_WORK`` multiply-adds to NumPy's ``matmul`` (MKL's call costs more than it saves
there). A program's shapes are fixed, so ``small_products_to_numpy(program)`` makes that choice
once: such a step calls ``np.matmul`` itself -- one Python call less per product -- and, a
ufunc, may write into a buffer the program plans (``out=``) instead of a new array.
"""
from __future__ import annotations

import numpy as np

from ..backends import blas
from .tracer import Ref


def _small(step, slots) -> bool:
    if step.kind != "call" or step.fn is not blas.matmul or step.kwargs \
            or len(step.args) != 2 or not all(type(r) is Ref for r in step.args):
        return False
    a, b = (slots[r.i] for r in step.args)
    if len(a.shape) != 2 or len(b.shape) != 2 or not (a.ndarray and b.ndarray):
        return False
    return a.shape[0] * a.shape[1] * b.shape[1] < blas.MIN_WORK


def small_products_to_numpy(program) -> int:
    """Rewrite ``program.steps`` as the module docstring says; how many steps changed."""
    if not isinstance(program.be.xp.zeros(1), np.ndarray):
        return 0
    count = 0
    for step in program.steps:
        if _small(step, program.slots):
            step.fn = np.matmul
            count += 1
    return count


__all__ = ["small_products_to_numpy"]
