"""Set functions: unique_all, unique_counts, unique_inverse, unique_values, with the
standard's named-tuple results, and isin (2025.12). NaNs are distinct (each its own value, count 1); -0 and +0 are
one value.

The unique ``values`` are differentiable: each one is the common value of its occurrences, so
its gradient is shared equally among them (``g[inverse] / counts[inverse]``, as ties share a
``max``'s gradient). Indices and counts are integers: no gradient.

>>> import xpgrad as xg
>>> x = xg.asarray([2.0, 1.0, 2.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     values, counts = xg.unique_counts(x)
...     y = xg.sum(values * values)
>>> values.tolist(), counts.tolist(), tape.gradient(y, x).tolist()
([1.0, 2.0], [1, 2], [2.0, 2.0, 2.0])
"""
from __future__ import annotations

from collections import namedtuple

from .. import dtypes as _dt
from .._args import flag
from ..primitive import Primitive, apply, tape_state
from ..tensor import Tensor, _wrap
from ._define import as_tensor

UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices",
                                                 "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _on(g, raw):
    """A raw index array beside ``g``: raw on a first-order pass, a Tensor on a higher one."""
    return _wrap(raw, g._backend) if isinstance(g, Tensor) else raw


def _unique_vjp(xp, g, ans, x, index, inverse, counts):
    flat_inverse = xp.reshape(_on(g, inverse), (-1,))
    share = xp.take(xp.astype(_on(g, counts), g.dtype), flat_inverse, axis=0)
    return xp.reshape(xp.take(g, flat_inverse, axis=0) / share, x.shape)


# the unique values as a gather of each one's first occurrence (differentiable)
_unique_values = Primitive(
    "unique_values",
    lambda xp, x, index, inverse, counts: xp.take(xp.reshape(x, (-1,)), index, axis=0),
    _unique_vjp)


def _index(be, raw):
    if be.xg_dtype(raw.dtype) != _dt.int64:
        raw = be.xp.astype(raw, be.native_dtype(_dt.int64))
    return _wrap(raw, be)


def _all(x: Tensor):
    """``(values, indices, inverse_indices, counts)`` as Tensors; ``values`` recorded on the
    tapes (float and complex inputs)."""
    be = x._backend
    raw = be.xp.unique_all(x._data)
    inverse = be.xp.reshape(raw[2], x._data.shape)
    if x.dtype.is_inexact and tape_state.recording:
        values = apply(_unique_values, x, index=raw[1], inverse=inverse, counts=raw[3])
    else:
        values = _wrap(raw[0], be)
    return values, _index(be, raw[1]), _index(be, inverse), _index(be, raw[3])


def _needs_all(x: Tensor) -> bool:
    return x.dtype.is_inexact and bool(tape_state.recording)


def unique_all(x, /):
    """``(values, indices, inverse_indices, counts)`` of the flattened ``x``: the sorted
    distinct values, the index of each one's first occurrence, for every entry of ``x`` (in
    its shape) the index of its value, and how often each value occurs.

    >>> import xpgrad as xg
    >>> r = xg.unique_all(xg.asarray([[3, 1], [3, 3]]))
    >>> r.values.tolist(), r.indices.tolist(), r.inverse_indices.tolist(), r.counts.tolist()
    ([1, 3], [1, 0], [[1, 0], [1, 1]], [1, 3])
    """
    return UniqueAllResult(*_all(as_tensor(x, "unique_all")))


def unique_counts(x, /):
    """``(values, counts)``: the distinct values of ``x`` (flattened) and how often each occurs.

    >>> import xpgrad as xg
    >>> xg.unique_counts(xg.asarray([3, 1, 3])).counts.tolist()
    [1, 2]
    """
    x = as_tensor(x, "unique_counts")
    if _needs_all(x):
        r = _all(x)
        return UniqueCountsResult(r[0], r[3])
    be = x._backend
    values, counts = be.xp.unique_counts(x._data)
    return UniqueCountsResult(_wrap(values, be), _index(be, counts))


def unique_inverse(x, /):
    """``(values, inverse_indices)``: the distinct values of ``x`` and, in ``x``'s shape, the
    index of each entry's value (``values[inverse_indices]`` rebuilds ``x``).

    >>> import xpgrad as xg
    >>> xg.unique_inverse(xg.asarray([3, 1, 3])).inverse_indices.tolist()
    [1, 0, 1]
    """
    x = as_tensor(x, "unique_inverse")
    if _needs_all(x):
        r = _all(x)
        return UniqueInverseResult(r[0], r[2])
    be = x._backend
    values, inverse = be.xp.unique_inverse(x._data)
    return UniqueInverseResult(_wrap(values, be),
                               _index(be, be.xp.reshape(inverse, x._data.shape)))


