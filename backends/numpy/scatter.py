"""The NumPy backend's ``index_add`` for whole rows: ``target[ids] += values`` with repeated
ids accumulating (the gradient of ``xg.nn.embedding``, ``take(x, ids, axis)`` and ``x[ids]``);
a key of several integer arrays or masks is folded into such ids first (``add_elements``).

``np.add.at`` on rows pays a per-element dispatch (float32, one core: 4096 rows of 512 into
65, 12 ms). Where SciPy is installed, a C-contiguous float target takes its compiled CSR
product first (``csr_rows.py``: the same additions in the same order, 0.23 ms there); else
two ways round it, chosen by a cost model measured per element (``_flat_is_faster``):

- ``_add_flat``: one ``np.add.at`` on the target's elements through a 1-D index, NumPy's
  fast path: the same additions in the same order (bitwise the same result), about 1.8 ns
  an element. Best for narrow rows and few repeats.
- ``Segments.sums``: rows sorted by id (stable) into a zero-padded buffer, one block per id,
  summed a block width at a time, then ``target[unique_ids] += sums`` (distinct ids: exact);
  only the association differs from ``np.add.at`` (``t + (v1 + v2)`` for ``(t + v1) + v2``).
  Best for wide rows and many repeats (the same case: 1.7 ms).

Tiny inputs, other keys and dtypes keep ``np.add.at``.

>>> import numpy as np
>>> acc = np.zeros((3, 2))
>>> add_rows(acc, (np.array([2, 0, -1]),), np.ones((3, 2)), min_elements=0)
True
>>> acc.tolist()
[[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]
"""
from __future__ import annotations

import math

import numpy as np

from .csr_rows import csr_add_rows, csr_matvecs

_CSR_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))

#: below this many added elements ``np.add.at`` is as fast: the checks and index here cost
#: about 9 us (float64, one core: 128 rows of 16, 15 us in ``np.add.at``, 12 here)
MIN_ELEMENTS = 2048

#: below this many entries ``add_elements`` leaves a key of several arrays to ``np.add.at``:
#: through their tuple about 8 ns an entry, folded about 11 us and 1.8 ns an entry (float32,
#: two arrays into (256, 256), one core: 9 against 13 us at 1024 entries, 34 against 18 at 4096)
MIN_FLAT = 2048

#: sorted ids whose runs of one id are at most this long are added a run position at a time
#: (``_add_runs``): each position costs a gather and an indexed add of the distinct ids' slices
MAX_RUN = 8

#: slices of fewer elements than this are gathered and added in a moved copy (``_add_runs``):
#: NumPy indexes an inner axis element by element
_SHORT_SLICE = 16

#: a target that is not C-contiguous goes through the padded sums from this many elements,
#: before through ``np.add.at`` (which takes about 6 ns an element against their 2 and 0.1 ms
#: to plan)
MIN_PADDED = 32768


def rows_axis(key):
    """``(axis, ids)`` for a key that picks whole slices along one axis with one integer
    array (``(ids,)``, ``(ids, ...)``, ``(:, ids)``, ``(:, ids, :)``), else None."""
    arrays = [i for i, k in enumerate(key) if isinstance(k, np.ndarray)]
    if len(arrays) != 1 or key[arrays[0]].dtype.kind not in "iu":
        return None
    axis = arrays[0]
    if not all(k == slice(None) for k in key[:axis] if isinstance(k, slice)) \
            or any(not isinstance(k, slice) for k in key[:axis]):
        return None
    for k in key[axis + 1:]:
        if not (k is Ellipsis or (isinstance(k, slice) and k == slice(None))):
            return None
    return axis, key[axis]


