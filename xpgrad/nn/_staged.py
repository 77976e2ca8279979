"""A state value checked against its Variable (``Module.load_state_dict``, the optimizers' and
``ExponentialMovingAverage``'s state): numbers of a dtype the Variable can hold, its shape;
and ``load_state``, ``Module.load_state_dict``'s checks and assignment.

>>> import numpy as np
>>> import xpgrad as xg
>>> problems = []
>>> staged_value(np.ones(3), xg.Variable(np.zeros(2)), "w", problems), problems
(None, ["shape of 'w': state (3,), model (2,)"])
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping

from .._args import flag
from ..creation import asarray
from ..tensor import Tensor
from ._torch import host


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


def load_state(module, state_dict, strict):
    """``module.load_state_dict(state_dict, strict)``: every value checked (``staged_value``)
    before any is assigned; ``(missing keys, unexpected keys)``.

    >>> import xpgrad as xg
    >>> load_state(xg.nn.Linear(2, 3, rng=0), {"linear/w": [[0.0] * 3] * 2}, strict=False)
    (['linear/b'], [])
    """
    strict = flag(strict, "strict", f"{type(module).__name__}.load_state_dict")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a dict {{path: array}}, got "
                        f"{type(state_dict).__name__}")
    variables = module.named_variables()
    missing = [k for k in variables if k not in state_dict]
    unexpected = [k for k in state_dict if k not in variables]
    problems = []
    if strict:
        problems += [f"missing {k!r}: in the model but not in state_dict" for k in missing]
        problems += [f"unexpected {k!r}: in state_dict but not in the model"
                     for k in unexpected]
    staged = {}
    for k, v in variables.items():
        if k in state_dict:
            value = staged_value(state_dict[k], v, k, problems)
            if value is not None:
                staged[k] = value
    torch_like = not staged and unexpected and set(module.torch_state_dict()) & set(unexpected)
    if problems:
        hint = ("\n(its keys are PyTorch's: load it with load_torch_state_dict)" if torch_like
                else "")
        raise ValueError(f"load_state_dict: state_dict does not match "
                         f"{type(module).__name__} {module.name!r}:\n  "
                         + "\n  ".join(problems) + hint)
    if torch_like:
        warnings.warn(f"{type(module).__name__}.load_state_dict(strict=False) loaded nothing: "
                      f"the keys are PyTorch's; load them with load_torch_state_dict",
                      UserWarning, stacklevel=3)
    for k, value in staged.items():
        variables[k].assign(value)
    return missing, unexpected
