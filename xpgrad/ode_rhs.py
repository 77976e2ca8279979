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
runs eagerly from then on, without an error. Which path ran is logged at DEBUG level on the
``"xpgrad.odeint"`` logger and kept in ``RawRhs.path`` ("eager" before the capture, "captured",
or "eager: <why>").

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

    def __init__(self, fn, backend, time_dtype, role, keep_recording=False, capture=True):
        self.fn, self.backend, self.role = fn, backend, role
        self.native_time = backend.native_dtype(time_dtype)
        self.keep_recording = keep_recording
        self.path = "eager"
        self.calls = 0
        self._function = _function(fn, backend) if capture else None
        if not capture:
            self.path = "eager: capture off"

    def __call__(self, y, t):
        y = _wrap(y, self.backend)
        t = _wrap(self.backend.xp.asarray(t, dtype=self.native_time), self.backend)
        self.calls += 1
        function = self._function
        if function is None or self.calls == 1:
            return self._eager(y, t)
        saved, tape_state.recording = tape_state.recording, []
        try:
            if function.trace_count:
                return function(y, t)._data
            out = self._trace(function, y, t)
        finally:
            tape_state.recording = saved
        return out if out is not None else self._eager(y, t)

    def _eager(self, y, t):
        if self.keep_recording:
            return self.fn(y, t)._data
        saved, tape_state.recording = tape_state.recording, []
        try:
            return self.fn(y, t)._data
        finally:
            tape_state.recording = saved

    def _trace(self, function, y, t):
        """``fn(y, t)``'s value from the call that traces it (the Function's first after its
        eager one), or None where that failed: ``fn`` then runs eagerly from now on."""
        try:
            out = function(y, t)._data
        except Exception as e:          # noqa: BLE001 -- any failure of the capture: eager
            self._function = None
            self.path = f"eager: {type(e).__name__}: {e}"
            logger.debug("odeint: %s runs eagerly (it cannot be captured with xg.function: "
                         "%s: %s)", self.role, type(e).__name__, e)
            return None
        if function.trace_count:
            self.path = "captured"
            logger.debug("odeint: %s captured with xg.function, replayed from now on",
                         self.role)
        return out


def _function(fn, backend):
    from .jit import Function

    # one signature (y's and t's shapes never change); CUDA graphs off: a replay's outputs
    # are kept across stages, and a graph per small program buys little
    return Function(fn, max_traces=1, warmup=1, retrace_warning=None, on_trace_error="raise",
                    cuda_graph=False)
