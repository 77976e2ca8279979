"""``load_torch_state_dict(state_dict, strict=...)`` as PyTorch's ``load_state_dict``: the
result names the keys that were missing and unexpected, and ``strict=False`` loads the keys
that fit, keeping this module's values for the missing ones and ignoring the unexpected ones
(a key of the wrong shape is still a ValueError, as PyTorch's size mismatch is).

>>> import xpgrad as xg
>>> layer = xg.nn.Linear(2, 3, rng=0)
>>> layer.load_torch_state_dict({"weight": [[1.0, 2.0]] * 3, "extra": [0.0]}, strict=False)
IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['extra'])
>>> layer.w.numpy().tolist()[0]
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import NamedTuple

from .._args import flag
from ._layout import warn_unstated_layouts

#: how deep in nested load_torch_state_dict calls this thread is (a model's load calls its
#: layers'): the outermost one warns about the layouts, at the user's line
_LOADS = threading.local()


class IncompatibleKeys(NamedTuple):
    """What ``load_torch_state_dict`` returns, as PyTorch's ``load_state_dict``: the model's
    keys that ``state_dict`` lacked and the keys of ``state_dict`` the model does not have
    (both empty after a strict load)."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


@contextlib.contextmanager
def own_weights():
    """Loads inside are a module's own initialization (``Transformer`` draws PyTorch's
    initialization through its torch state dict), not torch weights: no layout warning, and
    the layers' one warning is kept for the user's own load."""
    depth = getattr(_LOADS, "depth", 0)
    _LOADS.depth = depth + 1
    try:
        yield
    finally:
        _LOADS.depth = depth


def strict_option(load):
    """``load(module, state_dict)`` (a module's strict loader, which raises ValueError on any
    key that does not fit) as ``load_torch_state_dict(state_dict, strict=True)`` returning
    ``IncompatibleKeys``; ``strict=False`` passes it the keys this module reads
    (``_torch_tree.expected_state``'s: ``torch_state_dict()``'s), this module's own values
    standing in for the missing ones. Unexpected keys are those no part of the module reads,
    under a layer's prefix too (``"0.junk"``), in PyTorch's order."""

    def load_torch_state_dict(self, state_dict, strict=True):
        depth = getattr(_LOADS, "depth", 0)
        _LOADS.depth = depth + 1
        try:
            result = load_checked(self, state_dict, strict)
        finally:
            _LOADS.depth = depth
        if depth == 0:
            warn_unstated_layouts(self, stacklevel=2)
        return result

    def load_checked(self, state_dict, strict):
        who = f"{type(self).__name__}.load_torch_state_dict"
        strict = flag(strict, "strict", who)
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{who}: state_dict must be a dict (torch_model.state_dict()), "
                            f"got {type(state_dict).__name__}")
        if strict:
            load(self, state_dict)
            return IncompatibleKeys([], [])
        from ._torch_tree import expected_state, keyed, torch_order

        given = keyed(state_dict)
        required, optional = expected_state(self, given)
        missing = [k for k in required if k not in given]
        unexpected = torch_order(required, [k for k in given
                                            if k not in required and k not in optional])
        dropped = set(unexpected)
        load(self, {**required, **{k: v for k, v in given.items() if k not in dropped}})
        return IncompatibleKeys(missing, unexpected)

    for attr in ("__module__", "__name__", "__qualname__"):
        setattr(load_torch_state_dict, attr, getattr(load, attr))
    load_torch_state_dict.__doc__ = (load.__doc__ or "").rstrip() + _STRICT_DOC
    return load_torch_state_dict


_STRICT_DOC = """

        ``strict=False`` (PyTorch's): load the keys that fit, keep this module's values
        for the missing ones and ignore the unexpected ones (another shape is still a
        ValueError); the result is ``IncompatibleKeys(missing_keys, unexpected_keys)``
        (both empty when ``strict``)."""


__all__ = ["IncompatibleKeys", "own_weights", "strict_option"]
