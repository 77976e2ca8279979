"""A Module copied with new values in some places (module_pytree.py's ``rebuilt``): what
``copy.deepcopy(module, memo)`` makes, at a fraction of its cost. Modules, lists, dicts and
tuples are copied by hand (a module: ``object.__new__`` and its ``__dict__`` filled in,
bypassing ``__setattr__``), immutable attributes (numbers, strings, functions, classes) and
random generators (xpgrad's and NumPy's: a stream the copy draws on from) are shared, and
anything else (an array, a hook's handle, a tensor kept in a private attribute) goes through
``copy.deepcopy`` with the same memo, so it is copied as before and may refer back to the
copies. A class that copies or pickles itself its own way is copied
by ``copy.deepcopy`` too.

>>> import xpgrad as xg
>>> mlp = xg.nn.MLP([2, 3, 1], rng=0)
>>> half = copied(mlp, {id(mlp.layers[0].w): "w0"})
>>> half.layers[0].w, half.layers is mlp.layers, half.sizes == mlp.sizes, half.sizes is mlp.sizes
('w0', False, True, False)
"""
from __future__ import annotations

import copy
import types
import weakref
from operator import is_

import numpy as np

from ..random import Generator
from .module import Module
from .module_cache import Holder

#: values shared by the copy, as ``copy.deepcopy`` shares them, and random generators
#: (xpgrad's, NumPy's): a stream the model draws from, not a value of it, so a copy made for a
#: gradient or an update draws on from where the original's stream is, as the tape path does
#: (a copy of its own would draw the same numbers at every step of a model-in/model-out loop)
_ATOMS = frozenset((type(None), int, float, bool, complex, str, bytes, range, type,
                    type(Ellipsis), type(NotImplemented), types.FunctionType,
                    types.BuiltinFunctionType, types.CodeType, property, weakref.ref,
                    Generator, np.random.Generator, np.random.RandomState))
#: whether a Module class copies as a plain object would (no copy, pickle or slot hooks)
_PLAIN_CLASSES: dict = {}
#: the key ``copied`` sets in its memo once ``copy.deepcopy`` has made a Module: its copy may
#: differ from its original otherwise than by the memo's replacements
DEEP_COPIED = "deep-copied a module"
_HOOKS = ("__deepcopy__", "__setstate__", "__getstate__", "__reduce__", "__reduce_ex__",
          "__copy__")


def copied(obj, memo: dict, made=None):
    """``copy.deepcopy(obj, memo)``: ``memo`` maps ids to what stands for them (the new values
    of a module's leaves) and gets the copies; each Module made is appended to ``made`` (and
    ``DEEP_COPIED`` set in ``memo`` where ``copy.deepcopy`` made one)."""
    found = memo.get(id(obj), memo)
    if found is not memo:
        return found
    cls = type(obj)
    if cls in _ATOMS:
        return obj
    if cls is list:
        new = memo[id(obj)] = []
        new.extend([item if type(item) in _ATOMS else copied(item, memo, made)
                    for item in obj])
        return new
    if cls is dict:
        new = memo[id(obj)] = {}
        for key, value in obj.items():
            new[key] = value if type(value) in _ATOMS else copied(value, memo, made)
        return new
    if cls is tuple:
        items = [item if type(item) in _ATOMS else copied(item, memo, made) for item in obj]
        if all(map(is_, items, obj)):
            return obj
        new = memo[id(obj)] = tuple(items)
        return new
    plain = _PLAIN_CLASSES.get(cls)
    if plain is None and isinstance(obj, Module):
        plain = _plain(cls)
    if plain:
        new = memo[id(obj)] = object.__new__(cls)
        if made is not None:
            made.append(new)
        state, held = vars(new), vars(obj)
        state.update(held)              # the atoms (an atom is never in memo: what it maps
        for key, value in held.items():     # are modules, containers and leaves)
            if type(value) not in _ATOMS:
                found = memo.get(id(value), memo)
                state[key] = found if found is not memo else copied(value, memo, made)
        return new
    if cls is Holder:               # copy.deepcopy's copy, a new empty one, without its cost
        return Holder()
    before = len(memo)
    new = copy.deepcopy(obj, memo)
    if made is not None:
        deep = [v for v in list(memo.values())[before:] if isinstance(v, Module)]
        if deep:
            made.extend(deep)
            memo[DEEP_COPIED] = True
    return new


def _plain(cls) -> bool:
    """Whether ``cls`` (a Module class) has no copy, pickle or slot hooks of its own, so a copy
    is a new instance with its ``__dict__`` copied (a parametrized layer's ``__reduce_ex__``
    makes the same class again)."""
    plain = _PLAIN_CLASSES.get(cls)
    if plain is None:
        from .parametrized_class import _Parametrized

        own = [vars(k) for k in cls.__mro__ if k not in (object, Module, _Parametrized)]
        plain = _PLAIN_CLASSES[cls] = not any(
            name in namespace for namespace in own for name in (*_HOOKS, "__slots__"))
    return plain
