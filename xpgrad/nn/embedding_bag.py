"""``embedding_bag``: sums, means or maxima of bags of embedding rows, without the (bags, ids,
dim) array in between (``torch.nn.functional.embedding_bag``).

Built from the embedding's own primitives, so the weight's gradient is the embedding's sparse
scatter-add of the rows read: the rows ``weight[input]`` (the ``embedding`` primitive), scaled by
``per_sample_weights``, then added per bag by the ``embedding_scatter`` primitive (whose gradient
reads each bag's gradient back at its rows); a 2-D input's bags are summed along their axis
instead (``_rectangular``). Entries at ``padding_idx`` go to one extra bag that
is dropped: they count in no bag, mean or maximum and get no gradient, as PyTorch's.
``mode="max"`` picks, per bag and column, the first row holding the maximum (PyTorch's CPU
choice on ties; found by two segment reductions, ``_bag_max``) and reads it with ``take``'s
primitive, whose gradient scatters as well. An empty bag gives zeros.

>>> import xpgrad as xg
>>> w = xg.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> xg.nn.embedding_bag(xg.asarray([0, 2, 1]), w, xg.asarray([0, 2])).tolist()
[[3.0, 4.0], [3.0, 4.0]]
"""
from __future__ import annotations

import numpy as np

from ..ops.nn import _embedding, _embedding_scatter, _padding_index, as_ids, integer_tensor
from ..primitive import apply
from ..tensor import Tensor, _wrap

MODES = ("sum", "mean", "max")


