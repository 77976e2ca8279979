"""The short way to a replay: a call like the last one runs its program without the dispatch.

A replay of a small program (an ODE's right-hand side, a 100-operation chain) costs a few
microseconds, and ``Function.__call__`` spent as much again finding it: binding the
arguments, building the signature key, hashing it, moving it to the end of the LRU order,
``Program.run``, ``run_arrays``, ``_run``, some fifteen Python calls. ``FastReplay`` remembers
the last program a call replayed through that path, with what made its key: the tensors'
backend, shapes and dtypes. A later call whose arguments are plain Tensors (no keyword, each
given once) of those shapes and dtypes, or NumPy arrays in their places on the numpy and numba
backends (their raw arrays as they are: ``numpy_inputs.py``), and the same other arguments as the signature keyed
them (``same_object``: a Variable, a list or dict of Variables, a model holding Variables with
the same submodules and Variables; so ``step(model, x, y)``; the model of
``xg.function(model)`` too), outside any trace and tape, whose guarded
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

import weakref
from operator import is_

from numpy import ndarray

from .. import pytree as _pytree
from ..primitive import tape_state
from ..tensor import Tensor, Variable
from .declines import DeclinedKernel, note_decline
from .dynamic_shapes import ShapeGuard
from .guard_check import identity_check
from .lock import TRACE_LOCK
from .numpy_inputs import wrapped
from .replay_steps import GuardFailed
from .signature import model_structure
from .trace_cache import _GONE
from .trace_state import THREAD

#: ``FastReplay``'s answer where the call must take the long way
MISS = object()


class FastReplay:
    """The program of the last call's signature and what the signature was (module
    docstring)."""

    __slots__ = ("fn", "backend", "specs", "program", "guards", "objects", "owner",
                 "guards_hold", "arrays")

    def __init__(self, fn, backend, specs, program, guards, objects, owner):
        self.fn, self.backend, self.specs, self.owner = fn, backend, specs, owner
        self.program = program
        self.guards = guards
        self.guards_hold = identity_check(guards)
        self.objects = objects
        # NumPy arrays in the tensors' places: their own raw arrays, as xg.asarray's on this
        # backend; not where a result views an argument (its View needs the argument's Tensor)
        self.arrays = backend.array_class is ndarray and program.output_views is None

    @classmethod
    def of(cls, function, args, program, base, key):
        """A FastReplay for a call of ``function`` with positional ``args`` that replayed
        ``program``, the one of ``key`` (signature ``base`` and the values of the attributes
        its traces read), the long way; or None where such a call must take the long way."""
        if function.input_signature is not None or not function._self_in_signature or not args:
            return None
        specs, objects, tensors = [], [], []
        for a in args:
            if a.__class__ is Tensor:
                tensors.append(a)
                specs.append((a._data.shape, a._data.dtype))
                continue
            same = same_object(a)
            if same is None:
                return None
            specs.append(None)
            objects.append(same)
        if not tensors or len(set(map(id, tensors))) != len(tensors):
            return None
        backend = tensors[0]._backend
        if any(t._backend is not backend for t in tensors):
            return None
        # xg.function(model) of a model holding Variables: the model as traced (as its key)
        owner = same_object(function.fn) if _pytree.is_registered(function.fn) else None
        guards = function._guards.get(base)       # (weak object, attribute): read anew
        guards = tuple(zip(guards, key[1])) if guards else ()
        return cls(function.fn, backend, tuple(specs), program, guards,
                   tuple(objects) if objects else None, owner)

    def __call__(self, args):
        """The replay's result, or ``MISS``."""
        specs = self.specs
        if len(args) != len(specs) or THREAD.tracer is not None or tape_state.recording \
                or TRACE_LOCK.mine.held is not None:
            return MISS
        backend = self.backend
        raws = []
        objects = self.objects
        if objects is None:                 # plain Tensors only: the usual case, inline
            for a, (shape, dtype) in zip(args, specs):
                if a.__class__ is Tensor:
                    if a._backend is not backend:
                        return MISS
                    data = a._data
                elif a.__class__ is ndarray and self.arrays:
                    data = a
                else:
                    return MISS
                if data.shape != shape or (data.dtype is not dtype and data.dtype != dtype):
                    return MISS
                raws.append(data)
            tensors = args
        else:
            tensors, objects = [], iter(objects)
            for a, spec in zip(args, specs):
                if spec is None:
                    if not next(objects)(a):
                        return MISS
                    continue
                data = self._raw(a, spec)
                if data is None:
                    return MISS
                raws.append(data)
                tensors.append(a)
        if len(raws) > 1 and (tensors[0] is tensors[1] if len(raws) == 2
                              else len(set(map(id, tensors))) != len(raws)):
            return MISS
        if self.owner is not None and not self.owner(self.fn):
            return MISS
        if not self.guards_hold():
            stale = False
            for (ref, name), value in self.guards:      # a Module's training flag, trainable
                now = getattr(ref(), name, _GONE)
                if now is not value:
                    if now != value:
                        return MISS
                    stale = True
            if stale:    # a structure equal to the keyed one, cached anew: `is` from now on
                self.guards = tuple(((ref, name), getattr(ref(), name, _GONE))
                                    for (ref, name), _ in self.guards)
                self.guards_hold = identity_check(self.guards)
        TRACE_LOCK.acquire_shared()
        try:
            program = self.program
            result = program.run_arrays(raws)
            if program.decline_streak:
                program.decline_streak = 0
            if program.output_views is None:
                return result
            return program.output_views.rebuilt(result, tensors)
        except GuardFailed as failed:       # its changes undone (jit/guards.py)
            if type(failed.guard) is ShapeGuard:
                return MISS      # the long way finds the program of this shape
            result = self.fn(*wrapped(args, backend))     # eagerly, as the long way does
            failed.guard.widen(failed.lo, failed.hi)
            if type(failed.guard) is DeclinedKernel:
                note_decline(program, self.fn, failed.guard)
                if program.declines.retrace_due:
                    self.backend = None     # no call matches now: the long way retraces
            return result
        finally:
            TRACE_LOCK.release_shared()


    def _raw(self, a, spec):
        """The raw array argument ``a`` gives in the place of a tensor of ``spec`` (shape,
        dtype), or None where it gives none (``__call__``'s loop for plain Tensors, inline)."""
        if a.__class__ is Tensor:
            if a._backend is not self.backend:
                return None
            data = a._data
        elif a.__class__ is ndarray and self.arrays:
            data = a
        else:
            return None
        if data.shape != spec[0] or (data.dtype is not spec[1] and data.dtype != spec[1]):
            return None
        return data


