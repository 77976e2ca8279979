"""Nested arguments and results (tuples, named tuples, lists and dicts of anything, and their
subclasses, the user's classes registered as pytree nodes (``xg.register_pytree_node``), and
Modules holding plain tensors: ``value_module``): their leaves, mapped or listed, the
structure kept.

>>> map_leaves(lambda x: x * 2, (1, [2, {"a": 3}]))
(2, [4, {'a': 6}])
>>> list(leaves((1, [2, {"a": 3}])))
[1, 2, 3]
>>> import collections
>>> Pair = collections.namedtuple("Pair", "a b")
>>> map_leaves(lambda x: x + 1, Pair(1, [2]))
Pair(a=2, b=[3])
>>> d = map_leaves(lambda x: -x, collections.OrderedDict(a=1))
>>> type(d).__name__, dict(d)
('OrderedDict', {'a': -1})
"""
from __future__ import annotations


import copy

from .. import pytree as _pytree
from ..pytree_nodes import user_kind
from ..tensor import Tensor


def is_namedtuple(obj) -> bool:
    """Whether ``obj`` is a named tuple (a tuple subclass with ``_fields``)."""
    return isinstance(obj, tuple) and type(obj) is not tuple and hasattr(type(obj), "_fields")


def is_mapping(obj) -> bool:
    """Whether ``obj`` is a dict or a dict subclass (OrderedDict, defaultdict, Counter)."""
    return type(obj) is dict or isinstance(obj, dict)


def is_sequence(obj) -> bool:
    """Whether ``obj`` is a list, a tuple, or a subclass of either (a named tuple included)."""
    t = type(obj)
    return t is tuple or t is list or isinstance(obj, (list, tuple))


def map_leaves(fn, obj):
    """``obj`` with every leaf (what is not a tuple, list or dict, or a subclass of one)
    replaced by ``fn(leaf)``; a subclass keeps its type (an OrderedDict, a defaultdict with
    its factory)."""
    t = type(obj)
    if t is tuple or t is list:
        return t(map_leaves(fn, o) for o in obj)
    if t is dict:
        return {k: map_leaves(fn, v) for k, v in obj.items()}
    if is_namedtuple(obj):
        return t(*(map_leaves(fn, o) for o in obj))
    if isinstance(obj, dict):
        out = copy.copy(obj)
        for k, v in obj.items():
            out[k] = map_leaves(fn, v)
        return out
    if isinstance(obj, list):
        out = copy.copy(obj)
        out[:] = [map_leaves(fn, o) for o in obj]
        return out
    if isinstance(obj, tuple):
        return t(map_leaves(fn, o) for o in obj)
    kind = user_kind(obj)
    if kind is not None:        # a class of the user's (pytree_nodes.py): its children
        children, aux = kind.subtrees(obj)
        return kind.made(aux, [map_leaves(fn, c) for c in children])
    children = value_module(obj)
    if children is not None:
        kind, children = children
        return kind.rebuilt(obj, children, [map_leaves(fn, c) for _, c in children])
    return fn(obj)


def leaves(obj):
    """The leaves of ``obj`` in order (a dict's in its order)."""
    if is_sequence(obj):
        for o in obj:
            yield from leaves(o)
    elif is_mapping(obj):
        for o in obj.values():
            yield from leaves(o)
    elif (kind := user_kind(obj)) is not None:
        for child in kind.subtrees(obj)[0]:
            yield from leaves(child)
    else:
        children = value_module(obj)
        if children is None:
            yield obj
        else:
            for _, child in children[1]:
                yield from leaves(child)


def value_module(obj, leaf_types=None):
    """``(kind, children)`` of a Module that holds a plain Tensor, made so by ``xg.tree_map``,
    ``xg.grad`` or ``apply_updates`` (a value; ``kind.holds_tensors`` tells at the cost of one
    flag read, so a stateful model costs a call nothing): ``xg.function`` takes it as
    ``jax.jit`` takes a pytree, its tensors inputs, the rest its structure
    (``module_key.module_key``). None for anything else: a Module holding Variables only (or
    plain tensors it was built with) is one object, keyed by identity, its Variables read by
    the program (``tf.function``'s way). ``leaf_types``: what else stands for a tensor (a
    result template's Refs).

    >>> import xpgrad as xg
    >>> model = xg.nn.Linear(2, 1, rng=0)
    >>> value_module(model) is None, len(value_module(xg.tree_map(lambda p: p * 2, model))[1])
    (True, 2)
    """
    registered = _pytree._STATEFUL
    if not registered or not isinstance(obj, registered) or isinstance(obj, (tuple, list, dict)):
        return None
    kind = _pytree._kind(obj)
    if not kind.holds_tensors(obj):
        return None
    children = (kind.children(obj, None) if leaf_types is None else
                kind.children(obj, None, (Tensor, _pytree.Placeholder, *leaf_types)))
    if not children.holds_plain_tensors():
        return None
    return kind, children


def refilled(container, children):
    """A copy of ``container`` (a dict, list or tuple subclass) holding ``children`` in place of
    its values, in order: a replay's result rebuilt from the trace's template."""
    if isinstance(container, dict):
        out = copy.copy(container)
        for key, child in zip(container, children):
            out[key] = child
        return out
    if isinstance(container, list):
        out = copy.copy(container)
        out[:] = children
        return out
    return type(container)(children)
