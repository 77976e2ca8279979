"""NumPy arrays given to an ``xg.function``: tensor inputs, as ``tf.function`` and ``jax.jit``
take them. Each array among the call's arguments, alone or in tuples, lists and dicts (their
subclasses too), is converted as ``xg.asarray`` would -- zero-copy on the numpy and numba
backends, a copy to the device on cupy -- onto the backend of the call's tensors (the current
one where it has none), before anything else looks at the call: the function sees Tensors,
and the signature keys them by shape and dtype. A 0-d array is one too; a NumPy scalar is
no array (``signature.py`` keys it by value, as a Python number).

>>> import numpy as np
>>> import xpgrad as xg
>>> f = xg.function(lambda batch: batch["x"] * 2.0)
>>> converted(({"x": np.ones(2)},), {}, f)[0][0]["x"].tolist()
[1.0, 1.0]
"""
from __future__ import annotations

import copy

import numpy as np

from ..backend import current_backend
from ..conversion import named_asarray
from ..tensor import Tensor, _wrap
from .errors import function_name

_ndarray = np.ndarray


def converted(args, kwargs, function):
    """``(args, kwargs)`` of a call of ``function`` (a ``Function``) with each NumPy array
    among their leaves a Tensor; the very objects given where they hold none."""
    for a in args:
        if a.__class__ is not Tensor:
            break
    else:
        if not kwargs:
            return args, kwargs
    if not _holds_arrays(args) and not _holds_arrays(kwargs):
        return args, kwargs
    backend = _tensor_backend(args) or _tensor_backend(kwargs) or current_backend()
    where = f"xg.function {function_name(function.fn)!r}, argument "
    name_of = function._bind.name_of
    args = tuple([_converted(a, backend, where + name_of(k)) for k, a in enumerate(args)])
    kwargs = {key: _converted(a, backend, where + name_of(key)) for key, a in kwargs.items()}
    return args, kwargs


def wrapped(args, backend):
    """``args`` with each NumPy array a Tensor of ``backend`` (one whose raw arrays are NumPy
    arrays), as ``xg.asarray`` wraps it: a short-way replay's arguments, for its eager call."""
    return [_wrap(a, backend) if a.__class__ is _ndarray else a for a in args]


def _holds_arrays(obj):
    """Whether a NumPy array is among ``obj``'s leaves (``structure.leaves``'s containers)."""
    if isinstance(obj, _ndarray):
        return True
    if isinstance(obj, (tuple, list)):
        return any(_holds_arrays(o) for o in obj)
    if isinstance(obj, dict):
        return any(_holds_arrays(o) for o in obj.values())
    return False


def _tensor_backend(obj):
    """The backend of the first Tensor among ``obj``'s leaves, or None."""
    if isinstance(obj, Tensor):
        return obj._backend
    children = obj.values() if isinstance(obj, dict) else obj \
        if isinstance(obj, (tuple, list)) else ()
    for o in children:
        backend = _tensor_backend(o)
        if backend is not None:
            return backend
    return None


def _converted(obj, backend, what):
    """``obj`` with its NumPy arrays converted; ``what`` names it in errors."""
    if isinstance(obj, _ndarray):
        return named_asarray(obj, what, backend=backend)
    if not _holds_arrays(obj):
        return obj
    if isinstance(obj, dict):
        out = obj.copy() if type(obj) is dict else copy.copy(obj)
        for key, value in obj.items():
            out[key] = _converted(value, backend, f"{what}[{key!r}]")
        return out
    items = [_converted(o, backend, f"{what}[{k}]") for k, o in enumerate(obj)]
    t = type(obj)
    if t is tuple or t is list:
        return t(items)
    if isinstance(obj, list):
        out = copy.copy(obj)
        out[:] = items
        return out
    return t(*items) if hasattr(t, "_fields") else t(items)     # a named tuple's fields


__all__ = ["converted", "wrapped"]
