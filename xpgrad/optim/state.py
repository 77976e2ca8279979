"""Checking an optimizer state (as from ``Optimizer.state_dict``) against the optimizer and the
variables before any of it is loaded: every key expected and no other, slots of the variable's
shape (real numbers for a real variable), step counts that are counts.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, 2.0], name="w")
>>> try:
...     staged_state(xg.optim.SGD(0.1, momentum=0.9),
...                  {"iterations": 1, "w/velocity": [1.0, 2.0, 3.0]}, [w])
... except ValueError as e:
...     print(str(e).splitlines()[1].strip())
shape of 'w/velocity': state (3,), model (2,)
"""
from __future__ import annotations

import math
from collections.abc import Mapping


def _number(value) -> tuple:
    """``(the real number value holds, or None; value on the host)``: ``value`` a number or an
    array of one (a Tensor, NumPy's, CuPy's)."""
    import numpy as np

    if hasattr(value, "__cuda_array_interface__"):
        value = value.get()                 # a CuPy array: the number comes to the host
    raw = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    return (raw.item() if raw.size == 1 and raw.dtype.kind in "iuf" else None), value


def _count(key, value, problems):
    """``value`` (a number or an array of one) as an int >= 0, or None with a line added to
    ``problems``."""
    x, value = _number(value)
    if x is not None and math.isfinite(x) and x >= 0 and x == int(x):
        return int(x)
    problems.append(f"{key!r} must be a count (an integer >= 0), got {value!r}")
    return None


def _keys(optimizer, name, var) -> dict:
    """``{key: slot}`` of the state ``optimizer`` keeps for ``var``, named ``name``."""
    return {f"{name}/{slot}": slot
            for slot in (*optimizer._slot_names(), *optimizer._extra_state(var))}


def _staged_slots(optimizer, name, var, state, problems) -> dict:
    """``{slot: raw array or int}`` of ``var`` read from ``state``; problems found are
    appended to ``problems``."""
    from ..nn._staged import staged_value

    counts = set(optimizer._extra_state(var))
    slots = {}
    for key, slot in _keys(optimizer, name, var).items():
        if key not in state:
            problems.append(f"missing {key!r}: {type(optimizer).__name__} keeps it for {name!r}")
        elif slot in counts:
            slots[slot] = _count(key, state[key], problems)
        else:
            value = staged_value(state[key], var, key, problems)
            if value is not None:
                slots[slot] = value._backend.xp.asarray(value._data, copy=True)
    return slots


#: the key of a constant learning rate in an optimizer's state
LEARNING_RATE = "learning_rate"


def constant_rate(optimizer):
    """``optimizer``'s learning rate when it is a number (a float), None for a schedule.

    >>> import xpgrad as xg
    >>> constant_rate(xg.optim.SGD(0.5)), constant_rate(xg.optim.SGD(lambda step: 0.1))
    (0.5, None)
    """
    from .schedules import Constant

    schedule = optimizer._schedule
    return float(schedule.learning_rate) if isinstance(schedule, Constant) else None


def expected_state(optimizer, named) -> dict:
    """``{key: (shape, dtype name)}`` of what ``optimizer`` keeps for the variables
    ``named`` (``{name: Variable}``) once each has been updated (``Optimizer.expected_state``)."""
    out = {"iterations": ((), "int64"), LEARNING_RATE: ((), "float64")}
    for name, var in named.items():
        for slot in optimizer._slot_names():
            out[f"{name}/{slot}"] = (var.shape, var.dtype.name)
        for slot in optimizer._extra_state(var):
            out[f"{name}/{slot}"] = ((), "int64")
    return out


def state_copy(optimizer, named) -> dict:
    """``Optimizer.state_dict``: ``{key: Tensor}``, copies, for the variables ``named``."""
    from ..creation import asarray
    from ..tensor import _wrap

    out = {"iterations": asarray(optimizer.iterations, dtype="int64")}
    rate = constant_rate(optimizer)
    if rate is not None:
        out[LEARNING_RATE] = asarray(rate, dtype="float64")
    for name, var in named.items():
        entry = optimizer._state.get(id(var))
        if entry is None or entry[0] is not var:
            continue
        for slot, value in entry[1].items():
            out[f"{name}/{slot}"] = (
                asarray(value, dtype="int64", backend=var._backend) if isinstance(value, int)
                else _wrap(var._backend.xp.asarray(value, copy=True), var._backend))
    return out


def _rate(value, problems):
    """A saved learning rate as a float (finite, >= 0), or None with a line in ``problems``."""
    x, value = _number(value)
    if x is not None and math.isfinite(x) and x >= 0:
        return float(x)
    problems.append(f"{LEARNING_RATE!r} must be a finite number >= 0, got {value!r}")
    return None


def staged_state(optimizer, state, variables) -> tuple:
    """``(iterations, learning rate or None, {name: (variable, {slot: raw array or int})})``
    from ``state``, checked
    against what ``optimizer`` keeps for ``variables``; a ValueError listing every mismatch
    otherwise (TypeError if ``state`` is not a mapping). A variable with no entries in
    ``state`` is left out (it starts fresh)."""
    from .optimizer_checkpoints import _named

    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict {{key: array}} as from state_dict(), got "
                        f"{type(state).__name__}")
    problems, staged, expected = [], {}, {"iterations", LEARNING_RATE}
    iterations = rate = None
    if LEARNING_RATE in state:          # optional: not saved for a schedule, nor before 0.1
        rate = _rate(state[LEARNING_RATE], problems)
    if "iterations" not in state:
        problems.append("missing 'iterations' (the number of updates applied)")
    else:
        iterations = _count("iterations", state["iterations"], problems)
    for name, var in _named(variables).items():
        expected.update(_keys(optimizer, name, var))
        if any(str(k).startswith(name + "/") for k in state):   # else it starts fresh
            staged[name] = (var, _staged_slots(optimizer, name, var, state, problems))
    problems += [f"unexpected {k!r}: {type(optimizer).__name__} keeps no such state for these "
                 f"variables" for k in state if k not in expected]
    if problems:
        raise ValueError(f"load_state_dict: the state does not fit {type(optimizer).__name__} "
                         f"and the variables:\n  " + "\n  ".join(problems))
    return iterations, rate, staged
