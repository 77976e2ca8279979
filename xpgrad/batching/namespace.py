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
import weakref

import numpy as np

from .batched import BatchedArray, ValuesDiffer
from .outer_products import FACTORED, joined, outer

_NDARRAY = np.ndarray


class Level:
    """One ``vmap`` call: ``size`` examples, the ``inner`` namespace it computes with."""

    def __init__(self, size, inner, depth=0, fallbacks=None):
        self.size = size
        self.inner = inner
        self.depth = depth
        self.thread = threading.get_ident()
        self.fallbacks = collections.Counter() if fallbacks is None else fallbacks
        self.namespace = _namespace_class("", inner)(inner, weakref.ref(self))
        #: False once its call has returned (``session.batching`` sets it; a gradient's walk
        #: enters the level again): an array of it used then escaped the call
        self.live = True

    def wrap(self, data, shared=False):
        return BatchedArray(data, self, shared)

    def __repr__(self):
        return f"<vmap level {self.depth}: {self.size} examples>"


#: functions about dtypes and devices, answered by the inner namespace on dtypes
_STATIC = frozenset(("isdtype", "finfo", "iinfo", "result_type", "can_cast", "dtype",
                     "__array_namespace_info__", "shape", "ndim", "size", "iscomplexobj",
                     "isrealobj", "isscalar"))


class BatchingNamespace:
    """The namespace of one ``Level`` (module docstring). Its functions are built once per
    name and kept on a subclass for the inner namespace (each reads its level and the inner
    function from the instance), so a ``vmap`` call makes none, and a function the inner
    namespace lacks (array-api-strict's ``einsum``) stays missing, as rules that look for it
    with ``getattr(xp, name, None)`` expect; a submodule (``linalg``, ``fft``) is an instance
    of a subclass of its own (``_prefix``: "linalg.").

    It holds its level weakly (``level_ref``): the level holds it, and the two would otherwise
    be a reference cycle left by every ``vmap`` call. Once the level is gone no array of it
    remains (each holds its level), so its functions are the inner namespace's."""

    _prefix = ""

    def __init__(self, inner, level_ref):
        self._inner = inner
        self._level = level_ref

    def __getattr__(self, name):
        if name.startswith("__") and name != "__array_namespace_info__":
            raise AttributeError(name)
        value = getattr(self._inner, name)
        cls = type(self)
        if isinstance(value, (types.ModuleType, BatchingNamespace)) or (
                name in ("linalg", "fft") and not callable(value)):
            value = _namespace_class(f"{cls._prefix}{name}.", value)(value, self._level)
        elif callable(value) and not isinstance(value, type):
            setattr(cls, name, _batching(cls._prefix + name, name))
            return getattr(self, name)
        self.__dict__[name] = value
        return value

    def __repr__(self):
        level = self._level()
        return f"<batching namespace of {'a vmap call that ended' if level is None else level}>"


_CLASSES = {}


def _namespace_class(prefix, inner):
    """The subclass of ``BatchingNamespace`` for the namespace (``prefix`` "": the top one)
    or submodule (``"linalg."``) ``inner``: one per module, whether wrapped by an
    ``xg.function`` trace's proxy (``_real``) or by an outer level's namespace."""
    key = inner.__class__
    if key is types.ModuleType:
        key = inner
    elif not issubclass(key, BatchingNamespace):
        key = getattr(inner, "__dict__", {}).get("_real", key)
    cls = _CLASSES.get((prefix, key))
    if cls is None:
        name = f"BatchingNamespace[{prefix[:-1]}]" if prefix else "BatchingNamespace"
        cls = _CLASSES[prefix, key] = type(name, (BatchingNamespace,), {"_prefix": prefix})
    return cls


_TABLES = []


def _tables():
    """``(RULES, CREATION, elementwise)``, imported on first use (``table`` imports the
    rules, which import this module)."""
    if not _TABLES:
        from .rules import elementwise
        from .table import CREATION, RULES

        _TABLES.extend((RULES, CREATION, elementwise))
    return _TABLES


def _batching(name, short):
    """The namespace method ``name`` (``short`` without the submodule's prefix): the inner
    namespace's function, taking the level's batched arrays."""
    if name in _STATIC:
        def static(ns, *args, **kwargs):
            return getattr(ns._inner, short)(*_dtypes(args), **kwargs)
        static.__name__ = short
        return static
    rules, creation, elementwise = _tables()
    rule = rules.get(name)
    create = creation.get(name)

    if rule is not elementwise:
        def batched(ns, *args, **kwargs):
            return _dispatch(ns._level(), getattr(ns._inner, short), name, rule, create, args,
                             kwargs)
    else:
        multiplies, adds = name == "multiply", name == "add"

        def batched(ns, *args, **kwargs):
            level = ns._level()         # (None once the level is gone: no argument is its)
            real = getattr(ns._inner, short)
            if kwargs:
                return _dispatch(level, real, name, rule, create, args, kwargs)
            if adds and len(args) == 2 and args[0].__class__ is BatchedArray \
                    and args[0]._factors is not None:
                out = joined(level, args[0], args[1])      # outer products (factors) added
                if out is not None:
                    return out
            # one pass over the arguments: when the batched ones hold examples of one rank
            # (their data's axes line up) and no other array (a shared one: its example) has
            # more axes than an example, the data broadcast as they are
            data = []
            rank = -1
            widest = 0
            for a in args:
                cls = a.__class__
                if cls is BatchedArray and a._level is level:
                    if a._shared and level.size:
                        d = a.example()
                        widest = max(widest, d.ndim)
                    else:
                        d = a._data
                        if rank != d.ndim:
                            if rank >= 0:
                                if multiplies and len(args) == 2:   # (k, 1) * (m,)
                                    out = outer(level, data[0], d)
                                    if out is not None:
                                        return out
                                return _dispatch(level, real, name, rule, create, args,
                                                 kwargs)
                            rank = d.ndim
                    data.append(d)
                elif cls is float or cls is int or cls is bool:
                    data.append(a)
                elif cls is tuple or cls is list:
                    return _dispatch(level, real, name, rule, create, args, kwargs)
                else:
                    widest = max(widest, getattr(a, "ndim", 0))
                    data.append(a)
            if rank <= widest:
                return _dispatch(level, real, name, rule, create, args, kwargs)
            if multiplies and rank == 3 and len(data) == 2:
                out = outer(level, data[0], data[1])      # the examples' outer products
                if out is not None:
                    return out
            out = real(*data)
            if out.__class__ is tuple:
                return tuple(BatchedArray(o, level) for o in out)
            return BatchedArray(out, level)

    batched.__name__ = short
    keeps_factors = FACTORED.get(name)
    return batched if keeps_factors is None else keeps_factors(batched)


