"""TensorFlow's segment reductions: ``segment_sum`` (``_mean``, ``_max``, ``_min``, ``_prod``)
over sorted ids and ``unsorted_segment_sum`` (and the rest) over any ids into
``num_segments`` rows, with TensorFlow's names, argument order, values and gradients.

``segment_ids`` labels the leading entries of ``data``: its shape is a prefix of ``data``'s,
and ``out[k]`` combines the ``data[i...]`` whose id is ``k``; ``out`` has shape
``(num_segments,) + data.shape[segment_ids.ndim:]``. The sorted forms take
``num_segments = segment_ids[-1] + 1`` and need the ids non-negative and non-decreasing
(TensorFlow's take 1-D ids only; these take any prefix shape, sorted in row-major order).
The unsorted forms drop the entries whose id is negative, as TensorFlow's.

An empty segment holds TensorFlow's values: 0 for a sum or a mean, 1 for a product; for a max
(min) 0 in the sorted forms and the dtype's lowest (highest) finite value in the unsorted
ones. Sums are the backend's scatter-add (the gradient of ``take``), so they cost what an
embedding's gradient costs; the gradient of a max (min) goes to the entries equal to it, split
equally among ties, as TensorFlow's. A NaN in a segment makes its max (min) NaN, as NumPy's
``maximum`` (TensorFlow's CPU kernels keep or drop it depending on where it is).

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> xg.segment_sum(x, xg.asarray([0, 0, 2])).tolist()
[[4.0, 6.0], [0.0, 0.0], [5.0, 6.0]]
"""
from __future__ import annotations

from ..primitive import apply
from ..tensor import Tensor
from . import segment_rules as _rules
from ._define import _int, as_tensor
from .gathering import _int_indices
from .shape import reshape

#: the lowest id a trace's range guard (``xg.function``) accepts once some ids were negative:
#: every negative id is dropped alike, so the replay holds for any of them
_ANY_NEGATIVE = -(1 << 62)


def _prepare(data, segment_ids, what):
    """``(data, ids, rows)``: ``data`` as a Tensor with its leading ``segment_ids.ndim`` axes
    made one (``rows`` of them), and the ids flattened to a raw 1-D array."""
    data = as_tensor(data, what, "data")
    if data.dtype.kind not in "iufc":
        raise TypeError(f"{what}: data must be numeric, got dtype {data.dtype}")
    if not isinstance(segment_ids, Tensor):
        from ..conversion import named_asarray

        segment_ids = named_asarray(segment_ids, f"{what}: segment_ids", backend=data._backend)
    if segment_ids.dtype.kind not in "iu":
        raise TypeError(f"{what}: segment_ids must be integers, got dtype {segment_ids.dtype}")
    ids = _int_indices(data, segment_ids, f"{what}: segment_ids")
    if ids.ndim == 0 or tuple(ids.shape) != tuple(data.shape[:ids.ndim]):
        raise ValueError(f"{what}: segment_ids of shape {tuple(ids.shape)} must be a prefix "
                         f"of data's shape {tuple(data.shape)} (one id per leading entry)")
    rows = 1
    for s in ids.shape:
        rows *= s
    raw = ids._data
    if ids.ndim != 1:
        data = reshape(data, (rows,) + tuple(data.shape[ids.ndim:]))
        raw = data._backend.xp.reshape(raw, (rows,))
    return data, raw, rows


def _sorted_count(data, ids, rows, what):
    """``num_segments`` of the sorted forms (the last id + 1), after checking the ids."""
    if rows == 0:
        return 0
    be = data._backend
    lo, hi = be.index_range(ids)               # a shape comes of it: a trace guards it exactly
    if lo < 0:
        raise ValueError(f"{what}: segment_ids must be non-negative, got {lo}")
    if rows > 1:
        wide = be.xp.astype(ids, be.xp.int64)      # unsigned or narrow ids: no wrapping
        step, _ = be.check_index_range(wide[1:] - wide[:-1])
        if step < 0:
            raise ValueError(f"{what}: segment_ids must be sorted (non-decreasing); "
                             f"unsorted_{what} takes them in any order")
    return hi + 1


def _unsorted_ids(data, ids, rows, num_segments, what):
    """``(ids, num, dropped)``: the ids checked against ``num_segments`` (its value), and
    whether some are negative: those then go to an extra last segment, dropped."""
    num = _int(num_segments, f"{what}: num_segments")
    if num < 0:
        raise ValueError(f"{what}: num_segments must be non-negative, got {num}")
    if rows == 0:
        return ids, num, False
    be = data._backend
    lo, hi = be.check_index_range(
        ids, within=lambda lo, hi: (0 if lo >= 0 else _ANY_NEGATIVE, num - 1))
    if hi >= num:
        raise IndexError(f"{what}: segment_ids holds {hi}, out of range for "
                         f"num_segments={num}")
    if lo >= 0:
        return ids, num, False
    xp = be.xp
    return xp.where(ids < 0, xp.full_like(ids, num), ids), num, True


