"""``odeint``: differentiable ODE solving, ``jax.experimental.ode.odeint``'s signature and
semantics (HIPS autograd's ``autograd.scipy.integrate.odeint`` with JAX's argument order).

``odeint(func, y0, t, *args)`` integrates ``dy/dt = func(y, t, *args)`` from ``y0`` (a Tensor
or a pytree of them) with adaptive Dormand-Prince 5(4) steps (``ode_solver.py``) and returns
the solution at each time of ``t``, stacked along a new leading axis (leaf by leaf for a
pytree). ``t`` must be strictly increasing; ``t[0]`` is where ``y0`` holds.

Gradients come from the adjoint method, as JAX's and torchdiffeq's ``odeint_adjoint``: the
tapes record one node for the whole solve, and its backward pass integrates the augmented
system (the state, its cotangent, and the cotangents of ``t[0]`` and of the parameters)
backwards from ``t[-1]`` to ``t[0]``, so memory does not grow with the number of steps, and
the gradient is that of the exact solution to within the tolerances (not the derivative of
the solver's own steps). ``y0``, ``t`` and ``args`` get gradients, and so do tensors ``func``
reads from its closure that a tape outside differentiates: a model's trainable Variables
(``xg.nn.Linear`` layers in ``func``), found while the forward solve runs. JAX differentiates
only ``args``; here either way works. A ``func`` that reads different Variables at different
times is not supported (the ones read during the forward solve are the ones differentiated).

Where it differs from JAX: the error of a step is measured against ``atol + rtol * |y|``
by the root mean square over the state (the Hairer, Norsett and Wanner controller, SciPy's),
and steps stop at ``t[-1]``; reaching ``mxstep`` steps between two times raises
``StepLimitError`` (JAX returns what it has). Complex states are refused. Higher-order
gradients differentiate the adjoint solve's own steps. Forward mode (``xg.jvp``,
``jacfwd``, ``linearize``) solves the state's tangents forward in one solve
(``ode_tangents.py``). Inside ``xg.vmap`` the examples are one stacked system with shared
steps, each step's error the largest example's (so every example meets the tolerances, and
agrees with its own solve to within them); ``t`` must be the same for every example. Inside
``xg.function`` the whole solve is one step of the program, replayed eagerly, and its gradient
another (``jit/solver_steps.py``).

Speed: the steps are taken on the backend's raw arrays, and ``func`` (in the solve) and the
augmented system with ``func``'s vector-Jacobian product (in the adjoint pass) are captured
with ``xg.function`` and replayed (``ode_rhs.py``), as JAX traces ``func``. The captures are
kept from one ``odeint`` call to the next (``ode_captures.py``), as ``jax.jit`` keeps its
traces, so a training loop (one ``odeint`` per step) traces on its first step only: they are
keyed on ``func``'s code, the values it reads from its closure, defaults and globals (Python
numbers by value, tensors, lists and other objects by identity), and the state's structure,
shapes and dtypes; ``args`` are arguments of the captured programs (Python numbers among them
keyed by value, as ``xg.function`` keys them; NumPy arrays handed to them as Tensors). So a
closure's ``k = 0.5`` changed to ``2.0`` gives the new answer, and so does anything else
``func`` reads that no key names (an attribute, ``self.k``): each solve's first call of
``func`` runs eagerly and is compared with the kept program, which is traced again where they
differ by more than rounding (a change that leaves ``func(y0, t[0])`` as it was goes unseen:
pass such values in ``args``). Python side effects in ``func`` (printing, counting calls)
happen on the calls that run it eagerly or trace it: each solve's first, and the second of the
first solve. A ``func`` that cannot be traced (an ``if`` on a value, ``float(t)``) runs eagerly
instead; the ``"xpgrad.odeint"`` logger says which at DEBUG level. Higher-order passes and
``xg.vmap`` step on Tensors, eagerly. A Variable ``func`` reads is read live by the kept
programs; a new Tensor that is not a Variable read from the closure (``k = k - lr * g``) traces
again, and warns once (``xg.jit.RetracingWarning``). The replays read float64 elements as
Python floats where only ``+``, ``-``, ``*`` and stores see them (``jit/python_floats.py``:
the same values, a fifth of NumPy's cost per scalar operation; overflows there do not warn).

>>> import xpgrad as xg
>>> t = xg.asarray([0.0, 1.0, 2.0], dtype=xg.float64)
>>> k = xg.asarray(0.5, dtype=xg.float64)
>>> ys = xg.odeint(lambda y, t, k: -k * y, xg.asarray(1.0, dtype=xg.float64), t, k)
>>> [round(v, 6) for v in ys.tolist()]              # exp(-k t)
[1.0, 0.606531, 0.367879]
>>> y0 = xg.asarray(1.0, dtype=xg.float64)
>>> round(float(xg.grad(lambda k: xg.odeint(lambda y, t, k: -k * y, y0, t, k)[-1])(k)), 6)
-0.735759
"""
from __future__ import annotations

