"""Pytrees, as JAX calls them: tuples (named tuples too), lists and dicts nesting arrays, so
``grad(loss)(params)`` takes ``params = {"w": w, "b": b}`` and returns the gradient in the same
shape. None in a container is a node without leaves (it stays None), as in JAX. Other classes
join as nodes through ``register_node`` (``xg.nn.Module``: nn/module_pytree.py), and the
user's own through ``xg.register_pytree_node`` and friends (pytree_nodes.py).

>>> tree = {"w": 1.0, "layers": [2.0, None, (3.0,)]}
>>> leaves(tree)
[1.0, 2.0, 3.0]
>>> leaves(map_leaves(lambda leaf, path: path, tree))
["['w']", "['layers'][0]", "['layers'][2][0]"]
>>> rebuild(tree, [10.0, 20.0, 30.0])
{'w': 10.0, 'layers': [20.0, None, (30.0,)]}
"""
from __future__ import annotations

from collections import defaultdict


class _Missing:
    """What a node lacks at a place its counterpart holds a child (``NodeKind.like``)."""

    def __repr__(self):
        return "MISSING"


MISSING = _Missing()


class Placeholder:
    """A leaf's place in a tree kept for its structure only (``ravel_pytree``'s ``unravel``
    keeps its tree so): a registered node (a Module) finds it where it finds a tensor.

    >>> import xpgrad as xg
    >>> skeleton = rebuild(xg.nn.Linear(2, 1, rng=0), [Placeholder(), Placeholder()])
    >>> [type(leaf).__name__ for leaf in leaves(skeleton)]
    ['Placeholder', 'Placeholder']
    """

    __slots__ = ()

    def __repr__(self):
        return "Placeholder()"

#: classes registered as nodes besides tuples, lists and dicts, and their ``NodeKind``s
_KINDS: dict = {}
_REGISTERED: tuple = ()
#: the classes registered by ``register_node`` with ``exact=False`` (Module): nodes that hold
#: state (``is_registered``); the user's classes (pytree_nodes.py) are nodes of their exact type
_STATEFUL: tuple = ()
#: ``_KIND_OF_CLASS``'s mark of a subclass of a user's node class that is itself no node
_NO_NODE = object()
#: the ``NodeKind`` of each class met that is a registered one or a subclass of one
_KIND_OF_CLASS: dict = {}
#: the attribute a node kind may set on the nodes it rebuilds, saying how they were made
#: (``ModuleKind``: whether they hold plain tensors); ``xg.function``'s keys leave it out
REBUILT_FLAG = "_rebuilt_with_tensors"
#: the attribute holding a node's cached walks (nn/module_cache.py: a Module's), new in each
#: copy; ``xg.function``'s keys leave it out too
CACHE_HOLDER = "_discovered"


def register_node(cls, kind, exact=False) -> None:
    """Make instances of ``cls`` (and its subclasses) nodes, walked by ``kind``: an object with
    ``children(node, is_leaf)`` (``[(path suffix, child)]`` in order; the children are leaves
    of the tree, never looked into), ``like(node, children,
    other)`` (what ``other``, a node of ``node``'s class, holds at those places, ``MISSING``
    where it holds nothing; ``MISSING`` itself where ``other`` has another structure
    altogether), ``rebuilt(node, children, new)`` (a new node with ``new`` in place of
    ``children``) and ``described(node)`` (for messages). ``xg.nn`` registers Module
    (nn/module_pytree.py's ``ModuleKind``), for its subclasses too; ``exact``: instances of
    ``cls`` itself only, not of its subclasses (JAX's registry: pytree_nodes.py's).

    >>> import xpgrad as xg
    >>> type(_kind(xg.nn.ReLU())).__name__
    'ModuleKind'
    """
    global _REGISTERED, _STATEFUL
    _KINDS[cls] = kind, exact
    _REGISTERED = tuple(_KINDS)
    _STATEFUL = tuple(c for c, (_, exact_only) in _KINDS.items() if not exact_only)
    _KIND_OF_CLASS.clear()


def _kind(value):
    """The ``NodeKind`` of a registered node, None for anything else."""
    if _REGISTERED and isinstance(value, _REGISTERED):
        kind = _KIND_OF_CLASS.get(type(value))
        if kind is None:
            kind = _KIND_OF_CLASS[type(value)] = next(
                (kind for cls, (kind, exact) in _KINDS.items()
                 if (type(value) is cls if exact else isinstance(value, cls))), _NO_NODE)
        return None if kind is _NO_NODE else kind
    return None


def is_registered(value) -> bool:
    """Whether ``value`` is a node through ``register_node`` (an ``xg.nn.Module``), not a
    tuple, list or dict, nor a class of the user's (``xg.register_pytree_node``).

    >>> import xpgrad as xg
    >>> is_registered(xg.nn.ReLU()), is_registered({"w": 1.0})
    (True, False)
    """
    return bool(_STATEFUL) and isinstance(value, _STATEFUL) and not isinstance(
        value, (tuple, list, dict))


