"""Tracing a call: instrument the backend and its Variables; run; restore. An optimizer's
``apply_gradients`` and ``__init__`` call ``_Session.optimizer_step`` / ``MadeByTrace.made_now``
themselves while their thread traces; the instruments hand other threads what they would get
without the trace (the tracer's ``thread``).

``capture(fn, args, kwargs, be)`` runs ``fn`` once, eagerly (its results and updates are real),
and returns the ``Tracer`` holding the recorded steps plus the structure of what ``fn`` returned.
The thread's trace and the hooks layers call during one (``THREAD``, ``current_tracer``,
``guard_value``, ``note_write``) are ``trace_state.py``'s, re-exported here; the tripwires on
the other backends are ``other_backends.py``'s.

>>> import xpgrad as xg
>>> be = xg.get_backend("numpy")
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> tracer, result, writes = capture(lambda x: xg.sum(w * x), (xg.asarray([3.0, 4.0]),), {}, be)
>>> result.shape, [s.kind for s in tracer.steps if s.kind != "read"]
((), ['input', 'call', 'call'])
"""
from __future__ import annotations

import contextlib
import gc
import weakref

from ..tensor import Tensor, Variable, _wrap
from ..trace_thread import RUNNING
from .collection import full_collections_deferred
from .errors import CREATED_VARIABLE, WROTE_ARGUMENT, TraceError, function_name, user_line
from .fresh import MadeByTrace, seeded
from .guards import restored_rng, rng_state
from .kernel_proxy import TracedKernels, _proxy_kernel
from .other_backends import _OtherKernels, _OtherXp
from .replay_steps import HostOptimizerStep, RandomDraw, RangeGuard, VariableWrite
from .trace_state import (THREAD, current_tracer, guard_value,  # noqa: F401 (re-exported)
                          guarded_attribute, note_write)
from .trace_inputs import live_variables, traced_args
from .tracer import Tracer
from .program_steps import Ref, Step
from .transfers import patch_transfers
from .traced import Traced


_ABSENT = object()


def _unrecorded(tracer, fn, *args):
    """``fn(*args)`` on real arrays with the recording paused: a backend's generic
    ``index_range`` computes with ``self.xp``, which the trace has replaced."""
    paused, tracer.paused = tracer.paused, True
    try:
        return fn(*args)
    finally:
        tracer.paused = paused