def add_rows(target, key, values, min_elements=MIN_ELEMENTS) -> bool:
    """``target[key] += values`` by a flat ``np.add.at`` or padded row sums (the module's
    docstring) when ``key`` picks whole slices along one axis of a float ``target`` with
    ``values`` of its dtype and the ids lie in range (negative ids counted from the end);
    False (nothing done) otherwise, and for inputs of fewer than ``min_elements`` values (or
    none).

    >>> import numpy as np
    >>> acc = np.zeros((2, 3))
    >>> add_rows(acc, (slice(None), np.array([1, 1, 0])), np.ones((2, 3)), min_elements=0)
    True
    >>> acc.tolist()
    [[1.0, 2.0, 0.0], [1.0, 2.0, 0.0]]
    """
    found = rows_axis(key)
    if found is None or target.dtype.kind not in "fc" or values.dtype != target.dtype \
            or values.size < min_elements or values.size == 0:
        return False
    axis, ids = found
    n = target.shape[axis]
    if n == 0 or ids.size == 0 or \
            values.shape != target.shape[:axis] + ids.shape + target.shape[axis + 1:]:
        return False
    lo, hi = int(ids.min()), int(ids.max())
    if lo < -n or hi >= n:
        return False                                  # np.add.at raises the IndexError
    flat_ids = ids.reshape(-1).astype(np.intp, copy=False)
    if lo < 0:
        flat_ids = np.where(flat_ids < 0, flat_ids + n, flat_ids)
    if target.ndim == 1:    # single elements: NumPy's fast path, whatever the order (20k
        np.add.at(target, flat_ids, values.reshape(-1))    # sorted ids, float32: 14-19 us,
        return True                                        # 77-145 through _add_runs)
    values = values.reshape(target.shape[:axis] + (flat_ids.size,) + target.shape[axis + 1:])
    if target.flags.c_contiguous and _added_by_csr(target, axis, flat_ids, values):
        return True
    if _non_decreasing(flat_ids) and _add_runs(target, axis, flat_ids, values):
        return True
    if axis:
        values = np.moveaxis(values, axis, 0)
    rows = values.reshape(flat_ids.size, -1)
    contiguous = target.flags.c_contiguous
    if not contiguous and values.size < MIN_PADDED:
        return False
    if contiguous and _flat_is_faster(0, rows):       # whatever the repeats: skip the sort
        _add_flat(target, axis, flat_ids, rows)
        return True
    segments = Segments(flat_ids, n)
    if contiguous and _flat_is_faster(segments.unique.size, rows):
        _add_flat(target, axis, flat_ids, rows)
    else:
        into = np.moveaxis(target, axis, 0)
        unique, sums = segments.sums(rows)
        into[unique] += sums.reshape((unique.size, *into.shape[1:]))
    return True


def add_elements(target, key, values, min_elements=MIN_FLAT) -> bool:
    """``target[key] += values`` (repeats accumulating) for a key of several integer arrays
    and/or masks over ``target``'s leading axes, then whole axes (``x[i, j]``'s gradient,
    ``take_along_axis``'s, ``gather_nd``'s, ``x.at[mask].add``): the arrays folded into one
    1-D position per entry, then ``add_rows`` (whole trailing axes) or one ``np.add.at`` on the
    1-D elements, NumPy's fast path (float32, 25k entries into (256, 256): 18 us, against
    395 us through the arrays' tuple): the same additions in the same order. False (nothing
    done) for other keys, dtypes, a target that is not C-contiguous, indices out of range
    (``np.add.at`` raises) and fewer than ``min_elements`` entries.

    >>> import numpy as np
    >>> acc = np.zeros((2, 3))
    >>> add_elements(acc, (np.array([1, 1, -2]), np.array([0, 0, 2])), np.ones(3),
    ...              min_elements=0)
    True
    >>> acc.tolist()
    [[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]]
    """
    if type(target) is not np.ndarray or not isinstance(values, np.ndarray) \
            or target.dtype.kind not in "fc" or values.dtype != target.dtype \
            or not target.flags.c_contiguous:         # (a traced array: xg.function's record)
        return False
    arrays, extents, axes, used, mask_size = [], [], 0, 0, 0
    for k in key:
        if not isinstance(k, np.ndarray) or k.dtype.kind not in "iub" or k.ndim == 0:
            break
        if k.dtype.kind == "b":
            if k.shape != target.shape[axes:axes + k.ndim]:
                return False                          # np.add.at raises the IndexError
            # the mask's true places as positions in its raveled axes: its 1-D nonzero (a
            # random (256, 256) mask: 24 us, against 280 for its 2-D one)
            arrays.append(np.flatnonzero(k))
            extents.append(k.size)
            axes += k.ndim
            mask_size += k.size
        else:
            arrays.append(k)
            extents.append(target.shape[axes] if axes < target.ndim else 0)
            axes += 1
        used += 1
    if (len(arrays) < 2 and not mask_size) or axes > target.ndim or not all(
            k is Ellipsis or (isinstance(k, slice) and k == slice(None)) for k in key[used:]):
        return False
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError:
        return False                                  # np.add.at raises the IndexError
    if arrays[0].size == 0 or max(arrays[0].size, mask_size) < min_elements:
        return False
    flat = np.zeros(arrays[0].shape, dtype=np.intp)
    for ids, n in zip(arrays, extents):
        lo, hi = int(ids.min()), int(ids.max())
        if lo < -n or hi >= n:
            return False
        ids = ids.astype(np.intp, copy=False)              # (uint64 would not add in place)
        flat *= n
        flat += np.where(ids < 0, ids + n, ids) if lo < 0 else ids
    trailing = target.shape[axes:]
    try:
        values = np.broadcast_to(values, flat.shape + trailing)
    except ValueError:
        return False
    flat = flat.reshape(-1)
    rows = target.reshape((-1,) + trailing)
    values = values.reshape((flat.size,) + trailing)
    if not (trailing and add_rows(rows, (flat,), values)):
        np.add.at(rows, flat, values)
    return True


