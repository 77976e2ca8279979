"""What a walk over objects looked at, recorded so that a later look can tell, by identity and
in C loops, whether any of it changed: an object's attributes (its ``__dict__``), a list's or a
dict's items, or what a method lists (a container module's ``_items()``). The walks of a
Module (nn/module_walks.py) and ``xg.function``'s key of a model (jit/module_key.py) keep what
they found while their records hold. A record refers to an object with attributes weakly (a
record kept for a model does not keep it alive), to a list or dict as it is.

>>> class Box:
...     pass
>>> box, checks = Box(), []
>>> box.items = [1, 2]
>>> record(box, STATE, checks); record(box.items, SEQUENCE, checks)
>>> unchanged(checks), [recorded(check) is box for check in checks]
(True, [True, False])
>>> box.items.append(3)
>>> unchanged(checks)
False
"""
from __future__ import annotations

import weakref
from operator import is_

#: how ``record`` reads an object: its ``__dict__``, its items as a list's, its keys and
#: values as a dict's, or its ``_items()`` pairs
STATE, SEQUENCE, MAPPING, ITEMS = "state", "sequence", "mapping", "items"


def record(obj, how, checks) -> None:
    """Append what ``obj`` holds now, read ``how``, to ``checks`` as ``(obj or a weak
    reference to it, how, held)``."""
    if how is SEQUENCE:
        checks.append((obj, how, tuple(obj)))
    elif how is MAPPING:
        checks.append((obj, how, (tuple(obj), tuple(obj.values()))))
    elif how is ITEMS:
        checks.append((_weak(obj), how, tuple(obj._items())))
    else:
        state = vars(obj)
        checks.append((_weak(obj), how, (tuple(state), tuple(state.values()))))


def copies_recorded(checks, memo):
    """``checks`` made anew for the copies of their objects (``memo``: the originals' ids ->
    the copies, as ``copy.deepcopy``'s), recording what each copy holds now; None where an
    object has no copy."""
    out = []
    for obj, how, _ in checks:
        if how is STATE or how is ITEMS:
            obj = obj()
        made = memo.get(id(obj))
        if made is None:
            return None
        record(made, how, out)
    return out


def recorded(check):
    """The object a record of ``checks`` is about (None where it is gone)."""
    obj, how, _ = check
    return obj() if how is STATE or how is ITEMS else obj


def unchanged(checks) -> bool:
    """Whether each object in ``checks`` holds what it held when recorded (the same objects,
    under the same keys, in the same order)."""
    for obj, how, held in checks:
        if how is SEQUENCE:
            if len(obj) != len(held) or not all(map(is_, obj, held)):
                return False
            continue
        if how is not MAPPING:
            obj = obj()
            if obj is None:
                return False
        if how is ITEMS:
            items = tuple(obj._items())
            if len(items) != len(held) or not all(
                    a[0] == b[0] and a[1] is b[1] for a, b in zip(items, held)):
                return False
        else:
            state = vars(obj) if how is STATE else obj
            keys, values = held
            # keys by identity too: a key equal to but not the one recorded only costs a walk
            if len(state) != len(values) or not all(map(is_, state.values(), values)) or \
                    not all(map(is_, state, keys)):
                return False
    return True


def _weak(obj):
    """A weak reference to ``obj``, or for an object that takes none, a callable returning
    it."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj
