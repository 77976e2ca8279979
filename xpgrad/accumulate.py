"""Sparse gradient contributions for the tape's first-order walk.

The gradient of ``x[key]`` is zero except at ``key``. Materializing it as a full array per
slice makes a loop over ``unstack(x)`` or ``x[:, t]`` quadratic in the number of slices, so on
a first-order walk ``getitem``'s rule returns a ``Scatter`` instead (TensorFlow's
``IndexedSlices`` plays this part), and the tape adds it into one accumulator that it owns:
zeros allocated once per input, each slice's values added in place.

>>> import numpy as np
>>> acc = np.zeros(4)
>>> Scatter((4,), (slice(1, 3),), np.ones(2), None).add_into(acc)
>>> acc.tolist()
[0.0, 1.0, 1.0, 0.0]
"""
from __future__ import annotations

from .backend import Backend
from .integer_keys import integers_only
from .batching.batched import BatchedArray


def is_basic(key) -> bool:
    """Whether ``key`` (a tuple) is basic indexing: ints, slices, None and Ellipsis only.
    Basic keys select each element at most once, so ``acc[key] += v`` is exact."""
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in key)


class Scatter:
    """``zeros(shape)`` with ``values`` added at ``key`` (repeated indices accumulate), kept
    unmaterialized until the tape adds it into an accumulator."""

    __slots__ = ("shape", "key", "values", "backend")

    def __init__(self, shape, key, values, backend):
        self.shape = shape
        self.key = key
        self.values = values
        self.backend = backend

    def add_into(self, acc) -> None:
        """``acc[key] += values`` in place."""
        if acc.__class__ is BatchedArray and _batched_add(acc, self.key, self.values):
            return
        if is_basic(self.key):
            key, values = self.key, self.values
            if any(k is None for k in key):      # the array API's setitem takes no newaxis
                key, values = _without_newaxes(key, values, len(acc.shape))
            acc[key] += values
        else:
            index_add(self.backend, acc, self.key, self.values)

    def dense(self, xp, dtype=None):
        """The full gradient as a new array (of ``values``' dtype unless ``dtype`` is given)."""
        if hasattr(self.values, "_level"):      # batched by xg.vmap: a batched buffer
            if self.values.__class__ is BatchedArray and is_basic(self.key):
                out = _batched_dense(tuple(self.shape), self.key, self.values, dtype)
                if out is not None:
                    return out
            xp = self.values.__array_namespace__()
        out = xp.zeros(self.shape, dtype=self.values.dtype if dtype is None else dtype)
        self.add_into(out)
        return out


_ALL = slice(None)


def _basic_without_newaxes(key) -> bool:
    return all(k is Ellipsis or k.__class__ is int or k.__class__ is slice for k in key)


def _plain_batch(values):
    """The batched data of ``values`` (a ``BatchedArray``) when it holds its examples' own
    values as an array of its level's inner namespace (not shared, not kept as factors, not
    batched again by an outer vmap), else None."""
    if values._shared or values._factors is not None:
        return None
    data = values._data
    return None if data.__class__ is BatchedArray else data


def _batched_dense(shape, key, values, dtype):
    """``Scatter.dense`` of batched ``values`` at a basic ``key``: zeros written at the key
    once, as the examples' own array (or as the one example every example shares, where
    ``values`` is shared) -- not a shared buffer copied by the write, read and added through
    the batching namespace. None where that does not apply."""
    if any(k is None for k in key):
        key, values = _without_newaxes(key, values, len(shape))
    level = values._level
    if values._shared and values._factors is None:
        example = values.example()
        if example.__class__ is BatchedArray:
            return None
        out = level.inner.zeros(shape, dtype=example.dtype if dtype is None else dtype)
        out[key] = example
        return BatchedArray.of_example(out, level)
    data = _plain_batch(values)
    if data is None:
        return None
    out = level.inner.zeros((level.size,) + shape, dtype=data.dtype if dtype is None else dtype)
    out[(_ALL,) + key] = data
    return BatchedArray(out, level)


def _batched_add(acc, key, values) -> bool:
    """``acc[key] += values`` on the batched data of ``acc`` for a basic ``key`` without
    newaxes and ``values`` of its level (or one raw array shared by the examples); False where
    that does not apply (the caller's general path then runs)."""
    if not _basic_without_newaxes(key) or _plain_batch(acc) is None:
        return False
    if values.__class__ is BatchedArray:
        if values._level is not acc._level:
            return False
        values = _plain_batch(values)
        if values is None:
            return False
    elif values.__class__ is not acc._data.__class__:
        return False
    acc._data[(_ALL,) + key] += values
    return True


