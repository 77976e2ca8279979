"""The backward pass of ``xg.odeint``: the adjoint method. The tapes hold one node for the whole
solve (``ODEINT_PRIMITIVE``); its gradient integrates, backwards in time from each requested
time to the one before, the augmented state ``(y, a, t0_bar, p_bar)`` where ``a`` is the
state's cotangent (``da/dt = -a . df/dy``), ``t0_bar`` gathers ``a . df/dt`` and ``p_bar``
``a . df/dp`` for the parameters ``p`` (``args``' Tensors and what ``func`` reads). Each
evaluation of that system is one vector-Jacobian product of ``func`` on a fresh tape. ``y``
restarts from the forward solution at each requested time, and the cotangent given for that
time is added to ``a`` there; the gradient of ``t[i]`` is ``f(y_i, t_i) . g_i``, and ``t[0]``'s
is minus their sum plus the integral in ``t0_bar`` (JAX's formulation).

>>> import xpgrad as xg
>>> t = xg.asarray([0.0, 1.0], dtype=xg.float64)
>>> y0 = xg.asarray([2.0], dtype=xg.float64)
>>> dy0, dt = xg.grad(lambda y0, t: xg.odeint(lambda y, t: -y, y0, t)[-1, 0],
...                   argnums=(0, 1))(y0, t)
>>> round(float(dy0[0]), 6), [round(v, 6) for v in dt.tolist()]   # e^-1; +-2 e^-1
(0.367879, [0.735759, -0.735759])
"""
from __future__ import annotations

from .creation import asarray, zeros
from .inplace import on_tape
from .jit.signature import _Identity
from .ode_rhs import RawRhs, plain_context
from .ode_solver import integrate
from .outer_tapes import block_primitive
from .ode_tangents import linear_adjoint
from .pytree import leaves
from .tensor import Tensor, _wrap

#: the primitive of an ``odeint`` node: its forward hands over the solution the solve computed
ODEINT_PRIMITIVE = block_primitive("odeint")


class _OdeCall:
    """One ``odeint`` solve held by its tape node: what the adjoint pass needs (``func``: the
    flat ``func(y, t, *args)``; ``rhs``: the solve's ``RawRhs`` of it, its capture reused,
    None where it stepped on Tensors; ``entry``: ``func``'s ``ode_captures.Captures``;
    ``seminorm``: the adjoint's step errors measured on ``y`` and ``a`` only)."""

    __slots__ = ("func", "args", "ys", "times", "t", "params", "settings", "time_dtype", "rhs",
                 "entry", "value", "seminorm", "y0")

    def __init__(self, func, args, ys, times, t, params, settings, time_dtype, rhs, entry,
                 seminorm=False):
        self.func, self.args, self.ys, self.times, self.t = func, args, ys, times, t
        self.params, self.settings, self.time_dtype, self.rhs = params, settings, time_dtype, rhs
        self.entry, self.seminorm = entry, seminorm
        self.value = ys._data
        self.y0 = None      # (the flat y0 Tensor, set by odeint: the forward-mode path's check)

    def gradients(self, g, needs):
        """The gradients of ``y0`` (flat), ``t`` (when it is an input) and the parameters:
        raw arrays, or Tensors when ``g`` is one (an outer tape differentiates this pass)."""
        higher = isinstance(g, Tensor)
        if higher and self.t is not None and on_tape(self.t):
            raise NotImplementedError(
                "odeint: a tape differentiates this gradient with respect to t (a second "
                "derivative involving the times); second-order gradients are supported for y0, "
                "args and the Variables func reads, not for t: pass t as a constant there")
        n_given = 2 if self.t is not None else 1
        wanted = [p for p, need in zip(self.params, needs[n_given:]) if need]
        linear = linear_adjoint(self, g, wanted) if higher else None
        if linear is not None:      # first-order forward mode: a tangent solve (ode_tangents)
            y_bar, t_bar, p_bars = linear
        elif higher or not plain_context():
            g = g if higher else _wrap(g, self.ys._backend)
            y_bar, t_bar, p_bars = self._adjoint(g, wanted)
        else:        # no tape sees this pass: its steps on raw arrays, func's vjp replayed
            y_bar, t_bar, p_bars = self._raw_adjoint(g, wanted)
        by_id = dict(zip(map(id, wanted), p_bars))
        grads = [y_bar] + ([t_bar] if self.t is not None else [])
        grads += [by_id.get(id(p)) for p in self.params]
        return [gr._data if isinstance(gr, Tensor) and not higher else gr for gr in grads]

    def _adjoint(self, g, params):
        """The adjoint pass on Tensors (module docstring): a tape may differentiate it."""
        from .ops import concat, reshape, stack, vecdot

        ys, times, n = self.ys, self.times, self.ys.shape[1]
        entries = 2 * n if self.seminorm else None
        backend, dtype, time_dtype = ys._backend, ys.dtype, self.time_dtype
        sizes = [p.size for p in params]
        y_bar = g[-1]
        t0_bar = zeros((1,), dtype=dtype, backend=backend)
        p_bar = zeros((sum(sizes),), dtype=dtype, backend=backend)
        dynamics, args = _Augmented(self.func, n, _sources(params, self.args), dtype), self.args

        def in_reverse(state, s):
            return dynamics(state, asarray(-s, dtype=time_dtype, backend=backend), *args)

        t_bars, step = [], None
        for i in range(len(times) - 1, 0, -1):
            t_i = asarray(times[i], dtype=time_dtype, backend=backend)
            t_bar = vecdot(self.func(ys[i], t_i, *args), g[i])
            t_bars.append(t_bar)
            t0_bar = t0_bar - t_bar
            start = concat([ys[i], y_bar, t0_bar, p_bar])
            (_, end), step = integrate(in_reverse, start, [-times[i], -times[i - 1]],
                                       first_step=step, error_entries=entries, **self.settings)
            y_bar = end[n:2 * n] + g[i - 1]
            t0_bar, p_bar = end[2 * n:2 * n + 1], end[2 * n + 1:]
        t_dtype = self.t.dtype if self.t is not None else dtype
        t_grad = stack([reshape(t0_bar, ())] + t_bars[::-1]).astype(t_dtype)
        p_grads, start = [], 0
        for p, size in zip(params, sizes):
            p_grads.append(reshape(p_bar[start:start + size], p.shape).astype(p.dtype))
            start += size
        return y_bar, t_grad, p_grads

    def _raw_adjoint(self, g, params):
        """``_adjoint`` on the backend's raw arrays (``g`` one): the same steps, the augmented
        system's evaluations replayed as one captured program (``ode_rhs.py``)."""
        backend = self.ys._backend
        xp, ys, times = backend.xp, self.ys._data, self.times
        n, dtype = ys.shape[1], ys.dtype
        entries = 2 * n if self.seminorm else None
        sizes = [p.size for p in params]
        name, args = self.func.name, self.args
        func = self.rhs or RawRhs(self.func, args, backend, self.time_dtype, f"func {name!r}")
        func.keep_recording = False
        sources = _sources(params, args)
        capture = None if self.entry is None else self.entry.adjoint(
            (n, str(self.ys.dtype), tuple(s if type(s) is int else _Identity(s) for s in sources)))
        augmented = RawRhs(_Augmented(self.func, n, sources, self.ys.dtype), args, backend,
                           self.time_dtype, f"the adjoint's vjp of func {name!r}", capture,
                           reverse_time=True)

        y_bar = g[-1]
        t0_bar, p_bar = xp.zeros((1,), dtype=dtype), xp.zeros((sum(sizes),), dtype=dtype)
        t_bars, step, workspace = [], None, {}
        # (one replaying block for every interval: the raw replays and the lock taken once)
        with augmented.replaying(), func.replaying():
            for i in range(len(times) - 1, 0, -1):
                t_bar = xp.vecdot(func(ys[i], times[i]), g[i])
                t_bars.append(t_bar)
                t0_bar = t0_bar - t_bar
                start = xp.concat([ys[i], y_bar, t0_bar, p_bar])
                (_, end), step = integrate(augmented, start, [-times[i], -times[i - 1]],
                                           first_step=step, xp=xp, error_entries=entries,
                                           workspace=workspace, **self.settings)
                y_bar = end[n:2 * n] + g[i - 1]
                t0_bar, p_bar = end[2 * n:2 * n + 1], end[2 * n + 1:]
        t_dtype = backend.native_dtype(self.t.dtype if self.t is not None else self.ys.dtype)
        t_grad = xp.astype(xp.stack([xp.reshape(t0_bar, ())] + t_bars[::-1]), t_dtype)
        p_grads, start = [], 0
        for p, size in zip(params, sizes):
            piece = xp.reshape(p_bar[start:start + size], p.shape)
            p_grads.append(xp.astype(piece, backend.native_dtype(p.dtype)))
            start += size
        return y_bar, t_grad, p_grads