def same_object(obj):
    """A check that an argument is still ``obj`` as its signature keyed it (signature.py): a
    Variable by identity, a model holding Variables by identity and its submodules and
    Variables (nn/module_structure.py), a list, tuple or dict of Variables by the same ones in
    the same places; None for anything else (the long way keys it)."""
    if isinstance(obj, Variable):
        return lambda a: a is obj
    if _pytree.is_registered(obj):
        made = model_structure(obj)
        if made is None:
            return None
        structure = _pytree._kind(obj).structure
        model = weakref.ref(obj)        # the last call's model is not kept alive by it

        def same_module(a):
            nonlocal made
            if a is not model():
                return False
            now = structure(a)
            if now is made:
                return True
            if now != made:
                return False
            made = now          # cached anew (module_cache.py): `is` from now on
            return True
        return same_module
    held = type(obj)
    values = tuple(obj.values()) if held is dict else tuple(obj) \
        if held is list or held is tuple else None
    if not values or not all(isinstance(v, Variable) for v in values):
        return None
    if held is dict:
        keys = tuple(obj)
        return lambda a: (a.__class__ is dict and len(a) == len(values)
                          and all(map(is_, a.values(), values)) and tuple(a) == keys)
    return lambda a: (a.__class__ is held and len(a) == len(values)
                      and all(map(is_, a, values)))


__all__ = ["FastReplay", "MISS"]
