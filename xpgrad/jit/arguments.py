"""The raw arrays a replay takes from a call's arguments: each plain Tensor's (not a
Variable's: the program reads those itself), in the order of their leaves."""
from __future__ import annotations

from ..tensor import Tensor, Variable
from .structure import value_module


def plain_arrays(args):
    """The arrays of ``args`` where each is a plain Tensor (the usual call), else None."""
    raws = []
    for a in args:
        if a.__class__ is not Tensor:
            return None
        raws.append(a._data)
    return raws


def gather(obj, out):
    """Append the arrays of the plain Tensors among ``obj``'s leaves (``structure.leaves``) to
    ``out``, in order.

    >>> import xpgrad as xg
    >>> out = []
    >>> gather((xg.ones(1), [xg.Variable([2.0]), {"a": xg.zeros(2)}], 3.0), out)
    >>> [a.tolist() for a in out]
    [[1.0], [0.0, 0.0]]
    """
    t = type(obj)
    if t is Tensor:
        out.append(obj._data)
    elif t is tuple or t is list or (t is not dict and isinstance(obj, (list, tuple))):
        for o in obj:
            gather(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            gather(o, out)
    elif isinstance(obj, Tensor):
        if not isinstance(obj, Variable):
            out.append(obj._data)
    else:
        module = value_module(obj)
        if module is not None:          # its children are leaves
            out.extend([c._data for _, c in module[1]
                        if isinstance(c, Tensor) and not isinstance(c, Variable)])


__all__ = ["gather", "plain_arrays"]
