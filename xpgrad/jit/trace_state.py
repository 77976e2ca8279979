"""The trace this thread runs now (``THREAD.tracer``, ``current_tracer``) and what layers call
while one runs: ``guarded_attribute`` / ``guard_value`` (a program kept for the value of an
attribute it read, a Module's ``training`` flag) and ``note_write`` (the function set it itself).
``capture.py`` re-exports them all.

>>> current_tracer() is None, _tracing()
(True, False)
"""
from __future__ import annotations

from ..trace_thread import THREAD


def current_tracer():
    """The tracer of the trace running in this thread, or None."""
    return THREAD.tracer


def guarded_attribute(obj, name):
    """``getattr(obj, name)``; under a trace, the program is kept for this value only: a later
    call where the attribute differs (a Module's ``training`` flag after ``eval()``) looks for
    the program traced with that value, and traces one if there is none."""
    return guard_value(obj, name, getattr(obj, name))


def guard_value(obj, name, value):
    """``value``, read from ``obj.name``; under a trace, recorded as ``guarded_attribute``
    says (for a property that guards its own reads)."""
    tracer = THREAD.tracer
    if tracer is not None and (id(obj), name) not in tracer.attribute_writes:
        guards = tracer.attribute_guards
        if not any(o is obj and n == name for o, n, _ in guards):
            guards.append((obj, name, value))
    return value


def note_write(obj, name):
    """``obj.name`` was set: under a trace, the function set it itself (``model.eval()``
    inside), so what it reads later does not depend on the value the call began with."""
    tracer = THREAD.tracer
    if tracer is not None:
        tracer.attribute_writes.add((id(obj), name))


def _tracing() -> bool:
    """Whether this thread's trace records now (paused: inside a step the program replays
    whole, such as an optimizer's update, which may compute on any backend)."""
    tracer = THREAD.tracer
    return tracer is not None and not tracer.paused