def is_node(value) -> bool:
    """Whether ``value`` is a container a pytree looks into: a tuple, list or dict, or a
    registered node (an ``xg.nn.Module``, a class of the user's)."""
    return isinstance(value, (tuple, list, dict)) or _kind(value) is not None


def map_leaves(fn, tree, path="", none_is_leaf=False, is_leaf=None):
    """``tree`` with every leaf replaced by ``fn(leaf, path)``; ``path`` names the leaf the way
    Python indexes it (``"['w']"``, ``"[0][1]"``). With ``none_is_leaf`` (TensorFlow's
    ``tf.nest``), a None in a container is a leaf too; a subtree for which ``is_leaf`` (JAX's)
    answers true is one leaf."""
    if is_leaf is not None and is_leaf(tree):
        return fn(tree, path)
    if isinstance(tree, dict):
        items = ((k, map_leaves(fn, v, f"{path}[{k!r}]", none_is_leaf, is_leaf))
                 for k, v in tree.items())
        if isinstance(tree, defaultdict):
            return type(tree)(tree.default_factory, items)
        return type(tree)(items)
    if isinstance(tree, (tuple, list)):
        children = [map_leaves(fn, v, f"{path}[{i}]", none_is_leaf, is_leaf)
                    for i, v in enumerate(tree)]
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):      # a namedtuple
            return type(tree)(*children)
        return type(tree)(children)
    kind = _kind(tree)
    if kind is not None:
        children = kind.children(tree, is_leaf)
        return kind.rebuilt(tree, children, [fn(child, path + suffix)
                                             for suffix, child in children])
    if tree is None and path and not none_is_leaf:
        return None
    return fn(tree, path)


def leaves(tree, is_leaf=None) -> list:
    """The leaves of ``tree``, in the order ``map_leaves`` visits them (nothing rebuilt)."""
    found = []
    _collect(tree, "", found, is_leaf, False)
    return found


def leaves_with_paths(tree) -> list:
    """``[(path, leaf)]`` of ``tree``, in ``leaves`` order.

    >>> leaves_with_paths({"a": [1.0, 2.0]})
    [("['a'][0]", 1.0), ("['a'][1]", 2.0)]
    """
    found = []
    _collect(tree, "", found, None, True)
    return found


def _collect(tree, path, found, is_leaf, with_paths):
    """``map_leaves``' walk, appending each leaf (``with_paths``: ``(path, leaf)``) to
    ``found`` and rebuilding nothing."""
    if is_leaf is not None and is_leaf(tree):
        found.append((path, tree) if with_paths else tree)
    elif isinstance(tree, dict):
        for k, v in tree.items():
            _collect(v, f"{path}[{k!r}]" if with_paths else "-", found, is_leaf, with_paths)
    elif isinstance(tree, (tuple, list)):
        for i, v in enumerate(tree):
            _collect(v, f"{path}[{i}]" if with_paths else "-", found, is_leaf, with_paths)
    elif (kind := _kind(tree)) is not None:
        children = kind.children(tree, is_leaf)
        found.extend([(path + suffix, child) for suffix, child in children] if with_paths
                     else [child for _, child in children])
    elif tree is not None or not path:
        found.append((path, tree) if with_paths else tree)


def rebuild(tree, new_leaves, is_leaf=None):
    """``tree``'s structure with ``new_leaves`` (in ``leaves`` order) in place of its own."""
    return _refilled(tree, iter(new_leaves), True, is_leaf)


def _refilled(tree, it, top, is_leaf=None):
    """``map_leaves(lambda leaf, path: next(it), tree)`` without the paths."""
    if is_leaf is not None and is_leaf(tree):
        return next(it)
    if isinstance(tree, dict):
        items = ((k, _refilled(v, it, False, is_leaf)) for k, v in tree.items())
        if isinstance(tree, defaultdict):
            return type(tree)(tree.default_factory, items)
        return type(tree)(items)
    if isinstance(tree, (tuple, list)):
        children = [_refilled(v, it, False, is_leaf) for v in tree]
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):      # a namedtuple
            return type(tree)(*children)
        return type(tree)(children)
    kind = _kind(tree)
    if kind is not None:
        children = kind.children(tree, is_leaf)
        return kind.rebuilt(tree, children, [next(it) for _ in children])
    if tree is None and not top:
        return None
    return next(it)


