"""Tracing a call: instrument the backend, its Variables and the optimizers; run; restore.

``capture(fn, args, kwargs, be)`` runs ``fn`` once, eagerly (its results and updates are real),
and returns the ``Tracer`` holding the recorded steps plus the structure of what ``fn`` returned.

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
import threading
import weakref

from ..backend import Kernel
from ..tensor import Tensor, Variable, _wrap
from .errors import OtherBackend, TraceError, user_line
from .structure import map_leaves
from .tracer import Ref, Step, Tracer, live_variables
from .traced import LEAKED, Traced


class _KernelProxy:
    """A backend kernel during a trace: each call is one opaque, recorded step.

    One proxy (and one proxy ``Kernel``) per kernel, made on its first trace and reused by
    every later one with ``tracer`` set for the trace's length: every ``Kernel`` made stays in
    ``backend.KERNELS_BY_INDEX`` for the process, so a proxy made per trace would keep its
    tracer -- the traced Variables, and the arrays the kernels saved -- alive for good.
    """

    def __init__(self, kernel):
        self.kernel, self.tracer = kernel, None

    def _call(self, fn, args, params):
        if self.tracer is None:            # a tape recorded in a trace, used after it
            raise TraceError(LEAKED, user_line())
        return self.tracer.call(fn, args, params, kind="kernel")

    def forward(self, *raws, **params):
        return self._call(self.kernel.forward, raws, params)

    def vjp(self, *args, **params):
        return self._call(self.kernel.vjp, args, params)

    def vjp_leaving(self, g, saved, needs, *args, **params):
        """``vjp`` with the ``traced_generic`` positions' gradients left to the generic rules."""
        left = self.kernel.traced_generic
        own = [need and i not in left for i, need in enumerate(needs)]
        grads = list(self._call(self.kernel.vjp, (g, saved, own, *args), params))
        for i in left:
            if needs[i]:
                grads[i] = NotImplemented
        return tuple(grads)

    def vjp_sliced(self, *args, **params):
        return self._call(self.kernel.vjp_sliced, args, params)


_ABSENT = object()

#: ``id(kernel) -> (kernel, its _KernelProxy, the proxy Kernel)`` (the kernel is held so that
#: its id is never reused)
_PROXIES: dict = {}


def _proxy_kernel(k, tracer):
    """The proxy ``Kernel`` recording ``k``'s calls into ``tracer``."""
    entry = _PROXIES.get(id(k))
    if entry is None:
        p = _KernelProxy(k)
        vjp = None if k.vjp is None else p.vjp_leaving if k.traced_generic else p.vjp
        entry = _PROXIES[id(k)] = (k, p, Kernel(
            p.forward, vjp, needs=k.needs,
            vjp_sliced=p.vjp_sliced if k.vjp_sliced is not None else None))
    entry[1].tracer = tracer
    return entry[2]


class _OtherXp:
    """Another backend's ``xp`` while this thread traces: its first use raises
    ``OtherBackend`` (the function computes there, not on the traced backend); other threads'
    eager calls get the real namespace."""

    def __init__(self, real, backend, traced):
        self._real, self._backend, self._traced = real, backend, traced

    def __getattr__(self, name):
        if THREAD.tracer is None or name.startswith("__"):
            return getattr(self._real, name)
        raise OtherBackend(self._backend, self._traced, user_line())


class _OtherKernels(_OtherXp):
    """Another backend's ``kernels`` table while this thread traces (see ``_OtherXp``)."""

    def __bool__(self):
        return THREAD.tracer is not None or bool(self._real)

    def get(self, name, default=None):
        if THREAD.tracer is None:
            return self._real.get(name, default) if self._real else default
        raise OtherBackend(self._backend, self._traced, user_line())


class HostOptimizerStep:
    """Replay of ``optimizer.apply_gradients``: the original method, on the replayed gradients
    (Python state -- the learning-rate schedule, ``iterations``, slots -- advances as eager)."""

    def __init__(self, method, optimizer, variables, be):
        self.method, self.optimizer, self.variables, self.be = method, optimizer, variables, be

    def __call__(self, *grads):
        be = self.be
        # the program's arrays become Tensors; Python numbers go as given (converted there)
        pairs = [(_wrap(g, be) if hasattr(g, "shape") and not isinstance(g, Tensor) else g, v)
                 for g, v in zip(grads, self.variables)]
        return self.method(self.optimizer, pairs)


class RandomDraw:
    """Replay of a random draw (``xg.random.Generator``): draws again from the same generator,
    so each replay gets fresh numbers and the generator advances as in eager calls."""

    draws_random = True       # never dropped as dead, nor folded: it changes the generator

    def __init__(self, draw, generator, sample):
        self.draw, self.generator, self.sample = draw, generator, sample

    def __call__(self):
        return self.draw(self.generator, self.sample)

    def __repr__(self):
        return "<random draw>"


