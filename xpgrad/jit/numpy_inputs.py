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

from operator import is_

import numpy as np

from ..backend import current_backend
from ..conversion import named_asarray
from ..dtypes import ALL
from ..tensor import Tensor, _wrap
from .errors import function_name
from .structure import is_namedtuple, refilled

_ndarray = np.ndarray
#: the dtypes xpgrad holds, as NumPy's (native byte order)
_SUPPORTED = frozenset(np.dtype(name) for name in ALL)


def converted(args, kwargs, function):
    """``(args, kwargs)`` of a call of ``function`` (a ``Function``) with each NumPy array
    among their leaves a Tensor; the very objects given where they hold none."""
    for a in args:
        if a.__class__ is not Tensor:
            break
    else:
        if not kwargs:
            return args, kwargs
    found = [False, None]           # an array seen, the first Tensor's backend
    _look(args, found)
    _look(kwargs, found)
    if not found[0]:
        return args, kwargs
    backend = found[1] or current_backend()
    args = tuple([_converted(a, backend, function, (k,)) for k, a in enumerate(args)])
    kwargs = {key: _converted(a, backend, function, (key,)) for key, a in kwargs.items()}
    return args, kwargs


def wrapped(args, backend):
    """``args`` with each NumPy array a Tensor of ``backend`` (one whose raw arrays are NumPy
    arrays), as ``xg.asarray`` wraps it: a short-way replay's arguments, for its eager call."""
    return [_wrap(a, backend) if a.__class__ is _ndarray else a for a in args]


def _look(obj, found):
    """Note in ``found`` whether a NumPy array is among ``obj``'s leaves (the containers of
    ``structure.leaves``) and the backend of the first Tensor there."""
    t = obj.__class__
    if t is _ndarray:
        found[0] = True
    elif t is tuple or t is list or isinstance(obj, (tuple, list)):
        for o in obj:
            _look(o, found)
    elif isinstance(obj, dict):
        for o in obj.values():
            _look(o, found)
    elif found[1] is None and isinstance(obj, Tensor):
        found[1] = obj._backend
    elif isinstance(obj, _ndarray):
        found[0] = True


def _converted(obj, backend, function, path):
    """``obj`` with its NumPy arrays converted (``obj`` itself where it holds none); ``path``:
    where it is among the call's arguments (its position or keyword, then keys inward)."""
    t = obj.__class__
    if t is Tensor:
        return obj
    if t is _ndarray and backend.array_class is _ndarray and obj.dtype in _SUPPORTED:
        return _wrap(obj, backend)          # all that xg.asarray does with it there
    if isinstance(obj, _ndarray):
        what = (f"xg.function {function_name(function.fn)!r}, argument "
                f"{function._bind.name_of(path[0])}" + "".join(f"[{p!r}]" for p in path[1:]))
        return named_asarray(obj, what, backend=backend)
    if isinstance(obj, dict):
        values = {key: _converted(v, backend, function, (*path, key)) for key, v in obj.items()}
        if all(values[key] is v for key, v in obj.items()):
            return obj
        return values if t is dict else refilled(obj, values.values())
    if not (t is tuple or t is list or isinstance(obj, (tuple, list))):
        return obj
    items = [_converted(o, backend, function, (*path, k)) for k, o in enumerate(obj)]
    if all(map(is_, items, obj)):
        return obj
    if t is tuple or t is list:
        return t(items)
    return t(*items) if is_namedtuple(obj) else refilled(obj, items)


__all__ = ["converted", "wrapped"]