class _Session:
    """The instrumentation of one trace (module docstring); ``restore()`` undoes it."""

    def __init__(self, tracer, skip_kernels=()):
        self.tracer = tracer
        self.skip_kernels = skip_kernels
        self.variables = {}       # id -> (Variable, its Traced at the start)
        self.patched = []         # (class, attribute, its value before)
        self.replaced = []        # (object, attribute, its own value before or _ABSENT)
        self.proxies = []         # the proxy Kernels this trace installed
        self.created = []         # (weak reference, user's line) of Variables made by the trace
        self.drawn = {}           # id -> (weak Generator, its native generator, state before)
        self.fresh = MadeByTrace()      # the generators and optimizers it makes
        self.hooks_active = None        # nn.module_hooks.ACTIVE, holding this session's id

    def _recording(self) -> bool:
        """Whether this thread's trace records now: what is made now, the function makes."""
        return THREAD.tracer is self.tracer and not self.tracer.paused

    def _replace(self, obj, name, value):
        """``obj.name = value`` until ``restore()``, which puts back exactly what ``obj`` had
        of its own (an instance's attribute, or none: its class's shows through again)."""
        self.replaced.append((obj, name, vars(obj).get(name, _ABSENT)))
        setattr(obj, name, value)

    def start(self):
        be, tracer = self.tracer.be, self.tracer
        self._replace(be, "xp", tracer.xp)
        kernels = be.kernels
        if kernels:
            proxies = {}
            for name, k in kernels.items():
                if name in self.skip_kernels or k.eager_only:
                    continue
                proxies[name] = _proxy_kernel(k, tracer)
            self._replace(be, "kernels", TracedKernels(proxies, kernels, tracer.thread))
            self.proxies = list(proxies.values())
        self._patch_modules()
        self._patch_random()
        patch_transfers(self.tracer, self.patched, self._recording)
        self._patch_variable_creation()
        self._patch_index_range(be)
        self._watch_other_backends(be)
        for v in live_variables(be):
            self._wrap_variable(v)

    def _watch_other_backends(self, be):
        """Every other backend made so far gets tripwires for ``xp`` and ``kernels``: work on
        it cannot be recorded, and without them it would run unseen and be baked into the
        program as constants."""
        from ..backend import _instances

        for other in list(_instances.values()):
            if other is be:
                continue
            real_xp, real_kernels = other.xp, other.kernels
            self._replace(other, "xp", _OtherXp(real_xp, other, be))
            self._replace(other, "kernels", _OtherKernels(real_kernels, other, be))

    def _wrap_variable(self, v):
        t = self.tracer.read_variable(v)
        v._data = t
        self.variables.setdefault(id(v), (v, t))

    def _unwrap_variables(self):
        for v, _ in self.variables.values():
            if type(v._data) is Traced:
                v._data = v._data._real

    def _patch_index_range(self, be):
        real = be.index_range
        tracer = self.tracer

        def guarded(a, **kind):
            lo, hi = _unrecorded(tracer, real, a._real)
            tracer.steps.append(Step(RangeGuard(real, lo, hi, **kind), (Ref(a._slot),), {},
                                     None, "guard"))
            return lo, hi

        def index_range(a):
            # the values may become a shape or a branch: a replay needs them exactly
            return real(a) if type(a) is not Traced else guarded(a, exact=True)

        def check_index_range(a, within=None):
            # a bounds check: any range inside those accepted replays (the guard widens)
            return real(a) if type(a) is not Traced else guarded(a, within=within)

        self._replace(be, "index_range", index_range)
        self._replace(be, "check_index_range", check_index_range)
        self._patch_value_range(be)

    def _patch_value_range(self, be):
        real = be.value_range
        tracer = self.tracer

        def value_range(a, accepted):
            if type(a) is not Traced:
                return real(a, accepted)
            found = _unrecorded(tracer, real, a._real, accepted)
            # the bounds the caller accepts, not the values seen: a replay runs eagerly only
            # where the caller's check would raise
            guard = RangeGuard(lambda raw: real(raw, accepted), *accepted, widens=False)
            tracer.steps.append(Step(guard, (Ref(a._slot),), {}, None, "guard"))
            return found

        self._replace(be, "value_range", value_range)

    def _patch_modules(self):
        # every module call takes the hooked path, which guards the program on the version of
        # the modules' hooks: one registered or removed later makes the next call trace anew
        from ..nn.module_hooks import ACTIVE

        ACTIVE.add(id(self))
        self.hooks_active = ACTIVE

    def _patch_variable_creation(self):
        from ..tensor import Variable

        original = Variable.__init__
        recording, created = self._recording, self.created

        def __init__(var, *args, **kwargs):
            original(var, *args, **kwargs)
            if recording():
                created.append((weakref.ref(var), user_line()))

        Variable.__init__ = __init__
        self.patched.append((Variable, "__init__", original))

    def check_created_variables(self):
        """Raise TraceError for a Variable the trace made that outlives the call (stored on an
        object, or returned): the program would hold its first value as a constant, or a
        stand-in of the trace would leak through it."""
        if not any(ref() is not None for ref, _ in self.created):
            return
        gc.collect()              # one only held in a reference cycle is not kept
        kept = [where for ref, where in self.created if ref() is not None]
        if kept:
            raise TraceError(CREATED_VARIABLE, kept[0])

    def guard_trainable_flags(self):
        """Keep the program for the ``trainable`` flags of the Variables its steps read: a
        tape watches a Variable by itself only while it is trainable, so after one is frozen
        (or thawed) the eager call's gradients differ and the next call traces anew."""
        from .step_facts import reads

        steps = self.tracer.steps
        read = {s.outs.i: s.fn.var for s in steps if s.kind == "read"}
        used = set()
        for s in steps:
            if s.kind != "read":
                used.update(reads(s))
        for slot in used & read.keys():
            v = read[slot]
            if v.dtype.is_inexact:
                guard_value(v, "trainable", v._trainable)

    def _patch_random(self):
        from ..random import DrawWith, Generator

        original = Generator._draw
        tracer = self.tracer

        drawn, fresh = self.drawn, self.fresh

        def draw(gen, sample):
            # every draw of this thread's trace, another backend's generator too: undone if
            # the trace fails
            seen = drawn.get(id(gen))
            mine = THREAD.tracer is tracer
            if (seen is None or seen[0]() is not gen) and mine:
                drawn[id(gen)] = (weakref.ref(gen), gen._rng, rng_state(gen._rng))
            if tracer.paused or not mine:         # another thread's draw: its own
                return original(gen, sample)
            # another backend's draw too: computing with it there raises OtherBackend, and
            # moving it here (Tensor.to) is a step of the program (transfers.py)
            if type(sample) is DrawWith:     # its arrays are inputs of the recorded draw
                return fresh.recorded_draw(tracer, RandomDraw(original, gen, sample.sample),
                                           gen, sample.arrays)
            return fresh.recorded_draw(tracer, RandomDraw(original, gen, sample), gen)

        Generator._draw = draw
        self.patched.append((Generator, "_draw", original))
        self.patched.append((Generator, "__init__",
                             fresh.watch(Generator, self._recording, seeded)))

    def undo_draws(self):
        """Put the generators the trace drew from back in the state it found them in."""
        for ref, rng, state in self.drawn.values():
            gen = ref()
            if gen is not None:
                gen._rng = restored_rng(rng, state)

    def optimizer_step(self, opt, grads_and_vars):
        """``opt.apply_gradients(grads_and_vars)`` in this thread's trace (the method calls
        this itself): run on the real arrays and recorded as one host step."""
        from ..optim.optimizer import Optimizer

        original, tracer = Optimizer.apply_gradients, self.tracer
        pairs = [tuple(p) if type(p) is list and len(p) == 2 else p for p in grads_and_vars]
        for p in pairs:
            if not isinstance(p, tuple) or len(p) != 2:
                return _unrecorded(tracer, original, opt, pairs)      # its own error message
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        real_pairs, refs = [], []
        for g, v in pairs:
            if isinstance(g, Tensor) and type(g._data) is Traced:
                refs.append(Ref(g._data._slot))
                real_pairs.append((_wrap(g._data._real, g._backend), v))
            else:
                refs.append(g)
                real_pairs.append((g, v))
        del grads
        # a Variable the function rebound so far (a running statistic) gets its value here, in
        # the replay too: the update below reads every Variable anew
        for v, slot in self._written().values():
            tracer.steps.append(Step(VariableWrite(v), (Ref(slot),), {}, None, "host"))
        self._unwrap_variables()
        tracer.paused = True
        try:
            fn = HostOptimizerStep(original, opt, variables, tracer.be)
            result = self.fresh.recorded_update(lambda: original(opt, real_pairs), fn)
            # the update before the reads of the updated Variables (an optimizer may rebind
            # a Variable's array, and a read never moves past the update)
            tracer.steps.append(Step(fn, tuple(refs), {}, None, "host"))
        finally:
            tracer.paused = False
            for v, _ in list(self.variables.values()):
                self._wrap_variable(v)
        for v in variables:
            if isinstance(v, Variable) and id(v) not in self.variables:
                self._wrap_variable(v)
        return result

    def restore(self):
        """Undo the instrumentation; return {id(var): slot} for Variables the function rebound
        to an array it computed (written back on every replay)."""
        for obj, name, value in reversed(self.replaced):
            if value is _ABSENT:
                vars(obj).pop(name, None)
            else:
                setattr(obj, name, value)
        self.replaced = []
        for k in self.proxies:
            k.forward.__self__.tracer = None
        for owner, name, value in reversed(self.patched):
            setattr(owner, name, value)
        self.patched = []
        if self.hooks_active is not None:
            self.hooks_active.discard(id(self))
        writes = self._written()
        self._unwrap_variables()
        return writes

    def _written(self):
        """{id(var): (Variable, slot)} for the Variables rebound to an array the trace
        computed (not the one it read from them)."""
        writes = {}
        steps, slots = self.tracer.steps, self.tracer.slots
        for key, (v, _) in self.variables.items():
            data = v._data
            if type(data) is Traced:
                step = steps[slots[data._slot].step]
                if not (step.kind == "read" and step.fn.var is v):
                    writes[key] = (v, data._slot)
        return writes


