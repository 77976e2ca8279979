"""Keys saved under a Variable's former name: before 2026-12-07 a custom module's own unnamed
Variable (``self.scale = xg.Variable(value)``) was named ``'Variable'``, so a checkpoint or
an optimizer ``state_dict`` of ``model.trainable_variables`` holds ``model/Variable`` or
``Variable/m`` where the Variable is now named after its path (``nn/variable_names.py``).
Only one such Variable could be saved then (two were refused as both 'Variable'), so where
the list being loaded holds exactly one Variable so named and the saved keys hold none of its
name, its ``'Variable'`` keys are read as its own.

>>> import xpgrad as xg
>>> class Net(xg.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.scale = xg.Variable([1.0])
>>> net = Net()
>>> sorted(as_named_now({"Variable/m": 0, "iterations": 1}, net.trainable_variables))
['iterations', 'net/scale/m']
"""
from __future__ import annotations

from .variable_names import was_unnamed

FORMER = "Variable"


def as_named_now(state: dict, variables, prefix: str = "") -> dict:
    """``state`` (keys ``f"{prefix}{name}"`` and ``f"{prefix}{name}/{slot}"``), with the keys
    of the former name ``'Variable'`` renamed to the name of the one Variable of the list
    ``variables`` that ``name_unnamed`` named; ``state`` itself where ``variables`` is a
    Module or a dict (whose keys did not change) or no key needs it."""
    if hasattr(variables, "named_variables") or isinstance(variables, dict):
        return state
    variables = list(variables)
    if any(getattr(v, "name", None) == FORMER for v in variables):
        return state
    renamed = [v.name for v in variables if was_unnamed(v)]
    if len(renamed) != 1:
        return state
    old, new = prefix + FORMER, prefix + renamed[0]

    def of(name):
        return lambda k: k == name or k.startswith(name + "/")
    if not any(map(of(old), state)) or any(map(of(new), state)):
        return state
    return {new + k[len(old):] if of(old)(k) else k: v for k, v in state.items()}


__all__ = ["as_named_now"]
