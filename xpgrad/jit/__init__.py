"""``xg.function``: trace a step once into a flat program of raw backend calls, replay it.

The first call with a new signature (the tensor arguments' backends, shapes and dtypes, and
every other argument's value) runs ``fn`` eagerly -- optimizers create their state then; the
second traces it (still eager: its results are real) into a ``Program``; later calls replay the
program: no tape, no Tensors, no dispatch, NumPy ufuncs writing into reused buffers, and on the
numba backend runs of elementwise operations fused into one compiled loop. Variables are
captured by reference: updates persist, and a replay reads their current values. See
docs/function.md for what a traced function may and may not do. ``Function`` dispatches a call
(replay, eager or trace) here; tracing and the cache of programs are ``trace_cache.py``'s.

>>> import xpgrad as xg
>>> w = xg.Variable([[0.5], [-0.5]], name="w")
>>> opt = xg.optim.SGD(0.02)
>>> @xg.function
... def step(x, y):
...     with xg.GradientTape() as tape:
...         loss = xg.mean((x @ w - y) ** 2)
...     opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
...     return loss
>>> x, y = xg.asarray([[1.0, 2.0]]), xg.asarray([[1.0]])
>>> losses = [round(step(x, y).item(), 4) for _ in range(4)]
>>> losses, step.trace_count
([2.25, 1.44, 0.9216, 0.5898], 1)
"""
from __future__ import annotations

import collections
import functools
import sys
import threading
import types

from ..backend import current_backend
from ..primitive import tape_state
from ..tensor import Variable
from ..tf_names import FUNCTION as _TF_FUNCTION_NAMES
from . import capture as capture_module
from .binding import Binder
from .declines import DeclinedKernel, note_decline
from .dynamic_shapes import ShapeGuard, shape_variant_key
from .capture import capture  # noqa: F401 (xpgrad.jit.capture stays the function)
from .errors import OtherBackend, TraceError  # noqa: F401 (re-exported)
from .errors import function_name as _name
from .fast_replay import MISS, FastReplay
from .input_signature import check_call, checked_signature
from .lock import TRACE_LOCK
from .methods import InstanceFunctions
from .numpy_inputs import converted
from .options import _OPTIONS, _check_option_names, _is_int
from .program import Program  # noqa: F401 (re-exported)
from .replay_steps import GuardFailed
from .signature import _signature, aliasing, model_structure, refused_argument, tensors_key
from .host_state import SideEffectWarning
from .trace_cache import _GONE, RetracingWarning, TraceCache
from .held import FREED
from ..trace_thread import CALLING

__all__ = ["function", "Function", "TraceError", "RetracingWarning", "SideEffectWarning"]


#: ``Function._dispatch``'s answer where a trace is due and the lock is held shared
_MUST_TRACE = object()

_RECURSION = ("xg.function {!r} called itself {} levels deep and reached Python's recursion "
              "limit: a traced function may call itself only as deep as its Python arguments "
              "decide (a base case on a Python value; each call is traced inline), never "
              "without end")


def _recursion():
    """``(Function, calls)`` for the Function with the most calls running in this thread, if
    one has two or more (it recursed, perhaps through others), else None."""
    code, counts, functions = Function.__call__.__code__, {}, {}
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            function = frame.f_locals.get("self")
            functions[id(function)] = function
            counts[id(function)] = counts.get(id(function), 0) + 1
        frame = frame.f_back
    key = max(counts, key=counts.get, default=None)
    return (functions[key], counts[key]) if key is not None and counts[key] > 1 else None


def _rebuilt(fn, options, self_in_signature):
    """A fresh Function of ``fn`` with ``options``, as ``Function.__reduce__`` describes."""
    function = Function(fn, **options)
    function._self_in_signature = self_in_signature
    return function


def _look_like(function, fn):
    """functools.update_wrapper without letting ``fn``'s attributes replace the Function's
    own: ``xg.function(xg.function(f))`` would otherwise share the inner one's programs,
    counts and options. A plain function's attributes are copied; an object's (a Module's
    ``training``, its layers) are read live through ``Function.__getattr__``."""
    functools.update_wrapper(function, fn, updated=())
    if isinstance(fn, (types.FunctionType, Function)):
        for name, value in vars(fn).items():
            function.__dict__.setdefault(name, value)


class Function(TraceCache):
    """A traced function (see the module docstring): call it like ``fn``.

    ``max_traces``: signatures kept (least recently used dropped); ``warmup``: eager calls per
    new signature before it is traced; ``fuse``: fuse elementwise runs on the numba and cupy
    backends (None: where the backend supports it; or a fuser ``fuse(program, escaping)``);
    ``cuda_graph``: replay as CUDA graphs (None: on the cupy backend; False: never; or the
    graph API object to use); ``retrace_warning``: traces after which each new trace warns
    (``RetracingWarning``); ``on_trace_error``: "raise" (``TraceError``) or "eager": where the
    failed trace changed nothing yet (no optimizer update, no write into a Variable), warn and
    run this signature eagerly from then on; after such a change, raise for this call and run
    later ones eagerly. ``input_signature``: a list of ``xg.TensorSpec``, TensorFlow's fixed
    signature (jit/input_signature.py): a call that does not match raises.
    """

    def __init__(self, fn, *, max_traces=8, warmup=1, fuse=None, cuda_graph=None,
                 retrace_warning=5, on_trace_error="raise", input_signature=None, **unknown):
        _check_option_names(unknown)
        self.input_signature = checked_signature(input_signature)
        self._static = isinstance(fn, staticmethod)     # @xg.function above @staticmethod
        if self._static:
            fn = fn.__func__
        if not callable(fn):
            raise TypeError(f"xg.function takes a callable, got {type(fn).__name__}")
        if not _is_int(max_traces) or max_traces < 1:
            raise ValueError(f"max_traces must be an integer >= 1, got {max_traces!r}")
        if not _is_int(warmup) or warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
        if retrace_warning is not None and (not _is_int(retrace_warning)
                                            or retrace_warning < 0):
            raise ValueError(f"retrace_warning must be an integer >= 0 (0 or None: never "
                             f"warn), got {retrace_warning!r}")
        if not (fuse is None or isinstance(fuse, bool) or callable(fuse)):
            raise TypeError(f"fuse must be None, True, False or a fuser fuse(program, "
                            f"escaping), got {type(fuse).__name__} {fuse!r}")
        if not (cuda_graph is None or isinstance(cuda_graph, bool)
                or all(hasattr(cuda_graph, a) for a in ("capture", "launch", "device_scope"))):
            raise TypeError(f"cuda_graph must be None, True, False or a graph API object "
                            f"(capture, launch, device_scope...), got "
                            f"{type(cuda_graph).__name__} {cuda_graph!r}")
        if on_trace_error not in ("raise", "eager"):
            raise ValueError(f"on_trace_error must be 'raise' or 'eager', got "
                             f"{on_trace_error!r}")
        self.on_trace_error = on_trace_error
        self._eager = {}             # signatures that cannot be traced: run eagerly
        self._declining = set()      # keys traced anew since a kernel kept declining
        self.fn = fn
        self.max_traces = max_traces
        self.warmup = warmup
        self.fuse = fuse
        self.cuda_graph = cuda_graph
        self.retrace_warning = retrace_warning
        self.trace_count = 0
        self.signature_count = 0        # signatures met (RetracingWarning on churn)
        self._programs = collections.OrderedDict()
        self._fast = None       # the last call's program, replayed directly (fast_replay.py)
        self._seen = {}
        self._seen_lock = threading.Lock()
        self._warm_values = {}  # signature -> Python values its last warm-up call returned
        self._bind = Binder(fn)
        self._guards = {}       # signature -> ((weak object, attribute), ...) guarded in traces
        self._walk_names = True     # False: no name guards (jit/name_guards.py; tbptt's own)
        self._instances = InstanceFunctions()     # a decorated method's, per instance
        self._self_in_signature = True    # False: an instance's own (its self left out)
        self._method = False    # set in a class body: self is no part of the input_signature
        _look_like(self, fn)

    def __getattr__(self, name):
        # only for names the Function lacks: a wrapped object's attributes, as they are now
        fn = self.__dict__.get("fn")
        if fn is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if name in _TF_FUNCTION_NAMES and not hasattr(fn, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}: "
                                 f"{_TF_FUNCTION_NAMES[name]} (tf.function's {name})")
        return getattr(fn, name)

    def __set_name__(self, owner, name):
        # a method, also where an instance without weak references (__slots__) calls the
        # class's own Function with self first
        self._method = not self._static

    def __get__(self, obj, objtype=None):
        if obj is None or self.__dict__.get("_static"):
            return self
        return self._instances.bound(self, obj)     # each instance its own (jit/methods.py)

    def copy_for(self, fn) -> "Function":
        """A Function of ``fn`` with this one's options."""
        return Function(fn, **self._options())

    def _options(self) -> dict:
        return dict(max_traces=self.max_traces, warmup=self.warmup, fuse=self.fuse,
                    cuda_graph=self.cuda_graph, retrace_warning=self.retrace_warning,
                    on_trace_error=self.on_trace_error, input_signature=self.input_signature)

    def __reduce__(self):
        # copy.deepcopy and pickle: a fresh Function of (a copy of) ``fn`` with these options.
        # The programs are not copied: they read this one's Variables (a copied model's are
        # others), and hold locks and compiled kernels; the copy traces on its own calls.
        return (_rebuilt, (self.fn, self._options(), self._self_in_signature))

    def __call__(self, *args, **kwargs):
        fast = self._fast
        if fast is not None and not kwargs:
            result = fast(args)           # the program the last call replayed (fast_replay.py)
            if result is not MISS:
                return result
        args, kwargs = converted(args, kwargs, self)        # NumPy arrays: Tensors
        if self.input_signature is not None:
            check_call(self.input_signature, _name(self.fn), self._bind, args, kwargs,
                       0 if self._self_in_signature and not self._method else 1)
        try:
            if capture_module.THREAD.tracer is not None:
                return self.fn(*args, **kwargs)      # inside another trace: inlined into it
            if kwargs or len(args) != self._bind.plain:
                args, kwargs = self._bind(args, kwargs)     # f(x, 2.0), f(x, scale=2.0): one call
            if TRACE_LOCK.mine.held is not None:
                # inside an eager call or a replay in this thread, which holds the lock already
                return self._dispatch(args, kwargs, "nested")
            TRACE_LOCK.acquire_shared()
            try:
                result = self._dispatch(args, kwargs, "shared")
            finally:
                TRACE_LOCK.release_shared()
            if result is _MUST_TRACE:
                with TRACE_LOCK.alone():            # another thread may have traced it meanwhile
                    result = self._dispatch(args, kwargs, "alone")
            return result
        except RecursionError:
            # the innermost call of this function to catch it names the recursion; near the
            # limit that may itself overflow, and a call further out tries again
            found = _recursion()
            if found is None:
                raise                   # no traced function recursed: the user's own code
            function, depth = found
            error = TraceError(_RECURSION.format(_name(function.fn), depth))
            error.function = _name(function.fn)          # the message names it already
            raise error from None

    def _dispatch(self, args, kwargs, held):
        """Replay, run eagerly or trace, holding ``TRACE_LOCK`` as ``held`` says: "shared"
        (returns ``_MUST_TRACE`` where a trace is due), "alone", or "nested" (shared by an outer
        call of this thread: traces only where no other thread shares it, else runs eagerly)."""
        self._fast = None         # a call the long way: remembered again after its replay
        if tape_state.recording:
            return self.fn(*args, **kwargs)     # differentiated through: plain eager
        base, be, key, tensors = self._program_key(args, kwargs)
        variant = None
        program = self._programs.get(key)
        if program is not None and program.declines.retrace_due:
            program = self._retrace_declining(key)
        while program is not None:
            try:
                self._programs.move_to_end(key)   # least recently used is dropped first
            except KeyError:                      # dropped by another thread just now
                pass
            try:
                result = program.run(args, kwargs, tensors)
                program.decline_streak = 0
                if held == "shared" and not kwargs and variant is None:
                    self._fast = FastReplay.of(self, args, program, base, key)
                return result
            except GuardFailed as failed:     # the replay's changes undone (jit/guards.py)
                if type(failed.guard) is not ShapeGuard:
                    result = self.fn(*args, **kwargs)
                    failed.guard.widen(failed.lo, failed.hi)
                    if type(failed.guard) is DeclinedKernel:
                        note_decline(program, self.fn, failed.guard)
                    return result
                # a shape that depends on values differs from the traced one: this shape's
                # own program, traced as a signature of its own (jit/dynamic_shapes.py)
                variant = failed.guard
                key = shape_variant_key(key, failed.guard, failed.lo)
                program = self._programs.get(key)
        if self._freed != FREED[0]:       # an object some program was traced with is gone
            self._drop_dead()
        if variant is not None and len(self._programs) >= self.max_traces:
            return self.fn(*args, **kwargs)       # no room left: other shapes run eagerly
        if self._runs_eagerly(key, args, kwargs):
            CALLING[0] += 1
            try:
                result = self.fn(*args, **kwargs)
            finally:
                CALLING[0] -= 1
            if key not in self._eager:          # a warm-up: its trace compares (stale_results.py)
                self._note_warm_up(key, result)
            return result
        if held == "shared":
            return _MUST_TRACE
        if held == "alone":
            return self._trace(base, key, be, args, kwargs, variant=variant)
        if not TRACE_LOCK.try_alone():
            return self.fn(*args, **kwargs)       # traced on a later call
        try:
            return self._trace(base, key, be, args, kwargs, variant=variant)
        finally:
            TRACE_LOCK.end_alone()

    def _retrace_declining(self, key):
        """Drop the program of ``key``, whose kernel declined on ``WARN_AFTER`` replays in a
        row, so that this call traces anew (jit/declines.py): None."""
        self._programs.pop(key, None)
        with self._seen_lock:
            self._seen[key] = self.warmup
            self._declining.add(key)
        return None

    def _key(self, args, kwargs):
        """``(cache key, backend)`` of a call: the backend of its tensor arguments, else the
        current one."""
        return self._key_and_tensors(args, kwargs)[:2]

    def _key_and_tensors(self, args, kwargs):
        """``_key``'s pair and ``tensors``: the plain tensors among all the call's arguments'
        leaves in order (what a replay takes, ``arguments.gather``'s), None where the signature
        leaves some out (``self``) or all arguments are plain tensors."""
        if not kwargs and self._self_in_signature:
            plain = tensors_key(args)
            if plain is not None:
                return (*plain, None)
        sig, tensors = [], []
        try:
            _signature(args if self._self_in_signature else args[1:], sig, tensors)
            _signature(kwargs, sig, tensors)
        except TypeError as e:
            raise TypeError(f"xg.function {_name(self.fn)!r}, argument "
                            f"{self._bind.name_of(refused_argument(args, kwargs))}: {e}") from None
        be = tensors[0]._backend if tensors else current_backend()
        for t in tensors:
            if t._backend is not be:
                raise ValueError(f"xg.function {_name(self.fn)!r} got tensors on backends "
                                 f"{be.name!r} and {t._backend.name!r}; a traced function runs "
                                 f"on one backend")
        same = aliasing(tensors)
        if same is not None:
            sig.append(same)
        return (be.name, *sig), be, tensors if self._self_in_signature else None

    def program_for(self, *args, **kwargs):
        """The program a call with these arguments would replay (that of their signature), or
        None where there is none yet."""
        args, kwargs = converted(args, kwargs, self)
        if kwargs or len(args) != self._bind.plain:
            args, kwargs = self._bind(args, kwargs)
        return self._programs.get(self._program_key(args, kwargs)[2])

    def _program_key(self, args, kwargs):
        """``(signature, backend, key of its program, tensors)`` of a bound call (``tensors``:
        ``_key``'s)."""
        base, be, tensors = self._key_and_tensors(args, kwargs)
        # xg.function(model), a model's decorated method: the model read, though no argument
        owner = model_structure(self.fn if self._self_in_signature else args[0] if args else None)
        if owner is not None:
            base = (*base, owner)
        guards = self._guards.get(base)
        # attributes the traces of this signature read (a Module's training flag): in the key
        key = (base, tuple([getattr(r(), n, _GONE) for r, n in guards])) if guards else base
        return base, be, key, tensors

    def programs(self) -> list:
        """The programs traced so far (``.source`` shows each)."""
        return list(self._programs.values())


def function(fn=None, **options):
    """Trace ``fn`` once per signature, replay it after (module docstring); a decorator, with
    or without options: ``@xg.function`` or ``@xg.function(max_traces=4)``.

    >>> import xpgrad as xg
    >>> square = xg.function(lambda x: x * x)
    >>> [square(xg.asarray([float(i)])).tolist() for i in range(3)]
    [[0.0], [1.0], [4.0]]
    """
    if fn is None:
        _check_option_names([name for name in options if name not in _OPTIONS])
        return lambda f: Function(f, **options)
    return Function(fn, **options)
