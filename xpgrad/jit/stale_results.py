"""Python numbers and strings in a traced function's result that its eager warm-up call and its
trace returned differently: computed from state that changes on every call
(``opt.iterations``, ``len(history)``, a counter), they are the trace's values on every replay.
``Function`` notes the warm-up's (``host_values``) and the trace compares (``stale_results``);
a replay does neither.

>>> warm = host_values({"loss": None, "step": 1, "classes": 5})
>>> told = stale_results(warm, {"loss": None, "step": 2, "classes": 5})
>>> "result['step'] (1 -> 2)" in told, "classes" in told
(True, False)
"""
from __future__ import annotations

import numbers

from .structure import is_mapping, is_sequence


def host_values(result, path="result", out=None) -> dict:
    """``{path: value}`` of the Python numbers and strings among ``result``'s leaves, looked
    into through tuples, lists and dicts (``result['step']``, ``result[1]``)."""
    out = {} if out is None else out
    if is_mapping(result):
        for key, value in result.items():
            host_values(value, f"{path}[{key!r}]", out)
    elif is_sequence(result):
        for index, value in enumerate(result):
            host_values(value, f"{path}[{index}]", out)
    elif isinstance(result, (numbers.Number, str)) and not hasattr(result, "_backend"):
        out[path] = result
    return out


def stale_results(warm: dict, result, checked=()) -> str:
    """The sentence naming the places where ``result`` (the trace's) holds another Python
    value than the warm-up call's ``warm`` (``host_values``), or ''. A value that is one of
    ``checked`` (the very object: ``replay_checked``) is not named: a replay runs only while
    the guard reading it still holds it, so it changed between the warm-up and the trace
    outside the function, and a call after another change traces anew."""
    traced = host_values(result)
    changed = [f"{path} ({warm[path]!r} -> {value!r})" for path, value in traced.items()
               if path in warm and not _same(warm[path], value)
               and not any(value is known for known in checked)]
    if not changed:
        return ""
    return (f"returned {', '.join(changed)} on its eager warm-up call and on its trace: a Python "
            f"value in the result computed from state that changes on every call "
            f"(opt.iterations, len(history), a counter) is a constant of the program, and every "
            f"replay returns the trace's. Keep the count in an xg.Variable (steps.assign_add(1), "
            f"return xg.asarray(steps, copy=True)), or read it after the call "
            f"(opt.iterations)")


def _same(old, new) -> bool:
    if type(old) is not type(new):
        return False
    return old == new or old != old and new != new        # NaN on both calls


def replay_checked(guards, settings, containers) -> list:
    """The values of the value guards among ``guards`` (``(holder, attribute, value)``, read
    after the trace: jit/name_guards.py) that the trace did not set, by HostState's
    ``settings`` and ``containers`` read before it: a replay checks them (``hp["lr"]``,
    ``Config.mode``). A counter the function sets is not among them (SideEffectWarning's)."""
    before = {_place(holder, attribute): value for holder, attribute, value in settings}
    for container, _, _, items in containers:
        before.update(((id(container), key), item) for key, item in items)
    checked = []
    for holder, attribute, value in guards:
        place = _place(holder, attribute)
        if place in before and _same(before[place], value) and (
                isinstance(value, (numbers.Number, str)) or value is None):
            checked.append(value)
    return checked


def _place(holder, attribute):
    """Where a guard reads: a HeldValue's place, else ``(id(holder), attribute)``."""
    where = getattr(holder, "where", None) if attribute == "value" else None
    return where if type(where) is tuple else (id(holder), attribute)