import math
import numbers

from .creation import asarray
from .ode_adjoint import _OdeCall, ODEINT_PRIMITIVE
from .ode_captures import captures
from .ode_rhs import solve
from .ode_solver import StepLimitError
from .outer_tapes import is_float_tensor, value_identity
from .primitive import apply, tape_state
from .pytree import leaves, leaves_like, map_leaves, rebuild
from .jit.solver_steps import tracing_now
from .tensor import Tensor

__all__ = ["odeint", "StepLimitError"]


def odeint(func, y0, t, *args, rtol=1.4e-8, atol=1.4e-8, mxstep=math.inf, hmax=math.inf,
           adjoint_norm="full", **unknown):
    """The solution of ``dy/dt = func(y, t, *args)``, ``y(t[0]) = y0``, at each time of ``t``
    (module docstring): ``func(y, t, *args)`` returns a pytree like ``y0``; ``t`` is a 1-D
    array of strictly increasing floats; ``rtol``/``atol`` bound each step's error; ``mxstep``
    is the most steps between two times of ``t``; ``hmax`` the largest step.
    ``adjoint_norm="seminorm"`` (torchdiffeq's ``adjoint_options=dict(norm="seminorm")``)
    measures the adjoint pass's step errors on the state and its cotangent only, not on the
    integrals that become the gradients of ``t[0]`` and the parameters: fewer adjoint steps,
    gradients that differ from the default's (``"full"``) within the tolerances.

    >>> import xpgrad as xg
    >>> def oscillator(state, t):
    ...     return {"x": state["v"], "v": -state["x"]}
    >>> t = xg.linspace(0.0, 3.14159265, 3, dtype=xg.float64)
    >>> out = xg.odeint(oscillator, {"x": xg.asarray(1.0, dtype=xg.float64),
    ...                               "v": xg.asarray(0.0, dtype=xg.float64)}, t)
    >>> [round(v, 5) + 0.0 for v in out["x"].tolist()]    # cos(t)
    [1.0, 0.0, -1.0]
    """
    if unknown:
        _refuse(unknown)
    if not callable(func):
        raise TypeError(f"odeint: func must be callable (func(y, t, *args) -> dy/dt), got "
                        f"{type(func).__name__} {func!r:.60}")
    rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
    if atol == 0:
        raise ValueError("odeint: atol must be > 0 (a state entry at 0 would have no error "
                         "scale)")
    mxstep, hmax = _limit(mxstep, "mxstep", integral=True), _limit(hmax, "hmax")
    if adjoint_norm not in ("full", "seminorm"):
        raise ValueError(f"odeint: adjoint_norm must be 'full' (the default: every entry of "
                         f"the adjoint pass's state) or 'seminorm' (the state and its "
                         f"cotangent only), got {adjoint_norm!r:.40}")
    tree = _state_tree(y0)
    backend = leaves(tree)[0]._backend
    t = _times_tensor(t, backend)
    if tracing_now() is not None:       # one step of the xg.function program
        return _one_step(func, tree, t, args, dict(rtol=rtol, atol=atol, mxstep=mxstep,
                                                   hmax=hmax, adjoint_norm=adjoint_norm))
    times = [float(v) for v in t.tolist()]
    _check_increasing(times)
    from .pytree_vector import ravel_pytree

    y0_flat, unravel = ravel_pytree(tree)
    flat_func = _FlatFunc(func, tree, unravel, y0_flat.dtype)
    entry = captures(func, tree, y0_flat.dtype)
    time_dtype = t.dtype if t.dtype.is_floating else y0_flat.dtype
    settings = dict(rtol=rtol, atol=atol, mxstep=mxstep, hmax=hmax)
    if not tape_state.recording:
        return _unstacked(solve(flat_func, args, y0_flat, times, time_dtype, settings,
                                entry)[0], tree)
    from .recompute import _Reads

    outer = tape_state.recording
    reads = _Reads(outer)
    tape_state.recording = [reads]
    try:
        ys, rhs = solve(flat_func, args, y0_flat, times, time_dtype, settings, entry)
    finally:
        tape_state.recording = outer
    given = [y0_flat] + ([t] if is_float_tensor(t) else [])
    params = _params(given, [leaf for leaf in leaves(args) if is_float_tensor(leaf)],
                     list(reads.found.values()))
    call = _OdeCall(flat_func, args, ys, times, t if is_float_tensor(t) else None, params,
                    settings, time_dtype, rhs, entry, seminorm=adjoint_norm == "seminorm")
    call.y0 = y0_flat
    node = apply(ODEINT_PRIMITIVE, *given, *params, call=call)
    call.ys = node      # recorded: a tape differentiating the adjoint pass sees ys depend on p
    return _unstacked(node, tree)


