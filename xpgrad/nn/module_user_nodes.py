"""Nodes of the user's registered pytree classes (``xg.register_pytree_node``,
``register_pytree_node_class``, ``register_dataclass``) set as Module attributes. A Module
finds its Variables and submodules in its attributes and in the lists, tuples and dicts in
them, not inside such nodes: a node holding a Variable or a Module is refused where it is
set, naming the attribute, where its Variables would otherwise be missing, silently, from
``trainable_variables``, ``state_dict``, checkpoints and the optimizers' steps. Nodes of
tensors, numbers or strings (no Variable, no Module) are taken as before.

>>> import dataclasses, xpgrad as xg
>>> @xg.register_dataclass
... @dataclasses.dataclass
... class Pair:
...     w: object
...     b: object
>>> class Net(xg.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.pair = Pair(xg.Variable([1.0]), xg.Variable([0.0]))
>>> try:
...     Net()
... except TypeError as e:
...     print(str(e).split(" (")[0])
Net.pair holds a node of Pair
"""
from __future__ import annotations

from ..pytree import leaves
from ..pytree_nodes import REGISTERED_CLASSES, user_kind
from ..tensor import Variable

_CONTAINERS = (list, tuple, dict)


def refuse_state_in_user_nodes(module, name, value, module_class) -> None:
    """TypeError where ``value``, set as ``module.name``, is (or holds, in lists, tuples and
    dicts) a node of a registered class with a Variable or a Module below it; nothing to do
    (one check) while no class is registered."""
    if not REGISTERED_CLASSES:
        return
    found = _node_with_state(value, name, module_class, ())
    if found is not None:
        path, node = found
        raise TypeError(
            f"{type(module).__name__}.{path} holds a node of {type(node).__name__} (a class "
            f"registered as a pytree node) with Variables or Modules in it: a Module finds "
            f"its Variables and submodules in its attributes and in lists, tuples and dicts, "
            f"not inside registered nodes, so they would be missing from trainable_variables, "
            f"state_dict and checkpoints; hold them in attributes, a list or a dict (or make "
            f"the class an xg.nn.Module), or keep plain tensors in the node")


def _node_with_state(value, path, module_class, walking):
    if user_kind(value) is not None:
        below = leaves(value, is_leaf=lambda v: isinstance(v, module_class))
        held = any(isinstance(v, (Variable, module_class)) for v in below)
        return (path, value) if held else None
    if not isinstance(value, _CONTAINERS) or id(value) in walking:
        return None
    walking = (*walking, id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        found = _node_with_state(item, f"{path}[{key!r}]", module_class, walking)
        if found is not None:
            return found
    return None
