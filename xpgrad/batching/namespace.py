"""The batching namespace: the backend's ``xp`` while ``xg.vmap`` runs.

Each ``vmap`` call is one ``Level``: the batch size, the namespace it replaced (``inner``: the
backend's own, an ``xg.function`` trace's proxy, or an outer vmap's namespace) and its
``BatchingNamespace``. A function of the namespace called with no array of its level calls the
inner function as it is; otherwise its batching rule (``rules.py``, ``products.py``) computes
on the batched arrays' data through ``inner``. A function without a rule loops over the batch
(``loop``): slice every batched argument, call the inner function, stack the results -- always
right, only slower; ``Level.fallbacks`` counts these calls by name.

>>> import numpy as np
>>> from xpgrad.batching.batched import BatchedArray
>>> level = Level(2, np)
>>> x = BatchedArray(np.array([[1.0, 2.0], [3.0, 4.0]]), level)
>>> level.namespace.sum(x)._data.tolist(), float(level.namespace.sum(np.ones(3)))
([3.0, 7.0], 3.0)
"""
from __future__ import annotations

import collections
import threading
import types

from .batched import BatchedArray


class Level:
    """One ``vmap`` call: ``size`` examples, the ``inner`` namespace it computes with."""

    def __init__(self, size, inner, depth=0, fallbacks=None):
        self.size = size
        self.inner = inner
        self.depth = depth
        self.thread = threading.get_ident()
        self.fallbacks = collections.Counter() if fallbacks is None else fallbacks
        self.namespace = BatchingNamespace(inner, self)

    def wrap(self, data, shared=False):
        return BatchedArray(data, self, shared)

    def __repr__(self):
        return f"<vmap level {self.depth}: {self.size} examples>"


#: functions about dtypes and devices, answered by the inner namespace on dtypes
_STATIC = frozenset(("isdtype", "finfo", "iinfo", "result_type", "can_cast", "dtype",
                     "__array_namespace_info__", "shape", "ndim", "size", "iscomplexobj",
                     "isrealobj", "isscalar"))


class BatchingNamespace:
    """The namespace of one ``Level`` (module docstring); ``prefix``: "linalg." or "fft."
    for the submodules."""

    def __init__(self, inner, level, prefix=""):
        self._inner = inner
        self._level = level
        self._prefix = prefix
        self._cache = {}

    def __getattr__(self, name):
        if name.startswith("__") and name != "__array_namespace_info__":
            raise AttributeError(name)
        try:
            return self._cache[name]
        except KeyError:
            pass
        value = getattr(self._inner, name)
        if isinstance(value, (types.ModuleType, BatchingNamespace)) or (
                name in ("linalg", "fft") and not callable(value)):
            wrapped = BatchingNamespace(value, self._level, f"{self._prefix}{name}.")
        elif callable(value) and not isinstance(value, type):
            wrapped = _batching(self._level, value, self._prefix + name)
        else:
            wrapped = value
        self._cache[name] = wrapped
        return wrapped

    def __repr__(self):
        return f"<batching namespace of {self._level!r}>"


def _batching(level, real, name):
    """``real`` (a function of the inner namespace) taking this level's batched arrays."""
    from .table import CREATION, RULES

    if name in _STATIC:
        def static(*args, **kwargs):
            return real(*_dtypes(args), **kwargs)
        static.__name__ = name
        return static
    rule = RULES.get(name)
    if rule is None and _is_ufunc(real):
        from .rules import elementwise as rule
    create = CREATION.get(name)

    def batched(*args, **kwargs):
        if not holds(level, args) and not (kwargs and holds(level, kwargs.values())):
            if create is not None and level.thread == threading.get_ident():
                return create(level, real, args, kwargs)
            return real(*args, **kwargs)
        if level.size and shared_only(level, args) and shared_only(level, kwargs.values()):
            # every example's the same values: computed once, shared (BatchedArray)
            return share(level, real(*_example(level, args, 0), **_example(level, kwargs, 0)))
        if rule is None:
            return loop(level, real, name, args, kwargs)
        return rule(level, real, args, kwargs)
    batched.__name__ = name.rpartition(".")[2]
    batched.real = real
    return batched


def _is_ufunc(fn):
    return type(fn).__name__ == "ufunc" and getattr(fn, "nout", 0) == 1 and \
        getattr(fn, "signature", None) is None


def _dtypes(args):
    return tuple(a.dtype if a.__class__ is BatchedArray else a for a in args)


def holds(level, items) -> bool:
    """Whether ``items`` (or a tuple or list among them) holds an array batched by ``level``."""
    for a in items:
        cls = a.__class__
        if cls is BatchedArray:
            if a._level is level:
                return True
        elif (cls is tuple or cls is list) and holds(level, a):
            return True
    return False


def shared_only(level, items) -> bool:
    """Whether every array of ``level`` in ``items`` is one example's values shared by all
    (made by ``zeros`` and the like, or computed from such only)."""
    for a in items:
        cls = a.__class__
        if cls is BatchedArray:
            if a._level is level and not a._shared:
                return False
        elif (cls is tuple or cls is list) and not shared_only(level, a):
            return False
    return True


def share(level, out):
    """One example's result ``out`` as every example's: a batched view, copied when written."""
    if isinstance(out, tuple) or out.__class__ is list:
        items = [share(level, o) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    if not hasattr(out, "shape") or not hasattr(out, "dtype"):
        return out
    inner = level.inner
    out = inner.asarray(out)
    view = inner.broadcast_to(inner.expand_dims(out, axis=0), (level.size,) + tuple(out.shape))
    return BatchedArray(view, level, True)


def batched(level, a) -> bool:
    return a.__class__ is BatchedArray and a._level is level


# -- the loop over the batch ------------------------------------------------------------------
def loop(level, real, name, args, kwargs):
    """``real`` called once per example on the examples' slices, the results stacked: what a
    function without a batching rule computes."""
    level.fallbacks[name] += 1
    outs = [real(*_example(level, args, b), **_example(level, kwargs, b))
            for b in range(level.size)]
    if not outs:
        raise ValueError(f"{name} has no batching rule, and xg.vmap over 0 examples cannot "
                         "call it to learn its output's shape")
    return stacked(level, outs, name)


def _example(level, obj, b):
    cls = obj.__class__
    if cls is BatchedArray and obj._level is level:
        return obj._data[b]
    if cls is tuple or cls is list:
        return cls(_example(level, o, b) for o in obj)
    if cls is dict:
        return {k: _example(level, v, b) for k, v in obj.items()}
    return obj


def stacked(level, outs, name):
    """The examples' results ``outs`` as one batched result (tuples and lists item by item);
    a Python answer must be the same for every example."""
    first = outs[0]
    if isinstance(first, tuple) or first.__class__ is list:
        items = [stacked(level, [o[i] for o in outs], name) for i in range(len(first))]
        if hasattr(first, "_fields"):
            return type(first)(*items)
        return type(first)(items)
    if first is None or isinstance(first, (bool, str, type)) or not hasattr(first, "shape"):
        if any(o is not first and o != first for o in outs[1:]):
            raise ValueError(f"{name} answers a Python value that differs between the "
                             f"examples of xg.vmap ({first!r}, {outs[1]!r}, ...): it cannot "
                             "be batched")
        return first
    return BatchedArray(level.inner.stack([level.inner.asarray(o) for o in outs]), level)