def _one_step(func, tree, t, args, settings):
    """``odeint`` inside an ``xg.function`` trace: the whole solve as one step of the program,
    replayed eagerly (its captures of ``func`` too) and differentiated by its adjoint pass
    (``jit/solver_steps.py``)."""
    from .jit.solver_steps import one_step, tensors_and_refill

    tensors, refill = tensors_and_refill((tree, t, args))

    def solve(*given):
        y0, times, given_args = refill(given)
        return odeint(func, y0, times, *given_args, **settings)

    return one_step("odeint", solve, tensors, callables=(func,))


class _FlatFunc:
    """``func`` on the flat state vector: ``flat(y, t, *args)`` unravels ``y`` into ``y0``'s
    structure, calls ``func(y, t, *args)``, checks its output has that structure, and ravels
    it (a lone Tensor ``y0`` by reshapes alone)."""

    def __init__(self, func, tree, unravel, dtype):
        self.func, self.tree, self.unravel, self.dtype = func, tree, unravel, dtype
        self.lone = isinstance(tree, Tensor) and tree.dtype == dtype
        self.plain = self.lone and tree.ndim == 1
        self.name = getattr(func, "__name__", repr(func))

    def __call__(self, y, t, *args):
        state = y if self.plain else y.reshape(self.tree.shape) if self.lone else self.unravel(y)
        out = self.func(state, t, *args)
        if self.lone and isinstance(out, Tensor) and out.shape == self.tree.shape and \
                out.dtype == self.dtype:
            # (a copy, not a view: a captured program's buffer planner may reuse the memory
            # of a reshaped result while the reshape is still live)
            return out if self.plain else asarray(out.reshape((-1,)), copy=True)
        from .ops import concat, reshape

        pieces = []
        for (path, leaf), expected in zip(leaves_like(self.tree, out, f"odeint: func "
                                                      f"{self.name!r}'s output", "y0"),
                                          leaves(self.tree)):
            if not isinstance(leaf, Tensor):
                try:
                    leaf = asarray(leaf, backend=expected._backend)
                except (TypeError, ValueError):
                    raise TypeError(f"odeint: func {self.name!r} returned {type(leaf).__name__} "
                                    f"{leaf!r:.40} at output{path}, not an array") from None
            if leaf.shape != expected.shape:
                raise ValueError(f"odeint: func {self.name!r} returned shape {leaf.shape} at "
                                 f"output{path} where y0{path} has shape {expected.shape}; "
                                 "dy/dt must have the state's shape")
            leaf = reshape(leaf, (-1,))
            pieces.append(leaf if leaf.dtype == self.dtype else leaf.astype(self.dtype))
        return concat(pieces) if len(pieces) != 1 else pieces[0]


def _unstacked(ys, tree):
    """The flat solution ``(len(t), n)`` as ``tree``'s structure, each leaf ``(len(t),
    *shape)``."""
    if isinstance(tree, Tensor) and tree.ndim == 1 and tree.dtype == ys.dtype:
        return ys
    pieces, start = [], 0
    for leaf in leaves(tree):
        piece = ys[:, start:start + leaf.size].reshape((ys.shape[0],) + leaf.shape)
        pieces.append(piece if piece.dtype == leaf.dtype else piece.astype(leaf.dtype))
        start += leaf.size
    return rebuild(tree, pieces)


def _params(given, arg_leaves, read):
    """The node's inputs besides ``y0`` and ``t``: ``args``' floating-point Tensors, then what
    ``func`` read that a tape differentiates; each value once."""
    seen = {value_identity(g): None for g in given}
    found = {}
    for p in arg_leaves + read:
        key = value_identity(p)
        if key not in seen:
            found.setdefault(key, p)
    return list(found.values())