def _reduce(kind, data, ids, num, empty_extreme):
    """``data``'s rows reduced by ``kind`` into ``num`` segments."""
    if kind == "sum":
        return _rules.sum_rows(None, data, ids, num, data._backend)
    if kind == "mean":
        return _mean(data, ids, num)
    if kind == "sqrt_n":
        from .elementwise import divide, sqrt

        return divide(_rules.sum_rows(None, data, ids, num, data._backend),
                      sqrt(_counts(data, ids, num)))
    if kind == "prod":
        prim, identity, fill = _rules.segment_prod, 1, 1
    else:
        prim = _rules.segment_max if kind == "max" else _rules.segment_min
        identity, fill = _extreme_values(kind, data.dtype, empty_extreme)
    return apply(prim, data, ids=ids, num=num, identity=identity, fill=fill,
                 backend=data._backend)


def _extreme_values(kind, dtype, empty_extreme):
    """``(identity, fill)`` of a max or min: what pads, and what an empty segment holds (the
    lowest or highest finite value where ``empty_extreme``, else 0)."""
    from ..dtype_functions import finfo, iinfo

    if dtype.kind == "c":
        raise TypeError(f"segment_{kind}: complex data has no order")
    if dtype.kind == "f":
        low, high = float(finfo(dtype).min), float(finfo(dtype).max)
        identity = float("-inf") if kind == "max" else float("inf")
    else:
        low, high = int(iinfo(dtype).min), int(iinfo(dtype).max)
        identity = low if kind == "max" else high
    fill = (low if kind == "max" else high) if empty_extreme else 0
    return identity, fill


def _counts(data, ids, num):
    """How many rows each segment has, at least 1 (an empty segment's sum is 0 either way), in
    ``data``'s dtype and shaped to divide the sums; a constant to the tapes."""
    from ..accumulate import Scatter
    from ..tensor import _wrap

    be = data._backend
    xp = be.xp
    counts = Scatter((num,), (ids,), xp.ones((ids.shape[0],), dtype=xp.int64), be).dense(xp)
    counts = xp.astype(xp.maximum(counts, xp.ones_like(counts)), data._data.dtype)
    return _wrap(xp.reshape(counts, (num,) + (1,) * (data.ndim - 1)), be)


def _mean(data, ids, num):
    """The sum by segment over each segment's count (an empty one: 0). Integer data divides
    with truncation toward zero, as TensorFlow's."""
    from .elementwise import divide, floor_divide, negative
    from .selection import where

    sums = _rules.sum_rows(None, data, ids, num, data._backend)
    counts = _counts(data, ids, num)
    if data.dtype.kind in "fc":
        return divide(sums, counts)
    return where(sums < 0, negative(floor_divide(negative(sums), counts)),
                 floor_divide(sums, counts))


def _sorted(kind, data, segment_ids):
    what = f"segment_{kind}"
    data, ids, rows = _prepare(data, segment_ids, what)
    return _reduce(kind, data, ids, _sorted_count(data, ids, rows, what), False)


def _unsorted(kind, data, segment_ids, num_segments):
    what = f"unsorted_segment_{kind}"
    data, ids, rows = _prepare(data, segment_ids, what)
    ids, num, dropped = _unsorted_ids(data, ids, rows, num_segments, what)
    if not dropped:
        return _reduce(kind, data, ids, num, True)
    return _reduce(kind, data, ids, num + 1, True)[:num]


def segment_sum(data, segment_ids):
    """The entries of ``data`` summed by their sorted ``segment_ids`` (``tf.math.segment_sum``):
    ``segment_ids[-1] + 1`` rows, 0 in a segment without entries.

    >>> import xpgrad as xg
    >>> xg.segment_sum(xg.asarray([1.0, 2.0, 4.0]), xg.asarray([0, 0, 2])).tolist()
    [3.0, 0.0, 4.0]
    """
    return _sorted("sum", data, segment_ids)


def segment_mean(data, segment_ids):
    """The mean of the entries of ``data`` by their sorted ``segment_ids``
    (``tf.math.segment_mean``); 0 in an empty segment.

    >>> import xpgrad as xg
    >>> xg.segment_mean(xg.asarray([1.0, 2.0, 4.0]), xg.asarray([0, 0, 2])).tolist()
    [1.5, 0.0, 4.0]
    """
    return _sorted("mean", data, segment_ids)


def segment_max(data, segment_ids):
    """The max of the entries of ``data`` by their sorted ``segment_ids``
    (``tf.math.segment_max``); 0 in an empty segment. The gradient goes to the entries equal
    to their segment's max, split equally among ties.

    >>> import xpgrad as xg
    >>> xg.segment_max(xg.asarray([1.0, 2.0, 4.0]), xg.asarray([0, 0, 2])).tolist()
    [2.0, 0.0, 4.0]
    """
    return _sorted("max", data, segment_ids)