def tree_map(f, tree, *rest, is_leaf=None):
    """``tree`` with each leaf replaced by ``f(leaf, *the leaves of rest at its place)``, as
    ``jax.tree_util.tree_map``: the update of a params pytree by its gradient's pytree. Each of
    ``rest`` has ``tree``'s structure (a dict's keys in any order), or deeper where ``tree``
    has a leaf (the subtree there is what ``f`` gets); None in a container stays None.
    ``is_leaf`` (JAX's): a predicate asked of each subtree of ``tree`` (``tree`` itself, and
    None too) before looking inside; where it answers true, that subtree is one leaf.

    >>> import xpgrad as xg
    >>> params = {"w": xg.asarray([1.0, 2.0]), "b": [xg.asarray(0.5)]}
    >>> grads = {"w": xg.asarray([0.5, -1.0]), "b": [xg.asarray(1.0)]}
    >>> new = xg.tree_map(lambda p, g: p - 0.5 * g, params, grads)
    >>> new["w"].tolist(), new["b"][0].item()
    ([0.75, 2.5], 0.0)
    >>> xg.tree_map(len, {"a": [1, 2], "b": [[3], 4]}, is_leaf=lambda t: isinstance(t, list))
    {'a': 2, 'b': 2}
    """
    if not callable(f):
        raise TypeError(f"tree_map takes a callable f first, got {type(f).__name__} {f!r:.60}")
    _check_is_leaf(is_leaf, "tree_map")
    if tree is None and not (is_leaf is not None and is_leaf(None)):
        return None
    others = [leaves_like(tree, other, f"rest[{i}]", "tree", is_leaf)
              for i, other in enumerate(rest)]
    new = [f(leaf, *(found[k][1] for found in others))
           for k, leaf in enumerate(leaves(tree, is_leaf))]
    return rebuild(tree, new, is_leaf)


def _check_is_leaf(is_leaf, caller):
    if is_leaf is not None and not callable(is_leaf):
        raise TypeError(f"{caller}: is_leaf must be None or a callable taking a subtree, got "
                        f"{type(is_leaf).__name__} {is_leaf!r:.60}")


def tree_leaves(tree, is_leaf=None) -> list:
    """The leaves of ``tree`` (tuples, named tuples, lists, dicts and Modules nesting arrays), as
    ``jax.tree_util.tree_leaves``, except that a dict's come in its own order (JAX sorts the
    keys); None is no leaf. ``is_leaf``: as ``tree_map``'s.

    >>> import xpgrad as xg
    >>> xg.tree_leaves({"w": 1.0, "layers": [2.0, None, (3.0,)]})
    [1.0, 2.0, 3.0]
    >>> xg.tree_leaves([[1, 2], [3]], is_leaf=lambda t: isinstance(t, list) and len(t) == 1)
    [1, 2, [3]]
    """
    _check_is_leaf(is_leaf, "tree_leaves")
    if tree is None and not (is_leaf is not None and is_leaf(None)):
        return []
    return leaves(tree, is_leaf)


def leaves_like(tree, other, name, against, is_leaf=None):
    """``[(path, leaf)]`` of ``other`` at the places of ``tree``'s leaves, in ``leaves(tree)``'s
    order (a dict's keys may come in any order, a list stand for a tuple); ValueError naming
    ``name`` and the path where ``other`` has another structure than ``against`` (``tree``).

    >>> leaves_like({"a": 1, "b": [2]}, {"b": [20], "a": 10}, "tangents", "primals")
    [("['a']", 10), ("['b'][0]", 20)]
    >>> leaves_like({"a": 1}, {"a": [1], "c": 2}, "tangents", "primals")
    Traceback (most recent call last):
    ...
    ValueError: tangents is a dict with keys ['a', 'c'] where primals is a dict with keys ['a']; \
they must have the same structure, as in JAX
    """
    found = []
    _walk_like(tree, other, "", found, name, against, is_leaf)
    return found


def _walk_like(t, o, path, found, name, against, is_leaf):
    """``leaves_like``'s walk, appending to ``found`` (a function of the module: a nested one
    that calls itself holds itself in a closure cell, a reference cycle every call)."""
    if is_leaf is not None and is_leaf(t):
        found.append((path, o))
    elif isinstance(t, dict):
        if not isinstance(o, dict) or set(o) != set(t):
            raise _mismatch(name, against, path, t, o)
        for k, v in t.items():
            _walk_like(v, o[k], f"{path}[{k!r}]", found, name, against, is_leaf)
    elif isinstance(t, (tuple, list)):
        if not isinstance(o, (tuple, list)) or len(o) != len(t):
            raise _mismatch(name, against, path, t, o)
        for i, (v, w) in enumerate(zip(t, o)):
            _walk_like(v, w, f"{path}[{i}]", found, name, against, is_leaf)
    elif t is None and path:
        if o is not None:
            raise _mismatch(name, against, path, t, o)
    elif (kind := _kind(t)) is not None:
        if type(o) is not type(t):
            raise _mismatch(name, against, path, t, o)
        children = kind.children(t, is_leaf)
        values = kind.like(t, children, o)
        if values is MISSING:           # another structure (a user's node: other aux data)
            raise _mismatch(name, against, path, t, o)
        for (suffix, child), value in zip(children, values):
            if value is MISSING:
                raise _mismatch(name, against, path + suffix, child, value)
            found.append((path + suffix, value))
    else:
        found.append((path, o))


def _mismatch(name, against, path, expected, got):
    return ValueError(f"{name}{path} is {_described(got)} where {against}{path} is "
                      f"{_described(expected)}; they must have the same structure, as in JAX")


def _described(value):
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value, key=repr)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    kind = _kind(value)
    if kind is not None:
        return kind.described(value)
    if value is MISSING:
        return "missing"
    return "None" if value is None else f"a leaf ({type(value).__name__})"
