"""Which Python values a trace set are lazy setup, not side effects (``host_state.py``).

A traced function that makes an object on its first call and keeps it (``if self.opt is None:
self.opt = xg.optim.Adam(1e-3)``; a module, a config dict) sets it once: later calls, eager or
replayed, find it set and skip the branch, so the replays do what eager calls would
(``tf.function`` likewise lets a function create its variables on its first call only). A
number set there may be a counter's start (``self.steps = 1``), which replays never count on;
and an object holding a tensor computed while tracing (``self.cached = x * 2``) holds a value
of the ended trace, which raises ``TraceError`` when used after the call: both still warn.

>>> import numpy as np
>>> is_lazy_setup(None, {"lr": 0.1}), is_lazy_setup(None, 1), is_lazy_setup(0, 1)
(True, False, False)
>>> holds_traced([np.ones(2)])
False
"""
from __future__ import annotations

import collections
import numbers
from collections.abc import Mapping

from .traced import Traced

#: how deep ``holds_traced`` looks into containers and attributes
_DEPTH = 4


def is_lazy_setup(before, now) -> bool:
    """Whether a trace setting ``before`` (what the function read) to ``now`` is a first
    call's setup: ``before`` None, ``now`` neither a Python number nor a string (a counter's,
    a flag's value) and holding no traced value.

    >>> is_lazy_setup(None, "adam"), is_lazy_setup(None, object())
    (False, True)
    """
    return before is None and now is not None \
        and not isinstance(now, (numbers.Number, str, bytes)) and not holds_traced(now)


def holds_traced(value, depth=0, seen=None) -> bool:
    """Whether ``value`` is, or holds (in a list, tuple, set, deque, mapping or an attribute,
    ``__dict__`` or ``__slots__``, a few levels down), a tensor or array computed while tracing.

    >>> holds_traced({"a": [1, 2.0]}), holds_traced(None)
    (False, False)
    """
    if isinstance(value, Traced) or isinstance(_data_of(value), Traced):
        return True
    seen = set() if seen is None else seen
    if depth >= _DEPTH or id(value) in seen or isinstance(value, (numbers.Number, str, bytes)):
        return False
    seen.add(id(value))
    if isinstance(value, Mapping):
        parts = list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset, collections.deque)):
        parts = list(value)
    else:
        parts = _attributes(value)
    return any(holds_traced(part, depth + 1, seen) for part in parts)


def _attributes(value) -> list:
    """The values of an object's attributes: its ``__dict__``'s and those of the ``__slots__``
    its classes declare (a ``dataclass(slots=True)``), unset slots left out.

    >>> class Point:
    ...     __slots__ = ("x", "y")
    >>> p = Point(); p.x = 1
    >>> _attributes(p)
    [1]
    """
    parts = list(getattr(value, "__dict__", {}).values())
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot in ("__dict__", "__weakref__"):
                continue
            if slot.startswith("__") and not slot.endswith("__"):    # a private name, mangled
                slot = f"_{cls.__name__.lstrip('_')}{slot}"
            try:
                parts.append(object.__getattribute__(value, slot))
            except AttributeError:
                continue
    return parts


def _data_of(value):
    """A tensor's backend array (its ``_data`` slot), else None."""
    try:
        return object.__getattribute__(value, "_data")
    except AttributeError:
        return None


__all__ = ["is_lazy_setup", "holds_traced"]