def _dispatch(level, real, name, rule, create, args, kwargs):
    """``real(*args, **kwargs)`` at ``level``: as it is without the level's arrays, once for
    every example when they are all shared, else by ``rule`` or the loop (as it is once the
    level is gone, ``None``)."""
    if level is None:
        return real(*args, **kwargs)
    found = _presence(level, args)
    if kwargs:
        found = max(found, _presence(level, kwargs.values()))
    if not found:
        if create is not None and level.thread == threading.get_ident():
            return create(level, real, args, kwargs)
        return real(*args, **kwargs)
    if found == _SHARED and level.size:
        # every example's the same values: computed once, shared (BatchedArray)
        return share(level, real(*_example(level, args, 0), **_example(level, kwargs, 0)))
    if rule is None and _is_ufunc(real):
        rule = _tables()[2]
    if rule is None:
        return loop(level, real, name, args, kwargs)
    return rule(level, real, args, kwargs)


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


_SHARED = 1       # _presence: every array of the level is shared
_OWN = 2          # _presence: some array of the level holds the examples' own values


def _presence(level, items) -> int:
    """0 when ``items`` (or a tuple or list among them) hold no array of ``level``,
    ``_SHARED`` when those they hold are one example's values shared by all (made by
    ``zeros`` and the like, or computed from such only), else ``_OWN``."""
    found = 0
    for a in items:
        cls = a.__class__
        if cls is BatchedArray:
            if a._level is level:
                if not a._shared:
                    return _OWN
                found = _SHARED
        elif cls is tuple or cls is list:
            inside = _presence(level, a)
            if inside == _OWN:
                return _OWN
            found = found or inside
    return found


def share(level, out):
    """One example's result ``out`` as every example's: a batched view, copied when written."""
    if isinstance(out, tuple) or out.__class__ is list:
        items = [share(level, o) for o in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    if not hasattr(out, "shape") or not hasattr(out, "dtype"):
        return out
    if out.__class__ is not _NDARRAY:
        out = level.inner.asarray(out)
    return BatchedArray.of_example(out, level)


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


def per_example(fn, xp, arrays, name):
    """``fn(xp, *arrays)`` once per example of the innermost level batching ``arrays`` (on its
    inner namespace), the results stacked, counted in the level's ``fallbacks`` as ``name``:
    for a computation that reads its values (a ``ValuesDiffer`` where they differ between the
    examples). None: no array is batched."""
    from .batched import _top

    level = _top(arrays)
    if level is None:
        return None
    return loop(level, lambda *examples: fn(level.inner, *examples), name, arrays, {})


def batched_or_per_example(fn, xp, arrays, name):
    """``fn(xp, *arrays)`` on the batched ``arrays``, or, where the examples' values differ
    (``ValuesDiffer``), ``per_example``: then only that run is counted in ``fallbacks``, not
    the loops the failed batched attempt made on its way (its ``getitem`` of a ragged mask)."""
    from .batched import _top

    level = _top(arrays)
    counted = dict(level.fallbacks)
    try:
        return fn(xp, *arrays)
    except ValuesDiffer:
        level.fallbacks.clear()
        level.fallbacks.update(counted)
        return per_example(fn, xp, arrays, f"{name} (examples' values differ)")


def _example(level, obj, b):
    cls = obj.__class__
    if cls is BatchedArray and obj._level is level:
        return obj._data[b, ...] if obj._example is None else obj._example
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
    arrays = [level.inner.asarray(o) for o in outs]
    for b, array in enumerate(arrays):
        if array.shape != arrays[0].shape:
            raise _RaggedResults(name, arrays[0].shape, b, array.shape)
    return BatchedArray(level.inner.stack(arrays), level)


class _RaggedResults(ValuesDiffer):
    """An operation whose result's shape depends on the values (``x[mask]``, ``nonzero``,
    ``repeat`` with per-example counts) gave the examples of ``xg.vmap`` different shapes,
    which cannot be stacked (JAX refuses these at trace time). A ValueError that the appliers
    pass on unchanged.

    >>> str(_RaggedResults("nonzero", (2,), 1, (1,))).split(":")[0]
    'nonzero under xg.vmap'
    """

    def __init__(self, name, first, b, other):
        super().__init__(
            f"{name} under xg.vmap: its result has shape {tuple(first)} for example 0 but "
            f"{tuple(other)} for example {b}; vmap stacks the examples' results, so every "
            "example's must have the same shape. Use a fixed-size form: xg.where(mask, x, 0) "
            "instead of x[mask] (or a sum over the mask instead of nonzero's indices), and "
            "repeat counts that are the same for every example")
