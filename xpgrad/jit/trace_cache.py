"""How a ``Function`` (``xg.function``) keeps its programs: a call with no program runs
eagerly while its signature warms up or cannot be traced (``_runs_eagerly``, which warns when
new signatures keep coming), then is traced (``_trace``: ``on_trace_error``, the fuser and
CUDA graphs chosen, ``RetracingWarning`` past ``retrace_warning`` traces); the programs are
bounded by ``max_traces`` (least recently used dropped), and attributes a trace read (a
Module's ``training`` flag) join its key (``_guarded_key``).

>>> import xpgrad as xg
>>> double = xg.function(lambda x: 2 * x)
>>> isinstance(double, TraceCache), issubclass(RetracingWarning, UserWarning)
(True, True)
"""
from __future__ import annotations

import warnings
import weakref

from ..clip_marks import clipped_by_global_norm, mark_clipped
from ..tensor import Tensor, _wrap
from .capture import capture
from .churn import what_changed
from .collection import full_collections_deferred
from .dynamic_shapes import is_variant_of
from .errors import OtherBackend, TraceError, user_stacklevel
from .errors import function_name as _name
from .host_calls import HostCalls
from .host_state import HostState, SideEffectWarning
from .input_signature import open_dimension
from .options import _cuda_graphs, _fuser
from .output_views import argument_tensors
from .held import FREED, Held, HeldValue, ModuleStructure, note_freed
from .name_guards import name_guards, settled
from .program import Program
from .signature import _Model, _tensor_backends, model_structure
from .stale_results import host_values, replay_checked, stale_results
from .structure import map_leaves


#: a guarded attribute's value once its object is gone (no program traced with it matches)
_GONE = object()


def _held(obj):
    """A weak reference to ``obj`` (a strong one where it takes none): call it for ``obj``."""
    try:
        return weakref.ref(obj, note_freed)
    except TypeError:
        return lambda: obj


#: signatures met, in units of ``retrace_warning``, after which a function that keeps meeting new
#: ones warns even if their warm-up calls never let it trace
_CHURN = 4


class RetracingWarning(UserWarning):
    """A function was traced again and again: its arguments change signature every call."""


