"""``jax.tree_util.tree_flatten``, ``tree_unflatten`` and ``tree_structure``: a pytree's leaves
and its structure apart, and back together (pytree.py walks the trees).

>>> import xpgrad as xg
>>> leaves, treedef = xg.tree_flatten({"w": 1.0, "layers": [2.0, None, (3.0,)]})
>>> leaves, treedef.num_leaves
([1.0, 2.0, 3.0], 3)
>>> xg.tree_unflatten(treedef, [10.0, 20.0, 30.0])
{'w': 10.0, 'layers': [20.0, None, (30.0,)]}
"""
from __future__ import annotations

from .pytree import Placeholder, _check_is_leaf, _kind, leaves_with_paths, map_leaves, rebuild
from .pytree_nodes import user_kind


class PyTreeDef:
    """A pytree's structure without its leaves (``jax.tree_util.PyTreeDef``): its containers,
    their keys and where the leaves go. ``unflatten(leaves)`` puts leaves back in their places;
    two are equal when their structures are (container types, keys, leaf places).

    >>> import xpgrad as xg
    >>> treedef = xg.tree_structure([1.0, {"a": 2.0}])
    >>> treedef
    PyTreeDef([*, {'a': *}])
    >>> treedef == xg.tree_structure([5.0, {"a": 6.0}]), treedef.unflatten([0.0, 1.0])
    (True, [0.0, {'a': 1.0}])
    """

    __slots__ = ("_skeleton", "num_leaves", "_signature")

    def __init__(self, skeleton, num_leaves):
        self._skeleton = skeleton
        self.num_leaves = num_leaves
        self._signature = _signature(skeleton)

    def unflatten(self, leaves):
        """The tree of this structure holding ``leaves`` (in ``tree_flatten``'s order)."""
        if isinstance(leaves, (str, bytes)) or not hasattr(leaves, "__iter__"):
            raise TypeError(f"tree_unflatten: leaves must be a list of the {self.num_leaves} "
                            f"leaves, got {type(leaves).__name__}")
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"tree_unflatten: leaves has {len(leaves)} entries where the "
                             f"structure {self!r} has {self.num_leaves} leaves")
        if self._skeleton is None:
            return None
        return rebuild(self._skeleton, leaves)

    def __eq__(self, other):
        return isinstance(other, PyTreeDef) and self._signature == other._signature

    def __hash__(self):
        return hash(self._signature)

    def __repr__(self):
        return f"PyTreeDef({_shown(self._skeleton)})"


def tree_flatten(tree, is_leaf=None) -> tuple:
    """``(leaves, treedef)`` of ``tree``, as ``jax.tree_util.tree_flatten``: the leaves in
    ``xg.tree_leaves`` order (a dict's in its own order, where JAX sorts the keys; None is no
    leaf) and a ``PyTreeDef`` that ``tree_unflatten(treedef, leaves)`` fills again.
    ``is_leaf``: as ``xg.tree_map``'s.

    >>> import xpgrad as xg
    >>> leaves, treedef = xg.tree_flatten((1.0, [2.0, 3.0]))
    >>> leaves, xg.tree_unflatten(treedef, [x * 10 for x in leaves])
    ([1.0, 2.0, 3.0], (10.0, [20.0, 30.0]))
    """
    _check_is_leaf(is_leaf, "tree_flatten")
    if tree is None and not (is_leaf is not None and is_leaf(None)):
        return [], PyTreeDef(None, 0)
    found = []

    def placed(leaf, path):
        found.append(leaf)
        return Placeholder()

    skeleton = map_leaves(placed, tree, is_leaf=is_leaf)
    return found, PyTreeDef(skeleton, len(found))


def tree_unflatten(treedef, leaves):
    """The tree of structure ``treedef`` (from ``tree_flatten`` or ``tree_structure``) holding
    ``leaves``, as ``jax.tree_util.tree_unflatten``.

    >>> import xpgrad as xg
    >>> xg.tree_unflatten(xg.tree_structure({"a": 0, "b": (0, 0)}), [1, 2, 3])
    {'a': 1, 'b': (2, 3)}
    """
    if not isinstance(treedef, PyTreeDef):
        raise TypeError(f"tree_unflatten: treedef must be a PyTreeDef (from xg.tree_flatten or "
                        f"xg.tree_structure), got {type(treedef).__name__}")
    return treedef.unflatten(leaves)


def tree_structure(tree, is_leaf=None) -> PyTreeDef:
    """The ``PyTreeDef`` of ``tree`` (``tree_flatten(tree)[1]``), as
    ``jax.tree_util.tree_structure``.

    >>> import xpgrad as xg
    >>> xg.tree_structure({"w": 1.0, "b": [2.0]}).num_leaves
    2
    """
    return tree_flatten(tree, is_leaf)[1]


def _signature(node):
    """What two equal structures share: container types, keys, leaf places."""
    if isinstance(node, Placeholder):
        return "*"
    if node is None:
        return None
    if isinstance(node, dict):
        return (type(node), tuple((k, _signature(v)) for k, v in node.items()))
    if isinstance(node, (tuple, list)):
        return (type(node), tuple(_signature(v) for v in node))
    if (kind := user_kind(node)) is not None:    # a class of the user's: its aux data too
        subtrees, aux = kind.subtrees(node)
        return (type(node), aux, tuple(_signature(v) for v in subtrees))
    if _kind(node) is not None:       # a registered node (a Module): its class and leaf paths
        return (type(node), tuple(path for path, _ in leaves_with_paths(node)))
    return ("leaf", type(node))


def _shown(node):
    """JAX's way of printing a structure: ``*`` for each leaf."""
    if isinstance(node, Placeholder):
        return "*"
    if isinstance(node, dict):
        return "{" + ", ".join(f"{k!r}: {_shown(v)}" for k, v in node.items()) + "}"
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return f"{type(node).__name__}(" + ", ".join(
            f"{f}={_shown(v)}" for f, v in zip(node._fields, node)) + ")"
    if isinstance(node, tuple):
        return "(" + ", ".join(_shown(v) for v in node) + ("," if len(node) == 1 else "") + ")"
    if isinstance(node, list):
        return "[" + ", ".join(_shown(v) for v in node) + "]"
    if node is None:
        return "None"
    if (kind := user_kind(node)) is not None:    # JAX's CustomNode(Name[aux], [children])
        subtrees, aux = kind.subtrees(node)
        return (f"CustomNode({type(node).__name__}[{aux!r}], ["
                + ", ".join(_shown(v) for v in subtrees) + "])")
    return type(node).__name__
