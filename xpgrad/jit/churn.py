"""What changed between two signatures of a Function that meets a new one on nearly every
call (``TraceCache._runs_eagerly``'s ``RetracingWarning``): the Python number argument whose
value changes (a learning rate from a schedule passed as a float), named, with the fix.

>>> def step(x, lr):
...     return x * lr
>>> number = lambda value: (float, value)
>>> told = changed_numbers(step, ("numpy", number(0.1)), ("numpy", number(0.09)), (None, 0.09), {})
>>> "'lr' (0.1 -> 0.09)" in told, "xg.asarray(lr)" in told
(True, True)
"""
from __future__ import annotations

import inspect
import numbers


def changed_numbers(fn, previous, key, args, kwargs) -> str:
    """A sentence naming the number arguments whose values differ between the signatures
    ``previous`` and ``key`` (of the call ``fn(*args, **kwargs)``), or ''."""
    if previous is None or len(previous) != len(key):
        return ""
    changes = [(old[1], new) for old, new in zip(previous, key)
               if old != new and _number(old) and _number(new) and old[0] is new[0]]
    if not changes:
        return ""
    try:
        given = inspect.signature(fn).bind(*args, **kwargs).arguments
    except (TypeError, ValueError):     # no signature to bind to: the values alone
        given = {}
    parts = []
    for old, (kind, value) in changes:
        name = next((name for name, arg in given.items() if type(arg) is kind and arg == value),
                    None)
        parts.append((f"{name!r} " if name else "") + f"({old!r} -> {value!r})")
    names = [name for name, arg in given.items()
             if any(type(arg) is kind and arg == value for _, (kind, value) in changes)]
    fix = f"xg.asarray({names[0]})" if names else "xg.asarray(value)"
    return (f" The last two differ in {', '.join(parts)}: each Python number is a signature of "
            f"its own; pass it as a tensor ({fix}), one trace for all its values.")


def _number(entry) -> bool:
    return type(entry) is tuple and len(entry) == 2 and isinstance(entry[0], type) and \
        issubclass(entry[0], numbers.Number) and not issubclass(entry[0], bool)