class RangeGuard:
    """Replay: the integer range of an index array must lie inside the one seen (and accepted
    by xpgrad's bound checks) when traced; else the call runs eagerly (``GuardFailed``)."""

    def __init__(self, index_range, lo, hi):
        self.index_range, self.lo, self.hi = index_range, lo, hi

    def __call__(self, a):
        lo, hi = self.index_range(a)
        if not (self.lo <= lo and hi <= self.hi):       # NaN fails it: the eager call raises
            raise GuardFailed(self, lo, hi)

    def widen(self, lo, hi):
        """An eager call accepted ``[lo, hi]`` too: bound checks accept an interval."""
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)


def _unrecorded(tracer, fn, *args):
    """``fn(*args)`` on real arrays with the recording paused: a backend's generic
    ``index_range`` computes with ``self.xp``, which the trace has replaced."""
    paused, tracer.paused = tracer.paused, True
    try:
        return fn(*args)
    finally:
        tracer.paused = paused


class GuardFailed(Exception):
    """A replay's input is outside what the trace checked: run this call eagerly."""

    def __init__(self, guard, lo, hi):
        super().__init__(guard, lo, hi)
        self.guard, self.lo, self.hi = guard, lo, hi


class _Session:
    """The instrumentation of one trace (module docstring); ``restore()`` undoes it."""

    def __init__(self, tracer, skip_kernels=()):
        self.tracer = tracer
        self.skip_kernels = skip_kernels
        self.variables = {}       # id -> (Variable, its Traced at the start)
        self.patched = []
        self.proxies = []         # the proxy Kernels this trace installed
        self.created = []         # (weak reference, user's line) of Variables made by the trace
        self.others = []          # (backend, its own xp, its own kernels) of the other backends

    def start(self):
        be, tracer = self.tracer.be, self.tracer
        self.had_xp = "xp" in vars(be)
        self.old_xp = vars(be).get("xp")
        be.xp = tracer.xp
        self.old_kernels = vars(be).get("kernels")
        kernels = be.kernels
        if kernels:
            proxies = {}
            for name, k in kernels.items():
                if name in self.skip_kernels:
                    continue
                proxies[name] = _proxy_kernel(k, tracer)
            be.kernels = proxies
            self.proxies = list(proxies.values())
        self._patch_optimizers()
        self._patch_random()
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

        self.others = []
        for other in list(_instances.values()):
            if other is be:
                continue
            own = vars(other)
            self.others.append((other, own.get("xp", _ABSENT), own.get("kernels", _ABSENT)))
            real_xp, real_kernels = other.xp, other.kernels
            other.xp = _OtherXp(real_xp, other, be)
            other.kernels = _OtherKernels(real_kernels, other, be)

    def _unwatch_other_backends(self):
        for other, xp, kernels in self.others:
            for name, value in (("xp", xp), ("kernels", kernels)):
                if value is _ABSENT:
                    vars(other).pop(name, None)
                else:
                    setattr(other, name, value)
        self.others = []

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
        self.had_index_range = "index_range" in vars(be)
        tracer = self.tracer

        def index_range(a):
            if type(a) is not Traced:
                return real(a)
            lo, hi = _unrecorded(tracer, real, a._real)
            tracer.steps.append(Step(RangeGuard(real, lo, hi), (Ref(a._slot),), {}, None,
                                     "guard"))
            return lo, hi

        be.index_range = index_range
        self._patch_value_range(be)

    def _patch_value_range(self, be):
        real = be.value_range
        self.had_value_range = vars(be).get("value_range")     # an instance's own, if any
        tracer = self.tracer

        def value_range(a, accepted):
            if type(a) is not Traced:
                return real(a, accepted)
            found = _unrecorded(tracer, real, a._real, accepted)
            # the bounds the caller accepts, not the values seen: a replay runs eagerly only
            # where the caller's check would raise
            guard = RangeGuard(lambda raw: real(raw, accepted), *accepted)
            tracer.steps.append(Step(guard, (Ref(a._slot),), {}, None, "guard"))
            return found

        be.value_range = value_range

    def _patch_optimizers(self):
        from ..optim.optimizer import Optimizer

        original = Optimizer.apply_gradients
        session = self

        def apply_gradients(opt, grads_and_vars):
            return session.optimizer_step(original, opt, grads_and_vars)

        Optimizer.apply_gradients = apply_gradients
        self.patched.append((Optimizer, "apply_gradients", original))

    def _patch_variable_creation(self):
        from ..tensor import Variable

        original = Variable.__init__
        tracer, created = self.tracer, self.created

        def __init__(var, *args, **kwargs):
            original(var, *args, **kwargs)
            if THREAD.tracer is tracer and not tracer.paused:
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

    def _patch_random(self):
        from ..random import Generator

        original = Generator._draw
        tracer = self.tracer

        def draw(gen, sample):
            if gen.backend is not tracer.be or tracer.paused:
                return original(gen, sample)
            return tracer.call_unrecorded(RandomDraw(original, gen, sample))

        Generator._draw = draw
        self.patched.append((Generator, "_draw", original))

    def optimizer_step(self, original, opt, grads_and_vars):
        tracer = self.tracer
        pairs = list(grads_and_vars)
        for p in pairs:
            if not isinstance(p, tuple) or len(p) != 2:
                return original(opt, pairs)      # its own error message
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
        self._unwrap_variables()
        tracer.paused = True
        try:
            result = original(opt, real_pairs)
        finally:
            tracer.paused = False
            for v, _ in list(self.variables.values()):
                self._wrap_variable(v)
        for v in variables:
            if isinstance(v, Variable) and id(v) not in self.variables:
                self._wrap_variable(v)
        fn = HostOptimizerStep(original, opt, variables, tracer.be)
        tracer.steps.append(Step(fn, tuple(refs), {}, None, "host"))
        return result

    def restore(self):
        """Undo the instrumentation; return {id(var): slot} for Variables the function rebound
        to an array it computed (written back on every replay)."""
        be = self.tracer.be
        if self.had_xp:
            be.xp = self.old_xp
        else:
            del be.xp
        if self.old_kernels is None:
            vars(be).pop("kernels", None)
        else:
            be.kernels = self.old_kernels
        for k in self.proxies:
            k.forward.__self__.tracer = None
        if not self.had_index_range:
            vars(be).pop("index_range", None)
        if self.had_value_range is None:
            vars(be).pop("value_range", None)
        else:
            be.value_range = self.had_value_range
        self._unwatch_other_backends()
        for owner, name, value in self.patched:
            setattr(owner, name, value)
        writes = {}
        for key, (v, _) in self.variables.items():
            data = v._data
            if type(data) is Traced:
                step = self.tracer.steps[self.tracer.slots[data._slot].step]
                if not (step.kind == "read" and step.fn.var is v):
                    writes[key] = (v, data._slot)
                v._data = data._real
        return writes


