"""Moves between backends (``Tensor.to``) inside a trace.

A function traced on one backend may move values there from another: ``v.to("numba")`` of a
NumPy-backend Variable, or of a draw from a NumPy-backend generator (a ``Dropout`` with such an
``rng``). The move then belongs in the program, as a step reading its source anew on every
replay. Without it, the moved array was the value at trace time, a constant of the program.
``patch_transfers(tracer, patched, recording)`` replaces ``primitive._move`` and
``primitive._moved`` while the trace runs, so that in the tracing thread:

- a move into the traced backend of a value the trace computed or drew (a ``Traced`` array)
  is a step of the program, and so is its gradient's move back (the tape's ``transfer`` vjp);
- a move of another backend's Variable reads it first, as the trace reads its own backend's
  Variables.

A move out of the traced backend (``.to()`` of a value the trace computed) is refused, as any
read of a traced value is.

A constant of another backend (an array made outside the function, or inside from Python
values) is moved once, at trace time, like any other constant. Computing on the other backend
still raises ``OtherBackend`` (``other_backends._OtherXp``): the program runs on one backend.
"""
from __future__ import annotations

from ..tensor import Variable
from .traced import Traced


def patch_transfers(tracer, patched, recording):
    """Install the recording moves for ``tracer``; ``patched`` gets ``(module, name, the
    original)`` for each, which the trace puts back when it ends; ``recording()`` says whether
    this thread's trace records now."""
    from .. import primitive

    move = primitive._move

    def recorded_move(raw, source, target):
        if type(raw) is Traced and raw._tracer is tracer and recording():
            return tracer.call(move, (raw, source, target), {})
        return move(raw, source, target)

    def recorded_moved(x, target):
        data = x._data
        if target is not tracer.be or not recording():
            return move(data, x._backend, target)    # out of the trace: refused (Traced)
        if type(data) is not Traced and isinstance(x, Variable):
            data = tracer.read_variable(x)
        return recorded_move(data, x._backend, target)

    for name, replacement in (("_move", recorded_move), ("_moved", recorded_moved)):
        patched.append((primitive, name, getattr(primitive, name)))
        setattr(primitive, name, replacement)