def unique_values(x, /):
    """The distinct values of ``x`` (flattened), sorted (NaNs last, each one kept).

    >>> import xpgrad as xg
    >>> xg.unique_values(xg.asarray([3.0, 1.0, 3.0])).tolist()
    [1.0, 3.0]
    """
    x = as_tensor(x, "unique_values")
    if _needs_all(x):
        return _all(x)[0]
    be = x._backend
    return _wrap(be.xp.unique_values(x._data), be)


def isin(x1, x2, /, *, invert=False):
    """Whether each entry of ``x1`` equals some entry of ``x2`` (bool, shaped like ``x1``; a
    0-d result for a scalar ``x1``); ``invert=True`` negates. NaN is in nothing. No gradient.

    >>> import xpgrad as xg
    >>> xg.isin(xg.asarray([1, 2, 3]), xg.asarray([3, 1])).tolist()
    [True, False, True]
    """
    invert = flag(invert, "invert", "isin")
    if not isinstance(x1, Tensor) and not isinstance(x2, Tensor):
        x1 = as_tensor(x1, "isin", "x1")
    scalars = (int, float, complex)
    if isinstance(x2, scalars) and not isinstance(x2, Tensor):
        be = x1._backend if isinstance(x1, Tensor) else as_tensor(x1, "isin", "x1")._backend
        t1 = as_tensor(x1, "isin", "x1")
        found = be.xp.equal(t1._data, x2)
    else:
        t2 = as_tensor(x2, "isin", "x2")
        be = t2._backend
        if isinstance(x1, scalars) and not isinstance(x1, Tensor):
            found = be.xp.any(be.xp.equal(t2._data, x1))
        else:
            t1 = as_tensor(x1, "isin", "x1").to(be)
            readable = type(t1._data) is be.array_class and type(t2._data) is be.array_class
            found = _isin(be.xp, t1._data, t2._data, readable)
    if invert:
        found = be.xp.logical_not(found)
    return _wrap(be.xp.asarray(found), be)


#: integers whose ``x2`` spans at most this many times the entries of both take the table
#: (``_isin_table``), as NumPy's ``isin``
_TABLE_SPAN = 6


def _isin(xp, a, b, readable=False):
    """``a``'s entries found in ``b``: integers spanning a short range (``readable``: arrays
    whose values Python may read) by a table of the range, else a binary search in ``b``
    sorted."""
    common = xp.result_type(a, b)
    a, b = xp.astype(a, common), xp.astype(b, common)
    flat = xp.reshape(a, (-1,))
    if flat.shape[0] == 0 or b.size == 0:
        return xp.zeros(a.shape, dtype=xp.bool)
    if readable and xp.isdtype(common, "integral"):
        found = _isin_table(xp, flat, xp.reshape(b, (-1,)))
        if found is not None:
            return xp.reshape(found, a.shape)
    pool = xp.sort(xp.reshape(b, (-1,)))
    n = pool.shape[0]
    at = xp.searchsorted(pool, flat)
    at = xp.where(at < n, at, n - 1)
    return xp.reshape(xp.take(pool, at, axis=0) == flat, a.shape)


def _isin_table(xp, flat, pool):
    """``flat``'s entries found in the integers ``pool`` by a boolean table of ``pool``'s
    range, or None where that range is long (``_TABLE_SPAN``). 65536 entries against 1000
    of 0 to 10000: 240 us, against 4 ms for the binary search (one thread).

    >>> import numpy as np
    >>> _isin_table(np, np.array([-3, 2, 5, 9]), np.array([5, 2, 2])).tolist()
    [False, True, True, False]
    """
    lo, hi = int(xp.min(pool)), int(xp.max(pool))
    if hi - lo > _TABLE_SPAN * (flat.shape[0] + pool.shape[0]):
        return None
    if xp.iinfo(flat.dtype).bits <= 16:       # (an int8 range's offsets reach 255)
        flat, pool = xp.astype(flat, xp.int64), xp.astype(pool, xp.int64)
    table = xp.zeros(hi - lo + 1, dtype=xp.bool)
    table[pool - lo] = True
    inside = (flat >= lo) & (flat <= hi)
    # (outside the range the difference may wrap around: those places read entry 0, unused)
    at = xp.where(inside, flat - lo, xp.zeros_like(flat))
    return inside & xp.take(table, at, axis=0)


__all__ = ["unique_all", "unique_counts", "unique_inverse", "unique_values", "isin"]