def _added_by_csr(target, axis, ids, values) -> bool:
    """``target[(:,) * axis + (ids,)] += values`` (``values`` with the ids flattened to one
    axis) in place by SciPy's CSR product where SciPy imports and ``csr_rows.csr_add_rows``
    takes the layout: a C-contiguous target, seen as (before, n, after)."""
    if target.dtype not in _CSR_FLOATS or csr_matvecs() is None:
        return False
    shape = (math.prod(target.shape[:axis]), target.shape[axis], -1)
    return csr_add_rows(target.reshape(shape), ids, values.reshape(shape[0], ids.size, -1))


def _non_decreasing(ids) -> bool:
    """Whether the 1-D ``ids`` never decrease; a prefix is asked first (ids in any order
    fail it, at the cost of a few dozen comparisons)."""
    head = ids[:33]
    return bool((head[1:] >= head[:-1]).all()) and bool((ids[1:] >= ids[:-1]).all())


def _add_runs(target, axis, ids, values) -> bool:
    """``target[(:,) * axis + (ids,)] += values`` for non-decreasing 1-D ``ids`` (a
    ``repeat`` by counts, a nearest upsampling, a ``take`` of sorted rows) whose runs of one id
    are at most ``MAX_RUN`` long: the k-th slice of every run added at the distinct ids, for k
    = 0, 1, ...: the same additions in the same order as ``np.add.at`` (bitwise the same).
    Where the slices are short (``axis`` the last), the runs are summed along a leading axis
    of a moved copy, then added to ``target`` (only the association differs: ``t + (v1 +
    v2)`` for ``(t + v1) + v2``). False (nothing done) for longer runs. Float32, one core:
    407 sorted rows of 256 (runs up to 3) into 256, 50 us against 110 by the flat
    ``np.add.at``; (16, 32, 300) into (16, 32, 256) along the last axis, 300 against 1080."""
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    counts = np.diff(np.append(starts, ids.size))
    longest = int(counts.max())
    if longest > MAX_RUN:
        return False
    if axis and math.prod(target.shape[axis + 1:]) < _SHORT_SLICE:
        moved = np.ascontiguousarray(np.moveaxis(values, axis, 0))
        sums = np.zeros((target.shape[axis],) + moved.shape[1:], target.dtype)
        _add_runs(sums, 0, ids, moved)
        target += np.moveaxis(sums, 0, axis)
        return True
    lead = (slice(None),) * axis
    for k in range(longest):
        live = starts if k == 0 else starts[counts > k]
        target[lead + (ids[live],)] += values[lead + (live + k,)]
    return True


def _flat_is_faster(distinct, rows) -> bool:
    """Whether ``_add_flat`` beats ``Segments.sums`` for ``rows`` at ``distinct`` ids, by
    nanoseconds measured per added element (one core, 4096 rows of 16 to 512, 65 to 4000
    distinct ids): the flat ``np.add.at`` about 1.8 whatever the dtype; the padded sums
    0.8 per 4 bytes of dtype, more the fewer repeats, and 0.1 ms to plan."""
    padded = rows.itemsize / 4 * (0.8 + 1.1 * distinct / rows.shape[0]) * rows.size + 1e5
    return 1.8 * rows.size < padded


def _add_flat(target, axis, ids, rows):
    """``target[(:,) * axis + (ids,)] += rows`` for C-contiguous ``target`` as a 1-D
    ``np.add.at`` on its elements (NumPy's fast path for one 1-D index: the same additions in
    the same order). Row ``r`` of ``rows`` holds the slice at ``ids[r]``, in C order."""
    before = int(np.prod(target.shape[:axis], dtype=np.int64))
    after = rows.shape[1] // before
    within = np.arange(after)
    if before > 1:
        within = (np.arange(before)[:, None] * (target.shape[axis] * after) + within).reshape(-1)
    flat = (ids[:, None] * after + within).reshape(-1)
    np.add.at(target.reshape(-1), flat, rows.reshape(-1))


