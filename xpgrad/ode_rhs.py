"""``odeint``'s right-hand sides as the integrator calls them on raw arrays: ``RawRhs(fn)`` is
``(raw y, float t) -> raw dy/dt`` for a Tensor function ``fn(y, t)`` (the user's ``func`` in
the solve, the augmented system in the adjoint pass).

``fn`` runs eagerly on its first call, and from its second call on is captured with
``xg.function`` (``xpgrad/jit``) and replayed: one flat program of raw backend calls, no tape,
no Tensors, no per-operation dispatch; the adjoint's vector-Jacobian product of ``func`` is
one program too. The capture belongs to one ``odeint`` call, so what ``func`` reads from its
closure (non-Variable tensors, Python values) is fixed for that call, as it is for the solve
itself; Variables are read by reference. Where ``fn`` cannot be traced (Python control flow on
a value, ``float(y)``, ``.numpy()``: ``xg.jit.TraceError``) or the trace fails otherwise, it
runs eagerly from then on, without an error. The first ``CHECKED_REPLAYS`` replays are each
compared with an eager call, and where one differs by more than rounding ``fn`` runs eagerly
too (logged as a WARNING: an ``xg.function`` bug). Which path ran is logged at DEBUG level on
the ``"xpgrad.odeint"`` logger and kept in ``RawRhs.path`` ("eager" before the capture,
"captured", or "eager: <why>").

>>> import numpy as np
>>> import xpgrad as xg
>>> rhs = RawRhs(lambda y, t: -y * t, xg.get_backend("numpy"), xg.float64, "func")
>>> [float(rhs(np.array([2.0]), 3.0)[0]) for _ in range(3)], rhs.path
([-6.0, -6.0, -6.0], 'captured')
"""
from __future__ import annotations

import logging

from .primitive import tape_state
from .tensor import _wrap

logger = logging.getLogger("xpgrad.odeint")

#: the first replays of a captured program each compared with an eager call (``RawRhs``)
CHECKED_REPLAYS = 3


def plain_context() -> bool:
    """Whether no ``xg.function`` trace and no ``xg.vmap`` runs in this thread: the solver
    may then step on raw arrays (under either, it steps on Tensors, which they see)."""
    from .batching.session import _DEPTH
    from .jit.trace_state import THREAD

    return THREAD.tracer is None and _DEPTH.depth == 0


def solve(func, y0, times, time_dtype, settings):
    """``xg.odeint``'s solve of ``dy/dt = func(y, t)`` from the flat ``y0`` (a Tensor) at
    ``times`` (Python floats): the solution as a Tensor ``(len(times), n)``, and the
    ``RawRhs`` of ``func`` (None where the steps were taken on Tensors)."""
    from .ode_solver import integrate, solve_flat

    backend = y0._backend
    if not plain_context():
        return solve_flat(func, y0, times, time_dtype=time_dtype, **settings), None
    rhs = RawRhs(func, backend, time_dtype, f"func {func.name!r}", keep_recording=True)
    out, _ = integrate(rhs, y0._data, times, xp=backend.xp, **settings)
    return _wrap(backend.xp.stack(out), backend), rhs


