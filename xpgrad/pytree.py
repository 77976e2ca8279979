"""Pytrees, as JAX calls them: tuples (named tuples too), lists and dicts nesting arrays, so
``grad(loss)(params)`` takes ``params = {"w": w, "b": b}`` and returns the gradient in the same
shape. None in a container is a node without leaves (it stays None), as in JAX.

>>> tree = {"w": 1.0, "layers": [2.0, None, (3.0,)]}
>>> leaves(tree)
[1.0, 2.0, 3.0]
>>> leaves(map_leaves(lambda leaf, path: path, tree))
["['w']", "['layers'][0]", "['layers'][2][0]"]
>>> rebuild(tree, [10.0, 20.0, 30.0])
{'w': 10.0, 'layers': [20.0, None, (30.0,)]}
"""
from __future__ import annotations


def is_node(value) -> bool:
    """Whether ``value`` is a container a pytree looks into: a tuple, list or dict."""
    return isinstance(value, (tuple, list, dict))


def map_leaves(fn, tree, path="", none_is_leaf=False):
    """``tree`` with every leaf replaced by ``fn(leaf, path)``; ``path`` names the leaf the way
    Python indexes it (``"['w']"``, ``"[0][1]"``). With ``none_is_leaf`` (TensorFlow's
    ``tf.nest``), a None in a container is a leaf too."""
    if isinstance(tree, dict):
        return type(tree)((k, map_leaves(fn, v, f"{path}[{k!r}]", none_is_leaf))
                          for k, v in tree.items())
    if isinstance(tree, (tuple, list)):
        children = [map_leaves(fn, v, f"{path}[{i}]", none_is_leaf) for i, v in enumerate(tree)]
        if isinstance(tree, tuple) and hasattr(tree, "_fields"):      # a namedtuple
            return type(tree)(*children)
        return type(tree)(children)
    if tree is None and path and not none_is_leaf:
        return None
    return fn(tree, path)


def leaves(tree) -> list:
    """The leaves of ``tree``, in the order ``map_leaves`` visits them."""
    found = []
    map_leaves(lambda leaf, path: found.append(leaf), tree)
    return found


def rebuild(tree, new_leaves):
    """``tree``'s structure with ``new_leaves`` (in ``leaves`` order) in place of its own."""
    it = iter(new_leaves)
    return map_leaves(lambda leaf, path: next(it), tree)
