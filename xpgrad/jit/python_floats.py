"""Which element reads of a NumPy program may give Python floats instead of NumPy scalars.

A program on a small state (an ODE's right-hand side and its vector-Jacobian product: ``p[0] *
y[0] - p[1] * y[0] * y[1]``) reads float64 elements by integer indexing, which gives NumPy
scalars, and then spends its time in NumPy's scalar arithmetic: 60-80 ns a ``*`` against 15
for Python floats. Both are IEEE binary64 with the same correctly rounded ``+``, ``-``, ``*``
and negation, so the values are bit for bit the same; what differs is that Python's arithmetic
never warns (an overflow to inf, an inf - inf), and that a Python float is a "weak" scalar in
NumPy's promotion (NEP 50), which would turn ``x32 * y64[0]`` into float32. So
``python_float_reads(program)`` picks an element read ``a[i, ...]`` of a float64 array (written
``a.item(i, ...)``: a Python float) only where every value computed from it on the way is
consumed by float64 steps that treat a Python float as NumPy treats the scalar: ``+``, ``-``,
``*`` and negation written as Python operators (``step_syntax.py``: division, which raises
``ZeroDivisionError`` on Python floats, is not among them), a write ``b[j] = v`` into a float64
array, and ``np.array((u, v, ...), dtype=float64)`` (``small_stacks.py``); a value that escapes
as the result, or is read by any other step, keeps its read as it was (small arrays kept as
one Python variable per element: ``element_arrays.py``). The program offers the
rewritten replay on request only (``Program.raw_replay(python_floats=True)``: ``odeint``'s
right-hand sides), since its overflows no longer warn.

>>> import operator
>>> import numpy as np
>>> from xpgrad.jit.program_steps import Ref, SlotInfo, Step
>>> f64 = np.dtype(np.float64)
>>> slots = [SlotInfo((2,), f64, 0, 0, True), SlotInfo((), f64, 1, 1, False),
...          SlotInfo((), f64, 2, 2, False), SlotInfo((2,), f64, 3, 3, True)]
>>> steps = [Step(None, (), {}, Ref(0), "input"),
...          Step(operator.getitem, (Ref(0), (1,)), {}, Ref(1), "call"),
...          Step(np.multiply, (Ref(1), 2.0), {}, Ref(2), "call"),
...          Step(np.array, ((Ref(2), Ref(2)),), {"dtype": f64}, Ref(3), "call")]
>>> sorted(python_float_reads(steps, slots, escaping={3}))
[1]
>>> sorted(python_float_reads(steps, slots, escaping={2, 3}))      # the product escapes
[]
"""
from __future__ import annotations

import operator

import numpy as np

from .program_steps import Ref
from .step_facts import reads, slot_readers

_FLOAT64 = np.dtype(np.float64)
#: arithmetic written as Python operators whose Python-float form is NumPy's scalar one
_BINARY = (np.add, np.subtract, np.multiply, operator.iadd, operator.isub, operator.imul)
_UNARY = (np.negative,)


def python_float_reads(steps, slots, escaping) -> set:
    """The indices of the steps of ``steps`` that may read their element as a Python float
    (module docstring); ``escaping``: the slots the result and the Variable writes hold."""
    readers = slot_readers(steps)
    chosen = set()
    for k, step in enumerate(steps):
        if _element_read(step, slots) and _only_safe_uses(step.outs.i, steps, slots, readers,
                                                          escaping):
            chosen.add(k)
    return chosen


def safe_reads(steps, slots, escaping):
    """``safe(slot)``: whether every value computed from ``slot`` (an element read's result)
    through Python-float arithmetic is read only by steps that take a Python float as the
    NumPy scalar (``element_arrays.py`` asks it of the reads it makes variables)."""
    readers = slot_readers(steps)
    return lambda slot: _only_safe_uses(slot, steps, slots, readers, escaping)


def listed_inputs(steps, slots, chosen) -> dict:
    """{step index: (input slot, index)} for the element reads of the 1-D float64 inputs that
    the program reads only by element (all of them among ``chosen``), directly or through a
    slice: such an input is made a list once (``s0.tolist()``, ``list_name``) and each read
    is an index of it. The slices themselves are then left out (``sliced``: their steps)."""
    readers = slot_readers(steps)
    found, sliced = {}, set()
    for step in steps:
        if step.kind != "input" or type(step.outs) is not Ref:
            continue
        a = step.outs.i
        info = slots[a]
        if not (info.ndarray and info.dtype == _FLOAT64 and len(info.shape) == 1
                and info.dynamic is None):
            continue
        reads, views = {}, set()
        for k in readers.get(a, ()):
            index = _element_index(steps[k], a, range(info.shape[0]))
            if index is not None and k in chosen:
                reads[k] = index
                continue
            positions = _slice_positions(steps[k], a, info.shape[0])
            if positions is None:
                break
            for j in readers.get(steps[k].outs.i, ()):
                index = _element_index(steps[j], steps[k].outs.i, positions)
                if index is None or j not in chosen:
                    break
                reads[j] = index
            else:
                views.add(k)
                continue
            break
        else:
            found.update((k, (a, index)) for k, index in reads.items())
            sliced |= views
    return {"reads": found, "sliced": sliced}


