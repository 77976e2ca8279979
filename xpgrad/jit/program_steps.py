"""The record a trace makes and its passes read: ``Ref`` (a slot), ``Step`` (one recorded call),
``SlotInfo`` (what the trace saw of a slot) and ``slot_uses``.

>>> Step("call", (Ref(0),), {}, Ref(1), "call")
Step(call, 'call', (Ref(0),))
"""
from __future__ import annotations


class Ref:
    """A slot of the program: where a traced array goes in a step's arguments or result."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i

    def __repr__(self):
        return f"Ref({self.i})"


class Step:
    """One recorded call. ``kind``: "call" (an array function), "kernel" (a backend kernel, run
    whole), "host" (an optimizer update with Python state, a print), "read" (a Variable's array),
    "input" (a tensor argument). ``in_place``: for a kernel's vjp, its ``vjp_in_place``
    where the output gradient it was given owned its memory (``jit/in_place.py``)."""

    __slots__ = ("fn", "args", "kwargs", "outs", "kind", "in_place", "facts")

    def __init__(self, fn, args, kwargs, outs, kind):
        self.fn, self.args, self.kwargs, self.outs, self.kind = fn, args, kwargs, outs, kind
        self.in_place = None
        #: what ``step_facts`` found in it, with the objects it read them from (a pass that
        #: gives the step new arguments or a new function makes them stale: found again)
        self.facts = None

    def __repr__(self):
        return f"Step({self.kind}, {getattr(self.fn, '__name__', self.fn)!r}, {self.args})"


def slot_uses(steps) -> dict:
    """How many times ``steps`` read each slot: one per Ref in their arguments."""
    from .step_facts import reads

    uses = {}
    for step in steps:
        for i in reads(step):
            uses[i] = uses.get(i, 0) + 1
    return uses


class SlotInfo:
    """What the trace saw of a slot: its shape, dtype, producing step and memory root;
    ``dynamic``: where its shape depends on values, the operation that made it (a name), else
    None (``dynamic_shapes.py``); ``c_order``: the traced array was C-contiguous (a buffer
    planned for it must be too, so that a later reshape is a view, or a copy, on replay as it
    was in the trace)."""

    __slots__ = ("shape", "dtype", "step", "root", "ndarray", "dynamic", "c_order")

    def __init__(self, shape, dtype, step, root, ndarray, dynamic=None, c_order=True):
        self.shape, self.dtype, self.step, self.root, self.ndarray = (shape, dtype, step, root,
                                                                     ndarray)
        self.dynamic, self.c_order = dynamic, c_order
