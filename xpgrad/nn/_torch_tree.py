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

from collections import OrderedDict
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
    """``{torch key: NumPy array}`` for every Variable below ``module``; a plain Tensor in
    their places (a module rebuilt from a pytree's leaves) is a TypeError, not left out."""
    from ._torch import host
    from ..tensor import Variable
    from .module_pytree import refuse_plain_tensors

    refuse_plain_tensors(module, f"{type(module).__name__}.torch_state_dict")

    out = {}
    for path, item in _plan(module, "", {id(module)}, {}).items():
        if isinstance(item, Variable):
            out[path] = host(item)
        else:
            out.update((f"{path}.{k}", v) for k, v in item.torch_state_dict().items())
    return out


def expected_state(module, given) -> tuple:
    """``(required, optional)``: ``{torch key: this module's value}`` for the keys its
    ``load_torch_state_dict`` needs and the set of those it takes or goes without (a
    BatchNorm's ``num_batches_tracked``, as PyTorch's), given the keys offered ``given`` (a
    Sequential matches its layers to the offered layer prefixes). Any other key is
    unexpected, as in PyTorch's strict ``load_state_dict``."""
    own = getattr(type(module), "_torch_expected", None)
    if own is not None:
        return own(module, given)
    if _converts(module):
        return module.torch_state_dict(), set()
    from ._torch import host
    from ..tensor import Variable

    required, optional = {}, set()
    for path, item in _plan(module, "", {id(module)}, {}).items():
        if isinstance(item, Variable):
            required[path] = host(item)
            continue
        r, o = expected_state(item, under(given, path))
        required.update((f"{path}.{k}", v) for k, v in r.items())
        optional.update(f"{path}.{k}" for k in o)
    return required, optional


def keyed(state_dict) -> dict:
    """``state_dict`` with str keys, keeping torch's ``_metadata`` (the modules' versions)."""
    out = OrderedDict((str(k), v) for k, v in state_dict.items())
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        out._metadata = metadata
    return out


def under(given, prefix) -> dict:
    """``{rest: value}`` for the keys ``"prefix.rest"`` of ``given`` (a mapping), with the
    ``_metadata`` of the modules under ``prefix`` where ``given`` has torch's."""
    n = len(prefix) + 1
    out = OrderedDict((str(k)[n:], v) for k, v in given.items()
                      if str(k).startswith(prefix + "."))
    metadata = getattr(given, "_metadata", None)
    if metadata is not None:
        out._metadata = {("" if k == prefix else k[n:]): v for k, v in metadata.items()
                         if k == prefix or k.startswith(prefix + ".")}
    return out


def counter_optional(state_dict) -> bool:
    """Whether a BatchNorm's or InstanceNorm's ``num_batches_tracked`` may be left out of
    its ``state_dict``: PyTorch keeps the layer's count for one without its module's version
    (a plain dict, one saved before the counter existed), not for one of version 2."""
    version = (getattr(state_dict, "_metadata", None) or {}).get("", {}).get("version")
    return version is None or version < 2


def torch_order(required, unexpected) -> list:
    """``unexpected`` in PyTorch's order: by the module each key falls under (the longest
    prefix of it that is a module path of ``required``'s keys, the model itself else), in
    the order of the modules (``required``'s), then as given."""
    rank = {"": 0}
    for key in required:
        parts = key.split(".")[:-1]
        for n in range(1, len(parts) + 1):
            rank.setdefault(".".join(parts[:n]), len(rank))

    def owner(key):
        parts = key.split(".")[:-1]
        return next((rank[p] for n in range(len(parts), 0, -1)
                     if (p := ".".join(parts[:n])) in rank), 0)

    return sorted(unexpected, key=owner)


def load_torch_state_dict(module, state_dict) -> None:
    """Load ``state_dict`` (a torch model's, with the same attribute names) into ``module``;
    ValueError naming the keys that are missing, unexpected (any key no part of the model
    reads, under a layer's prefix too) or do not fit, nothing changed."""
    from ._staged import staged_value
    from ._torch import key_problems
    from ..tensor import Variable

    who = f"{type(module).__name__}.load_torch_state_dict"
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{who}: state_dict must be a dict (torch_model.state_dict()), got "
                        f"{type(state_dict).__name__}")
    plan = _plan(module, "", {id(module)}, {})
    values = keyed(state_dict)
    required, optional = expected_state(module, values)
    missing = [k for k in required if k not in values]
    unexpected = torch_order(required, [k for k in values
                                        if k not in required and k not in optional])
    problems = key_problems(missing, unexpected)
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
            group = under(values, path)
            if not group and not item.torch_state_dict():
                continue        # a layer without weights (InstanceNorm2d()): none to load
            try:
                item.load_torch_state_dict(group)
            except ValueError as e:
                raise ValueError(f"{who}: {path!r} ({type(item).__name__}): {e}") from None
    except BaseException:
        module.load_state_dict(before)
        raise
