"""PyTorch state dicts of any module tree (``Module.torch_state_dict`` /
``load_torch_state_dict``): a torch key is the attribute path joined with ``"."`` (list and
ModuleList items by index, dict and ModuleDict entries by key), ending in the layer's own torch
key where the layer converts its weights (``Linear``'s ``weight`` is its ``w`` transposed), or
in the attribute name of a Variable held directly (a custom module's ``nn.Parameter``).

>>> import xpgrad as xg
>>> list(xg.nn.ModuleList([xg.nn.Linear(2, 2, rng=0)]).torch_state_dict())
['0.weight', '0.bias']
"""
from __future__ import annotations

from collections.abc import Mapping


def _converts(module) -> bool:
    """Whether ``module``'s class has its own PyTorch conversion (Linear, LSTM, ...)."""
    from .module import Module

    return type(module).load_torch_state_dict is not Module.load_torch_state_dict


def torch_path(key, i, item, deeper) -> str:
    """PyTorch's key of item ``i`` of the container at ``key`` (``module.held_items``' join):
    ``"xs.1"`` at any depth."""
    return f"{key}.{i}"


def _plan(module, prefix, walking, out):
    """``out[torch key or prefix] = Variable or converting Module`` for everything below
    ``module`` (a module on the current path, a back-reference, is not walked again)."""
    from ..tensor import Variable

    items = list(module._torch_items())
    # torch's order: the module's own parameters, its buffers, then what it holds
    rank = {id(v): 0 if v.trainable else 1 for k, v in items
            if isinstance(v, Variable) and "." not in k}
    for key, item in sorted(items, key=lambda kv: rank.get(id(kv[1]), 2)):
        path = f"{prefix}{key}"
        if isinstance(item, Variable) or _converts(item):
            out.setdefault(path, item)
        elif id(item) not in walking:
            _plan(item, path + ".", walking | {id(item)}, out)
    return out


def torch_state_dict(module) -> dict:
    """``{torch key: NumPy array}`` for every Variable below ``module``."""
    from ._torch import host
    from ..tensor import Variable

    out = {}
    for path, item in _plan(module, "", {id(module)}, {}).items():
        if isinstance(item, Variable):
            out[path] = host(item)
        else:
            out.update((f"{path}.{k}", v) for k, v in item.torch_state_dict().items())
    return out


def load_torch_state_dict(module, state_dict) -> None:
    """Load ``state_dict`` (a torch model's, with the same attribute names) into ``module``;
    ValueError naming the keys that are missing, unexpected or do not fit, nothing changed."""
    from ._staged import staged_value
    from ..tensor import Variable

    who = f"{type(module).__name__}.load_torch_state_dict"
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{who}: state_dict must be a dict (torch_model.state_dict()), got "
                        f"{type(state_dict).__name__}")
    plan = _plan(module, "", {id(module)}, {})
    keys = [str(k) for k in state_dict]
    values = dict(zip(keys, state_dict.values()))
    groups = {path: {k[len(path) + 1:]: values[k] for k in keys if k.startswith(path + ".")}
              for path, item in plan.items() if not isinstance(item, Variable)}
    claimed = {k for path, item in plan.items() for k in keys
               if k == path or (not isinstance(item, Variable) and k.startswith(path + "."))}
    # a layer without weights (InstanceNorm2d(), GroupNorm(affine=False)) has no keys to miss
    empty = {p for p, item in plan.items()
             if not isinstance(item, Variable) and not item.torch_state_dict()}
    missing = [p for p, item in plan.items() if p not in empty and
               ((p not in values) if isinstance(item, Variable) else not groups[p])]
    unexpected = [k for k in keys if k not in claimed]
    problems = []
    if missing:
        problems.append(f"missing keys {missing}: in the model but not in state_dict")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}: the model has no such weights (its "
                        f"keys are model.torch_state_dict()'s)")
    staged = {p: staged_value(values[p], item, p, problems) for p, item in plan.items()
              if isinstance(item, Variable) and p in values}
    if problems:
        raise ValueError(f"{who}: state_dict does not fit {type(module).__name__} "
                         f"{module.name!r}:\n  " + "\n  ".join(problems))
    before = module.state_dict()
    try:
        for path, item in plan.items():
            if isinstance(item, Variable):
                item.assign(staged[path])
                continue
            if path in empty and not groups[path]:
                continue
            try:
                item.load_torch_state_dict(groups[path])
            except ValueError as e:
                raise ValueError(f"{who}: {path!r} ({type(item).__name__}): {e}") from None
    except BaseException:
        module.load_state_dict(before)
        raise
