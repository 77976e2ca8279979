"""``xg.function``'s key of a Module holding plain tensors (``structure.value_module``), as
``jax.jit`` keys a pytree's: the classes of it and its submodules and every other attribute's
key (numbers, strings, functions by value, other objects by identity), the places of its
tensors marked. A copy made by ``xg.tree_map``, ``xg.grad`` or a replay has the same key, so a
step taking and returning a model replays.

The key is kept with the module's cached walk (nn/module_walks.py) while what it was made from
holds (``snapshots``: the ``__dict__`` of each module and the lists and dicts it looked into,
by identity), and a copy of the module gets its own at once (``StaticKey.for_copy``: the
objects the copy made in their originals' places), so a step over a new model each call does
not walk the model for its key. A key holding something keyed by a value that may change in
place (a dataclass, a list or dict subclass) is made anew each call.

>>> import xpgrad as xg
>>> model = xg.tree_map(lambda p: p * 1.0, xg.nn.Linear(2, 1, rng=0))
>>> children = xg.pytree._kind(model).children(model, None)
>>> key = module_key(model, children)
>>> module_key(model, children) is key, key.key[:2]
(True, ((<class 'xpgrad.nn.linear.Linear'>, None), 'name'))
"""
from __future__ import annotations

import dataclasses
import types
import weakref

from .. import pytree as _pytree
from ..snapshots import (ITEMS, MAPPING, SEQUENCE, STATE, copies_recorded, record, recorded,
                         unchanged)
from ..tensor import Tensor, Variable
from . import signature as _signature_module

#: values keyed as they are and shared by a module's copies (``module_rebuild``'s atoms)
_SHARED = frozenset((int, bool, str, bytes, type(None), type(Ellipsis), range, type,
                     types.FunctionType, types.BuiltinFunctionType))


class ModuleKey:
    """A module's key as a signature holds it: its hash computed once, and one object for each
    key while any holds it (``_interned``), so a call's signature is found among the traced
    ones by identity, not by comparing the whole structure.

    >>> ModuleKey(("a", 1)) == ModuleKey(("a", 1)), _interned(("a", 1)) is _interned(("a", 1))
    (True, True)
    """

    __slots__ = ("key", "hash", "__weakref__")

    def __init__(self, key):
        self.key, self.hash = key, hash(key)

    def __hash__(self):
        return self.hash

    def __eq__(self, other):
        return self is other or (type(other) is ModuleKey and self.hash == other.hash
                                 and self.key == other.key)

    def __repr__(self):
        return f"ModuleKey({self.key!r})"


#: the ``ModuleKey`` of each key some signature or module holds
_KEYS = weakref.WeakValueDictionary()


def _interned(key) -> ModuleKey:
    found = _KEYS.get(key)
    if found is None:
        found = _KEYS[key] = ModuleKey(key)
    return found


class StaticKey:
    """A module's key (``key``, a ``ModuleKey``), the positions in it of entries naming
    objects that a copy of the module replaces by its own (``positions``), and ``checks``: what
    it was made from that the module's walk does not record."""

    __slots__ = ("key", "positions", "checks")

    def __init__(self, key, positions, checks):
        self.key, self.positions, self.checks = key, positions, checks

    def for_copy(self, memo):
        """The key of a copy of the module that copied it attribute for attribute, ``memo``
        mapping the ids of the original's objects to the copy's; None where what the key was
        made from changed."""
        if not unchanged(self.checks):
            return None
        checks = copies_recorded(self.checks, memo)
        if checks is None:
            return None
        key = self.key
        if self.positions:
            entries = list(key.key)
            for i in self.positions:
                entries[i] = _remapped(entries[i], memo)
            key = _interned(tuple(entries))
        return StaticKey(key, self.positions, checks)


def module_key(module, children) -> ModuleKey:
    """The key of ``module``, whose pytree children are ``children`` (a walk of
    ``module_walks``; a cached one keeps the key as ``children.static``)."""
    static = getattr(children, "static", None)
    if static is not None and (not static.checks or unchanged(static.checks)):
        return static.key
    found = _Found(children)
    _static(module, {id(c) for _, c in children}, found.out, set(), found)
    key = _interned(tuple(found.out))
    if found.keepable and children.ref is not None:
        children.static = StaticKey(key, found.positions, found.checks)
    return key


class _Found:
    """What ``_static`` makes: the key's entries (``out``), the positions of those naming
    objects (``positions``), the records of what the walk did not look at (``checks``), and
    whether the key may be kept (``keepable``)."""

    def __init__(self, children):
        self.out, self.positions, self.checks, self.keepable = [], [], [], True
        self.covered = {id(recorded(check)) for check in getattr(children, "checks", ())
                        if check[1] is not ITEMS}


def _static(obj, leaf_ids, out, walking, found):
    if id(obj) in leaf_ids:
        out.append("leaf")
        return
    t = type(obj)
    if t in _SHARED:
        out.append((t, obj))
        return
    sig = _signature_module
    if t is float or t is complex:
        out.append((t, sig._number_key(obj)))
        return
    if isinstance(obj, Tensor):             # held where no leaf is looked for: a constant
        found.positions.append(len(out))
        out.append(("V" if isinstance(obj, Variable) else "T", sig._Identity(obj)))
        return
    module = _pytree.is_registered(obj)
    if not (module or t is list or t is tuple or t is dict):
        if isinstance(obj, (list, tuple, dict)) or (
                dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
            found.keepable = False          # keyed by values that may change in place
        found.positions.append(len(out))
        try:
            sig._signature(obj, out, [])
        except TypeError:                   # a NumPy array: a constant of the trace
            out.append(sig._Identity(obj))
        return
    if id(obj) in walking:                  # a back-reference
        found.positions.append(len(out))
        out.append(("cycle", sig._Identity(obj)))
        return
    walking.add(id(obj))
    if t is not tuple and id(obj) not in found.covered:
        record(obj, STATE if module else SEQUENCE if t is list else MAPPING, found.checks)
    out.append((t, None if module else len(obj)))
    items = vars(obj).items() if module else obj.items() if t is dict else enumerate(obj)
    for key, value in items:
        if module and (key == _pytree.REBUILT_FLAG or key == _pytree.CACHE_HOLDER):
            continue                        # how it was made, what was found: not what it is
        out.append(key)
        _static(value, leaf_ids, out, walking, found)
    walking.discard(id(obj))


def _remapped(entry, memo):
    """``entry`` with each object that ``memo`` maps (by id) replaced by its copy."""
    identity = _signature_module._Identity
    if type(entry) is identity:
        made = memo.get(id(entry.obj))
        return entry if made is None else identity(made)
    if type(entry) is tuple:
        return tuple([_remapped(e, memo) for e in entry])
    made = memo.get(id(entry))
    return entry if made is None else made
