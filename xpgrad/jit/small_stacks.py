"""Stacks of 0-d arrays replayed as one ``np.array`` call.

``xg.stack`` of scalars -- the components of a small system's right-hand side
(``xg.stack([a * x - b * x * y, d * x * y - g * y])``), or a gradient's pieces -- records
NumPy's ``stack``, a Python function that checks and reshapes each operand before it
concatenates them: 2.5 us for two 0-d arrays. A program's shapes and dtypes are fixed, so
``small_stacks_to_array(program)`` replays such a step (along axis 0, operands 0-d of its
result's dtype) as ``np.array(operands, dtype=dtype)``: the same new 1-D array, in
0.4 us. (An operand may be a NumPy scalar: an integer index of an array gives one.)

>>> import numpy as np
>>> parts = (np.array(1.5), np.array(-2.0))
>>> np.array(parts, dtype=np.float64).tolist() == np.stack(parts, axis=0).tolist()
True
"""
from __future__ import annotations

import numpy as np

from .program_steps import Ref


def _scalar_stack(step, slots):
    """The result's dtype where ``step`` stacks 0-d values of it along axis 0, else None."""
    if step.kind != "call" or step.fn is not np.stack or len(step.args) != 1 \
            or type(step.outs) is not Ref or step.kwargs not in ({}, {"axis": 0}):
        return None
    operands, out = step.args[0], slots[step.outs.i]
    if type(operands) not in (tuple, list) or not operands \
            or not all(type(r) is Ref for r in operands) or not isinstance(out.dtype, np.dtype):
        return None
    infos = [slots[r.i] for r in operands]
    if all(i.shape == () and i.dtype == out.dtype and i.dynamic is None for i in infos):
        return out.dtype
    return None


def small_stacks_to_array(program) -> int:
    """Rewrite ``program.steps`` as the module docstring says; how many steps changed."""
    if not isinstance(program.be.xp.zeros(1), np.ndarray):
        return 0
    count = 0
    for step in program.steps:
        dtype = _scalar_stack(step, program.slots)
        if dtype is not None:
            step.fn, step.args, step.kwargs = np.array, (tuple(step.args[0]),), {"dtype": dtype}
            count += 1
    return count


__all__ = ["small_stacks_to_array"]
