"""``odeint``'s right-hand sides as the integrator calls them on raw arrays: ``RawRhs(fn, args,
...)`` is ``(raw y, float t) -> raw dy/dt`` for a Tensor function ``fn(y, t, *args)`` (the
user's ``func`` in the solve, the augmented system in the adjoint pass).

``fn`` is captured with ``xg.function`` (``xpgrad/jit``) and replayed: one flat program of raw
backend calls, no tape, no Tensors, no per-operation dispatch; the adjoint's vector-Jacobian
product of ``func`` is one program too. ``args`` are the program's arguments, and the captures
are kept from one ``odeint`` call to the next (``ode_captures.py``, keyed on ``func``, what it
reads from its closure and the state's structure), so a training loop traces on its first
steps only. Each solve's first call of ``func`` runs eagerly (under the tapes recording then:
``odeint`` finds the Variables ``func`` reads) and, where an earlier call left a program, is
compared with its replay: where they differ by more than rounding (a value ``func`` reads
that no key names changed, such as an attribute of an object) every capture of ``func`` is
dropped and traced again. Where ``fn`` cannot be traced (Python control flow on a value,
``float(y)``, ``.numpy()``: ``xg.jit.TraceError``) or the trace fails otherwise, it runs
eagerly from then on, without an error. The replays of one integration hold the trace lock
(``xpgrad/jit/lock.py``) shared from the first to the integration's end (``replaying``), as
one long replay would; inside an ``xg.function``'s replay or trace, where ``odeint`` runs as one
solver step (``jit/solver_steps.py``), they run under the lock that one holds, the same way.
Which path ran is logged at DEBUG level on the
``"xpgrad.odeint"`` logger and kept in ``RawRhs.path`` ("eager" before the capture,
"captured", or "eager: <why>").

>>> import numpy as np
>>> import xpgrad as xg
>>> rhs = RawRhs(lambda y, t, k: -y * t * k, (xg.asarray(2.0, dtype=xg.float64),),
...              xg.get_backend("numpy"), xg.float64, "func")
>>> [float(rhs(np.array([2.0]), 3.0)[0]) for _ in range(3)], rhs.path
([-12.0, -12.0, -12.0], 'captured')
"""
from __future__ import annotations

import contextlib
import logging

import numpy as np

from .batching.batched import BatchedArray
from .jit.arguments import gather
from .jit.lock import TRACE_LOCK
from .jit.replay_steps import GuardFailed
from .ode_captures import Capture
from .primitive import tape_state
from .tensor import _wrap

logger = logging.getLogger("xpgrad.odeint")


def plain_context() -> bool:
    """Whether no ``xg.function`` trace and no ``xg.vmap`` runs in this thread: the solver
    may then step on raw arrays (under either, it steps on Tensors, which they see)."""
    from .batching.session import _DEPTH
    from .jit.trace_state import THREAD

    return THREAD.tracer is None and _DEPTH.depth == 0


def vmap_only() -> bool:
    """Whether this thread is in one ``xg.vmap`` level and no ``xg.function`` trace."""
    from .batching.session import _DEPTH
    from .jit.trace_state import THREAD

    return THREAD.tracer is None and _DEPTH.depth == 1


def solve(func, args, y0, times, time_dtype, settings, entry):
    """``xg.odeint``'s solve of ``dy/dt = func(y, t, *args)`` from the flat ``y0`` (a Tensor)
    at ``times`` (Python floats): the solution as a Tensor ``(len(times), n)``, and the
    ``RawRhs`` of ``func`` (None where the steps were taken on Tensors). ``entry``: the
    ``ode_captures.Captures`` of ``func``."""
    from .ode_solver import solve_flat

    backend = y0._backend
    if plain_context():
        return _raw_solve(func, args, y0._data, times, time_dtype, settings, entry, backend)
    if vmap_only():         # every example's solve the same one (jacfwd's): raw, unbatched
        data, plain_args = unbatched(y0._data), unbatched_args(args)
        if data is not None and plain_args is not None:
            from .batching.session import outside_vmap

            try:
                with outside_vmap():
                    return _raw_solve(func, plain_args, data, times, time_dtype, settings,
                                      entry, backend, unbatched_only=True)
            except _Batched:
                pass
    return solve_flat(lambda y, t: func(y, t, *args), y0, times, time_dtype=time_dtype,
                      **settings), None


class _Batched(Exception):
    """``func`` gave a value that differs from example to example from an unbatched state."""


def _unbatched_results(rhs):
    """``rhs`` raising ``_Batched`` where its value differs from example to example."""
    def step(y, t):
        out = unbatched(rhs(y, t))
        if out is None:
            raise _Batched
        return out
    return step


