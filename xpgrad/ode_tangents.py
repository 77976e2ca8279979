"""Forward mode through ``xg.odeint``: a forward-sensitivity solve instead of two reverse passes.

``xg.jvp`` (and ``jacfwd``, ``linearize``) differentiate a vector-Jacobian product with respect
to its cotangent ``g``. Through ``odeint`` that product is the adjoint solve, and
differentiating it meant recording the adjoint's steps on Tensors (eagerly, under ``xg.vmap``
for ``jacfwd``) and walking them back. But the adjoint pass is linear in ``g``, and the
transpose of ``g -> vjp(g)`` is the Jacobian-vector product itself. So where no tape
differentiates the solve's inputs (only ``g``: first-order forward mode), the adjoint pass is
recorded as one node of ``g`` (``linear_adjoint``), and that node's gradient is the tangent of
the solution, computed by one forward solve of the state augmented with its sensitivities
``S`` (``dS/dt = df/dy S + df/dp v_p``, ``S(t0) = v_y0 - f(y0, t0) v_t0``; a tangent of a
later time ``t_i`` adds ``f(y_i, t_i) v_ti`` there; the error norm covers the state alone, so
the steps are the solution's whatever the directions and the tangent map is linear to rounding,
as ``linearize`` promises). The rows of ``df/dy``, ``df/dt`` and
``df/dp`` come from replays of the adjoint's captured vector-Jacobian product of ``func`` with
the unit vectors, one per state entry, so the path is taken for states of at most
``MAX_STATE`` entries; larger states, higher orders and nested ``xg.vmap`` keep the two
reverse passes. Inside ``xg.vmap`` (``jacfwd``'s basis) the tangents of all examples are one
augmented solve.

>>> import xpgrad as xg
>>> t = xg.asarray([0.0, 1.0], dtype=xg.float64)
>>> k = xg.asarray(0.5, dtype=xg.float64)
>>> y0 = xg.asarray([2.0], dtype=xg.float64)
>>> _, tangent = xg.jvp(lambda k: xg.odeint(lambda y, t, k: -k * y, y0, t, k)[-1, 0], (k,),
...                     (xg.asarray(1.0, dtype=xg.float64),))
>>> round(float(tangent), 6)            # d/dk 2 exp(-k) = -2 exp(-k)
-1.213061
"""
from __future__ import annotations

import numpy as np

from .batching.batched import BatchedArray
from .batching.session import _DEPTH, outside_vmap, raw
from .inplace import on_tape
from .ode_rhs import RawRhs, unbatched, unbatched_args
from .ode_solver import integrate
from .outer_tapes import block_primitive
from .primitive import apply
from .tensor import Tensor

#: the largest state whose tangents are solved forward (``n`` replays of the vjp per stage)
MAX_STATE = 32

#: the node of an adjoint pass recorded as one linear function of its cotangent
LINEAR_ADJOINT_PRIMITIVE = block_primitive("odeint_adjoint")


def linear_adjoint(call, g, wanted):
    """``(y_bar, t_bar, p_bars)`` as Tensors of one recorded node of ``g`` (module docstring),
    or None where this path does not apply (the caller runs the adjoint on Tensors)."""
    n = call.ys.shape[1]
    inputs = [call.y0] + ([call.t] if call.t is not None else []) + list(call.params)
    if n > MAX_STATE or _DEPTH.depth > 1 or call.entry is None or \
            any(on_tape(x) for x in inputs):
        return None
    data, ys = unbatched(g._data), unbatched(call.ys._data)
    args = unbatched_args(call.args)
    if data is None or ys is None or args is None:
        return None
    value = _adjoint_value(call, data, wanted)
    if value is None:
        return None
    node = apply(LINEAR_ADJOINT_PRIMITIVE, g, call=_Linear(call, ys, args, wanted, value))
    sizes = [n] + ([len(call.times)] if call.t is not None else []) + [p.size for p in wanted]
    pieces, start = [], 0
    for size in sizes:
        pieces.append(node[start:start + size])
        start += size
    y_bar, rest = pieces[0], pieces[1:]
    t_bar = None
    if call.t is not None:
        t_bar, rest = rest[0].astype(call.t.dtype), rest[1:]
    p_bars = [piece.reshape(p.shape).astype(p.dtype) for piece, p in zip(rest, wanted)]
    return y_bar, t_bar, p_bars


def _adjoint_value(call, g, wanted):
    """The flat ``(y_bar, t_bar, p_bar)`` of the raw cotangent ``g``: zeros for a zero ``g``
    (``xg.jvp``'s, whose value nothing reads), else the raw adjoint pass where it may run."""
    from .ode_rhs import plain_context

    size = call.ys.shape[1] + (len(call.times) if call.t is not None else 0) + \
        sum(p.size for p in wanted)
    if not g.any():
        return np.zeros((size,), dtype=g.dtype)
    if not plain_context():
        return None
    y_bar, t_bar, p_bars = call._raw_adjoint(g, wanted)
    pieces = [y_bar] + ([t_bar] if call.t is not None else []) + list(p_bars)
    return np.concatenate([np.asarray(p, dtype=g.dtype).reshape(-1) for p in pieces])


