"""``Held``: a guard that an attribute (a closure cell's variable, a global, an object's
attribute, a module's Variable) still holds the object it held when traced, and a list, tuple
or dict the same items in the same places. It holds what it guards weakly where that takes a
weak reference (a model, a layer, a Variable): one replaced is freed, and a freed one fails the
guard (the call traces anew).

>>> import xpgrad as xg
>>> class Holder:
...     layers = [xg.nn.Linear(2, 2, rng=0), xg.nn.Linear(2, 2, rng=1)]
>>> held = Held(Holder, "layers", Holder.layers)
>>> held.unchanged, Holder.layers.reverse(), held.unchanged
(True, None, False)
"""
from __future__ import annotations

import weakref

#: a global's value once the name is gone
_UNBOUND = object()


def held_weakly(obj):
    """A weak reference to ``obj`` where it takes one, else a function returning ``obj``."""
    try:
        return weakref.ref(obj)
    except TypeError:               # a list, a cell, a GlobalName, a string key
        return lambda: obj


class GlobalName:
    """A global variable, ``name`` in the module namespace ``namespace``: ``.value``."""

    __slots__ = ("namespace", "name")

    def __init__(self, namespace, name):
        self.namespace, self.name = namespace, name

    @property
    def value(self):
        return self.namespace.get(self.name, _UNBOUND)


class Held:
    """What ``holder.attribute`` holds, and a container's items: ``.unchanged`` while it holds
    that object, and a list, tuple or dict the same objects in the same places (under the same
    keys). ``holder`` None: the container ``value`` itself (one inside another), its items
    alone."""

    __slots__ = ("holder", "attribute", "value", "items")

    def __init__(self, holder, attribute, value):
        self.holder = None if holder is None else held_weakly(holder)
        self.attribute, self.value = attribute, held_weakly(value)
        self.items = tuple(map(held_weakly, _items(value))) \
            if isinstance(value, (list, tuple, dict)) else None

    @property
    def unchanged(self) -> bool:
        value, holder = self.value(), self.holder
        if value is None or (holder is not None and
                             getattr(holder(), self.attribute, _UNBOUND) is not value):
            return False
        items = self.items
        if items is None:
            return True
        now = _items(value)
        return len(now) == len(items) and all(ref() is item for ref, item in zip(items, now))


def _items(container) -> tuple:
    if isinstance(container, dict):
        return (*container, *container.values())
    return tuple(container)
