"""The short way to a replay: a call like the last one runs its program without the dispatch.

A replay of a small program (an ODE's right-hand side, a 100-operation chain) costs a few
microseconds, and ``Function.__call__`` spent as much again finding it: binding the
arguments, building the signature key, hashing it, moving it to the end of the LRU order,
``Program.run``, ``run_arrays``, ``_run``, some fifteen Python calls. ``FastReplay`` remembers
the last program a call replayed through that path, with what made its key: the tensors'
backend, shapes and dtypes. A later call whose arguments are plain Tensors (no Variable, no
keyword, each given once) of those shapes and dtypes, outside any trace and tape, whose guarded
attributes (a Module's ``training``, each Variable's ``trainable``) hold the values of the
program's key, replays it directly, holding the trace lock shared as every replay does. Any
call that takes the long way forgets it (``Function._dispatch``), so a trace, a dropped
program or a new guard is never missed, and the one remembered stays the most recently used
in the LRU order. A guard
that fails there (``Program.run_arrays`` undoes what the replay changed) runs the call
eagerly, as the long way does; a shape guard sends it the long way, to its shape's program.

>>> import xpgrad as xg
>>> double = xg.function(lambda x: x * 2.0)
>>> x = xg.asarray([1.0, 2.0])
>>> [double(x).tolist() for _ in range(3)], double._fast is not None
([[2.0, 4.0], [2.0, 4.0], [2.0, 4.0]], True)
"""
from __future__ import annotations

from ..primitive import tape_state
from ..tensor import Tensor
from .declines import DeclinedKernel, note_decline
from .dynamic_shapes import ShapeGuard
from .lock import TRACE_LOCK
from .replay_steps import GuardFailed
from .trace_cache import _GONE
from .trace_state import THREAD

#: ``FastReplay``'s answer where the call must take the long way
MISS = object()


class FastReplay:
    """The program of the last call's signature and what the signature was (module
    docstring)."""

    __slots__ = ("fn", "backend", "specs", "program", "guards")

    def __init__(self, fn, backend, args, program, guards):
        self.fn, self.backend = fn, backend
        self.specs = tuple((a._data.shape, a._data.dtype) for a in args)
        self.program = program
        self.guards = guards

    @classmethod
    def of(cls, function, args, program, base, key):
        """A FastReplay for a call of ``function`` with positional ``args`` that replayed
        ``program``, the one of ``key`` (signature ``base`` and the values of the attributes
        its traces read), the long way; or None where such a call must take the long way."""
        if function.input_signature is not None or not function._self_in_signature \
                or not args or any(a.__class__ is not Tensor for a in args) \
                or len(set(map(id, args))) != len(args):
            return None
        backend = args[0]._backend
        if any(a._backend is not backend for a in args):
            return None
        guards = function._guards.get(base)       # (weak object, attribute): read anew
        guards = tuple(zip(guards, key[1])) if guards else ()
        return cls(function.fn, backend, args, program, guards)

    def __call__(self, args):
        """The replay's result, or ``MISS``."""
        specs = self.specs
        if len(args) != len(specs) or THREAD.tracer is not None or tape_state.recording \
                or TRACE_LOCK.mine.held is not None:
            return MISS
        backend = self.backend
        raws = []
        for a, (shape, dtype) in zip(args, specs):
            if a.__class__ is not Tensor or a._backend is not backend:
                return MISS
            data = a._data
            if data.shape != shape or (data.dtype is not dtype and data.dtype != dtype):
                return MISS
            raws.append(data)
        if len(raws) > 1 and (args[0] is args[1] if len(raws) == 2
                              else len(set(map(id, args))) != len(raws)):
            return MISS
        for (ref, name), value in self.guards:      # a Module's training flag, trainable
            now = getattr(ref(), name, _GONE)
            if now is not value and now != value:
                return MISS
        TRACE_LOCK.acquire_shared()
        try:
            program = self.program
            result = program.run_arrays(raws)
            if program.decline_streak:
                program.decline_streak = 0
            if program.output_views is None:
                return result
            return program.output_views.rebuilt(result, args)
        except GuardFailed as failed:       # its changes undone (jit/guards.py)
            if type(failed.guard) is ShapeGuard:
                return MISS      # the long way finds the program of this shape
            result = self.fn(*args)           # eagerly, as the long way does
            failed.guard.widen(failed.lo, failed.hi)
            if type(failed.guard) is DeclinedKernel:
                note_decline(program, self.fn, failed.guard)
            return result
        finally:
            TRACE_LOCK.release_shared()


__all__ = ["FastReplay", "MISS"]