class TraceCache:
    """The tracing and program cache of ``Function`` (its base; the module docstring)."""

    #: ``held.FREED`` when this cache last looked for programs that can never match again
    _freed = 0
    #: whether a trace has warned that the function set a Python value it reads (once)
    _told_counted = False
    #: whether a trace has warned that the function printed, logged or read the clock (once)
    _told_calls = False
    #: whether a trace has warned of a Python value in the result it returns stale (once)
    _told_stale = False

    def _runs_eagerly(self, key, args=(), kwargs=None) -> bool:
        """Whether a call ``(args, kwargs)`` of signature ``key`` with no program runs eagerly
        (a warm-up call, or a signature that cannot be traced); counts it."""
        with self._seen_lock:        # calls of other threads count too (shared TRACE_LOCK)
            seen = self._seen.get(key, 0)
            if seen >= self.warmup and key not in self._eager:
                return False
            self._seen[key] = seen + 1
            if len(self._seen) > 4 * self.max_traces:      # signatures seen once, long ago
                self._seen.pop(next(iter(self._seen)))
            if seen == 0:
                self.signature_count += 1
            churning = seen == 0 and self.retrace_warning and \
                self.signature_count == _CHURN * self.retrace_warning
            previous = list(self._seen)[-2] if churning and len(self._seen) > 1 else None
        if churning:                 # a new signature on (nearly) every call: never traced
            warnings.warn(f"xg.function {_name(self.fn)!r} has met {self.signature_count} "
                          f"signatures and traced {self.trace_count}: a new signature (an "
                          f"argument's shape, dtype, backend, Python value or object, or a "
                          f"Python value the function reads) on nearly every call runs "
                          f"eagerly, with the signature check on top. Pass values that change "
                          f"as tensors, the same objects (not fresh ones), keep shapes fixed "
                          f"(pad the last batch)." + what_changed(
                              self.fn, self._guards_of(key), previous, key, args, kwargs or {}),
                          RetracingWarning, stacklevel=user_stacklevel())
        return True

    def _trace(self, base, key, be, args, kwargs, retry=True, variant=None):
        # the trace's many objects are freed once its program is built: a full collection
        # meanwhile would walk them all (jit/collection.py)
        with full_collections_deferred():
            return self._trace_deferred(base, key, be, args, kwargs, retry, variant)

    def _trace_deferred(self, base, key, be, args, kwargs, retry, variant):
        self._drop_dead()
        fuse = self.fuse          # None, True, False, or a fuser fuse(program, escaping)
        if fuse is None or fuse is True:
            fuse = _fuser(be, required=fuse is True)
        skip = ()
        if fuse:
            from .fusion import ELEMENTWISE_KERNELS as skip
        current = (_traced_function(weakref.ref(self)), id(self))
        host_state = HostState(self.fn, (*args, *kwargs.values()), current, self._walk_names)
        host_calls = HostCalls(self.fn, host_state.names)
        try:
            with host_calls.watched():
                tracer, result, writes = capture(self.fn, args, kwargs, be, skip_kernels=skip,
                                                 keyed=_keyed_modules((self.fn, *args,
                                                                       *kwargs.values())))
        except TraceError as e:
            if isinstance(e, OtherBackend) and retry and not e.state_changed \
                    and not _tensor_backends(args, kwargs):
                # no tensor argument named the backend and the current one was assumed:
                # trace again on the one the function computes on (nothing ran there yet)
                return self._trace(base, key, e.backend, args, kwargs, retry=False,
                                   variant=variant)
            if self.on_trace_error == "raise":
                raise e.name_function(_name(self.fn))
            self._runs_eagerly_from_now(key)
            if e.state_changed:     # running it again would apply its updates twice
                e.message += ("; the failed trace had already updated a Variable or an "
                              "optimizer, so this call cannot run again eagerly and raises; "
                              "later calls with this signature run eagerly")
                raise e.name_function(_name(self.fn))
            warnings.warn(f"xg.function {_name(self.fn)!r} runs "
                          f"eagerly for this signature: {e}", RuntimeWarning,
                          stacklevel=user_stacklevel())
            return self.fn(*args, **kwargs)
        drawn = host_state.drawn()
        if drawn is not None:       # this call drew as an eager one would: its result stands
            error = TraceError(*drawn).name_function(_name(self.fn))
            if self.on_trace_error == "raise":
                raise error
            self._runs_eagerly_from_now(key)
            warnings.warn(f"xg.function {_name(self.fn)!r} runs eagerly for this signature: "
                          f"{error}", RuntimeWarning, stacklevel=user_stacklevel())
            return _real_result(result)
        self._warn_side_effects(host_state, host_calls)
        graphs = self.cuda_graph
        if graphs is True and be.name != "cupy":
            raise ValueError(f"cuda_graph=True needs the cupy backend; this function runs on "
                             f"{be.name!r}")
        if graphs is None or graphs is True:
            graphs = _cuda_graphs(be)
        try:
            program = Program(tracer, result, writes, fuse=fuse or None, graphs=graphs or None)
        except TraceError as e:      # a result a replay cannot rebuild
            raise e.name_function(_name(self.fn))
        with self._seen_lock:
            self._seen.pop(key, None)
            for_declines = key in self._declining
            if for_declines:           # no second retrace for declines (declines.py)
                self._declining.discard(key)
                program.declines.traced_for_declines = True
        guards = tracer.attribute_guards
        settled(guards)
        if self._walk_names:
            guards.extend(name_guards(self.fn, tracer.structures_guarded,
                                      tracer.attribute_writes, (*args, *kwargs.values()),
                                      current=current))
        self._warn_stale_results(key, result, replay_checked(guards, host_state.settings,
                                                             host_state.containers))
        if tracer.attribute_guards and variant is None:   # (a variant: its parent's values)
            key = self._guarded_key(base, tracer.attribute_guards)
        self._programs[key] = program
        if len(self._programs) > self.max_traces:
            self._drop_least_recent()
        self.trace_count += 1
        # a retrace for declines meets no new signature: nothing to warn about
        retraced = self.retrace_warning and self.trace_count > self.retrace_warning \
            and not for_declines
        if retraced and variant:
            warnings.warn(f"xg.function {_name(self.fn)!r} has been traced "
                          f"{self.trace_count} times: the shape of {variant.what}, read in "
                          f"Python at {variant.line}, depends on values and changed to "
                          f"{key[-1]} (traced with {variant.shape}); each new shape traces "
                          f"again until max_traces programs are kept, then runs eagerly. Keep "
                          f"shapes fixed (xg.where(mask, x, 0) instead of x[mask])",
                          RetracingWarning, stacklevel=user_stacklevel())
        elif retraced and open_dimension(getattr(self, "input_signature", None)):
            warnings.warn(f"xg.function {_name(self.fn)!r} has been traced "
                          f"{self.trace_count} times: "
                          f"{open_dimension(self.input_signature)} takes any length, but "
                          f"xpgrad plans its programs per shape, so each new length is its own "
                          f"trace (the last max_traces={self.max_traces} programs are kept), "
                          f"where TensorFlow traces once. Pad to a few fixed lengths (the last "
                          f"batch to the batch size), or raise max_traces", RetracingWarning,
                          stacklevel=user_stacklevel())
        elif retraced:
            previous = list(self._programs)[-2] if len(self._programs) > 1 else None
            warnings.warn(f"xg.function {_name(self.fn)!r} has been "
                          f"traced {self.trace_count} times: each new signature (an argument's "
                          f"shape, dtype, backend, Python value or object, or a Python value "
                          f"the function reads) traces again, which is slow. Pass values that "
                          f"change as tensors, the same objects (not fresh ones), keep shapes "
                          f"fixed (pad the last batch), or raise max_traces." + what_changed(
                              self.fn, self._guards_of(key), previous, key, args, kwargs),
                          RetracingWarning, stacklevel=user_stacklevel())
        result = _real_result(result)
        if program.output_views is None:
            return result
        return program.output_views.rebuilt(result, argument_tensors(args, kwargs))

    def _warn_side_effects(self, host_state, host_calls):
        """Warn once per function of each kind of Python side effect a replay will not repeat:
        a value or list the trace changed, a call it made (print, the clock, logging)."""
        for kind, found in (("_told_counted", host_state.counted()),
                            ("_told_calls", host_calls.found())):
            if found is not None and not getattr(self, kind):
                setattr(self, kind, True)
                warnings.warn(str(TraceError(*found).name_function(_name(self.fn))),
                              SideEffectWarning, stacklevel=user_stacklevel())

    def _note_warm_up(self, key, result):
        """Keep the Python values of a warm-up call's ``result`` for the trace of ``key``."""
        values = host_values(result)
        if values:
            with self._seen_lock:       # (other threads' warm-up calls too)
                self._warm_values[key] = values
                if len(self._warm_values) > 4 * self.max_traces:     # never traced, long ago
                    self._warm_values.pop(next(iter(self._warm_values)))

    def _warn_stale_results(self, key, result, checked=()):
        """Warn once per function where the trace's ``result`` holds a Python value other than
        the warm-up call's (stale_results.py): every replay would return the trace's (not
        for a value of ``checked``, a guard's, which replays check)."""
        warm = self._warm_values.pop(key, None)
        told = stale_results(warm, result, checked) if warm and not self._told_stale else ""
        if told:
            self._told_stale = True
            warnings.warn(f"xg.function {_name(self.fn)!r} {told}", SideEffectWarning,
                          stacklevel=user_stacklevel())

    def _guards_of(self, key) -> tuple:
        """The ``(reference, attribute)`` pairs whose values a guarded ``key`` holds."""
        return self._guards.get(key[0], ()) if len(key) == 2 and type(key[0]) is tuple else ()

    def _runs_eagerly_from_now(self, key):
        """Run the calls of signature ``key`` eagerly (a failed trace, ``on_trace_error``)."""
        self._eager[key] = None
        if len(self._eager) > 4 * self.max_traces:       # the oldest: tried again if seen
            self._eager.pop(next(iter(self._eager)))

    def _drop_least_recent(self):
        """Drop the least recently used program, and its signature's guarded attributes where
        no other program of that signature is left (keys guarded so are ``(base, values)``)."""
        key, _ = self._programs.popitem(last=False)
        for other in [k for k in self._programs if is_variant_of(k, key)]:
            del self._programs[other]           # reached through the dropped program only
        base = key[0]
        if type(base) is tuple and not any(k[0] == base for k in self._programs
                                           if type(k[0]) is tuple):
            self._guards.pop(base, None)

    def _drop_dead(self):
        """Drop the programs whose key can never match a call again: one traced with an
        object that its key or guards hold weakly, freed since (a model replaced, a layer
        swapped out), so that their buffers are freed now, not when ``max_traces`` would drop
        them."""
        # (a call that misses holds the lock shared: other threads replay, moving their
        # programs to the end, or look too; the lists are taken at once, under the GIL)
        with self._seen_lock:
            self._freed = FREED[0]
            dead = [key for key in list(self._programs) if self._never_matches(key)]
            for key in dead:
                for other in [k for k in list(self._programs) if is_variant_of(k, key)]:
                    self._programs.pop(other, None)
                self._programs.pop(key, None)
            if dead:
                self._fast = None
                bases = {k[0] for k in list(self._programs) if type(k[0]) is tuple}
                for base in [b for b in list(self._guards) if b not in bases]:
                    self._guards.pop(base, None)

    def _never_matches(self, key) -> bool:
        """Whether ``key`` (a program's) holds a value no call's key can have again."""
        if _freed_structure(key):
            return True
        guards = self._guards.get(key[0]) if type(key[0]) is tuple else None
        if guards is None:
            return False
        for (ref, _), value in zip(guards, key[1]):
            obj = ref()
            if value is not _GONE and (obj is None or type(obj) in _HELD and not obj.alive[0]):
                return True
        return False

    def _guarded_key(self, base, found):
        """The cache key of a trace of signature ``base`` that read the guarded attributes
        ``found`` (``(object, attribute, value)``)."""
        known = list(self._guards.get(base, ()))
        for o, n, _ in found:
            if not any(_same(r(), o) and n == m for r, m in known):
                known.append((_held(o), n))       # weakly: an instance's own guards its mode
        self._guards[base] = tuple(known)
        values = {(id(o), n): v for o, n, v in found}
        return (base, tuple(values.get((id(r()), n), getattr(r(), n, _GONE)) for r, n in known))


