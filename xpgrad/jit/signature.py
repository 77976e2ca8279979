"""The signature of a call of an ``xg.function``: what must match for a trace to replay
(each tensor's backend, shape and dtype; Python values by value, or by identity where
unhashable; Variables by identity; the structure of containers)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, Variable
from .structure import is_namedtuple


class _Identity:
    """An object in a signature by identity; holding it keeps its ``id`` from being reused by
    another object while the signature is cached."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return type(other) is _Identity and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


def _tensor_backends(args, kwargs):
    """The backends of the tensors among the arguments (one entry per tensor)."""
    sig, backends = [], []
    _signature(args, sig, backends)
    _signature(kwargs, sig, backends)
    return backends


def _signature(obj, out, backends):
    if isinstance(obj, Variable):
        out.append(("V", _Identity(obj)))
    elif isinstance(obj, Tensor):
        data = obj._data
        backends.append(obj._backend)
        out.append((obj._backend.name, data.shape, data.dtype))
    else:
        t = type(obj)
        if t is tuple or t is list:
            out.append((t, len(obj)))
            for o in obj:
                _signature(o, out, backends)
        elif t is dict:
            out.append((dict, tuple(obj)))
            for o in obj.values():
                _signature(o, out, backends)
        elif is_namedtuple(obj):
            out.append((t, len(obj)))
            for o in obj:
                _signature(o, out, backends)
        elif hasattr(obj, "__array__") or hasattr(obj, "__array_interface__"):
            if isinstance(obj, np.generic):
                raise TypeError(f"xg.function takes tensors and Python numbers, not the NumPy "
                                f"scalar {obj!r}: pass xg.asarray(v) (traced once, for all "
                                f"values) or v.item() (a Python number: traced per value)")
            raise TypeError(f"xg.function takes tensors, not {t.__name__} arrays: wrap the "
                            f"argument with xg.asarray(...) before the call")
        else:
            try:
                hash(obj)
                out.append((t, obj))
            except TypeError:
                out.append((t, _Identity(obj)))
