"""The events a profile collects, and the timing wrapper every hook is made of.

An event is one timed call: its name (a primitive's, a user range's...), its phase
(``"forward"``, ``"backward"``, ``"optimizer"``, ``"user"``, ``"autograd"``, ``"function"``,
``"trace"``, ``"replay"``), the implementation that ran (``"kernel"``, ``"generic"``, a replay
step's kind, or ``""``), its start and duration in nanoseconds, its self time (the duration
less that of the events it enclosed on the same thread), thread id, nesting depth and, with
``record_shapes``, its array arguments' shapes. Each thread keeps its own stack of open events,
so self times stay right when several threads run ops at once.

``ACTIVE`` holds the profiles collecting now; an event goes to each of them. With none, a
wrapper still left somewhere (a function that captured one while a profile was active) just
calls through.

>>> import numpy as np
>>> events = []
>>> class Sink:
...     record_shapes, sync = True, None
...     def add(self, event): events.append(event)
>>> ACTIVE.append(Sink())
>>> doubled = timed(lambda xp, x: x * 2, "double", "forward", "generic", skip=1)(np, np.ones(3))
>>> _ = ACTIVE.pop()
>>> e = events[0]
>>> (e.name, e.phase, e.impl, e.shapes, e.dur_ns >= e.self_ns >= 0)
('double', 'forward', 'generic', ((3,),), True)
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from time import perf_counter_ns

#: the profiles collecting now (``profile.__enter__`` appends, ``__exit__`` removes)
ACTIVE: list = []


@dataclass(frozen=True)
class Event:
    """One timed call (module docstring); times in nanoseconds of ``time.perf_counter_ns``."""

    name: str
    phase: str
    impl: str
    start_ns: int
    dur_ns: int
    self_ns: int
    tid: int
    depth: int
    shapes: tuple | None = None


class _Stacks(threading.local):
    def __init__(self):
        # per open event: the summed durations of the events it encloses
        self.children: list = []


_stacks = _Stacks()


def shapes_of(args) -> tuple:
    """Each argument's shape (None for a non-array), as ``record_shapes`` keeps them.

    >>> import numpy as np
    >>> shapes_of((np.ones((2, 3)), 1.5, None, np.ndarray))      # a class: its descriptor
    ((2, 3), None, None, None)
    """
    out = []
    for a in args:
        shape = getattr(a, "shape", None)
        if shape is not None and shape.__class__ is not tuple:
            try:
                shape = tuple(int(n) for n in shape)
            except (TypeError, ValueError):
                shape = None
        out.append(shape)
    return tuple(out)


def _sync():
    for p in ACTIVE:
        if p.sync is not None:
            p.sync()


def begin() -> int:
    """Open an event on this thread; its start time (after a device synchronization where a
    profile asks for one)."""
    if ACTIVE:
        _sync()
    _stacks.children.append(0)
    return perf_counter_ns()


def end(start, name, phase, impl, shapes=None) -> None:
    """Close the event ``begin`` opened at ``start`` and hand it to every active profile."""
    if ACTIVE:
        _sync()
    stop = perf_counter_ns()
    children = _stacks.children
    inner = children.pop()
    dur = stop - start
    if children:
        children[-1] += dur
    profiles = ACTIVE
    if not profiles:
        return
    event = Event(name, phase, impl, start, dur, dur - inner, threading.get_native_id(),
                  len(children), shapes)
    for p in profiles:
        if shapes is not None and not p.record_shapes:
            p.add(Event(name, phase, impl, start, dur, dur - inner, event.tid, event.depth))
        else:
            p.add(event)


def timed(fn, name, phase, impl, skip=0, declines=False, shapes=True):
    """``fn`` wrapped to record each call as an event (``skip``: leading arguments left out of
    the shapes, a namespace ``xp``; ``declines``: a kernel's forward, whose None means the
    generic forward runs next, recorded as implementation ``"kernel declined"``; ``shapes``:
    False for a range whose arguments are no arrays)."""
    keep_shapes = shapes

    def profiled(*args, **kwargs):
        if not ACTIVE:
            return fn(*args, **kwargs)
        start = begin()
        result = _RAISED
        try:
            result = fn(*args, **kwargs)
            return result
        finally:
            shapes = shapes_of(args[skip:]) if keep_shapes and _wants_shapes() else None
            end(start, name, phase, "kernel declined" if declines and result is None else impl,
                shapes)
    profiled.__wrapped__ = fn
    profiled.__name__ = getattr(fn, "__name__", name)
    profiled.__qualname__ = getattr(fn, "__qualname__", name)
    return profiled


_RAISED = object()


def _wants_shapes() -> bool:
    for p in ACTIVE:
        if p.record_shapes:
            return True
    return False


__all__ = ["ACTIVE", "Event", "begin", "end", "shapes_of", "timed"]
