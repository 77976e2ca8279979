"""Nested arguments and results (tuples, named tuples, lists and dicts of anything): their
leaves, mapped or listed, the structure kept.

>>> map_leaves(lambda x: x * 2, (1, [2, {"a": 3}]))
(2, [4, {'a': 6}])
>>> list(leaves((1, [2, {"a": 3}])))
[1, 2, 3]
>>> import collections
>>> Pair = collections.namedtuple("Pair", "a b")
>>> map_leaves(lambda x: x + 1, Pair(1, [2]))
Pair(a=2, b=[3])
"""
from __future__ import annotations


def is_namedtuple(obj) -> bool:
    """Whether ``obj`` is a named tuple (a tuple subclass with ``_fields``)."""
    return isinstance(obj, tuple) and type(obj) is not tuple and hasattr(type(obj), "_fields")


def map_leaves(fn, obj):
    """``obj`` with every leaf (what is not a tuple, named tuple, list or dict) replaced by
    ``fn(leaf)``."""
    t = type(obj)
    if t is tuple or t is list:
        return t(map_leaves(fn, o) for o in obj)
    if t is dict:
        return {k: map_leaves(fn, v) for k, v in obj.items()}
    if is_namedtuple(obj):
        return t(*(map_leaves(fn, o) for o in obj))
    return fn(obj)


def leaves(obj):
    """The leaves of ``obj`` in order (a dict's in its order)."""
    t = type(obj)
    if t is tuple or t is list or is_namedtuple(obj):
        for o in obj:
            yield from leaves(o)
    elif t is dict:
        for o in obj.values():
            yield from leaves(o)
    else:
        yield obj
