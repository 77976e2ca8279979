"""LBFGS's ``state_dict`` / ``load_state_dict``: PyTorch's state (``func_evals``, ``n_iter``,
the last direction ``d`` and step ``t``, the history ``old_dirs`` / ``old_stps`` / ``ro``,
``H_diag``, ``prev_flat_grad``, ``prev_loss``) laid out as the other optimizers' is, by
variable, so that a checkpoint (``xg.save_checkpoint``) holds it and a variable without entries
starts fresh:

- ``"{name}/d"``, ``"{name}/prev_flat_grad"``: the variable's slice of the flat vector, in its
  shape; ``"{name}/old_dirs"``, ``"{name}/old_stps"``: ``(history_size, *shape)``, the first
  ``history`` rows in use (the rest zeros: the layout does not change as the history grows);
- the numbers every variable shares, repeated for each (a variable's entries are complete by
  themselves): ``position`` (its place in the flat vector), ``n_iter``, ``func_evals``,
  ``history`` (int64), ``t``, ``prev_loss`` (float64), ``H_diag`` (a number) and ``ro``
  (``(history_size,)``) in the variables' dtype.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w", dtype=xg.float64)
>>> opt = xg.optim.LBFGS(history_size=3)
>>> _ = opt.minimize(lambda: xg.sum(w ** 4), [w])
>>> s = opt.state_dict([w])
>>> s["w/old_dirs"].shape, int(s["w/history"]) > 0
((3, 2), True)
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

#: the per-variable vectors: in the variable's shape, or a history of them
_VECTORS = ("d", "prev_flat_grad")
_HISTORIES = ("old_dirs", "old_stps")
_COUNTS = ("position", "n_iter", "func_evals", "history")
_FLOATS = ("t", "prev_loss")


def expected_state(opt, variables) -> dict:
    """``{key: (shape, dtype name)}`` of ``state_dict`` for ``variables`` once stepped."""
    from .optimizer_checkpoints import _named

    h = opt.history_size
    out = {"iterations": ((), "int64"), "learning_rate": ((), "float64")}
    for name, var in _named(variables).items():
        shape, dtype = tuple(var.shape), var.dtype.name
        out.update({f"{name}/{k}": ((), "int64") for k in _COUNTS})
        out.update({f"{name}/{k}": ((), "float64") for k in _FLOATS})
        out[f"{name}/H_diag"] = ((), dtype)
        out[f"{name}/ro"] = ((h,), dtype)
        out.update({f"{name}/{k}": (shape, dtype) for k in _VECTORS})
        out.update({f"{name}/{k}": ((h, *shape), dtype) for k in _HISTORIES})
    return out


def state_copy(opt, variables) -> dict:
    """``LBFGS.state_dict``: ``{key: Tensor}``, copies."""
    from ..creation import asarray
    from ..tensor import _wrap
    from .optimizer_checkpoints import _named
    from .state import constant_rate

    named = _named(variables)
    out = {"iterations": asarray(opt.iterations, dtype="int64")}
    rate = constant_rate(opt)
    if rate is not None:
        out["learning_rate"] = asarray(rate, dtype="float64")
    params, state = opt._params, opt._lbfgs
    if params is None:
        return out
    names = {id(v): k for k, v in named.items()}
    missing = [v.name for v in params if id(v) not in names]
    if missing:
        raise ValueError(f"LBFGS.state_dict: the optimizer's state covers the variables it "
                         f"optimizes, and {missing} are not among the variables given")
    be = params[0]._backend
    xp, dtype, h = be.xp, params[0]._data.dtype, opt.history_size
    stepped = state.get("n_iter", 0) > 0
    old_dirs, old_stps = (state["old_dirs"], state["old_stps"]) if stepped else ([], [])
    ro = xp.zeros(h, dtype=dtype)
    for i, r in enumerate(state["ro"] if stepped else []):
        ro[i] = r
    shared = {"n_iter": state.get("n_iter", 0), "func_evals": state.get("func_evals", 0),
              "history": len(old_dirs)}
    floats = {"t": float(state["t"]) if stepped else 0.0,
              "prev_loss": float(state["prev_loss"]) if stepped else 0.0}
    h_diag = xp.asarray(state["H_diag"] if stepped else 1, dtype=dtype)
    offset = 0
    for position, v in enumerate(params):
        name, n, shape = names[id(v)], v._data.size, tuple(v._data.shape)

        def piece(flat):
            return xp.reshape(flat[offset:offset + n], shape)

        def history(rows):
            out = xp.zeros((h, *shape), dtype=dtype)
            for i, row in enumerate(rows):
                out[i, ...] = piece(row)
            return out

        slots = {"position": position, **shared}
        for k, value in slots.items():
            out[f"{name}/{k}"] = asarray(value, dtype="int64")
        for k, value in floats.items():
            out[f"{name}/{k}"] = asarray(value, dtype="float64")
        out[f"{name}/H_diag"] = _wrap(xp.asarray(h_diag, copy=True), be)
        out[f"{name}/ro"] = _wrap(xp.asarray(ro, copy=True), be)
        for k in _VECTORS:
            out[f"{name}/{k}"] = _wrap(xp.asarray(piece(state[k]), copy=True) if stepped
                                       else xp.zeros(shape, dtype=dtype), be)
        out[f"{name}/old_dirs"] = _wrap(history(old_dirs), be)
        out[f"{name}/old_stps"] = _wrap(history(old_stps), be)
        offset += n
    return out


def _host(value):
    """``value`` (a Tensor, an array, a number) as a NumPy array."""
    if hasattr(value, "__cuda_array_interface__"):
        value = value.get()
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def load(opt, state, variables) -> None:
    """``LBFGS.load_state_dict``: everything checked, then replaced."""
    from ..creation import asarray
    from .optimizer_checkpoints import _named
    from .state import _count, _rate, constant_rate

    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict {{key: array}} as from state_dict(), got "
                        f"{type(state).__name__}")
    named = _named(variables)
    expected = expected_state(opt, named)
    problems = []
    iterations = rate = None
    if "learning_rate" in state:
        rate = _rate(state["learning_rate"], problems)
    if "iterations" not in state:
        problems.append("missing 'iterations' (the number of steps taken)")
    else:
        iterations = _count("iterations", state["iterations"], problems)
    problems += [f"unexpected {k!r}: LBFGS keeps no such state for these variables"
                 for k in state if k not in expected]
    staged = {}                     # name -> {slot: NumPy value}
    for name in named:
        keys = [k for k in expected if k.startswith(name + "/")]
        if not any(k in state for k in keys):
            continue                # no state for this one
        slots = staged[name] = {}
        for key in keys:
            slot = key[len(name) + 1:]
            if key not in state:
                problems.append(f"missing {key!r}: LBFGS keeps it for {name!r}")
                continue
            shape, _ = expected[key]
            if slot in _COUNTS:
                slots[slot] = _count(key, state[key], problems)
                continue
            value = _host(state[key])
            if value.dtype.kind not in "biuf":
                problems.append(f"dtype of {key!r}: state {value.dtype} (not real numbers)")
            elif tuple(value.shape) != tuple(shape):
                problems.append(f"shape of {key!r}: state {tuple(value.shape)}, expected "
                                f"{tuple(shape)}" + (" (history_size "
                                                     f"{opt.history_size})" if slot in
                                                     ("ro", *_HISTORIES) else ""))
            else:
                slots[slot] = float(value) if slot in _FLOATS else value
    order = []
    if staged:
        first = next(iter(staged.values()))
        for name, slots in staged.items():
            for k in ("n_iter", "func_evals", "history", "t", "prev_loss"):
                if k in slots and k in first and slots[k] != first[k] and not (
                        k in _FLOATS and math.isnan(slots[k]) and math.isnan(first[k])):
                    problems.append(f"{name + '/' + k!r} is {slots[k]}, but "
                                    f"{next(iter(staged)) + '/' + k!r} is {first[k]}: the "
                                    "variables' entries are of different steps")
        order = sorted(staged, key=lambda name: staged[name].get("position") or 0)
        if [staged[n].get("position") for n in order] != list(range(len(order))):
            problems.append(f"the positions of {order} are "
                            f"{[staged[n].get('position') for n in order]}, not 0 to "
                            f"{len(order) - 1}: the state is of other variables")
        if (first.get("history") or 0) > opt.history_size:
            problems.append(f"the history holds {first['history']} steps, more than "
                            f"history_size {opt.history_size}")
        problems += [f"{n!r} is {named[n].dtype}: LBFGS optimizes real floating-point "
                     "variables" for n in order if named[n].dtype.kind != "f"]
        dtypes = {named[n].dtype for n in order}
        backends = {named[n]._backend for n in order}
        if len(dtypes) > 1 or len(backends) > 1:
            problems.append(f"the variables {order} do not share one dtype and backend")
    if problems:
        raise ValueError("load_state_dict: the state does not fit LBFGS and the variables:\n  "
                         + "\n  ".join(problems))

    params = [named[n] for n in order]
    fresh = {}
    if params:
        first = staged[order[0]]
        be = params[0]._backend
        xp, dtype = be.xp, params[0]._data.dtype

        def dev(value):
            return asarray(value, dtype=dtype, backend=be)._data

        def flat(slot, row=None):
            parts = [xp.reshape(dev(staged[n][slot] if row is None else staged[n][slot][row]),
                                (-1,)) for n in order]
            return xp.concat(parts) if len(parts) > 1 else xp.asarray(parts[0], copy=True)

        fresh = {"n_iter": first["n_iter"], "func_evals": first["func_evals"]}
        if first["n_iter"] > 0:
            k = first["history"]
            ro = dev(first["ro"])
            fresh.update(d=flat("d"), prev_flat_grad=flat("prev_flat_grad"), t=first["t"],
                         prev_loss=first["prev_loss"], H_diag=dev(first["H_diag"])[()],
                         old_dirs=[flat("old_dirs", i) for i in range(k)],
                         old_stps=[flat("old_stps", i) for i in range(k)],
                         ro=[ro[i] for i in range(k)])
    if rate is not None and constant_rate(opt) is not None:
        opt.learning_rate = rate
    opt.iterations = iterations
    opt._params = None
    opt._lbfgs = fresh
    if params:
        opt._bind(params)
