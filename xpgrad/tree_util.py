"""``jax.tree_util``'s names in one place (each is ``xg.<name>`` too): ``tree_map``,
``tree_leaves``, ``tree_flatten``, ``tree_unflatten``, ``tree_structure``, ``PyTreeDef``, and
the registration of the user's classes as nodes (pytree_nodes.py).

>>> import xpgrad as xg
>>> xg.tree_util.tree_leaves({"a": 1.0, "b": (2.0,)})
[1.0, 2.0]
"""
from __future__ import annotations

from .pytree import tree_leaves, tree_map
from .pytree_flatten import PyTreeDef, tree_flatten, tree_structure, tree_unflatten
from .pytree_nodes import register_dataclass, register_pytree_node, register_pytree_node_class

__all__ = ["PyTreeDef", "register_dataclass", "register_pytree_node",
           "register_pytree_node_class", "tree_flatten", "tree_leaves", "tree_map",
           "tree_structure", "tree_unflatten"]