def _freed_structure(key, depth=0) -> bool:
    """Whether ``key`` (a tuple, its tuples to a depth of 3) holds a model argument freed
    since, or a model's structure with a part freed since (nn/module_structure.py)."""
    for item in key:
        if type(item) is ModuleStructure and not item.alive or \
                type(item) is _Model and item.ref() is None:
            return True
        if type(item) is tuple and depth < 3 and _freed_structure(item, depth + 1):
            return True
    return False


def _traced_function(function_ref):
    """What gives the function an ``xg.function`` traces now (a method's function; None once
    the ``xg.function`` is gone)."""
    def traced():
        function = function_ref()
        fn = None if function is None else function.fn
        return getattr(fn, "__func__", fn)
    return traced


def _same(known, found) -> bool:
    """Whether the guarded object ``found`` of a trace is ``known``, one a signature's earlier
    trace guarded (a ``Held`` made anew for the same place and object is)."""
    return known is found or type(known) in _HELD and known.same_as(found)


#: the guards made anew by every trace (jit/name_guards.py), compared with ``same_as``
_HELD = (Held, HeldValue)


def _keyed_modules(objects) -> set:
    """The ids of the models among ``objects`` (a call's function and arguments) that its key
    holds by their structure (signature.model_structure), and of what they hold."""
    keyed = set()
    for obj in objects:
        structure = model_structure(obj)
        if structure is not None:
            keyed.add(id(obj))
            keyed.update(structure.ids)
    return keyed


def _real_result(obj):
    """The traced call's own result, with real arrays (the trace ran eagerly)."""
    from .traced import Traced

    def real(o):
        if isinstance(o, Tensor) and type(o._data) is Traced:
            out = _wrap(o._data._real, o._backend)
            if clipped_by_global_norm(o):
                mark_clipped(out)
            return out
        return o

    return map_leaves(real, obj)