def embedding_bag(input, weight, offsets=None, mode="mean", per_sample_weights=None,
                  padding_idx=None, include_last_offset=False):
    """Bags of rows of ``weight`` (num_embeddings, embedding_dim) reduced to one row each:
    ``torch.nn.functional.embedding_bag``, an (bags, embedding_dim) result.

    ``input`` holds integer ids in ``[0, num_embeddings)``: 2-D (bags, n), each row a bag
    (``offsets`` must be None), or 1-D with ``offsets`` (1-D integers, starting at 0,
    non-decreasing, at most ``len(input)``) giving where each bag starts: bag ``i`` is
    ``input[offsets[i]:offsets[i + 1]]``, the last to the end of ``input``; with
    ``include_last_offset``, ``offsets`` has one more entry, ``len(input)`` (CSR's row
    pointers; PyTorch reads past another last offset to the end, so it is refused here).
    ``mode`` is ``"sum"``, ``"mean"`` or ``"max"``; ``per_sample_weights`` (floats of the
    input's shape) scale each row first, with ``mode="sum"`` only. Ids equal to
    ``padding_idx`` are left out of their bag (not counted by the mean, no gradient); an
    empty bag gives zeros. The weight's gradient is a sparse scatter-add of the rows read.

    >>> import xpgrad as xg
    >>> w = xg.asarray([[1.0, 2.0], [3.0, 0.0], [5.0, 6.0]])
    >>> xg.nn.embedding_bag(xg.asarray([[0, 1], [2, 2]]), w, mode="max").tolist()
    [[3.0, 2.0], [5.0, 6.0]]
    """
    from ..ops._define import as_tensor

    who = "embedding_bag"
    weight = as_tensor(weight, "embedding_bag", "weight")
    if weight.ndim != 2:
        raise ValueError(f"{who}: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    if not weight.dtype.is_floating:
        raise TypeError(f"{who}: weight must be floating-point, got {weight.dtype}")
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{who}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if not isinstance(include_last_offset, bool):
        raise TypeError(f"{who}: include_last_offset must be True or False, got "
                        f"{include_last_offset!r}")
    n = weight.shape[0]
    padding_idx = _padding_index(padding_idx, n, who)
    ids = as_ids(input, weight, n, who, "input")
    be = weight._backend
    xp = be.xp
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{who}: offsets must be None for a 2-D input (each row is a "
                             f"bag), got offsets with a {ids.shape} input")
        bags, width = ids.shape
        flat = xp.reshape(ids._data, (-1,))
        bag = xp.arange(bags * width, dtype=flat.dtype) // max(width, 1)
        starts = xp.arange(bags, dtype=flat.dtype) * width    # read for bags of no ids
    elif ids.ndim == 1:
        flat = ids._data
        bags, bag, starts = _bags(offsets, flat, include_last_offset, weight, who)
    else:
        raise ValueError(f"{who}: input must be 1-D (with offsets) or 2-D (bags, n), got "
                         f"shape {ids.shape}")
    size = flat.shape[0]
    if padding_idx is not None:
        bag = xp.where(flat == padding_idx, xp.full_like(bag, bags), bag)
    weights = _sample_weights(per_sample_weights, mode, ids, weight, who)
    rows = apply(_embedding, weight, ids=flat, shape=(size,), padding_idx=padding_idx,
                 backend=be)                                  # (size, dim)
    if weights is not None:
        rows = rows * _reshape(weights, (size, 1))
    if mode == "max" and size and bags:
        return _bag_max(rows, bag, bags, be)
    if ids.ndim == 2 and size:
        return _rectangular(rows, flat, ids.shape, mode, padding_idx, be)
    sums = _per_bag(rows, bag, bags, be)
    if mode != "mean":
        return sums
    from ..creation import ones
    from ..ops.elementwise import maximum

    if padding_idx is None:     # each bag's count from where the bags start (no scatter)
        counts = _bag_sizes(be, starts, size, weight.dtype)
    else:
        counts = _per_bag(ones((size, 1), dtype=weight.dtype, backend=be), bag, bags, be)
    return sums / maximum(counts, 1.0)


def _bag_sizes(be, starts, size, dtype):
    """(bags, 1) counts of ids per bag, of ``dtype``, from the bags' ``starts`` (1-D, sorted)
    and the number of ids: the scatter-add of ones it replaces took as long as the bags' sums
    (float32, 2048 ids in 128 bags, dim 64: mean forward 549 us, sum 388)."""
    xp = be.xp
    ends = xp.concat([starts[1:], xp.full((1,), size, dtype=starts.dtype)])
    return _wrap(xp.reshape(xp.astype(ends - starts, be.native_dtype(dtype)), (-1, 1)), be)


def _rectangular(rows, flat, shape, mode, padding_idx, be):
    """The sums or means of a 2-D input's bags (rows of ``shape``): ``rows`` as (bags, n, dim)
    summed along n, the padded entries zeroed first, each bag's entries added in order as the
    scatter-add of ``_per_bag`` adds them (float32, 64 bags of 32 rows of 64, mean: forward
    70 us against 203 through the scatter)."""
    from ..ops.elementwise import maximum
    from ..ops.reductions import sum as total
    from ..ops.selection import where

    bags, width = shape
    per_bag = _reshape(rows, (bags, width, rows.shape[1]))
    if padding_idx is None:
        sums = total(per_bag, axis=1)
        return sums if mode != "mean" else sums / float(width)
    xp = be.xp
    kept = xp.reshape(flat != padding_idx, (bags, width))
    sums = total(where(_wrap(kept[:, :, None], be), per_bag, 0.0), axis=1)
    if mode != "mean":
        return sums
    counts = xp.astype(xp.sum(xp.astype(kept, xp.int64), axis=1), be.native_dtype(per_bag.dtype))
    return sums / maximum(_wrap(xp.reshape(counts, (bags, 1)), be), 1.0)


def _bags(offsets, flat, include_last_offset, weight, who):
    """``(bags, bag, starts)`` for 1-D ids ``flat`` cut at ``offsets``, checked: the number
    of bags, each id's bag and where each bag starts (raw arrays)."""
    if offsets is None:
        raise ValueError(f"{who}: a 1-D input needs offsets (where each bag starts); or pass "
                         "a 2-D (bags, n) input")
    offsets = integer_tensor(offsets, weight, who, "offsets")
    be, xp, raw, size = weight._backend, weight._backend.xp, offsets._data, flat.shape[0]
    if offsets.shape == (0,) and size == 0 and not include_last_offset:
        return 0, flat, flat               # no ids in no bags: PyTorch's (0, dim) result
    if offsets.ndim != 1 or offsets.shape[0] == 0:
        raise ValueError(f"{who}: offsets must be 1-D and non-empty, got shape "
                         f"{offsets.shape} (empty only with an empty input and "
                         f"include_last_offset=False: no bags)")
    first, _ = be.check_index_range(raw[:1])
    if first != 0:
        raise ValueError(f"{who}: offsets must start at 0 (the first bag starts at the "
                         f"first id), got offsets[0] = {first}")
    lo, hi = be.check_index_range(raw)
    if hi > size:
        raise ValueError(f"{who}: offsets must be at most len(input) = {size}, got {hi}")
    if raw.shape[0] > 1 and be.check_index_range(raw[1:] - raw[:-1])[0] < 0:
        raise ValueError(f"{who}: offsets must be non-decreasing (bag i is input[offsets[i]:"
                         "offsets[i + 1]])")
    last = be.check_index_range(raw[-1:])[0] if include_last_offset else size
    if last != size:
        raise ValueError(f"{who}: with include_last_offset, offsets[-1] must be len(input) = "
                         f"{size} (the end of the last bag), got {last}")
    raw = xp.astype(raw, flat.dtype)
    starts = raw[:-1] if include_last_offset else raw
    bags = starts.shape[0]
    at = xp.arange(size, dtype=flat.dtype)
    if not bags:                       # offsets == [0] with include_last_offset: no ids
        return bags, at, starts
    if flat.__class__ is np.ndarray:
        # each id's bag: bag i repeated over its length (the offsets never decrease), where a
        # binary search per id cost 3x as much (2048 ids in 128 bags: 11 us against 4)
        ends = np.append(starts[1:], size)
        return bags, np.repeat(np.arange(bags, dtype=flat.dtype), ends - starts), starts
    return bags, xp.astype(xp.searchsorted(starts, at, side="right") - 1, flat.dtype), starts


def _sample_weights(value, mode, ids, weight, who):
    """``per_sample_weights`` as a Tensor of the input's shape and the weight's dtype and
    backend (lists converted), or None; only with ``mode="sum"``."""
    if value is None:
        return None
    if mode != "sum":
        raise ValueError(f"{who}: per_sample_weights are only supported with mode='sum', "
                         f"got mode={mode!r}")
    if not isinstance(value, Tensor):
        from ..creation import asarray

        try:
            value = asarray(value, dtype=weight.dtype, backend=weight._backend)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{who}: per_sample_weights must be a tensor or numbers, got "
                            f"{type(value).__name__} ({e})") from None
    elif value._backend is not weight._backend:
        raise ValueError(f"{who}: per_sample_weights are on backend {value._backend.name!r}, "
                         f"the weight on {weight._backend.name!r}; move one with .to()")
    if value.dtype != weight.dtype:
        raise TypeError(f"{who}: per_sample_weights are {value.dtype} but the weight is "
                        f"{weight.dtype}; cast one with xg.astype")
    if value.shape != ids.shape:
        raise ValueError(f"{who}: per_sample_weights must have the input's shape {ids.shape}, "
                         f"got {value.shape}")
    return value


