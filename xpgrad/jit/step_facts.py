"""What the passes over a trace's steps read of each step: the slots it reads (``_refs``;
``reads`` and ``arg_reads`` for a step), the slots it makes with their place in its result
(``_out_paths``), and whether it writes into an existing array (``_mutates``: never dropped as
dead, never moved past a read).

A long trace has tens of thousands of steps and a dozen passes read each of them, so a step
keeps what was found in it (``Step.facts``), with the function and argument objects it was
found in: a pass that gives a step new arguments or a new function (every pass replaces them,
none edits them in place) makes the facts stale, and they are found again.

>>> from xpgrad.jit.program_steps import Ref, Step
>>> _refs((Ref(0), [Ref(2), 3.0]), []), _out_paths((Ref(4), (Ref(5),)), (), [])
([0, 2], [(4, (0,)), (5, (1, 0))])
>>> step = Step(abs, (Ref(0), [Ref(2)]), {"where": Ref(3)}, Ref(4), "call")
>>> reads(step), arg_reads(step), _mutates(step)
((0, 2, 3), (0, 2), False)
>>> step.args, step.kwargs = (Ref(7),), {"out": Ref(7)}       # a pass rewrote it: found anew
>>> reads(step), _mutates(step)
((7, 7), True)
"""
from __future__ import annotations

from .structure import leaves
from .program_steps import Ref

#: leaves that hold no Ref, skipped without a look inside (a slice's bounds are never traced)
_ATOMS = frozenset((int, float, bool, complex, str, bytes, type(None), slice, type(Ellipsis)))


def _refs(obj, out):
    """Every Ref in a nested argument structure (its slots appended to ``out``)."""
    t = type(obj)
    if t is Ref:
        out.append(obj.i)
    elif t is tuple or t is list:
        for o in obj:
            to = type(o)
            if to is Ref:
                out.append(o.i)
            elif to not in _ATOMS:
                _refs(o, out)
    elif t is dict:
        for o in obj.values():
            if type(o) is Ref:
                out.append(o.i)
            elif type(o) not in _ATOMS:
                _refs(o, out)
    elif t not in _ATOMS:       # a subclass of a container, a Module of plain tensors, a leaf
        out.extend(o.i for o in leaves(obj) if type(o) is Ref)
    return out


def _facts(step):
    """``(fn, args, kwargs, arg slots, all slots read, mutates)`` of ``step``, up to date."""
    facts = step.facts
    if facts is not None and facts[0] is step.fn and facts[1] is step.args \
            and facts[2] is step.kwargs:
        return facts
    from_args = tuple(_refs(step.args, []))
    from_kwargs = _refs(step.kwargs, []) if step.kwargs else ()
    facts = step.facts = (step.fn, step.args, step.kwargs, from_args,
                          from_args + tuple(from_kwargs) if from_kwargs else from_args,
                          _finds_mutation(step))
    return facts


def reads(step) -> tuple:
    """The slots ``step`` reads, in its arguments' then its keyword arguments' order (one per
    Ref: a slot read twice is there twice)."""
    facts = step.facts         # (``_facts``' test inline: the passes call this ~10 times a step)
    if facts is not None and facts[0] is step.fn and facts[1] is step.args \
            and facts[2] is step.kwargs:
        return facts[4]
    return _facts(step)[4]


def arg_reads(step) -> tuple:
    """The slots ``step``'s positional arguments read."""
    return _facts(step)[3]


def slot_readers(steps) -> dict:
    """{slot: the indices of the steps that read it, in order}.

    >>> from xpgrad.jit.program_steps import Ref, Step
    >>> slot_readers([Step(abs, (Ref(0),), {}, Ref(1), "call"),
    ...               Step(max, (Ref(0), Ref(1)), {}, Ref(2), "call")])
    {0: [0, 1], 1: [1]}
    """
    found = {}
    for k, step in enumerate(steps):
        for slot in reads(step):
            found.setdefault(slot, []).append(k)
    return found


def _out_paths(obj, path, out):
    """(slot, index path) for every Ref in a step's result structure."""
    if type(obj) is Ref:
        out.append((obj.i, path))
    elif type(obj) is tuple:
        for k, o in enumerate(obj):
            _out_paths(o, path + (k,), out)
    return out


_MUTATING_METHODS = frozenset(("fill", "sort", "put", "itemset", "resize", "partition",
                               "setfield", "byteswap"))


def _mutates(step):
    """Whether a call writes into an existing array (then it is never dropped as dead)."""
    facts = step.facts
    if facts is not None and facts[0] is step.fn and facts[1] is step.args \
            and facts[2] is step.kwargs:
        return facts[5]
    return _facts(step)[5]


def _finds_mutation(step):
    import operator

    fn = step.fn
    if "out" in step.kwargs or fn is operator.setitem or getattr(fn, "draws_random", False):
        return True
    name = getattr(fn, "__name__", "") or ""
    if name.startswith("i") and getattr(operator, name, None) is fn:
        return True
    if getattr(fn, "name", None) in _MUTATING_METHODS:
        return True
    if getattr(fn, "__name__", None) == "at" or "at" == getattr(fn, "__qualname__", "")[-2:]:
        return True
    if getattr(fn, "mutates_argument", False):     # a backend's index_add (accumulate.py)
        return True
    return False
