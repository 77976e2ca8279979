"""Common subexpressions: a pure step that repeats an earlier one is replayed once.

A traced rule reads the same value as often as its Python reads it: the Lotka-Volterra
right-hand side ``p[0] * s[0] - p[1] * s[0] * s[1]`` indexes ``s[0]`` twice, and its gradient
each time again. ``merge_common_steps(program, escaping)`` lets later reads use the first
result where a step calls the same function on the same slots and constants as an earlier
one, and nothing written in between could have changed what it reads:

- the step is an indexing (``operator.getitem``), an array attribute (``x.mT``) or a ufunc
  call (one result, no ``out=``);
- its result is a NumPy scalar (which nothing can write into), or a view of what it reads
  (two views of one memory see the same writes), or an array whose memory only plain array
  functions read (no write, no kernel, no optimizer) and which the program does not return;
- no step between the two writes into memory that the step reads: an in-place operation or
  ``setitem`` forgets the steps reading its memory, and a kernel, an optimizer update, a
  random draw or a guard forgets them all.

The steps left unread are dropped afterwards as dead code. Neither slot may leave the program
(returned, written into a Variable), so every result keeps an array of its own.

>>> import operator
>>> from xpgrad.jit.program_steps import Ref, SlotInfo, Step
>>> step = Step(operator.getitem, (Ref(0), (0,)), {}, Ref(1), "call")
>>> _key(step, {}) == _key(Step(operator.getitem, (Ref(0), (0,)), {}, Ref(2), "call"), {})
True
"""
from __future__ import annotations

import operator

import numpy as np

from .program_steps import Ref
from .step_facts import _mutates, _out_paths, arg_reads, reads
from .structure import map_leaves


class _Unkeyable(Exception):
    pass


def _constant_key(obj, merged):
    """A hashable key of an argument, a Ref by its slot after ``merged``."""
    t = type(obj)
    if t is Ref:
        return ("ref", merged.get(obj.i, obj.i))
    if t is int or t is bool or t is str or obj is None or obj is Ellipsis:
        return (t, obj)
    if t is float or t is complex:
        return (t, repr(obj))            # -0.0 is not 0.0; NaN equals itself here
    if t is tuple or t is list:
        return (t, tuple(_constant_key(o, merged) for o in obj))
    if t is slice:
        return (t, _constant_key(obj.start, merged), _constant_key(obj.stop, merged),
                _constant_key(obj.step, merged))
    if t is dict:
        return (t, tuple((k, _constant_key(v, merged)) for k, v in obj.items()))
    if isinstance(obj, np.dtype):
        return ("dtype", obj.str)
    raise _Unkeyable


def _key(step, merged):
    """A hashable key naming the step's function and arguments, its slots after ``merged``
    (slot -> the earlier slot it repeats); None where an argument has no such key."""
    try:
        fn = ("attrgetter", step.fn.__reduce__()[1]) if type(step.fn) is operator.attrgetter \
            else id(step.fn)
        return (fn, _constant_key(step.args, merged), _constant_key(step.kwargs, merged))
    except _Unkeyable:
        return None


def _candidate(step) -> bool:
    op = operator
    if step.kind != "call" or type(step.outs) is not Ref or _mutates(step):
        return False
    fn = step.fn
    return fn is op.getitem or type(fn) is op.attrgetter or \
        (type(fn) is np.ufunc and fn.nout == 1)


def _read_only_roots(steps, slots, escaping) -> set:
    """Memory roots that no step writes, hands to a kernel or optimizer, or returns."""
    touched, unsafe = set(), {slots[s].root for s in escaping}
    for step in steps:
        roots = {slots[s].root for s in reads(step)}
        touched |= roots
        if step.kind != "call" or _mutates(step):
            unsafe |= roots
    return touched - unsafe


def merge_common_steps(program, escaping) -> int:
    """Rewrite ``program.steps`` as the module docstring says; how many steps were merged."""
    steps, slots = program.steps, program.slots
    read_only = _read_only_roots(steps, slots, escaping)
    seen, merged = {}, {}           # key -> (slot, roots it reads); slot -> earlier slot
    keys_reading = {}               # memory root -> the keys in ``seen`` whose step reads it
    renamed = {}                    # a merged result's memory root -> the earlier one's
    for step in steps:
        if merged and not merged.keys().isdisjoint(reads(step)):
            step.args = map_leaves(lambda o: Ref(merged[o.i]) if type(o) is Ref
                                   and o.i in merged else o, step.args)
            step.kwargs = map_leaves(lambda o: Ref(merged[o.i]) if type(o) is Ref
                                     and o.i in merged else o, step.kwargs)
        if not _candidate(step):
            if step.kind in ("read", "input"):
                continue
            pure = step.kind == "call" and not _mutates(step)
            if pure and _out_paths(step.outs, (), []):
                continue              # a new value, nothing written
            if step.kind != "call" or getattr(step.fn, "draws_random", False):
                seen.clear()          # a kernel or an update may write anything it reaches
                keys_reading.clear()
            else:                     # an in-place operation, setitem, a call without result
                for root in {slots[s].root for s in reads(step)}:
                    for k in keys_reading.pop(root, ()):
                        entry = seen.get(k)
                        if entry is not None and root in entry[1]:
                            del seen[k]
            continue
        out = step.outs.i
        key = _key(step, merged)
        if key is None or out in escaping or slots[out].dynamic is not None:
            continue
        earlier = seen.get(key)
        if earlier is not None and _shareable(step, slots, out, earlier[0], read_only):
            merged[out] = earlier[0]
            if slots[out].root != slots[earlier[0]].root:
                renamed[slots[out].root] = slots[earlier[0]].root
            continue
        roots = {slots[s].root for s in reads(step)}
        seen[key] = (out, roots)
        for root in roots:
            keys_reading.setdefault(root, []).append(key)
    _rename_roots(slots, renamed)
    return len(merged)


def _rename_roots(slots, renamed):
    """The views a later step took of a merged result's memory (``broadcast_arrays`` of it)
    view the earlier result's from now on: their slots join its memory class, so the buffer
    plan keeps that memory until the last of them is read."""
    if not renamed:
        return
    for info in slots:
        root, hops = info.root, 0
        while root in renamed and hops <= len(renamed):
            root, hops = renamed[root], hops + 1
        info.root = root


def _shareable(step, slots, out, earlier, read_only) -> bool:
    """Whether ``out``, a result of ``step``, may be the same object as ``earlier``, the
    result of the same call before it (module docstring)."""
    info = slots[out]
    if not info.ndarray:
        return isinstance(info.dtype, np.dtype) and info.shape == ()
    if step.fn is operator.getitem or type(step.fn) is operator.attrgetter:
        if info.root in {slots[s].root for s in arg_reads(step)}:
            return True        # a view
    return info.root in read_only and slots[earlier].root in read_only


__all__ = ["merge_common_steps"]