def _sources(params, args):
    """Where the augmented system finds each parameter: the index of a tensor of ``args``
    among their tensor leaves (an argument of its captured program), or the tensor itself (what
    ``func`` reads from its closure)."""
    arg_tensors = [leaf for leaf in leaves(args) if isinstance(leaf, Tensor)]
    where = {}
    for i, leaf in enumerate(arg_tensors):
        where.setdefault(id(leaf), i)
    return [where.get(id(p), p) for p in params]


class _Augmented:
    """The augmented system in reversed time ``s = -t``, called with the time ``t`` (a 0-d
    Tensor) and ``func``'s ``args``: ``d/ds (y, a, t0_bar, p_bar) = (-f, a . df/dy,
    a . df/dt, a . df/dp)``, the parameters ``p`` found as ``sources`` says (``_sources``)."""

    def __init__(self, func, n, sources, dtype):
        self.func, self.n, self.sources, self.dtype = func, n, sources, dtype
        self.name = func.name

    def __call__(self, state, t, *args):
        from .ops import concat, reshape
        from .tape import GradientTape

        n = self.n
        arg_tensors = [leaf for leaf in leaves(args) if isinstance(leaf, Tensor)]
        params = [arg_tensors[s] if type(s) is int else s for s in self.sources]
        y, a = state[:n], state[n:2 * n]
        with GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(y)
            tape.watch(t)
            for p in params:
                tape.watch(p)
            f = self.func(y, t, *args)
        grads = tape.gradient(f, [y, t, *params], output_gradients=a)
        pieces = [-f, _or_zeros(grads[0], y), reshape(_or_zeros(grads[1], t), (1,))]
        pieces += [reshape(_or_zeros(gp, p), (-1,)) for gp, p in zip(grads[2:], params)]
        return concat([piece if piece.dtype == self.dtype else piece.astype(self.dtype)
                       for piece in pieces])


def _or_zeros(grad, like):
    return grad if grad is not None else zeros(like.shape, dtype=like.dtype,
                                               backend=like._backend)
