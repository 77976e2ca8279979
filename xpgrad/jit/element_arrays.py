"""Small float64 arrays a Python-floats replay keeps as one Python variable per element.

The end of an ODE's augmented right-hand side builds its result from a few small arrays:
``concat([-f, dy, dt, dp])`` where ``f`` is a stack of two scalars and ``dp`` was accumulated
element by element (``acc[1] += v``). NumPy spends a microsecond or more on each of those
small arrays (the stack, the negation, the gradient's zeros, its ``item`` reads and stores,
the reshape, the concatenation), more than the arithmetic. In the replay that
``Program.raw_replay(python_floats=True)`` runs (``python_floats.py``), ``element_plan``
keeps such an array as one Python variable per element (``s29_0``, ``s29_1``) from the step
that makes it up to where something needs it whole, and makes it an array there with one
``np.array`` call. Kept are 1-D float64 arrays of at most ``_ELEMENTS`` entries made by

* a copy of a folded constant (``FreshConstant``), then read and written by integer index
  (float64 values; the reads' values used as ``python_floats.py`` allows) before any other
  use, and never indexed after it,
* a folded constant (``Constant``) or a stack of float64 scalars and numbers
  (``np.array((a, b), dtype=float64)``) that a kept array is made from,
* the negation, a reshape to 1-D, or the concatenation along axis 0 of kept arrays.

Each keeps the values the NumPy steps give (negation and copies are exact). A kept array is
made whole before the first step that reads it otherwise, or right after it is made where the
program returns it (never for a copied constant, whose writes might follow).

>>> import numpy as np
>>> from xpgrad.jit.program_steps import Ref, SlotInfo, Step
>>> f64 = np.dtype(np.float64)
>>> slots = [SlotInfo((), f64, 0, 0, False), SlotInfo((2,), f64, 1, 1, True),
...          SlotInfo((2,), f64, 2, 2, True)]
>>> steps = [Step(None, (), {}, Ref(0), "input"),
...          Step(np.array, ((Ref(0), 1.5),), {"dtype": f64}, Ref(1), "call"),
...          Step(np.negative, (Ref(1),), {}, Ref(2), "call")]
>>> plan = element_plan(steps, slots, escaping={2})
>>> sorted(plan.sizes), plan.after         # -(y, 1.5): made an array after the negation
([1, 2], {2: [2]})
"""
from __future__ import annotations

import operator

import numpy as np

from .constants import Constant, FreshConstant
from .program_steps import Ref
from .python_floats import float64_scalar
from .step_facts import slot_readers

_FLOAT64 = np.dtype(np.float64)
#: the most entries of an array kept as one Python variable per element
_ELEMENTS = 32


class ElementPlan:
    """What ``element_plan`` keeps: ``sizes`` {slot: entries} of the kept arrays; ``makers``
    {step index: how that step makes its kept array: "fresh", "constant", "stack",
    "negative", "reshape" or "concat"}; ``indexed_until`` {slot: the step index before which
    a copied constant's integer reads and writes are its variables}; ``before`` / ``after``
    {step index: the kept arrays made whole before / after that step}."""

    def __init__(self):
        self.sizes, self.makers, self.indexed_until = {}, {}, {}
        self.before, self.after = {}, {}


def element_plan(steps, slots, escaping, safe_read=lambda slot: False) -> ElementPlan:
    """The arrays to keep by element (module docstring); ``safe_read(slot)``: whether the
    value an integer read puts in ``slot`` may be a Python float (``python_floats.py``)."""
    readers = slot_readers(steps)
    kinds = {}
    for k, step in enumerate(steps):
        kind = _maker(step, slots)
        if kind is not None:
            kinds[step.outs.i] = (kind, k)
    changed = True
    while changed:               # drop what breaks a rule, then what was made from it
        changed = False
        for a, (kind, k) in list(kinds.items()):
            if not _keepable(a, kind, k, steps, slots, kinds, readers, escaping, safe_read):
                del kinds[a]
                changed = True
    plan = ElementPlan()
    for a, (kind, k) in kinds.items():
        if kind in ("constant", "stack") and not any(
                _made_from(steps[j], a, kinds) for j in readers.get(a, ())):
            continue        # (made whole at once: nothing gained)
        plan.sizes[a] = slots[a].shape[0]
        plan.makers[k] = kind
        uses = [j for j in readers.get(a, ()) if j > k]
        indexed = [j for j in uses if kind == "fresh" and _indexes(steps[j], a, slots)]
        if kind == "fresh":
            plan.indexed_until[a] = min((j for j in uses if j not in indexed),
                                        default=len(steps))
        whole = [j for j in uses if j not in indexed and not _made_from(steps[j], a, kinds)]
        if whole:
            plan.before.setdefault(min(whole), []).append(a)
        elif a in escaping:
            plan.after.setdefault(k, []).append(a)
    return plan


