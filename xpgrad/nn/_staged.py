"""A state value checked against its Variable (``Module.load_state_dict``, the optimizers' and
``ExponentialMovingAverage``'s state): numbers of a dtype the Variable can hold, its shape.

>>> import numpy as np
>>> import xpgrad as xg
>>> problems = []
>>> staged_value(np.ones(3), xg.Variable(np.zeros(2)), "w", problems), problems
(None, ["shape of 'w': state (3,), model (2,)"])
"""
from __future__ import annotations

from ..tensor import Tensor


def staged_value(value, variable, key, problems):
    """``value`` as a Tensor of ``variable``'s dtype and backend (``_staged_value``), or None
    with a line ``"<what> of 'key': <detail>"`` added to ``problems``."""
    value, problem = _staged_value(value, variable)
    if problem:
        problems.append(f"{problem[0]} of {key!r}: {problem[1]}")
    return value


def _staged_value(value, variable):
    """``(value as a Tensor of the variable's dtype and backend, None)``, or ``(None, (what,
    detail))`` when it cannot be: values that are not numbers, complex ones for a real
    variable, or another shape."""
    from ..creation import asarray
    from ._torch import host

    if isinstance(value, Tensor):
        if value.backend is not variable.backend:
            value = value.numpy()                   # the caller asked for this move
    elif hasattr(value, "detach") or not hasattr(value, "dtype"):
        value = host(value)                         # torch tensors, lists, numbers
    kind = getattr(value.dtype, "kind", None)
    if kind not in ("biuf" + ("c" if variable.dtype.kind == "c" else "")):
        what = "complex numbers for a real variable" if kind == "c" else "not numbers"
        return None, ("dtype", f"state {value.dtype} ({what}), model {variable.dtype}")
    shape = tuple(value.shape)
    if shape != tuple(variable.shape):
        return None, ("shape", f"state {shape}, model {tuple(variable.shape)}")
    try:
        return asarray(value, dtype=variable.dtype, backend=variable.backend), None
    except (TypeError, ValueError) as e:
        return None, ("value", str(e))
