"""What a walk over objects looked at, recorded so that a later look can tell, by identity and
in C loops, whether any of it changed: an object's attributes (its ``__dict__``), a list's or a
dict's items, or what a method lists (a container module's ``_items()``). The walks of a
Module (nn/module_walks.py) and ``xg.function``'s key of a model (jit/signature.py) keep what
they found while their records hold.

>>> class Box:
...     pass
>>> box, checks = Box(), []
>>> box.items = [1, 2]
>>> record(box, STATE, checks); record(box.items, SEQUENCE, checks)
>>> unchanged(checks)
True
>>> box.items.append(3)
>>> unchanged(checks)
False
"""
from __future__ import annotations

from operator import is_

#: how ``record`` reads an object: its ``__dict__``, its items as a list's, its keys and
#: values as a dict's, or its ``_items()`` pairs
STATE, SEQUENCE, MAPPING, ITEMS = "state", "sequence", "mapping", "items"


def record(obj, how, checks) -> None:
    """Append what ``obj`` holds now, read ``how``, to ``checks`` as ``(obj, how, held)``."""
    if how is SEQUENCE:
        checks.append((obj, how, tuple(obj)))
    elif how is ITEMS:
        checks.append((obj, how, tuple(obj._items())))
    else:
        state = vars(obj) if how is STATE else obj
        checks.append((obj, how, (tuple(state), tuple(state.values()))))


def unchanged(checks) -> bool:
    """Whether each object in ``checks`` holds what it held when recorded (the same objects,
    under the same keys, in the same order)."""
    for obj, how, held in checks:
        if how is SEQUENCE:
            if len(obj) != len(held) or not all(map(is_, obj, held)):
                return False
        elif how is ITEMS:
            items = tuple(obj._items())
            if len(items) != len(held) or not all(
                    a[0] == b[0] and a[1] is b[1] for a, b in zip(items, held)):
                return False
        else:
            state = vars(obj) if how is STATE else obj
            keys, values = held
            if len(state) != len(values) or not all(map(is_, state.values(), values)) or \
                    tuple(state) != keys:
                return False
    return True