def _raw_solve(func, args, y0, times, time_dtype, settings, entry, backend,
               unbatched_only=False):
    """``solve`` on raw arrays (``unbatched_only``: raising ``_Batched`` where ``func`` gives
    a batched value, as from a mapped value it reads from its closure)."""
    from .ode_solver import integrate

    rhs = RawRhs(func, args, backend, time_dtype, f"func {func.name!r}", entry.forward,
                 keep_recording=True, renew=entry.reset)
    step = _unbatched_results(rhs) if unbatched_only else rhs
    with rhs.replaying():
        out, _ = integrate(step, y0, times, xp=backend.xp, **settings)
    return _wrap(backend.xp.stack(out), backend), rhs


def unbatched(data):
    """``data`` as a NumPy array where every example of a vmap shares it, else None."""
    if data.__class__ is BatchedArray:
        if not data._shared:
            return None
        data = data.example()
    return data if data.__class__ is np.ndarray else None


def unbatched_args(args):
    """``args`` with each Tensor that every example of a vmap shares made plain; None where
    one differs from example to example."""
    from .pytree import map_leaves
    from .tensor import Tensor

    batched = []

    def leaf(value, path):
        if isinstance(value, Tensor) and value._data.__class__ is BatchedArray:
            data = unbatched(value._data)
            if data is None:
                batched.append(path)
                return value
            return _wrap(data, value._backend)
        return value

    out = map_leaves(leaf, args)
    return None if batched else out


class RawRhs:
    """``fn(y, t, *args)`` on raw ``y`` and float ``t``, replayed from ``capture`` (module
    docstring; None: a capture of its own). ``role`` names it in the log ("func", "the
    adjoint's vjp of func"); ``keep_recording``: the eager calls run under the tapes recording
    now (the forward solve's first call), else under none; ``renew``: the first call is
    compared with the capture's replay, and ``renew()`` gives a fresh capture where they
    differ; ``reverse_time``: called with ``-t`` (``fn`` gets ``t``: the adjoint's reversed
    time)."""

    def __init__(self, fn, args, backend, time_dtype, role, capture=None, keep_recording=False,
                 renew=None, reverse_time=False):
        self.fn, self.args, self.backend, self.role = fn, args, backend, role
        self.native_time = backend.native_dtype(time_dtype)
        self.keep_recording, self.renew = keep_recording, renew
        self.capture = capture if capture is not None else Capture()
        self.path = "eager"
        self.calls = 0
        self._program = None
        self._traced_args = _as_tensors(args, backend)
        self._arg_arrays = []
        gather(self._traced_args, self._arg_arrays)
        # (NumPy's own asarray: array_api_compat's checks its arguments first, 0.5 us a call)
        self._time = np.asarray if backend.array_class is np.ndarray else backend.xp.asarray
        # (np.array(t) of a float: the float64 0-d array, at half np.asarray(t, dtype)'s cost)
        self._float64_time = backend.array_class is np.ndarray and self.native_time == np.float64
        self.reverse_time = reverse_time
        self._keep_lock = self._holding = self._raw_taken = False
        self._raw, self._time_unread = None, False

    def __call__(self, y, t):
        raw = self._raw
        if raw is not None and self._time_unread:       # (an autonomous system: t unused)
            try:
                return raw([y, t, *self._arg_arrays])
            except GuardFailed:
                pass
        if self.reverse_time:
            t = -t
        t = np.array(t) if self._float64_time else self._time(t, dtype=self.native_time)
        if raw is not None:             # inside ``replaying``, the lock held
            try:
                return raw([y, t, *self._arg_arrays])
            except GuardFailed:
                return self._guard_failed(y, t)
        self.calls += 1
        if self._program is not None:
            return self._replay(y, t)
        if self.calls == 1 and (self.renew is not None or not self.capture.made):
            out = self._eager(y, t)
            if self.renew is not None and self.capture.function is not None:
                self._check(y, t, out)
            return out
        return self._through_function(y, t)

    def _tensors(self, y, t):
        return (_wrap(y, self.backend), _wrap(t, self.backend), *self._traced_args)

    @contextlib.contextmanager
    def replaying(self):
        """Inside the block, the trace lock taken shared for the first replay of the captured
        program is kept for the later ones (each call would take and release it: 1 us) and
        released at the block's end; the calls before it take it as they need. Where this
        thread held the lock already (the replay or trace of an ``xg.function`` running the
        solve as one step), that hold outlasts the block and nothing is taken. From the first
        replay on, the calls run a raw replay of the program (``Program.raw_replay``: its
        result an array, not a Tensor unwrapped again; Python floats where it picks them) of
        their own."""
        self._keep_lock = True
        try:
            yield self
        finally:
            self._keep_lock = self._raw_taken = False
            if self._raw is not None:
                self._program.give_back_raw(self._raw, python_floats=True)
                self._raw = None
            if self._holding:
                self._holding = False
                TRACE_LOCK.release_shared()

    def _replay(self, y, t, program=None):
        """The captured program (or ``program``) run on ``y`` and ``t`` (their signature is the
        traced one: the integrator never changes a shape or dtype), under the trace lock as the
        Function's own replays; a guard that fails (``xpgrad/jit/guards.py``) is the
        Function's to handle."""
        shared = TRACE_LOCK.mine.held is None
        if shared:
            TRACE_LOCK.acquire_shared()
        try:
            return (program or self._program).run_arrays([y, t, *self._arg_arrays])._data
        except GuardFailed:
            return self._guard_failed(y, t)
        finally:
            if self._keep_lock and program is None and not self._raw_taken:
                # from now on every call replays raw: under the lock taken here, or under the
                # one this thread held already (a replay or trace of an ``xg.function`` running
                # odeint as one solver step), which outlasts the integration
                self._holding, self._raw_taken = shared, True
                self._raw = self._program.raw_replay(python_floats=True)
                self._time_unread = 1 in self._program.unread_inputs
            elif shared:
                TRACE_LOCK.release_shared()

    def _guard_failed(self, y, t):
        """``fn(y, t)`` where a replay's guard failed: the Function's to handle."""
        saved, tape_state.recording = tape_state.recording, []
        try:
            return self.capture.function(*self._tensors(y, t))._data
        finally:
            tape_state.recording = saved

    def _check(self, y, t, eager):
        """The program an earlier ``odeint`` call left for this signature, replayed where it
        gives the eager call's ``eager`` to rounding; else every capture of ``func`` renewed."""
        program = self.capture.function.program_for(*self._tensors(y, t))
        if program is None:
            return
        replayed = self._replay(y, t, program)
        xp = self.backend.xp
        scale = float(xp.max(xp.abs(eager))) if eager.size else 0.0
        worst = float(xp.max(xp.abs(replayed - eager))) if eager.size else 0.0
        if not worst > xp.finfo(eager.dtype).eps ** 0.5 * scale:      # (NaN: the same)
            self._program, self.path = program, "captured"
            logger.debug("odeint: %s replays its capture from an earlier odeint call",
                         self.role)
            return
        self.capture = self.renew()
        logger.debug("odeint: %s is traced again: its capture from an earlier odeint call "
                     "differs from an eager call by %.3g (largest value %.3g), so a value it "
                     "reads changed", self.role, worst, scale)

    def _eager(self, y, t):
        y, t = _wrap(y, self.backend), _wrap(t, self.backend)
        if self.keep_recording:
            return self.fn(y, t, *self.args)._data
        saved, tape_state.recording = tape_state.recording, []
        try:
            return self.fn(y, t, *self.args)._data
        finally:
            tape_state.recording = saved

    def _through_function(self, y, t):
        """``fn(y, t)``'s value from the capture's Function (which traces this signature, or
        replays a program an earlier call traced), or eagerly where it cannot be traced."""
        capture = self.capture
        if not capture.made:
            capture.function, capture.made = _function(_TensorResult(self.fn)), True
        function = capture.function
        if function is None:
            self.path = capture.path
            return self._eager(y, t)
        tensors = self._tensors(y, t)
        traced = function.trace_count
        saved, tape_state.recording = tape_state.recording, []
        try:
            out = function(*tensors)._data
        except Exception as e:          # noqa: BLE001 -- any failure of the capture: eager
            capture.function = None
            capture.path = self.path = f"eager: {type(e).__name__}: {e}"
            logger.debug("odeint: %s runs eagerly (it cannot be captured with xg.function: "
                         "%s: %s)", self.role, type(e).__name__, e)
            return self._eager(y, t)
        finally:
            tape_state.recording = saved
        self._program = function.program_for(*tensors)
        if self._program is not None:
            capture.path = self.path = "captured"
            logger.debug("odeint: %s %s", self.role,
                         "captured with xg.function, replayed from now on"
                         if function.trace_count > traced else
                         "replays its capture from an earlier odeint call")
        return out