def _reshape(t, shape):
    from ..ops.shape import reshape

    return reshape(t, shape)


def _per_bag(rows, bag, bags, be):
    """``rows`` (size, dim) added per bag: (bags, dim), the extra bag ``bags`` dropped."""
    total = apply(_embedding_scatter, rows, ids=bag, n=bags + 1, padding_idx=None, backend=be)
    return total[:bags]


def _bag_max(rows, bag, bags, be):
    """Each bag's column-wise maximum of ``rows`` (the first row holding it; the first NaN
    where one is), zeros for an empty bag; read with ``take`` so the gradient reaches only the
    rows picked. The maxima by segment (``bag``: each row's bag, ``bags`` for the padded ones),
    then each column's first row holding its bag's maximum by a segment minimum of positions:
    O(rows) work, where a (bags, longest bag, dim) array of the bags padded to the longest
    cost O(bags * longest) (float32, 128 bags of 16 rows on average, 90 at most, dim 64:
    forward 1.14 ms that way, 0.65 this one; 0.52 with the first rows by a product in int32,
    not an int64 select)."""
    from ..ops.gathering import _take
    from ..ops.segments import _reduce
    from ..ops.selection import where

    xp = be.xp
    size, dim = rows.shape
    raw = rows._data
    top = _reduce("max", _wrap(raw, be), bag, bags + 1, True)._data              # (bags + 1, dim)
    at_top = xp.take(top, bag, axis=0)                                           # (size, dim)
    hit = (raw == at_top) | ((raw != raw) & (at_top != at_top))
    # the first row of each: the largest ``size - row`` where it holds (0 elsewhere: a
    # product, not an integer select, whose branches cost 3x), in int32 (half int64's bytes)
    count = xp.int32 if size < 2 ** 31 - 1 else xp.int64
    reverse = xp.reshape(size - xp.arange(size, dtype=count), (size, 1))
    marked = xp.astype(hit, count) * reverse
    from_end = _reduce("max", _wrap(marked, be), bag, bags + 1, False)._data[:bags, ...]  # empty: 0
    first = xp.astype(size - from_end, xp.int64)
    filled = first < size
    index = xp.where(filled, first * dim + xp.arange(dim, dtype=xp.int64)[None, :],
                     xp.zeros_like(first))
    # (``take``'s primitive: the indices are in range by construction, no check to guard)
    out = apply(_take, _reshape(rows, (size * dim,)), indices=xp.reshape(index, (-1,)), axis=0,
                backend=be)
    return where(_wrap(filled, be), _reshape(out, (bags, dim)), 0.0)


__all__ = ["embedding_bag"]