class RawRhs:
    """``fn(y, t)`` on raw arrays, captured after its first call (module docstring).
    ``role`` names it in the log ("func", "the adjoint's vjp of func"); ``keep_recording``:
    the eager calls run under the tapes recording now (the forward solve's first call, where
    ``odeint`` finds the Variables ``func`` reads), else under none."""

    def __init__(self, fn, backend, time_dtype, role, keep_recording=False):
        self.fn, self.backend, self.role = fn, backend, role
        self.native_time = backend.native_dtype(time_dtype)
        self.keep_recording = keep_recording
        self.path = "eager"
        self.calls = 0
        self._function = _function(_TensorResult(fn))
        self._program = None
        self._unchecked = CHECKED_REPLAYS

    def __call__(self, y, t):
        backend = self.backend
        y = _wrap(y, backend)
        t = _wrap(backend.xp.asarray(t, dtype=self.native_time), backend)
        self.calls += 1
        if self._program is not None:
            return self._replay(y, t) if not self._unchecked else self._checked_replay(y, t)
        if self._function is None or self.calls == 1:
            return self._eager(y, t)
        saved, tape_state.recording = tape_state.recording, []
        try:
            out = self._trace(y, t)
        finally:
            tape_state.recording = saved
        return out if out is not None else self._eager(y, t)

    def _replay(self, y, t):
        """The captured program run on ``y`` and ``t`` (their signature is the traced one: the
        integrator never changes a shape or dtype), under the trace lock as the Function's own
        replays; a guard that fails (``xpgrad/jit/guards.py``) is the Function's to handle."""
        from .jit.lock import TRACE_LOCK
        from .jit.replay_steps import GuardFailed

        shared = TRACE_LOCK.mine.held is None
        if shared:
            TRACE_LOCK.acquire_shared()
        try:
            return self._program.run((y, t), {})._data
        except GuardFailed:
            saved, tape_state.recording = tape_state.recording, []
            try:
                return self._function(y, t)._data
            finally:
                tape_state.recording = saved
        finally:
            if shared:
                TRACE_LOCK.release_shared()

    def _checked_replay(self, y, t):
        """``_replay``, compared with an eager call: where they differ by more than rounding,
        the program is wrong (as xg.function's buffer planner was once, reusing memory still
        viewed by a reshape: ``tests/test_ode_paths.py``'s ``view_case``) and ``fn`` runs
        eagerly."""
        self._unchecked -= 1
        replayed, eager = self._replay(y, t), self._eager(y, t)
        xp = self.backend.xp
        scale = float(xp.max(xp.abs(eager))) if eager.size else 0.0
        worst = float(xp.max(xp.abs(replayed - eager))) if eager.size else 0.0
        if not worst > xp.finfo(eager.dtype).eps ** 0.5 * scale:      # (NaN: the same)
            return replayed
        self._program = self._function = None
        self.path = f"eager: its captured program's replay differed from it by {worst:.3g}"
        logger.warning("odeint: %s runs eagerly: its replay as a captured xg.function program "
                       "differed from an eager call by %.3g (largest value %.3g), an "
                       "xg.function bug; please report it", self.role, worst, scale)
        return eager

    def _eager(self, y, t):
        if self.keep_recording:
            return self.fn(y, t)._data
        saved, tape_state.recording = tape_state.recording, []
        try:
            return self.fn(y, t)._data
        finally:
            tape_state.recording = saved

    def _trace(self, y, t):
        """``fn(y, t)``'s value from the call that traces it (the Function's first after its
        eager one), or None where that failed: ``fn`` then runs eagerly from now on."""
        function = self._function
        try:
            out = function(y, t)._data
        except Exception as e:          # noqa: BLE001 -- any failure of the capture: eager
            self._function = None
            self.path = f"eager: {type(e).__name__}: {e}"
            logger.debug("odeint: %s runs eagerly (it cannot be captured with xg.function: "
                         "%s: %s)", self.role, type(e).__name__, e)
            return None
        if function.trace_count:
            self._program = function.programs()[0]
            self.path = "captured"
            logger.debug("odeint: %s captured with xg.function, replayed from now on",
                         self.role)
        return out


class _TensorResult:
    """``fn`` with its result made a Tensor, named after ``fn`` for the Function's messages.
    (Its result is no longer copied: a replay's result never shares memory with a buffer
    the program reuses, which a reshape of an ``xg.nn.Linear`` output once did.)"""

    def __init__(self, fn):
        self.fn = fn
        self.__name__ = getattr(fn, "name", None) or getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, y, t):
        from .conversion import asarray

        return asarray(self.fn(y, t))


def _function(fn):
    from .jit import Function

    # one signature (y's and t's shapes never change); traced on its first call (RawRhs made
    # the eager one); CUDA graphs off: a replay's outputs are kept across stages, and a graph
    # per small program buys little
    return Function(fn, max_traces=1, warmup=0, retrace_warning=None, on_trace_error="raise",
                    cuda_graph=False)