def _as_tensors(args, backend):
    """``args`` with each NumPy array or scalar a Tensor of ``backend``: the captured
    program's arguments (``xg.function`` takes no NumPy arrays), new values on each call."""
    from .creation import asarray
    from .pytree import map_leaves

    def leaf(value, path):
        return asarray(value, backend=backend) if isinstance(value, (np.ndarray, np.generic)) \
            else value

    return map_leaves(leaf, args)


class _TensorResult:
    """``fn`` with its result made a Tensor, named after ``fn`` for the Function's messages.
    (Its result is no longer copied: a replay's result never shares memory with a buffer
    the program reuses, which a reshape of an ``xg.nn.Linear`` output once did.)"""

    def __init__(self, fn):
        self.fn = fn
        self.__name__ = getattr(fn, "name", None) or getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, y, t, *args):
        from .conversion import asarray

        return asarray(self.fn(y, t, *args))


def _function(fn):
    from .jit import Function

    # traced on its first call (RawRhs made the eager one); a few signatures (args holding
    # Python numbers are keyed by value); CUDA graphs off: a replay's outputs are kept across
    # stages, and a graph per small program buys little. Fused on numba: the fuser leaves a
    # neural ODE's tanh(y @ w + b) at 512x64 to NumPy's SIMD tanh (``fusion_costs``)
    return Function(fn, max_traces=4, warmup=0, retrace_warning=None, on_trace_error="raise",
                    cuda_graph=False)
