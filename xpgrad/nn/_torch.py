"""Reading and writing PyTorch state dicts: the values as NumPy arrays, the keys checked.

>>> import numpy as np
>>> host(np.ones(2)).tolist()
[1.0, 1.0]
"""
from __future__ import annotations


def host(value):
    """A NumPy copy of a torch tensor, an xpgrad tensor or an array-like."""
    import numpy as np

    if hasattr(value, "detach"):                       # a torch tensor
        return value.detach().cpu().numpy().copy()
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


def load_checked(layer, state_dict, expected: dict, known=()) -> list:
    """The values of ``expected``'s keys in ``state_dict`` as row-major NumPy arrays, after
    checking that each is there with its expected shape and real numbers, and that none of
    ``known`` (the keys of the PyTorch layer's other configurations) is there without being
    expected (ValueError naming the layer, the key and the shapes otherwise; nothing is read
    before every key passed)."""
    import numpy as np

    who = type(layer).__name__
    missing = [k for k in expected if k not in state_dict]
    if missing:
        raise ValueError(f"{who}.load_torch_state_dict: missing keys {missing} (this {who} "
                         f"reads {sorted(expected)})" + prefix_hint(state_dict, missing))
    unexpected = [k for k in known if k in state_dict and k not in expected]
    if unexpected:
        raise ValueError(f"{who}.load_torch_state_dict: unexpected keys {unexpected}: this "
                         f"{who} has no such weights (it reads {sorted(expected)}), so loading "
                         "would drop them")
    values = [np.ascontiguousarray(real_values(state_dict[k], k, who)) for k in expected]
    for (key, shape), value in zip(expected.items(), values):
        if value.shape != tuple(shape):
            raise ValueError(f"{who}.load_torch_state_dict: {key!r} has shape {value.shape}, "
                             f"this {who} needs {tuple(shape)}")
    return values
