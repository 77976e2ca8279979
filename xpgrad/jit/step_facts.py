"""What the passes over a trace's steps read of each step: the slots it reads (``_refs``), the
slots it makes with their place in its result (``_out_paths``), and whether it writes into an
existing array (``_mutates``: never dropped as dead, never moved past a read).

>>> from xpgrad.jit.program_steps import Ref
>>> _refs((Ref(0), [Ref(2), 3.0]), []), _out_paths((Ref(4), (Ref(5),)), (), [])
([0, 2], [(4, (0,)), (5, (1, 0))])
"""
from __future__ import annotations

from .structure import leaves
from .program_steps import Ref


def _refs(obj, out):
    """Every Ref in a nested argument structure."""
    out.extend(o.i for o in leaves(obj) if type(o) is Ref)
    return out


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