def read_views(result):
    """Bring the views in ``result`` up to date with their bases while the trace records (a
    view whose base was written after it was taken reads the base again)."""
    from ..views import View
    from .structure import map_leaves

    map_leaves(lambda leaf: leaf._data if leaf.__class__ is View else None, result)


def capture(fn, args, kwargs, be, skip_kernels=(), keyed=()):
    """Trace ``fn(*args, **kwargs)`` on backend ``be``: ``(tracer, result, writes)``.
    ``skip_kernels``: primitives whose backend kernels are left out (their generic rules are
    recorded instead, for fusion), as every ``eager_only`` kernel is. ``keyed``: the ids of
    the modules the call's key holds by their structure (its model arguments, ``self``), which
    need no structure guard (nn/module_structure.guard_structure)."""
    tracer = Tracer(be)
    tracer.structures_guarded.update(keyed)
    tracer.function = function_name(fn)
    session = _Session(tracer, skip_kernels)
    tracer.session = session        # a solver step suspends the trace (solver_steps.py)
    made = []
    seen = {}
    targs = traced_args(tracer, tuple(args), made, seen)
    tkwargs = traced_args(tracer, dict(kwargs), made, seen)
    with contextlib.ExitStack() as stack:
        stack.enter_context(full_collections_deferred())
        stack.callback(tracer.finish)
        stack.callback(setattr, tracer, "session", None)
        stack.callback(setattr, THREAD, "tracer", THREAD.tracer)
        THREAD.tracer = tracer
        RUNNING[0] += 1
        stack.callback(_ended)
        writes = None
        try:
            session.start()         # inside: a start that raises midway is undone too
            result = fn(*targs, **tkwargs)
            read_views(result)
            for k, (t, data) in enumerate(made):
                if t._data is not data:
                    raise TraceError(WROTE_ARGUMENT.format(k + 1))
            session.check_created_variables()
            session.guard_trainable_flags()
            session.fresh.settle()
        except TraceError as e:
            writes = session.restore()
            e.state_changed = bool(writes) or _changed_state(tracer)
            if not e.state_changed:     # the call may run again: its draws are drawn again
                session.undo_draws()
            raise
        finally:
            if writes is None:
                writes = session.restore()
    return tracer, result, writes


def _ended():
    RUNNING[0] -= 1


def _changed_state(tracer):
    """Whether the steps recorded so far changed anything outside the trace: an optimizer
    update, or a write into a Variable's array (then running the call again is unsafe; a
    print, ``xg.print``, prints again)."""
    from .step_facts import _mutates, reads

    if any(s.kind == "host" and not getattr(s.fn, "prints", False) for s in tracer.steps):
        return True
    slots = tracer.slots
    variable_roots = {slots[s.outs.i].root for s in tracer.steps if s.kind == "read"}
    return any(_mutates(s) and any(slots[i].root in variable_roots
                                   for i in reads(s))
               for s in tracer.steps if s.kind == "call")