def list_name(slot) -> str:
    """The list an input read only by element is made into."""
    return f"s{slot}_list"


def _element_index(step, a, positions):
    """The index into the input of ``step``'s read ``a[i]`` (``positions``: what ``a``'s
    entries are in the input), or None where ``step`` is not such a read."""
    if step.fn is not operator.getitem or type(step.args[0]) is not Ref \
            or step.args[0].i != a or len(step.args) != 2:
        return None
    key = step.args[1]
    key = key if type(key) is tuple else (key,)
    if len(key) != 1 or type(key[0]) is not int or not -len(positions) <= key[0] < len(positions):
        return None
    return positions[key[0]]


def _slice_positions(step, a, n):
    """What the entries of ``step``'s view ``a[start:stop:step]`` (or with ``...`` after the
    slice) are in ``a``, or None where ``step`` is not such a view."""
    if step.kind != "call" or step.fn is not operator.getitem or step.kwargs \
            or len(step.args) != 2 or type(step.args[0]) is not Ref or step.args[0].i != a \
            or type(step.outs) is not Ref:
        return None
    key = step.args[1]
    key = key if type(key) is tuple else (key,)
    if key[-1:] == (Ellipsis,):
        key = key[:-1]
    if len(key) != 1 or type(key[0]) is not slice:
        return None
    return range(n)[key[0]]


def item_arguments(step) -> str:
    """The arguments of ``a.item(...)`` that read ``step``'s element (an integer key)."""
    key = step.args[1]
    return ", ".join(map(str, key if type(key) is tuple else (key,)))


def _element_read(step, slots) -> bool:
    """Whether ``step`` reads one element of a float64 array by integer indexing."""
    if step.kind != "call" or step.fn is not operator.getitem or step.kwargs \
            or len(step.args) != 2 or type(step.args[0]) is not Ref or type(step.outs) is not Ref:
        return False
    array, key = slots[step.args[0].i], step.args[1]
    key = key if type(key) is tuple else (key,)
    return array.ndarray and array.dtype == _FLOAT64 and array.dynamic is None \
        and len(key) == len(array.shape) and all(type(i) is int for i in key) \
        and float64_scalar(step.outs, slots)


def _only_safe_uses(slot, steps, slots, readers, escaping) -> bool:
    """Whether every value computed from ``slot`` through Python-float arithmetic is read only
    by steps that take a Python float as the NumPy scalar (module docstring)."""
    pending, seen = [slot], {slot}
    while pending:
        s = pending.pop()
        if s in escaping:
            return False
        for k in readers.get(s, ()):
            step = steps[k]
            if _arithmetic(step, slots):
                if step.outs.i not in seen:
                    seen.add(step.outs.i)
                    pending.append(step.outs.i)
            elif not _takes_a_float(step, s, slots):
                return False
    return True


def _arithmetic(step, slots) -> bool:
    """``+``, ``-``, ``*`` or negation of float64 scalars, written as a Python operator."""
    if step.kind != "call" or step.kwargs or type(step.outs) is not Ref \
            or not float64_scalar(step.outs, slots):
        return False
    if not (step.fn in _BINARY and len(step.args) == 2 or
            step.fn in _UNARY and len(step.args) == 1):
        return False
    return all(float64_scalar(a, slots) if type(a) is Ref else type(a) in (int, float)
               for a in step.args)


def _takes_a_float(step, slot, slots) -> bool:
    """Whether ``step`` reads ``slot`` only as a value written into a float64 array or
    stacked into a new one."""
    if step.kind != "call":
        return False
    args = step.args
    if step.fn is operator.setitem and not step.kwargs and len(args) == 3:
        target = args[0]
        return type(target) is Ref and slots[target.i].ndarray \
            and slots[target.i].dtype == _FLOAT64 and type(args[2]) is Ref \
            and args[2].i == slot and slot not in _refs((args[0], args[1]))
    if step.fn is np.array and step.kwargs == {"dtype": _FLOAT64} and len(args) == 1:
        return type(args[0]) is tuple and all(type(a) is Ref for a in args[0])
    return False


def float64_scalar(ref, slots) -> bool:
    """Whether the slot of ``ref`` holds a float64 scalar (NumPy's, not an array) of a fixed
    shape: what a Python float may stand for (``element_arrays.py`` asks it too).

    >>> import numpy as np
    >>> from xpgrad.jit.program_steps import Ref, SlotInfo
    >>> f64 = np.dtype(np.float64)
    >>> slots = [SlotInfo((), f64, 0, 0, False), SlotInfo((), f64, 1, 1, True)]
    >>> float64_scalar(Ref(0), slots), float64_scalar(Ref(1), slots)   # a 0-d array: no
    (True, False)
    """
    info = slots[ref.i]
    return not info.ndarray and info.shape == () and info.dtype == _FLOAT64 \
        and info.dynamic is None


def _refs(obj) -> list:
    from .step_facts import _refs as refs

    return refs(obj, [])


__all__ = ["python_float_reads", "safe_reads", "listed_inputs", "list_name", "item_arguments"]