def _without_newaxes(key, values, ndim):
    """``(key, values)`` for ``acc[key] += values`` with the Nones of a basic ``key`` taken
    out, and the size-1 axes they made taken out of ``values`` (shaped like ``x[key]``)."""
    real = sum(1 for k in key if k is not None and k is not Ellipsis)
    made, axis = set(), 0
    for k in key:
        if k is None:
            made.add(axis)
        if k is None or isinstance(k, slice):
            axis += 1
        elif k is Ellipsis:
            axis += ndim - real
    shape = tuple(n for i, n in enumerate(values.shape) if i not in made)
    namespace = getattr(values, "__array_namespace__", None)    # (a traced array has none)
    values = values.reshape(shape) if namespace is None else namespace().reshape(values, shape)
    return tuple(k for k in key if k is not None), values


def index_add(backend, acc, key, values) -> None:
    """``acc[key] += values`` with repeated indices accumulating: the backend's ``index_add``
    where it has one, else (a third-party backend) a one-hot product on its namespace, for
    the keys ``take`` and ``take_along_axis`` make: slices and one integer array (``take``),
    or one integer array per axis; a boolean mask (the only index) writes its elements back."""
    if hasattr(acc, "_level"):                  # batched by xg.vmap
        from .batching.indexing import index_add as batched_index_add

        batched_index_add(backend, acc, key, values)
        return
    if type(backend).index_add is not Backend.index_add:
        tracer = getattr(acc, "_tracer", None)
        if tracer is not None and tracer.ufunc("add") is not None:
            # under xg.function on NumPy arrays: one recorded step that replays the backend's
            # own scatter (its row sums, Numba's loop) rather than the np.add.at its checks
            # would fall back to on the trace's stand-ins (several times slower on many rows)
            tracer.call(_index_add_step(backend), (acc, key, values), {})
            return
        backend.index_add(acc, key, values)
        return
    one_hot_add(backend.xp, backend.name, acc, key, values)


def one_hot_add(xp, name, acc, key, values) -> None:
    """``acc[key] += values`` on namespace ``xp`` of backend ``name`` (which has no
    ``index_add``): one-hot products, or a mask's elements written back (``index_add``)."""
    mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    if getattr(mask, "dtype", None) == xp.bool:    # each element once: nothing repeats
        acc[mask] = acc[mask] + values
        return
    shape = tuple(acc.shape)
    lin = _linear(xp, shape, key)
    if lin is None:
        raise NotImplementedError(
            f"backend {name!r} has no index_add, and the gradient of this index "
            f"({key!r}) needs one: give the backend an index_add")
    size = 1
    for s in shape:
        size *= s
    flat = xp.reshape(xp.broadcast_to(values, tuple(lin.shape)), (1, -1))
    lin = xp.reshape(lin, (-1,))
    one_hot = xp.astype(lin[:, None] == xp.arange(size, dtype=lin.dtype)[None, :], flat.dtype)
    acc[...] += xp.reshape(flat @ one_hot, shape)


#: backend name -> the function ``_index_add_step`` records for it
_INDEX_ADD_STEPS: dict = {}


def _index_add_step(backend):
    """``backend.index_add`` as a function a trace records as one step that writes into its
    first argument (``mutates_argument``: a program never drops it, nor moves it past a read)."""
    step = _INDEX_ADD_STEPS.get(backend.name)
    if step is None or step.backend is not backend:
        def step(target, key, values):
            backend.index_add(target, key, values)

        step.__name__ = step.__qualname__ = f"{backend.name}_index_add"
        step.backend, step.mutates_argument = backend, True
        _INDEX_ADD_STEPS[backend.name] = step
    return step


def _linear(xp, shape, key):
    """The flat positions ``key`` selects in an array of ``shape``, shaped like ``x[key]``;
    None for keys other than integer arrays, ints and slices (at least one array)."""
    nd = len(shape)
    arrays = [k for k in key if hasattr(k, "shape")]
    if len(key) > nd or not arrays or any(k.dtype == xp.bool for k in arrays) or \
            len(arrays) + sum(isinstance(k, (int, slice)) for k in key) != len(key):
        return None
    key = integers_only(xp, shape, key)
    lin = None
    stride = 1
    for d in range(nd - 1, -1, -1):
        k = key[d]
        if isinstance(k, int):
            k = k + shape[d] if k < 0 else k
        else:
            k = xp.where(k < 0, k + shape[d], k)
        term = k * stride
        lin = term if lin is None else lin + term
        stride *= shape[d]
    return lin