def element_name(slot, index) -> str:
    """The Python variable of element ``index`` of kept array ``slot``."""
    return f"s{slot}_{index}"


def elements(slot, size) -> str:
    """The variables of a kept array's elements, comma-separated, a trailing comma."""
    return "".join(f"{element_name(slot, i)}, " for i in range(size)).rstrip(" ")


def _maker(step, slots):
    """How ``step`` makes an array that may be kept (module docstring), or None."""
    if step.kind != "call" or type(step.outs) is not Ref:
        return None
    info = slots[step.outs.i]
    if not (info.ndarray and info.dtype == _FLOAT64 and len(info.shape) == 1
            and 0 < info.shape[0] <= _ELEMENTS and info.dynamic is None):
        return None
    fn, args, kwargs = step.fn, step.args, step.kwargs
    if type(fn) in (FreshConstant, Constant) and not args and not kwargs:
        return "fresh" if type(fn) is FreshConstant else "constant"
    if fn is np.array and kwargs == {"dtype": _FLOAT64} and len(args) == 1 \
            and type(args[0]) is tuple and len(args[0]) == info.shape[0] \
            and all(type(a) in (int, float) or type(a) is Ref and float64_scalar(a, slots)
                    for a in args[0]):
        return "stack"
    if fn is np.negative and not kwargs and len(args) == 1 and type(args[0]) is Ref:
        return "negative"
    if fn is np.reshape and not kwargs and len(args) == 2 and type(args[0]) is Ref:
        return "reshape"
    if fn is np.concatenate and kwargs in ({}, {"axis": 0}) and len(args) == 1 \
            and type(args[0]) in (tuple, list) and all(type(a) is Ref for a in args[0]):
        return "concat"
    return None


def _sources(step):
    """The arrays a negation, reshape or concatenation makes its own from."""
    return list(step.args[0]) if step.fn is np.concatenate else [step.args[0]]


def _keepable(a, kind, k, steps, slots, kinds, readers, escaping, safe_read) -> bool:
    """Whether kept array ``a`` (made by step ``k``) follows the module docstring's rules."""
    if kind in ("negative", "reshape", "concat"):
        if any(s.i not in kinds or slots[s.i].dtype != _FLOAT64 for s in _sources(steps[k])):
            return False
    if kind != "fresh":
        return not any(_writes(steps[j], a) for j in readers.get(a, ()))
    if a in escaping:
        return False
    others = False
    for j in readers.get(a, ()):
        step = steps[j]
        if _indexes(step, a, slots):
            if others or (step.fn is operator.getitem and not safe_read(step.outs.i)):
                return False
        else:
            others = True
    return True


def _indexes(step, a, slots) -> bool:
    """Whether ``step`` is ``a[i]`` (a float64 scalar) or ``a[i] = v`` (``v`` a float64
    scalar or a float) for an integer ``0 <= i < len(a)``."""
    if step.kind != "call" or step.kwargs or not step.args or type(step.args[0]) is not Ref \
            or step.args[0].i != a:
        return False
    key = step.args[1] if len(step.args) > 1 else None
    key = key if type(key) is tuple else (key,)
    if len(key) != 1 or type(key[0]) is not int or not 0 <= key[0] < slots[a].shape[0]:
        return False
    if step.fn is operator.getitem and len(step.args) == 2:
        return type(step.outs) is Ref and float64_scalar(step.outs, slots)
    if step.fn is operator.setitem and len(step.args) == 3:
        value = step.args[2]
        return type(value) is float or type(value) is Ref and value.i != a \
            and float64_scalar(value, slots)
    return False


def _writes(step, a) -> bool:
    return step.fn is operator.setitem and step.args and type(step.args[0]) is Ref \
        and step.args[0].i == a


def _made_from(step, a, kinds) -> bool:
    """Whether ``step`` makes a kept array from kept array ``a``."""
    out = step.outs
    return type(out) is Ref and out.i in kinds and kinds[out.i][0] in ("negative", "reshape",
                                                                       "concat") \
        and any(s.i == a for s in _sources(step))


__all__ = ["ElementPlan", "element_plan", "element_name", "elements"]
