"""Reading and writing PyTorch state dicts: the values as NumPy arrays, the keys checked.

>>> import numpy as np
>>> host(np.ones(2)).tolist()
[1.0, 1.0]
"""
from __future__ import annotations


def host(value):
    """A NumPy copy of a torch tensor (float32 for the bfloat16 and float8 ones NumPy has no
    dtype for), an xpgrad tensor or an array-like."""
    import numpy as np

    if hasattr(value, "detach"):                       # a torch tensor
        value = value.detach().cpu()
        try:
            return value.numpy().copy()
        except TypeError:
            if not value.is_floating_point():
                raise
            # bfloat16 / float8, which NumPy lacks: float32 holds their values exactly
            return value.float().numpy()
    if hasattr(value, "numpy") and hasattr(value, "_backend"):   # an xpgrad tensor
        return np.array(value.numpy())
    return np.array(value)


def real_values(value, key, who):
    """``host(value)`` for ``load_torch_state_dict``: ValueError naming ``key`` for values that
    are not real numbers (strings, objects; complex ones would lose their imaginary part)."""
    value = host(value)
    if value.dtype.kind not in "biuf":
        what = "complex numbers" if value.dtype.kind == "c" else "not numbers"
        raise ValueError(f"{who}.load_torch_state_dict: {key!r} holds {value.dtype} values "
                         f"({what}); the weights are real numbers")
    return value


def prefix_hint(state_dict, missing) -> str:
    """When the missing keys are there under a module's prefix (``"rnn.weight_ih_l0"``, a
    whole model's state dict), the hint to pass that submodule's state dict; else ""."""
    keys = {str(k) for k in state_dict}
    prefixes = sorted({k[:-len(m) - 1] for k in keys for m in missing if k.endswith("." + m)})
    holding_all = [p for p in prefixes if all(f"{p}.{m}" in keys for m in missing)]
    prefixes = holding_all or prefixes
    if not prefixes:
        return ""
    return (f"; the state dict has them under the prefixes {prefixes}: pass the submodule's "
            f"own, e.g. torch_model.{prefixes[0]}.state_dict()")


def load_checked(layer, state_dict, expected: dict) -> list:
    """The values of ``expected``'s keys in ``state_dict`` as row-major NumPy arrays, after
    checking that each is there with its expected shape and real numbers, and that
    ``state_dict`` holds no other key (PyTorch's strict ``load_state_dict``: a key the layer
    does not read is unexpected; ValueError naming the layer, the keys and the shapes
    otherwise; nothing is read before every key passed)."""
    import numpy as np

    who = type(layer).__name__
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing keys {missing} (this {who} reads {sorted(expected)})"
                        + prefix_hint(state_dict, missing))
    if unexpected:
        problems.append(f"unexpected keys {unexpected}: this {who} has no such weights (it "
                        f"reads {sorted(expected)}), so loading would drop them")
    if problems:
        raise ValueError(f"{who}.load_torch_state_dict: " + "; ".join(problems))
    # order="C", not ascontiguousarray: that makes a 0-d value (a counter) 1-d
    values = [np.asarray(real_values(state_dict[k], k, who), order="C") for k in expected]
    for (key, shape), value in zip(expected.items(), values):
        if value.shape != tuple(shape):
            raise ValueError(f"{who}.load_torch_state_dict: {key!r} has shape {value.shape}, "
                             f"this {who} needs {tuple(shape)}")
    return values


def key_problems(missing, unexpected) -> list:
    """The lines of a strict load's error for the full keys ``missing`` and ``unexpected``."""
    problems = []
    if missing:
        problems.append(f"missing keys {missing}: in the model but not in state_dict")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}: the model has no such weights (its "
                        f"keys are model.torch_state_dict()'s)")
    return problems


def _weighted(owner, layers) -> list:
    """``(index, layer)`` for the layers holding weights (every Module reads a torch state
    dict: a custom one by its attribute names, ``Module.load_torch_state_dict``)."""
    # activations, dropout and plain functions hold none
    return [(i, layer) for i, layer in enumerate(layers) if getattr(layer, "variables", None)]