class _Linear:
    """The node's call: its value handed over once, its gradient the tangent solve."""

    __slots__ = ("call", "ys", "args", "wanted", "value")

    def __init__(self, call, ys, args, wanted, value):
        self.call, self.ys, self.args, self.wanted = call, ys, args, wanted
        self.value = value

    def gradients(self, v, needs):
        if isinstance(v, Tensor):       # a tape differentiates the tangents: M @ v on it
            return [self._recorded(v)]
        batched = v.__class__ is BatchedArray
        directions = raw(v) if batched else v[None]
        with outside_vmap():        # (the solve's values are every example's)
            tangents = solve_tangents(self.call, self.ys, self.args, self.wanted,
                                      directions.reshape((-1, directions.shape[-1])))
        if batched:
            tangents = tangents.reshape(directions.shape[:-1] + tangents.shape[1:])
            return [BatchedArray(tangents, v._level)]
        return [tangents[0]]

    def _recorded(self, v):
        """The tangents of the Tensor ``v`` as the product of the matrix of the tangent map
        (one solve with every direction of the standard basis) with ``v``, which a tape
        differentiates."""
        from .creation import asarray
        from .ops import matmul

        size = v.shape[-1]
        with outside_vmap():
            matrix = solve_tangents(self.call, self.ys, self.args, self.wanted,
                                    np.eye(size, dtype=self.ys.dtype))   # (size, T, n)
        shape = matrix.shape[1:]
        matrix = asarray(matrix.reshape((size, -1)), backend=v._backend)
        return matmul(v, matrix).reshape(shape)


def solve_tangents(call, ys, args, wanted, directions):
    """The tangents ``(k, len(times), n)`` of the solution for ``k`` tangent directions, each a
    row of ``directions``: ``(v_y0, v_t (when t is an input), v_p)`` flat, ``v_p`` over
    ``wanted``; ``ys`` the solution and ``args`` func's, unbatched (module docstring)."""
    times = call.times
    n, k = ys.shape[1], directions.shape[0]
    directions = np.asarray(directions, dtype=ys.dtype)
    v_y0, start = directions[:, :n], n
    v_t = None
    if call.t is not None:
        v_t, start = directions[:, start:start + len(times)], start + len(times)
    v_p = directions[:, start:]
    rows = _JacobianRows(call, args, wanted)
    f0 = rows(ys[0], times[0])[0]
    s0 = v_y0 - (np.outer(v_t[:, 0], f0) if v_t is not None else 0.0)   # (k, n)

    def sensitivities(state, t):
        y, s = state[:n], state[n:].reshape((n, k))
        f, jac_y, jac_p = rows(y, t)
        ds = jac_y @ s
        if jac_p.shape[1]:
            ds += jac_p @ v_p.T
        return np.concatenate([f, ds.reshape(-1)])

    with rows.rhs.replaying():
        out, _ = integrate(sensitivities, np.concatenate([ys[0], s0.T.reshape(-1)]), times,
                           xp=np, error_entries=n, **call.settings)
    tangents = np.stack([state[n:].reshape((n, k)).T for state in out], axis=1)  # (k, T, n)
    tangents[:, 0] = v_y0
    if v_t is not None:
        for i in range(1, len(times)):
            tangents[:, i] += np.outer(v_t[:, i], rows(ys[i], times[i])[0])
    return tangents


class _JacobianRows:
    """``rows(y, t)``: ``(f, df/dy, df/dp)`` at raw ``y`` and float ``t``, each row one replay
    of the adjoint's captured vector-Jacobian product of ``func`` with a unit vector."""

    def __init__(self, call, args, wanted):
        from .ode_adjoint import _Augmented, _sources
        from .jit.signature import _Identity

        n, dtype = call.ys.shape[1], call.ys.dtype
        sources = _sources(wanted, call.args)     # (positions: the same in args)
        capture = call.entry.adjoint(
            (n, str(dtype), tuple(s if type(s) is int else _Identity(s) for s in sources)))
        self.rhs = RawRhs(_Augmented(call.func, n, sources, dtype), args,
                          call.ys._backend, call.time_dtype,
                          f"the tangent solve's vjp of func {call.func.name!r}", capture)
        self.n = n
        self.state = np.zeros((2 * n,), dtype=call.ys.backend.native_dtype(dtype))
        self.rows = None

    def __call__(self, y, t):
        n, state, rhs = self.n, self.state, self.rhs
        state[:n] = y
        state[n:] = 0.0
        for i in range(n):
            state[n + i] = 1.0
            row = rhs(state, t)    # (-f, e_i . df/dy, e_i . df/dt, e_i . df/dp)
            state[n + i] = 0.0
            if self.rows is None:
                self.rows = np.empty((n, row.shape[0]), dtype=state.dtype)
            self.rows[i] = row
        rows = self.rows
        return -rows[0, :n], rows[:, n:2 * n], rows[:, 2 * n + 1:]
