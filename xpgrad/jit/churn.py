"""What changed between two signatures of a Function that meets a new one on nearly every
call (``TraceCache._runs_eagerly``'s ``RetracingWarning``): the Python number argument whose
value changes (a learning rate from a schedule passed as a float; an item of a list such as a
GRU's ``lengths=[...]``), or a guarded value the function reads, not an argument (a dict's
item, a flag on an object: jit/name_guards.py), named, with the fix.

>>> def step(x, lr):
...     return x * lr
>>> number = lambda value: (float, value)
>>> told = what_changed(step, (), ("numpy", number(0.1)), ("numpy", number(0.09)),
...                     (None, 0.09), {})
>>> "'lr' (0.1 -> 0.09)" in told, "xg.asarray(lr)" in told
(True, True)
"""
from __future__ import annotations

import inspect
import numbers
import types

from .held import Held, HeldValue
from .structure import is_mapping, is_sequence


def what_changed(fn, guards, previous, key, args, kwargs) -> str:
    """A sentence naming what differs between the cache keys ``previous`` and ``key`` (that of
    the call ``fn(*args, **kwargs)``): number arguments, or the values of ``guards`` (the
    ``(reference, attribute)`` pairs the key's values were read from), or ''."""
    if previous is None:
        return ""
    old_base, old_values = _split(previous)
    new_base, new_values = _split(key)
    if old_base == new_base and old_values is not None and new_values is not None:
        return _changed_guards(fn, guards, old_values, new_values)
    return _changed_numbers(fn, old_base, new_base, args, kwargs)


def _split(key):
    """``(signature, guarded values or None)`` of a cache key (``(base, values)`` where the
    function's traces read guarded values: TraceCache._guarded_key)."""
    return (key[0], key[1]) if len(key) == 2 and type(key[0]) is tuple else (key, None)


def _changed_guards(fn, guards, old_values, new_values) -> str:
    parts = []
    for (ref, attribute), old, new in zip(guards, old_values, new_values):
        if old is not new and old != new:
            obj = ref()
            name = _guard_name(fn, obj, attribute)
            parts.append(f"{name} (replaced)" if type(obj) is Held else
                         f"{name} ({old!r} -> {new!r})")
    if not parts:
        return ""
    return (f" The last two differ in a value the function reads, not in its arguments: "
            f"{', '.join(parts)}. Each value of a Python number, string or flag it reads is a "
            f"program of its own (a guard, as torch.compile's): pass a value that changes on "
            f"every call as an argument tensor (xg.asarray(value)) or keep it in an "
            f"xg.Variable, one trace for all its values.")


def _guard_name(fn, obj, attribute) -> str:
    """How the user's code spells the place a guard reads (``hp['scale']``, ``Config.flag``,
    ``rate``)."""
    fn = getattr(fn, "__func__", fn)
    if type(obj) in (Held, HeldValue):
        if len(obj.where) == 3:                     # a closure variable: (owner, code, index)
            return obj.where[1].co_freevars[obj.where[2]]
        holder_id, attribute = obj.where
        holder, name = _reached(fn, lambda value: id(value) == holder_id)
        if isinstance(holder, dict) and "__builtins__" in holder:
            return str(attribute)                   # a global
        if isinstance(holder, dict) or holder is None:
            return f"{name or ''}[{attribute!r}]"
        return f"{name}.{attribute}"
    if isinstance(obj, types.ModuleType):
        return str(attribute)
    if type(obj) is types.CellType:
        return _reached(fn, lambda value: value is obj, cells=True)[1] or "a closure variable"
    return f"{(obj if isinstance(obj, type) else type(obj)).__name__}.{attribute}"


def _reached(fn, wanted, cells=False):
    """``(value, name)`` of the closure variable or global of ``fn`` that is ``wanted``
    (its cell, where ``cells``), else ``(None, None)``."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None, None
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            value = cell if cells else cell.cell_contents
        except ValueError:
            continue
        if wanted(value):
            return value, name
    namespace = getattr(fn, "__globals__", {})
    if wanted(namespace):
        return namespace, None
    for name in code.co_names:
        if name in namespace and wanted(namespace[name]):
            return namespace[name], name
    return None, None


def _changed_numbers(fn, previous, key, args, kwargs) -> str:
    """The sentence naming the number arguments (or their items) whose values differ between
    the signatures ``previous`` and ``key``, or ''."""
    if len(previous) != len(key):
        return ""
    changed = [k for k, (old, new) in enumerate(zip(previous, key))
               if old != new and _number(old) and _number(new) and old[0] is new[0]]
    if not changed:
        return ""
    try:
        given = inspect.signature(fn).bind(*args, **kwargs).arguments
    except (TypeError, ValueError):     # no signature to bind to: the values alone
        given = {}
    places = []
    for name, value in given.items():
        _number_places(value, name, name, places)
    numbered = [k for k, entry in enumerate(key) if _number(entry)]
    at = dict(zip(numbered, places)) if len(numbered) == len(places) and all(
        key[k][0] is kind for k, (_, _, kind) in zip(numbered, places)) else {}
    parts, names = [], []
    for k in changed:
        path, name, _ = at.get(k, (None, None, None))
        parts.append((f"{path!r} " if path else "") + f"({previous[k][1]!r} -> {key[k][1]!r})")
        # a list of numbers becomes one tensor; a dict's item (cfg['lr']) one of its own
        tensor = path if name is not None and is_mapping(given.get(name)) else name
        if tensor is not None and tensor not in names:
            names.append(tensor)
    fix = f"xg.asarray({names[0]})" if names else "xg.asarray(value)"
    return (f" The last two differ in {', '.join(parts)}: each Python number (an item of a list "
            f"of them too) is a signature of its own; pass it as a tensor ({fix}), one trace "
            f"for all its values.")


def _number_places(value, path, name, out):
    """Append ``(path, argument name, type)`` for each number among ``value``'s leaves, in the
    order of its signature's entries (signature._signature)."""
    if is_mapping(value):
        for key, item in value.items():
            _number_places(item, f"{path}[{key!r}]", name, out)
    elif is_sequence(value):
        for index, item in enumerate(value):
            _number_places(item, f"{path}[{index}]", name, out)
    elif isinstance(value, numbers.Number) and not isinstance(value, bool) and \
            not hasattr(value, "_backend"):
        out.append((path, name, type(value)))


def _number(entry) -> bool:
    return type(entry) is tuple and len(entry) == 2 and isinstance(entry[0], type) and \
        issubclass(entry[0], numbers.Number) and not issubclass(entry[0], bool)