def _state_tree(y0):
    """``y0`` with each leaf a real floating-point Tensor, all on one backend."""
    if not leaves(y0):
        raise ValueError("odeint: y0 has no arrays; it must be a Tensor or a pytree of them")
    backend = next((leaf._backend for leaf in leaves(y0) if isinstance(leaf, Tensor)), None)

    def tensor(leaf, path):
        try:
            leaf = leaf if isinstance(leaf, Tensor) else asarray(leaf, backend=backend)
        except (TypeError, ValueError):
            raise TypeError(f"odeint: y0{path} ({type(leaf).__name__} {leaf!r:.40}) is not an "
                            "array") from None
        if not leaf.dtype.is_floating:
            raise TypeError(f"odeint: y0{path} has dtype {leaf.dtype}; the state must be real "
                            "floating point (cast it, e.g. y0.astype(xg.float64))")
        if backend is not None and leaf._backend is not backend:
            raise ValueError(f"odeint: y0{path} is on backend {leaf._backend.name!r}, the rest "
                             f"of y0 on {backend.name!r}")
        return leaf

    if isinstance(y0, Tensor) or not isinstance(y0, (tuple, list, dict)):
        return tensor(y0, "")
    return map_leaves(tensor, y0)


def _times_tensor(t, backend):
    try:
        t = t if isinstance(t, Tensor) else asarray(t, backend=backend)
    except (TypeError, ValueError):
        raise TypeError(f"odeint: t must be a 1-D array of times, got {type(t).__name__} "
                        f"{t!r:.40}") from None
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"odeint: t must be a 1-D array of at least one time, got shape "
                         f"{t.shape}")
    if t.dtype.is_complex or t.dtype == "bool":
        raise TypeError(f"odeint: t must be real times, got dtype {t.dtype}")
    from .batching.batched import BatchedArray

    if t._data.__class__ is BatchedArray:
        raise ValueError("odeint inside xg.vmap: t differs from example to example (it is "
                         "mapped, or computed from a mapped value), and the examples are "
                         "solved as one system with shared steps and output times. Give "
                         "every example the same t (in_axes=None for it, or a t from "
                         "outside the mapped function), or solve each example's times in a "
                         "Python loop")
    return t


def _check_increasing(times):
    for i, (a, b) in enumerate(zip(times, times[1:])):
        if not b > a:
            raise ValueError(f"odeint: t must be strictly increasing, but t[{i + 1}] = {b!r} "
                             f"follows t[{i}] = {a!r}")
    if not all(math.isfinite(v) for v in times):
        raise ValueError(f"odeint: t must be finite, got {times!r:.80}")


def _refuse(unknown):
    if "args" in unknown:
        raise TypeError("odeint() takes func's extra arguments positionally, as JAX's: "
                        "HIPS autograd's and SciPy's odeint(func, y0, t, args=(k,)) is "
                        "xg.odeint(func, y0, t, k)")
    torchdiffeq = [k for k in unknown if k in _TORCHDIFFEQ_KEYWORDS]
    if torchdiffeq:
        raise TypeError(f"odeint() got an unexpected keyword argument {torchdiffeq[0]!r}: "
                        "xg.odeint is jax.experimental.ode.odeint, adaptive Dormand-Prince "
                        "5(4) steps (torchdiffeq's default method='dopri5') with adjoint "
                        "gradients (as odeint_adjoint), so it takes no method=, options= or "
                        "adjoint_* (adjoint_options=dict(norm='seminorm') is "
                        "adjoint_norm='seminorm'); mind the order of func's arguments: "
                        "torchdiffeq's func(t, y) is func(y, t) here")
    from ._args import refuse_keywords

    refuse_keywords("odeint", unknown)


#: torchdiffeq's odeint / odeint_adjoint keywords, which xg.odeint's error explains
_TORCHDIFFEQ_KEYWORDS = frozenset((
    "method", "options", "event_fn", "adjoint_params", "adjoint_rtol", "adjoint_atol",
    "adjoint_method", "adjoint_options"))


def _tolerance(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 or \
            not math.isfinite(value):
        raise ValueError(f"odeint: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _limit(value, name, integral=False):
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and value > 0 and \
        (value == math.inf or not integral or float(value).is_integer())
    if not ok:
        kind = "a positive integer" if integral else "a positive number"
        raise ValueError(f"odeint: {name} must be {kind} or math.inf, got {value!r}")
    return value