def segment_min(data, segment_ids):
    """The min of the entries of ``data`` by their sorted ``segment_ids``
    (``tf.math.segment_min``); 0 in an empty segment. The gradient as ``segment_max``'s.

    >>> import xpgrad as xg
    >>> xg.segment_min(xg.asarray([1.0, 2.0, 4.0]), xg.asarray([0, 0, 2])).tolist()
    [1.0, 0.0, 4.0]
    """
    return _sorted("min", data, segment_ids)


def segment_prod(data, segment_ids):
    """The product of the entries of ``data`` by their sorted ``segment_ids``
    (``tf.math.segment_prod``); 1 in an empty segment. The gradient of an entry is the
    product of the others in its segment (zeros included).

    >>> import xpgrad as xg
    >>> xg.segment_prod(xg.asarray([2.0, 3.0, 4.0]), xg.asarray([0, 0, 2])).tolist()
    [6.0, 1.0, 4.0]
    """
    return _sorted("prod", data, segment_ids)


def unsorted_segment_sum(data, segment_ids, num_segments):
    """The entries of ``data`` summed by ``segment_ids`` in any order into ``num_segments``
    rows (``tf.math.unsorted_segment_sum``); entries with a negative id are dropped.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> xg.unsorted_segment_sum(x, xg.asarray([1, -1, 1]), 3).tolist()
    [[0.0, 0.0], [6.0, 8.0], [0.0, 0.0]]
    """
    return _unsorted("sum", data, segment_ids, num_segments)


def unsorted_segment_mean(data, segment_ids, num_segments):
    """The mean of the entries of ``data`` by ``segment_ids`` in any order
    (``tf.math.unsorted_segment_mean``); 0 in an empty segment, negative ids dropped.

    >>> import xpgrad as xg
    >>> xg.unsorted_segment_mean(xg.asarray([1.0, 2.0, 4.0]), xg.asarray([1, 0, 1]), 3).tolist()
    [2.0, 2.5, 0.0]
    """
    return _unsorted("mean", data, segment_ids, num_segments)


def unsorted_segment_max(data, segment_ids, num_segments):
    """The max of the entries of ``data`` by ``segment_ids`` in any order
    (``tf.math.unsorted_segment_max``); the dtype's lowest finite value in an empty segment,
    negative ids dropped. The gradient as ``segment_max``'s.

    >>> import xpgrad as xg
    >>> y = xg.unsorted_segment_max(xg.asarray([1, 5, 4]), xg.asarray([1, 0, 1]), 3)
    >>> y.tolist() == [5, 4, xg.iinfo(y.dtype).min]
    True
    """
    return _unsorted("max", data, segment_ids, num_segments)


def unsorted_segment_min(data, segment_ids, num_segments):
    """The min of the entries of ``data`` by ``segment_ids`` in any order
    (``tf.math.unsorted_segment_min``); the dtype's highest finite value in an empty segment,
    negative ids dropped. The gradient as ``segment_max``'s.

    >>> import xpgrad as xg
    >>> xg.unsorted_segment_min(xg.asarray([1.0, 5.0, 4.0]), xg.asarray([1, 0, 1]), 2).tolist()
    [5.0, 1.0]
    """
    return _unsorted("min", data, segment_ids, num_segments)


def unsorted_segment_prod(data, segment_ids, num_segments):
    """The product of the entries of ``data`` by ``segment_ids`` in any order
    (``tf.math.unsorted_segment_prod``); 1 in an empty segment, negative ids dropped.

    >>> import xpgrad as xg
    >>> xg.unsorted_segment_prod(xg.asarray([2.0, 5.0, 4.0]), xg.asarray([1, 0, 1]), 3).tolist()
    [5.0, 8.0, 1.0]
    """
    return _unsorted("prod", data, segment_ids, num_segments)


def unsorted_segment_sqrt_n(data, segment_ids, num_segments):
    """The sum of the entries of ``data`` by ``segment_ids`` in any order over the square root
    of their count (``tf.math.unsorted_segment_sqrt_n``): 0 in an empty segment, negative ids
    dropped. ``data`` must be floating-point or complex, as TensorFlow's.

    >>> import xpgrad as xg
    >>> xg.unsorted_segment_sqrt_n(xg.asarray([1.0, 2.0, 4.0, 3.0]), xg.asarray([1, 0, 1, 1]),
    ...                            3).tolist()
    [2.0, 4.618802070617676, 0.0]
    """
    data = as_tensor(data, "unsorted_segment_sqrt_n", "data")
    if not data.dtype.is_inexact:
        raise TypeError(f"unsorted_segment_sqrt_n: data must be floating-point or complex, as "
                        f"TensorFlow's, got dtype {data.dtype}")
    return _unsorted("sqrt_n", data, segment_ids, num_segments)


__all__ = ["segment_sum", "segment_mean", "segment_max", "segment_min", "segment_prod",
           "unsorted_segment_sum", "unsorted_segment_mean", "unsorted_segment_max",
           "unsorted_segment_min", "unsorted_segment_prod", "unsorted_segment_sqrt_n"]
