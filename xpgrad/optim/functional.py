"""Optax-style functional updates over pytrees, with the stateful optimizers' own update math.

``state = opt.init(params)``, ``updates, state = opt.update(grads, state, params)`` and
``params = xg.optim.apply_updates(params, updates)`` take any pytree of Tensors (a dict, lists,
named tuples; no Variables needed; NumPy arrays and scalars there are Tensors of their dtype,
as ``xg.grad`` and optax take them) and give the numbers ``opt.apply_gradients`` gives on
Variables holding the same values (to the last bit on NumPy, but for AdamW's and Lion's
decoupled weight decay, and on Numba, whose fused update kernels round the step once: within a
rounding of each weight): each leaf's update runs the optimizer's ``_update``
(its primitive, or a backend's kernel) on copies, so the input state and params are never
written.
The learning rate (a schedule too) is read at ``state.count``; clipping is the optimizer's.

Under ``xg.function`` the update is one recorded step that runs again, whole, on each replay's
arrays (``jit.whole.run_whole``): the schedule and Adam's bias correction follow the count
the replay is given.

>>> import xpgrad as xg
>>> params = {"w": xg.asarray([1.0, -2.0])}
>>> opt = xg.optim.SGD(learning_rate=0.5)
>>> state = opt.init(params)
>>> grads = xg.grad(lambda p: xg.sum(p["w"] ** 2))(params)
>>> updates, state = opt.update(grads, state, params)
>>> params = xg.optim.apply_updates(params, updates)
>>> params["w"].tolist(), int(state.count)
([0.0, 0.0], 1)
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from ..creation import asarray
from ..differentiated_arguments import without_buffers
from ..jit.whole import run_whole
from ..pytree import leaves, leaves_like, leaves_with_paths, rebuild
from ..tensor import Tensor, _wrap
from ._checks import learning_rate_fits, learning_rate_value
from .complex_pairs import as_real_pairs


class OptimizerState(NamedTuple):
    """What ``opt.init(params)`` returns and ``opt.update`` takes and returns: ``count``, a
    0-d int64 Tensor (updates applied: the schedule's step), and ``slots``, ``{slot name: a
    tree shaped like params}`` (Adam's ``"m"``, ``"v"`` and per-leaf ``"step"``, SGD's
    ``"velocity"``, ...: the names of ``opt.state_dict``'s keys).

    >>> import xpgrad as xg
    >>> state = xg.optim.Adam(0.1).init([xg.zeros(2)])
    >>> sorted(state.slots), state.slots["m"][0].shape
    (['m', 'step', 'v'], (2,))
    """

    count: Tensor
    slots: dict


def init(opt, params) -> OptimizerState:
    """``opt.init(params)``: the state before the first update (``Optimizer.init``); a
    Module's buffers and integer tensors get no state (None there), as ``xg.grad`` gives them
    no gradient."""
    params = without_buffers(params)
    found = _tensor_leaves(params, "params", opt)
    be = found[0][1]._backend
    per_leaf = [opt._new_state(t._backend, t._data, t) for _, t in found]
    names = list(per_leaf[0])
    slots = {name: rebuild(params, [_as_tensor(state[name], t) for state, (_, t)
                                    in zip(per_leaf, found)]) for name in names}
    return OptimizerState(_wrap(be.xp.asarray(0, dtype=be.xp.int64), be), slots)


def update(opt, grads, state, params=None) -> tuple:
    """``opt.update(grads, state, params)``: ``(updates, new state)``, updates shaped like
    ``grads`` (``Optimizer.update``), not differentiable: a TypeError where a recording tape
    differentiates its input (grads taken under an outer tape, as in MAML). Each state slot
    must have its leaf's shape, dtype and backend (the param's, or the grad's without params):
    an error names the first that differs."""
    found = _tensor_leaves(grads, "grads", opt)
    if params is None and opt.weight_decay:
        raise ValueError(f"{type(opt).__name__}.update: weight_decay={opt.weight_decay} reads "
                         "the params; pass them: opt.update(grads, state, params)")
    param_leaves = [None] * len(found)
    if params is not None:
        param_leaves = [_from_numpy(p, g._backend) for (_, p), (_, g)
                        in zip(leaves_like(grads, params, "params", "grads"), found)]
        for (path, g), p in zip(found, param_leaves):
            _check_pair(opt, path, g, p)
    count, slot_trees = _checked_state(opt, state, grads)
    slot_names = list(slot_trees)
    slot_leaves = {name: [s for _, s in leaves_like(grads, slot_trees[name],
                                                     f"state.slots[{name!r}]", "grads")]
                   for name in slot_names}
    for name in slot_names:
        for (path, g), p, s in zip(found, param_leaves, slot_leaves[name]):
            _check_slot(opt, name, path, *(("grads", g) if p is None else ("params", p)), s)
    _refuse_differentiated(opt, found, param_leaves, slot_leaves)
    grad_tensors = opt._clipped([g for _, g in found], [f"grads{path}" for path, _ in found])
    be = grad_tensors[0]._backend
    labels = [SimpleNamespace(name=f"params{path}", dtype=g.dtype) for path, g in found]
    arrays = [count._data]
    for k, g in enumerate(grad_tensors):
        p = param_leaves[k]
        arrays += [g._data, None if p is None else p._data]
        arrays += [slot_leaves[name][k]._data for name in slot_names]
    step = _Step(opt, be, len(found), slot_names, labels)
    out = run_whole(be.xp, step, *arrays)
    new_count, out = _wrap(out[0], be), out[1:]
    width = 1 + len(slot_names)
    updates = rebuild(grads, [_wrap(out[k * width], g._backend)
                              for k, g in enumerate(grad_tensors)])
    new_slots = {name: rebuild(grads, [_wrap(out[k * width + 1 + j], g._backend)
                                       for k, g in enumerate(grad_tensors)])
                 for j, name in enumerate(slot_names)}
    return updates, OptimizerState(new_count, new_slots)


class _Step:
    """One functional update on raw arrays ``(count, then per leaf: grad, param or None, its
    slots)`` -> ``(count + 1, then per leaf: update, new slots)``; ``run_whole`` runs it again
    on every ``xg.function`` replay, so the count is read as a number there."""

    def __init__(self, opt, be, n_leaves, slot_names, labels):
        self.opt, self.be, self.n, self.slot_names, self.labels = (opt, be, n_leaves,
                                                                    slot_names, labels)
        self.__name__ = f"{type(opt).__name__}.update"

    def __call__(self, xp, count, *arrays):
        opt, be, names = self.opt, self.be, self.slot_names
        xp = be.xp
        step = int(count)
        lr = learning_rate_value(opt._schedule(step), step, opt._schedule)
        learning_rate_fits(lr, self.labels)
        out = [xp.asarray(step + 1, dtype=count.dtype)]
        width = 2 + len(names)
        for k in range(self.n):
            grad, param, *slots = arrays[k * width:(k + 1) * width]
            state = {name: _copied(xp, s) for name, s in zip(names, slots)}
            out += self._one(xp, grad, param, state, lr)
            out += [_raw_slot(xp, state[name], s) for name, s in zip(names, slots)]
        return tuple(out)

    def _one(self, xp, grad, param, state, lr) -> list:
        """``[update]`` of one leaf, ``state`` updated in place. The optimizer's update runs on
        a copy of ``param``: ``update = new - param``, and ``param + update`` rounds back to
        ``new`` when ``new`` is ``param - step`` rounded (every update but a decoupled weight
        decay's two stages, AdamW's and Lion's: there within a rounding of the weight).
        Without ``param`` (allowed without weight decay) it runs on zeros: ``-step`` exactly."""
        opt = self.opt
        dtype = grad.dtype if param is None else param.dtype
        if grad.dtype != dtype:
            grad = xp.astype(grad, dtype)
        start = xp.zeros_like(grad) if param is None else self.be.owned_copy(param)
        if "c" not in opt._dtype_kinds and getattr(grad.dtype, "kind", None) == "c":
            opt._update(self.be, *as_real_pairs(start, grad, state), lr)
        else:
            opt._update(self.be, start, grad, state, lr)
        return [start if param is None else start - param]


def apply_updates(params, updates):
    """``params + updates``, leaf by leaf, each in its param's dtype (optax's and equinox's
    ``apply_updates``): a new tree of Tensors, recorded on tapes like any sum. ``updates``
    must have ``params``' structure and shapes (a ValueError naming the first that differs); a
    complex update of a real param is a TypeError (the cast would drop its imaginary part).

    >>> import xpgrad as xg
    >>> new = xg.optim.apply_updates({"w": xg.asarray([1.0])}, {"w": xg.asarray([-0.25])})
    >>> new["w"].tolist()
    [0.75]
    """
    from ..ops.casting import astype

    found = leaves_like(params, updates, "updates", "params")
    new = []
    for (path, u), p in zip(found, leaves(params)):
        if u is None:
            new.append(p)
            continue
        p = _from_numpy(p, u._backend if isinstance(u, Tensor) else None)
        u = _from_numpy(u, p._backend if isinstance(p, Tensor) else None)
        if not isinstance(p, Tensor) or not isinstance(u, Tensor):
            bad, what = ("params", p) if not isinstance(p, Tensor) else ("updates", u)
            raise TypeError(f"apply_updates: {bad}{path} is a {type(what).__name__}; params and "
                            "updates are trees of Tensors or NumPy arrays (xg.asarray(...))")
        if u.dtype.kind == "c" and p.dtype.kind != "c":
            raise TypeError(f"apply_updates: updates{path} is complex ({u.dtype}) for the real "
                            f"params{path} ({p.dtype}): casting would drop its imaginary part")
        if u.shape != p.shape:
            raise ValueError(f"apply_updates: updates{path} has shape {u.shape}, params{path} "
                             f"{p.shape} (it would broadcast into a wrong shape)")
        total = p + u
        new.append(total if total.dtype == p.dtype else astype(total, p.dtype))
    return rebuild(params, new)


def _tensor_leaves(tree, name, opt) -> list:
    """``[(path, leaf)]`` of ``tree``: floating Tensors the optimizer can update, at least one."""
    if type(opt)._update is _base_update():
        raise TypeError(f"{type(opt).__name__} has no functional init/update (it takes a "
                        "closure: use its minimize / apply_gradients on Variables)")
    found = [(path, _from_numpy(leaf)) for path, leaf in leaves_with_paths(tree)]
    if not found:
        raise ValueError(f"{type(opt).__name__}: {name} has no leaves (an empty tree), so "
                         "there is nothing to update")
    for path, leaf in found:
        if not isinstance(leaf, Tensor):
            raise TypeError(f"{type(opt).__name__}: {name}{path} is a {type(leaf).__name__}; "
                            f"{name} is a tree of Tensors or NumPy arrays (xg.asarray(...) "
                            "makes one)")
        if leaf.dtype.kind not in "fc":
            raise TypeError(f"{type(opt).__name__}: {name}{path} has dtype {leaf.dtype}; an "
                            "optimizer updates floating-point tensors")
    return found


def _from_numpy(leaf, backend=None):
    """A NumPy array or scalar leaf as a Tensor of its dtype (on ``backend``, else the
    default), as ``xg.grad`` takes NumPy arguments and optax NumPy params; anything else as
    it is."""
    if isinstance(leaf, (np.ndarray, np.generic)):
        return asarray(leaf, backend=backend)
    return leaf


def _base_update():
    from .optimizer import Optimizer

    return Optimizer._update


def _check_pair(opt, path, g, p) -> None:
    if not isinstance(p, Tensor):
        raise TypeError(f"{type(opt).__name__}.update: params{path} is a "
                        f"{type(p).__name__}, grads{path} a Tensor; params is a tree of Tensors")
    if p.shape != g.shape or p._backend is not g._backend:
        raise ValueError(f"{type(opt).__name__}.update: grads{path} has shape {g.shape} on "
                         f"{g._backend.name!r}, params{path} {p.shape} on {p._backend.name!r}")
    if p.dtype.kind == "f" and g.dtype.kind == "c":
        raise TypeError(f"{type(opt).__name__}.update: grads{path} is complex ({g.dtype}) "
                        f"for the real params{path} ({p.dtype})")


def _refuse_differentiated(opt, found, param_leaves, slot_leaves) -> None:
    """TypeError where a recording tape differentiates a grad, param or slot: the update runs
    on raw arrays, so its result would be a constant to the tape (a silently wrong gradient
    through it, as MAML's outer gradient takes)."""
    from ..inplace import leaving_loses_gradient

    named = [(f"grads{path}", g) for path, g in found]
    named += [(f"params{path}", p) for (path, _), p in zip(found, param_leaves)]
    named += [(f"state.slots[{name!r}]{path}", s) for name, slots in slot_leaves.items()
              for (path, _), s in zip(found, slots)]
    for label, t in named:
        if t is not None and leaving_loses_gradient(t):
            raise TypeError(f"{type(opt).__name__}.update: a recording tape differentiates "
                            f"{label}, but update is not differentiable here (it runs on the "
                            "arrays; optax's is under jax.grad): write the step with tensor "
                            "ops to differentiate through it (params - lr * grads for SGD), or "
                            "call update outside the tape")


def _checked_state(opt, state, grads) -> tuple:
    """``(count, slots)`` of ``state``, checked to be an ``OptimizerState`` with this
    optimizer's slots."""
    if not isinstance(state, OptimizerState):
        raise TypeError(f"{type(opt).__name__}.update: state must be what opt.init(params) "
                        f"returned (an xg.optim.OptimizerState), got {type(state).__name__}")
    count, slots = state
    if not isinstance(count, Tensor) or count.shape != () or count.dtype.kind not in "iu":
        raise TypeError(f"{type(opt).__name__}.update: state.count must be a 0-d integer "
                        f"Tensor (the updates applied so far), got {count!r:.80}")
    wanted = set(opt._slot_names())
    if not isinstance(slots, dict) or not wanted <= set(slots):
        have = sorted(slots) if isinstance(slots, dict) else type(slots).__name__
        raise ValueError(f"{type(opt).__name__}.update: state.slots has {have}, but "
                         f"{type(opt).__name__} keeps {sorted(wanted)}: was the state made "
                         "by another optimizer's init?")
    return count, slots


def _check_slot(opt, name, path, what, leaf, s) -> None:
    """``s``, a slot of the leaf at ``path``, fits ``leaf`` (``what``: its param, or its grad
    without params), on its backend: a step count, or a tensor of the leaf's shape and dtype,
    the one the update runs in (a float32 slot would round a float64 param's moments; a real
    one cannot hold a complex grad's)."""
    if not isinstance(s, Tensor):
        raise TypeError(f"{type(opt).__name__}.update: state.slots[{name!r}]{path} is a "
                        f"{type(s).__name__}, not a Tensor")
    count = s.dtype.kind in "iu"
    if s.shape != (() if count else leaf.shape):
        raise ValueError(f"{type(opt).__name__}.update: state.slots[{name!r}]{path} has "
                         f"shape {s.shape}, grads{path} {leaf.shape}: was the state made for "
                         "other params?")
    if s._backend is not leaf._backend:
        raise ValueError(f"{type(opt).__name__}.update: state.slots[{name!r}]{path} is on "
                         f"{s._backend.name!r}, {what}{path} on {leaf._backend.name!r}: move "
                         "the state with xg.tree_map(lambda t: t.to(...), state), or init on "
                         "the params' backend")
    if not count and s.dtype != leaf.dtype:
        raise TypeError(f"{type(opt).__name__}.update: state.slots[{name!r}]{path} has "
                        f"dtype {s.dtype}, {what}{path} {leaf.dtype}: was the state made for "
                        "other params? (opt.init(params) makes one of their dtypes)")


def _copied(xp, raw):
    """A slot for the update to write into: a copy of an array, a 0-d integer one (a step
    count) as a Python int, as the stateful optimizer keeps it."""
    if raw.ndim == 0 and raw.dtype.kind in "iu":
        return int(raw)
    return xp.asarray(raw, copy=True)


def _raw_slot(xp, value, before):
    """``value`` (an updated slot) as an array again, a count in ``before``'s dtype."""
    if isinstance(value, int):
        return xp.asarray(value, dtype=before.dtype)
    return value


def _as_tensor(value, like) -> Tensor:
    """A fresh slot as a Tensor on ``like``'s backend (a step count as a 0-d int64)."""
    if isinstance(value, int):
        xp = like._backend.xp
        return _wrap(xp.asarray(value, dtype=xp.int64), like._backend)
    return _wrap(value, like._backend)


__all__ = ["OptimizerState", "apply_updates"]