class Segments:
    """The rows of each distinct id among ``ids`` (in ``[0, n)``), sorted by id (stable:
    each id's rows keep their order).

    >>> import numpy as np
    >>> segments = Segments(np.array([3, 1, 3]), 4)
    >>> segments.unique.tolist(), segments.counts.tolist()
    ([1, 3], [1, 2])
    >>> ids, sums = segments.sums(np.array([[1.0], [2.0], [4.0]]))
    >>> sorted(zip(ids.tolist(), sums[:, 0].tolist()))
    [(1, 2.0), (3, 5.0)]
    """

    def __init__(self, ids, n):
        #: ids already non-decreasing (bags cut at offsets, sorted segment ids): no sort, and
        #: ``reduce`` by ``reduceat``
        self.sorted = _non_decreasing(ids)
        self.order = np.arange(ids.size) if self.sorted else _stable_order(ids, n)
        ordered = ids if self.sorted else ids[self.order]
        self.starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
        self.counts = np.diff(np.append(self.starts, ids.size))
        self.unique = ordered[self.starts]

    def sums(self, rows):
        """Each id's rows (2-D ``rows``, one per id of ``ids``) added in order: ``(ids,
        sums)``, ``unique`` reordered and each one's sum (``reduce`` by ``np.sum``)."""
        return self.reduce(rows, np.sum, 0)

    def reduce(self, rows, reduction, identity):
        """Each id's rows (2-D ``rows``, one per id of ``ids``) combined in order by
        ``reduction`` (``np.sum``, ``np.max``, ``np.prod``: with ``axis=`` and ``out=``),
        ``identity`` its neutral value: the rows go, in one fancy-index assignment, into a
        buffer padded with ``identity`` where each id owns a block of its count rounded up to
        a power of two (under ``2 * len(ids)`` rows in all), then one ``reduction`` per block
        width. Returns ``(ids, reduced)``: ``unique`` reordered
        and each one's reduction. A maximum or minimum of sorted ids runs the ufunc's
        ``reduceat`` over the rows in place instead, without the sort and the buffer (float32,
        sorted, 65536 rows of 1 into 1024: 117 us against 830); sums and products keep the
        blocks, whose order of operations ``reduceat`` does not keep.

        >>> import numpy as np
        >>> ids, top = Segments(np.array([1, 0, 1]), 2).reduce(np.array([[5.0], [2.0], [7.0]]),
        ...                                                    np.max, -np.inf)
        >>> sorted(zip(ids.tolist(), top[:, 0].tolist()))
        [(0, 2.0), (1, 7.0)]
        """
        ufunc = _REDUCEAT.get(reduction)
        if self.sorted and ufunc is not None:
            return self.unique, ufunc.reduceat(rows, self.starts, axis=0)
        block = np.left_shift(1, np.ceil(np.log2(self.counts)).astype(np.int64))
        by_block = np.argsort(block, kind="stable")    # ids grouped by block width
        block = block[by_block]
        offsets = np.cumsum(block) - block             # each id's first buffer row
        first_row = np.empty_like(offsets)
        first_row[by_block] = offsets
        slot = np.empty(self.order.size, dtype=np.int64)  # each row's place in the buffer
        slot[self.order] = np.arange(self.order.size) + np.repeat(first_row - self.starts,
                                                                  self.counts)
        size = (int(offsets[-1] + block[-1]), rows.shape[1])
        buffer = np.zeros(size, rows.dtype) if identity == 0 else \
            np.full(size, identity, dtype=rows.dtype)
        buffer[slot] = rows
        out = np.empty((block.size, rows.shape[1]), dtype=rows.dtype)
        edges = np.flatnonzero(np.concatenate(([True], block[1:] != block[:-1], [True])))
        for first, end in zip(edges[:-1].tolist(), edges[1:].tolist()):
            w, at = int(block[first]), int(offsets[first])
            part = buffer[at:at + (end - first) * w]
            if w == 1:
                out[first:end] = part
            else:
                reduction(part.reshape(end - first, w, -1), axis=1, out=out[first:end])
        return self.unique[by_block], out


#: the reductions ``Segments.reduce`` runs by ``reduceat`` for sorted ids (whatever the order)
_REDUCEAT = {np.max: np.maximum, np.min: np.minimum}


def _stable_order(ids, n):
    """``np.argsort(ids, kind="stable")`` for ids in ``[0, n)``, faster: a radix sort of
    16-bit ids, or any sort of the distinct keys ``id * len(ids) + position``."""
    if n <= 1 << 16:
        return np.argsort(ids.astype(np.uint16), kind="stable")
    if n * ids.size < 1 << 62:
        return np.argsort(ids.astype(np.int64) * ids.size + np.arange(ids.size))
    return np.argsort(ids, kind="stable")