def _by_layer(state_dict) -> dict:
    """``{prefix: {rest of key: value}}`` for keys ``"prefix.rest"``, prefixes in the order
    of torch's layer indices (numerically when they are all numbers, else as they come)."""
    groups = {}
    for key, value in state_dict.items():
        prefix, dot, rest = str(key).partition(".")
        if not dot:
            raise ValueError(f"key {key!r} names no layer: a torch Sequential's keys are "
                             "'<layer>.<weight>', e.g. '0.weight'")
        groups.setdefault(prefix, {})[rest] = value
    if all(p.isdigit() for p in groups):
        groups = dict(sorted(groups.items(), key=lambda item: int(item[0])))
    return groups


def _prefixes(owner, layers, groups, index) -> list:
    """The torch prefix of each of ``layers`` holding weights: the state dict's layer
    prefixes ``groups`` in order where there are as many, else ``index(i)``'s."""
    targets = _weighted(owner, layers)
    if len(groups) == len(targets):
        return [(p, layer) for p, (_, layer) in zip(groups, targets)]
    return [(str(index(i)), layer) for i, layer in targets]


def layers_expected(owner, layers, given, index=lambda i: i) -> tuple:
    """``_torch_tree.expected_state`` of a Sequential: each of ``layers`` holding weights
    under the prefix ``load_layers`` gives it (``given``'s layer prefixes in order)."""
    from ._torch_tree import expected_state, under

    groups = _by_layer({k: v for k, v in given.items() if "." in str(k)})
    required, optional = {}, set()
    for prefix, layer in _prefixes(owner, layers, groups, index):
        r, o = expected_state(layer, under(given, prefix))
        required.update((f"{prefix}.{k}", v) for k, v in r.items())
        optional.update(f"{prefix}.{k}" for k in o)
    return required, optional


def load_layers(owner, layers, state_dict, index=lambda i: i) -> None:
    """Load a ``torch.nn.Sequential``'s state dict into ``layers`` (``owner``'s): the torch
    layers with weights in order, each into the next of ``layers`` that holds weights (layers
    without weights, such as activations and dropout, are skipped on both sides). A count
    that differs, a key missing or unexpected (under a layer's prefix too: ``"0.junk"``) or
    a layer's own check failing is a ValueError, and nothing is changed (``index(i)``: the
    torch index of ``layers[i]`` the keys are checked against when the counts differ)."""
    from collections.abc import Mapping

    from ._torch_tree import keyed, torch_order, under

    who = f"{type(owner).__name__}.load_torch_state_dict"
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{who}: state_dict must be a dict (torch_model.state_dict()), got "
                        f"{type(state_dict).__name__}")
    given = keyed(state_dict)
    required, optional = layers_expected(owner, layers, given, index)
    missing = [k for k in required if k not in given]
    unexpected = torch_order(required, [k for k in given
                                        if k not in required and k not in optional])
    groups = _by_layer({k: v for k, v in given.items() if "." in k})
    targets = _weighted(owner, layers)
    problems = key_problems(missing, unexpected)
    if len(groups) != len(targets):
        problems.insert(0, f"the state dict has weights for {len(groups)} layers "
                           f"{list(groups)}, this {type(owner).__name__} has {len(targets)} "
                           f"layers with weights (at {[i for i, _ in targets]})")
    if problems:
        raise ValueError(f"{who}: " + "; ".join(problems))
    before = owner.state_dict()
    try:
        for prefix, (i, layer) in zip(groups, targets):
            try:
                layer.load_torch_state_dict(under(given, prefix))
            except ValueError as e:
                raise ValueError(f"{who}: torch layer {prefix!r} into layer {i}: {e}") from None
    except BaseException:
        owner.load_state_dict(before)
        raise


def layers_state_dict(owner, layers, index=lambda i: i) -> dict:
    """``{f"{index(i)}.{key}": array}`` from the ``torch_state_dict`` of each of ``layers``
    holding weights (``i`` its position in ``layers``); TypeError where ``owner`` holds plain
    Tensors in their places (rebuilt from a pytree's leaves), which would be left out."""
    from .module_pytree import refuse_plain_tensors

    refuse_plain_tensors(owner, f"{type(owner).__name__}.torch_state_dict")
    return {f"{index(i)}.{key}": value for i, layer in _weighted(owner, layers)
            for key, value in layer.torch_state_dict().items()}
