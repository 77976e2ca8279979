"""``in_axes`` and ``out_axes`` as JAX reads them: an int, None, or a pytree prefix of the
arguments (outputs) whose leaves are ints or None, applying to every array below them.

>>> spec_leaves({"w": None, "x": 0}, {"w": [1.0, 2.0], "x": 3.0}, "in_axes", "arguments")
[(None, "['w'][0]", 1.0), (None, "['w'][1]", 2.0), (0, "['x']", 3.0)]
"""
from __future__ import annotations

import numbers

from ..pytree import is_node, leaves, map_leaves
from ..pytree_nodes import user_kind
from ..tensor import Tensor


def check_axis_spec(spec, name, path=""):
    """TypeError unless every leaf of ``spec`` is an int or None."""
    if isinstance(spec, dict):
        for k, v in spec.items():
            check_axis_spec(v, name, f"{path}[{k!r}]")
    elif isinstance(spec, (tuple, list)):
        for i, v in enumerate(spec):
            check_axis_spec(v, name, f"{path}[{i}]")
    elif (kind := user_kind(spec)) is not None:     # a class of the user's (pytree_nodes.py)
        for i, v in enumerate(kind.subtrees(spec)[0]):
            check_axis_spec(v, name, f"{path}{kind.suffix(i)}")
    elif spec is not None and (isinstance(spec, bool) or
                               not isinstance(spec, numbers.Integral)):
        raise TypeError(f"vmap: {name}{path} must be an int or None (or a tuple, list or dict of "
                        f"them matching the structure), got {spec!r}")


def spec_leaves(spec, tree, name, what, path=""):
    """``[(axis, path, leaf)]`` for every leaf of ``tree``, ``axis`` from the part of ``spec``
    above it; ValueError naming the path where ``spec`` has a structure ``tree`` lacks."""
    if spec is None or spec.__class__ is int or isinstance(spec, numbers.Integral):
        axis = spec if spec is None else int(spec)
        if not is_node(tree):               # a leaf (None in a node: none)
            return [] if tree is None and path else [(axis, path, tree)]
        return [(axis, p, leaf) for p, leaf in _leaves(tree, path)]
    if isinstance(spec, dict):
        if not isinstance(tree, dict) or set(tree) != set(spec):
            raise _mismatch(spec, tree, name, what, path)
        # in the tree's order, the order of its leaves (``pytree.rebuild`` fills them so)
        return [x for k in tree for x in spec_leaves(spec[k], tree[k], name, what,
                                                     f"{path}[{k!r}]")]
    if (kind := user_kind(spec)) is not None:
        pairs = _node_pairs(kind, spec, tree)
        if pairs is None:
            raise _mismatch(spec, tree, name, what, path)
        return [x for i, (s, t) in enumerate(pairs)
                for x in spec_leaves(s, t, name, what, f"{path}{kind.suffix(i)}")]
    if not isinstance(tree, (tuple, list)) or len(tree) != len(spec):
        raise _mismatch(spec, tree, name, what, path)
    return [x for i, (s, t) in enumerate(zip(spec, tree))
            for x in spec_leaves(s, t, name, what, f"{path}[{i}]")]


def _node_pairs(kind, spec, tree):
    """``[(spec's subtree, tree's)]`` of two nodes of a class of the user's, None where
    ``tree`` is of another class or has other aux data or another number of children."""
    if type(tree) is not type(spec):
        return None
    spec_children, spec_aux = kind.subtrees(spec)
    tree_children, tree_aux = kind.subtrees(tree)
    if spec_aux != tree_aux or len(spec_children) != len(tree_children):
        return None
    return list(zip(spec_children, tree_children))


def axis_leaves(spec, tree):
    """``spec_leaves`` without the paths (what a call reads when nothing is wrong): ``[(axis,
    leaf)]``, or None where ``spec`` has a structure ``tree`` lacks (``spec_leaves`` says
    where).

    >>> axis_leaves((None, 0), ({"w": [1.0, None]}, 2.0))
    [(None, 1.0), (0, 2.0)]
    >>> axis_leaves((None, 0), (1.0,)) is None
    True
    """
    found = []
    return found if _axis_leaves(spec, tree, found, True) else None


def _axis_leaves(spec, tree, found, top):
    if spec is None or spec.__class__ is int or isinstance(spec, numbers.Integral):
        axis = spec if spec is None or spec.__class__ is int else int(spec)
        if isinstance(tree, (tuple, list, dict)):
            _flat(tree, axis, found)
        elif is_node(tree):                     # a Module: its tensors
            found.extend((axis, leaf) for leaf in leaves(tree))
        elif tree is not None or top:           # (None in a node: no leaf)
            found.append((axis, tree))
        return True
    if isinstance(spec, dict):
        if not isinstance(tree, dict) or tree.keys() != spec.keys():
            return False
        pairs = ((spec[k], tree[k]) for k in tree)
    elif (kind := user_kind(spec)) is not None:
        pairs = _node_pairs(kind, spec, tree)
        if pairs is None:
            return False
    elif not isinstance(tree, (tuple, list)) or len(tree) != len(spec):
        return False
    else:
        pairs = zip(spec, tree)
    for s, t in pairs:
        if t.__class__ is Tensor and (s is None or s.__class__ is int):
            found.append((s, t))                # (most arguments: a tensor and its axis)
        elif not _axis_leaves(s, t, found, False):
            return False
    return True


def _flat(tree, axis, found):
    for leaf in (tree.values() if isinstance(tree, dict) else tree):
        if leaf.__class__ is Tensor:
            found.append((axis, leaf))
        elif isinstance(leaf, (tuple, list, dict)):
            _flat(leaf, axis, found)
        elif is_node(leaf):                     # a Module: its tensors
            found.extend((axis, t) for t in leaves(leaf))
        elif leaf is not None:
            found.append((axis, leaf))


def _leaves(tree, path):
    found = []
    map_leaves(lambda leaf, p: found.append((p, leaf)), tree, path)
    return found


def _described(value):
    if (kind := user_kind(value)) is not None:
        return kind.described(value)
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value, key=repr)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a leaf ({type(value).__name__})"


def _mismatch(spec, tree, name, what, path):
    return ValueError(f"vmap: {name}{path} is {_described(spec)} but the {what}{path} is "
                      f"{_described(tree)}: {name} must be an int, None, or a prefix of the "
                      f"{what}' structure (as in JAX)")

