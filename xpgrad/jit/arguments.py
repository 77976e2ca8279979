"""The raw arrays a replay takes from a call's arguments: each plain Tensor's (not a
Variable's: the program reads those itself), in the order of their leaves."""
from __future__ import annotations

from ..tensor import Tensor, Variable
from .structure import leaves


def plain_arrays(args):
    """The arrays of ``args`` where each is a plain Tensor (the usual call), else None."""
    raws = []
    for a in args:
        if a.__class__ is not Tensor:
            return None
        raws.append(a._data)
    return raws


def gather(obj, out):
    out.extend(o._data for o in leaves(obj)
               if isinstance(o, Tensor) and not isinstance(o, Variable))


__all__ = ["gather", "plain_arrays"]
