"""Indexing batched arrays: ``x[key]``, ``x[key] = value`` and ``index_add``.

One example's key becomes a key of the batched data: ``(slice(None),) + key`` for basic keys
and for integer arrays shared by the examples; where the examples have their own index arrays,
an ``arange`` over the batch joins them as one more advanced index. NumPy puts the axes of
advanced indices first when they are not adjacent, so the batch axis is moved back where that
happens. Keys with a boolean mask that differs between examples (ragged results), or None among
integer arrays, loop over the batch.

>>> import numpy as np
>>> from xpgrad.batching.namespace import Level
>>> level = Level(2, np)
>>> x = level.wrap(np.arange(12.0).reshape(2, 2, 3))
>>> labels = level.wrap(np.array([2, 0]))
>>> x[0, labels]._data.tolist(), x[:, np.array([0, 0])].shape
([2.0, 6.0], (2, 2))
"""
from __future__ import annotations

import operator

from ..accumulate import one_hot_add
from ..backend import Backend
from ..integer_keys import integers_only
from .batched import BatchedArray
from .namespace import batched, stacked


def _is_array(k):
    return hasattr(k, "shape") and hasattr(k, "dtype")


def _is_bool(k):
    return "bool" in str(k.dtype)


def _expanded(level, key, ndim):
    """``key`` with its Ellipsis spelled out as slices and masks shared by the examples as
    their integer arrays; None where the batch must be looped over."""
    out = []
    for k in key:
        if _is_array(k) and _is_bool(k):
            if batched(level, k):
                return None
            out.extend(level.inner.nonzero(k) if k.ndim else [k])
            if not k.ndim:
                return None
        else:
            out.append(k)
    used = sum(1 for k in out if k is not None and k is not Ellipsis)
    if any(k is Ellipsis for k in out):
        i = next(i for i, k in enumerate(out) if k is Ellipsis)
        out[i:i + 1] = [slice(None)] * (ndim - used)
    elif used < ndim:
        out.extend([slice(None)] * (ndim - used))
    return out


def data_key(level, key, ndim):
    """``(key of the batched data, move)``: ``move`` is None, or ``(first, count, to)`` --
    the result's axes ``first .. first+count-1`` must move to ``to`` (NumPy placed advanced
    axes first). ``(None, None)``: loop over the batch."""
    key = key if isinstance(key, tuple) else (key,)
    if not any(_is_array(k) for k in key):
        return (slice(None),) + key, None
    key = _expanded(level, key, ndim)
    if key is None or any(k is None for k in key):
        return None, None
    advanced = [i for i, k in enumerate(key) if _is_array(k) or isinstance(k, int)]
    adjacent = advanced == list(range(advanced[0], advanced[-1] + 1))
    rank = max(k.ndim if _is_array(k) else 0 for k in key)
    if not any(batched(level, k) for k in key):
        if adjacent:
            return (slice(None),) + tuple(key), None
        return (slice(None),) + tuple(key), (rank, 1, 0)     # batch axis after the index axes
    inner = level.inner
    n = level.size
    examples = inner.reshape(inner.arange(n), (n,) + (1,) * rank)
    aligned = tuple(_aligned(level, k, rank) for k in key)
    move = None
    if adjacent and advanced[0] > 0:
        move = (1, rank, 1 + advanced[0])
    return (examples,) + aligned, move


def _aligned(level, k, rank):
    if not batched(level, k):
        return k
    d = k._data
    if k.ndim == rank:
        return d
    return level.inner.reshape(d, (d.shape[0],) + (1,) * (rank - k.ndim) + k.shape)


def indexed(inner, data, dkey):
    """``data[dkey]`` (a full key of ``data_key``): as NumPy and CuPy index, else -- the array
    API takes integer arrays only where every axis has an integer or one (array-api-strict) --
    by the integer arrays that key means, each slice an ``arange`` on an axis of its own."""
    try:
        return data[dkey]
    except IndexError:
        if not any(_is_array(k) for k in dkey) or not any(k.__class__ is slice for k in dkey):
            raise
        return data[integers_only(inner, tuple(data.shape), dkey)]


def _moved(inner, out, move):
    if move is None:
        return out
    first, count, to = move
    source = list(range(first, first + count))
    return inner.moveaxis(out, source, list(range(to, to + count)))


def getitem(x, key):
    """``x[key]`` for a batched ``x`` (or a plain ``x`` and a key holding batched arrays)."""
    level = _level_of(x, key)
    if not batched(level, x):
        x = level.wrap(_full(level, x))
    dkey, move = data_key(level, key, x.ndim)
    if dkey is None:
        level.fallbacks["getitem"] += 1
        return stacked(level, [x._data[b, ...][_example(level, key, b)]
                               for b in range(level.size)], "getitem")
    out = level.wrap(_moved(level.inner, indexed(level.inner, x._data, dkey), move))
    if x._shared and move is None and isinstance(dkey[0], slice) and dkey[0] == slice(None):
        out._shared = True          # a view of a shared buffer: copied when written
    return out


def _full(level, x):
    from .rules import full

    return full(level, x)


def _level_of(x, key):
    from .batched import _top

    items = key if isinstance(key, tuple) else (key,)
    return _top((x,), items)


def _example(level, key, b):
    if isinstance(key, tuple):
        return tuple(_example(level, k, b) for k in key)
    return key._data[b, ...] if batched(level, key) else key


def _region_values(level, data, dkey, move, value):
    """``value`` (one example's, broadcast to the region ``key`` selects) laid out as the
    batched data's region ``data[dkey]``: where NumPy put the advanced axes first, the
    example's layout is moved back to that one."""
    region = indexed(level.inner, data, dkey)
    if move is None:
        if batched(level, value):
            nd = region.ndim - 1
            return _aligned(level, value, nd) if value.ndim <= nd else value._data
        return value
    inner = level.inner
    shape = tuple(_moved(inner, region, move).shape)
    full = inner.broadcast_to(_aligned(level, value, len(shape) - 1)
                              if batched(level, value) else value, shape)
    first, count, to = move
    return inner.moveaxis(full, list(range(to, to + count)), list(range(first, first + count)))


def setitem(x, key, value):
    """``x[key] = value`` into a batched ``x``: its data becomes its own first."""
    _write(x, key, value, operator.setitem, "setitem")


def index_add(backend, acc, key, values):
    """``acc[key] += values`` with repeated indices accumulating, for a batched ``acc``."""
    if not isinstance(acc, BatchedArray):
        raise TypeError("index_add of batched values needs a batched accumulator")
    if type(backend).index_add is Backend.index_add:      # a backend without one
        def write(data, dkey, values):
            one_hot_add(acc._level.inner, backend.name, data, dkey, values)
    else:
        write = backend.index_add
    _write(acc, key, values, write, "index_add")


def _write(x, key, values, write, name):
    """``write(data, key, values)`` on the batched ``x``'s own data: one call where the key
    maps onto the data, else one per example (counted as ``name``'s fallback)."""
    level = x._level
    data = x.writeable()
    dkey, move = data_key(level, key, x.ndim)
    if dkey is None:
        level.fallbacks[name] += 1
        for b in range(level.size):
            write(data[b, ...], _example(level, key, b), _example(level, values, b))
        return
    write(data, dkey, _region_values(level, data, dkey, move, values))