def _traced_args(tracer, obj, made):
    """``obj`` with each tensor argument replaced by a stand-in (appended to ``made``)."""
    def traced(o):
        if isinstance(o, Tensor) and not isinstance(o, Variable):
            t = _wrap(tracer.input(o._data), o._backend)
            made.append((t, t._data))
            return t
        return o

    return map_leaves(traced, obj)


CREATED_VARIABLE = (
    "a Variable created while tracing an xg.function outlives the call (stored on an object, "
    "e.g. a layer built on its first call, or returned): a replay would keep using the value "
    "it had when traced. Create Variables before tracing: outside the function, or in its "
    "first call, which runs eagerly (warmup >= 1, the default)")

WROTE_ARGUMENT = ("the function wrote into its tensor argument #{} (x[key] = value; counted "
                  "from 1, nested ones included): a replay cannot update the caller's tensor. "
                  "Write into a copy (y = xg.asarray(x, copy=True); y[key] = value) and "
                  "return it, or call the function without xg.function")


class _Traces(threading.local):
    #: the tracer of the trace this thread runs now (a traced function called inside another's
    #: trace is inlined into it), or None; other threads' traces are not this thread's business
    tracer = None


THREAD = _Traces()


def current_tracer():
    """The tracer of the trace running in this thread, or None."""
    return THREAD.tracer


def guarded_attribute(obj, name):
    """``getattr(obj, name)``; under a trace, the program is kept for this value only: a later
    call where the attribute differs (a Module's ``training`` flag after ``eval()``) looks for
    the program traced with that value, and traces one if there is none."""
    value = getattr(obj, name)
    tracer = THREAD.tracer
    if tracer is not None:
        guards = tracer.attribute_guards
        if not any(o is obj and n == name for o, n, _ in guards):
            guards.append((obj, name, value))
    return value


def capture(fn, args, kwargs, be, skip_kernels=()):
    """Trace ``fn(*args, **kwargs)`` on backend ``be``: ``(tracer, result, writes)``.
    ``skip_kernels``: primitives whose backend kernels are left out (their generic rules are
    recorded instead, for fusion)."""
    tracer = Tracer(be)
    session = _Session(tracer, skip_kernels)
    made = []
    targs = _traced_args(tracer, tuple(args), made)
    tkwargs = _traced_args(tracer, dict(kwargs), made)
    with contextlib.ExitStack() as stack:
        stack.callback(tracer.finish)
        stack.callback(setattr, THREAD, "tracer", THREAD.tracer)
        THREAD.tracer = tracer
        session.start()
        writes = None
        try:
            result = fn(*targs, **tkwargs)
            for k, (t, data) in enumerate(made):
                if t._data is not data:
                    raise TraceError(WROTE_ARGUMENT.format(k + 1))
            session.check_created_variables()
        except TraceError as e:
            writes = session.restore()
            e.state_changed = bool(writes) or _changed_state(tracer)
            raise
        finally:
            if writes is None:
                writes = session.restore()
    return tracer, result, writes


def _changed_state(tracer):
    """Whether the steps recorded so far changed anything outside the trace: an optimizer
    update, or a write into a Variable's array (then running the call again is unsafe)."""
    from .program import _mutates, _refs

    if any(s.kind == "host" for s in tracer.steps):
        return True
    slots = tracer.slots
    variable_roots = {slots[s.outs.i].root for s in tracer.steps if s.kind == "read"}
    return any(_mutates(s) and any(slots[i].root in variable_roots
                                   for i in _refs((s.args, s.kwargs), []))
               for s in tracer.steps if s.kind == "call")
