"""TensorFlow's N-d gathers and scatters: ``gather_nd``, ``scatter_nd``,
``tensor_scatter_nd_add`` and ``tensor_scatter_nd_update``, with TensorFlow's names, argument
order and values.

The last axis of ``indices`` holds ``k`` coordinates into the first ``k`` axes of the indexed
tensor (after ``batch_dims`` leading axes shared with ``indices``); each picks (or writes) a
slice of the remaining axes. Each coordinate is made one position into the tensor with those
axes flattened, so the work is ``take`` along axis 0 and its scatter-add (``gathering.py``):
the gradient of ``gather_nd`` is a scatter-add (repeated indices accumulate), that of
``scatter_nd`` a ``gather_nd``, and both differentiate again. Coordinates out of range
(negative ones too, as TensorFlow's) are an IndexError.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
>>> xg.gather_nd(x, xg.asarray([[1, 0], [0, 1]])).tolist()
[3.0, 2.0]
"""
from __future__ import annotations

from ..accumulate import Scatter
from ..primitive import Primitive, apply
from ..tensor import Tensor, _wrap
from ._define import _int, _ints, as_tensor
from .gathering import _int_indices, _take, _take_scatter, _take_scatter_forward
from .linalg_helpers import readable
from .segment_rules import sum_rows
from .shape import reshape


def _indices(like, indices, what):
    """``indices`` as an integer Tensor of ``like``'s backend with at least one axis."""
    if not isinstance(indices, Tensor):
        from ..conversion import named_asarray

        indices = named_asarray(indices, f"{what}: indices", backend=like._backend)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{what}: indices must be integers, got dtype {indices.dtype}")
    indices = _int_indices(like, indices, f"{what}: indices")
    if indices.ndim == 0:
        raise ValueError(f"{what}: indices must have at least one axis (its last holds the "
                         f"coordinates), got a scalar")
    return indices


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _positions(indices, dims, batch, what, into):
    """The raw flat positions (shape ``indices.shape[:-1]``, int64) that ``indices`` picks
    in a tensor whose leading ``batch + dims`` axes are flattened; IndexError naming the first
    coordinate out of range. ``into`` names that tensor for the message."""
    be = indices._backend
    xp = be.xp
    raw = xp.astype(indices._data, xp.int64)
    k = len(dims)
    lead = tuple(indices.shape[:-1])
    if _size(lead) and k:
        # one pass over all coordinates; only where one reaches the smallest of the axes is
        # each checked against its own axis (a second pass, and its temporary)
        smallest, largest = min(dims), max(dims)
        lo, hi = be.check_index_range(raw, within=lambda lo, hi: (
            0, smallest - 1 if hi < smallest else largest - 1))
        over = -1
        if lo >= 0 and hi >= smallest:
            _, over = be.check_index_range(raw - xp.asarray(dims, dtype=xp.int64))
        if lo < 0 or over >= 0:
            if not readable(raw):       # xg.function traces this call: each axis's range
                for j, n in enumerate(dims):
                    lo, hi = be.check_index_range(raw[..., j])
                    if lo < 0 or hi >= n:
                        raise IndexError(f"{what}: indices hold {lo if lo < 0 else hi} for "
                                         f"axis {batch + j} of size {n} of {into}")
            bad = be.to_numpy(raw).reshape(-1, k)
            row = next(r for r in bad.tolist() if any(not 0 <= c < n for c, n in zip(r, dims)))
            raise IndexError(f"{what}: indices entry {row} does not index into {into}")
    flat = raw[..., k - 1] if k else xp.zeros(lead, dtype=xp.int64)
    stride = dims[k - 1] if k else 1
    for j in range(k - 2, -1, -1):
        flat = flat + raw[..., j] * stride
        stride *= dims[j]
    if batch:
        count = _size(lead[:batch])
        first = xp.reshape(xp.arange(count, dtype=xp.int64) * stride,
                           tuple(lead[:batch]) + (1,) * (len(lead) - batch))
        flat = flat + first
    return xp.reshape(flat, (_size(lead),))


def gather_nd(params, indices, batch_dims=0):
    """Slices of ``params`` at the coordinates in ``indices``' last axis
    (``tf.gather_nd``): ``out[i...] = params[tuple(indices[i...])]``, shape
    ``indices.shape[:-1] + params.shape[batch_dims + k:]`` for ``k = indices.shape[-1]``. The
    first ``batch_dims`` axes of both are batch axes, matched one to one. The gradient
    scatters and adds (repeated coordinates accumulate).

    >>> import xpgrad as xg
    >>> p = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    >>> xg.gather_nd(p, xg.asarray([[1], [1]])).tolist()
    [[3.0, 4.0], [3.0, 4.0]]
    >>> xg.gather_nd(p, xg.asarray([[1], [0]]), batch_dims=1).tolist()
    [2.0, 3.0]
    """
    params = as_tensor(params, "gather_nd", "params")
    idx = _indices(params, indices, "gather_nd")
    b = _int(batch_dims, "gather_nd: batch_dims")
    if not 0 <= b < idx.ndim:
        raise ValueError(f"gather_nd: batch_dims must lie in [0, {idx.ndim}) for indices of "
                         f"shape {tuple(idx.shape)}, got {b}")
    k = idx.shape[-1]
    if b + k > params.ndim:
        raise ValueError(f"gather_nd: indices of shape {tuple(idx.shape)} give {k} "
                         f"coordinates, more than the {params.ndim - b} axes of params (shape "
                         f"{tuple(params.shape)}) after batch_dims={b}")
    if tuple(idx.shape[:b]) != tuple(params.shape[:b]):
        raise ValueError(f"gather_nd: the batch axes of indices {tuple(idx.shape[:b])} and "
                         f"params {tuple(params.shape[:b])} differ (batch_dims={b})")
    dims = tuple(params.shape[b:b + k])
    flat = _positions(idx, dims, b, "gather_nd", f"params of shape {tuple(params.shape)}")
    rest = tuple(params.shape[b + k:])
    return apply(_gather_rows, params, flat=flat, rows=(_size(params.shape[:b + k]),) + rest,
                 shape=tuple(idx.shape[:-1]) + rest, backend=params._backend)


def _gather_rows_forward(xp, params, flat, rows, shape, backend):
    return xp.reshape(xp.take(xp.reshape(params, rows), flat, axis=0), shape)


def _gather_rows_vjp(xp, g, ans, params, flat, rows, shape, backend):
    """The gradient scattered and added into zeros of ``params``' rows: ``take``'s, one node
    where a reshape on either side would make three (each its own tape node)."""
    picked = (flat.shape[0],) + rows[1:]
    if isinstance(g, Tensor):
        return reshape(apply(_take_scatter, reshape(g, picked), indices=flat, axis=0,
                             shape=rows, backend=backend), tuple(params.shape))
    return xp.reshape(_take_scatter_forward(xp, xp.reshape(g, picked), flat, 0, rows, backend),
                      tuple(params.shape))


#: ``params`` raveled to rows, those at ``flat`` taken and shaped ``shape``; the rule reads
#: only the shapes
_gather_rows = Primitive("gather_nd", _gather_rows_forward, _gather_rows_vjp, saves=())


def _scatter_args(indices, updates, shape, what):
    """``(flat, count, k)``, after checking that ``updates`` has the shape the coordinates
    write: the coordinates' flat positions among the ``count`` slices of ``shape``'s first
    ``k`` axes, and ``k``."""
    idx = _indices(updates, indices, what)
    k = idx.shape[-1]
    if k > len(shape):
        raise ValueError(f"{what}: indices of shape {tuple(idx.shape)} give {k} coordinates, "
                         f"more than the {len(shape)} axes of shape {shape}")
    want = tuple(idx.shape[:-1]) + shape[k:]
    if tuple(updates.shape) != want:
        raise ValueError(f"{what}: updates must have shape indices.shape[:-1] + shape[{k}:] "
                         f"= {want}, got {tuple(updates.shape)}")
    flat = _positions(idx, shape[:k], 0, what, f"shape {shape}")
    return flat, _size(shape[:k]), k


def scatter_nd(indices, updates, shape):
    """Zeros of ``shape`` with ``updates`` added at the coordinates in ``indices``' last axis
    (``tf.scatter_nd``; repeated coordinates add up). ``updates`` has shape
    ``indices.shape[:-1] + shape[k:]``. Its gradient is ``gather_nd``.

    >>> import xpgrad as xg
    >>> xg.scatter_nd(xg.asarray([[1], [0], [1]]), xg.asarray([1.0, 2.0, 3.0]), (3,)).tolist()
    [2.0, 4.0, 0.0]
    """
    if isinstance(shape, Tensor):
        shape = shape.tolist()
    shape = _ints(shape, "scatter_nd: shape")
    if any(s < 0 for s in shape):
        raise ValueError(f"scatter_nd: shape must be non-negative, got {shape}")
    updates = as_tensor(updates, "scatter_nd", "updates")
    flat, count, k = _scatter_args(indices, updates, shape, "scatter_nd")
    values = reshape(updates, (flat.shape[0],) + shape[k:])
    return reshape(sum_rows(None, values, flat, count, updates._backend), shape)


def _into(tensor, updates, what):
    tensor, updates = as_tensor(tensor, what, "tensor"), as_tensor(updates, what, "updates")
    if updates.dtype != tensor.dtype:
        raise TypeError(f"{what}: updates of dtype {updates.dtype} into a tensor of dtype "
                        f"{tensor.dtype}; cast one (xg.astype)")
    return tensor, updates


def tensor_scatter_nd_add(tensor, indices, updates):
    """``tensor`` with ``updates`` added at the coordinates in ``indices``' last axis
    (``tf.tensor_scatter_nd_add``; repeated coordinates add up): ``tensor + scatter_nd(indices,
    updates, tensor.shape)``.

    >>> import xpgrad as xg
    >>> ids = xg.asarray([[2], [2]])
    >>> xg.tensor_scatter_nd_add(xg.ones(3), ids, xg.asarray([1.0, 4.0])).tolist()
    [1.0, 1.0, 6.0]
    """
    tensor, updates = _into(tensor, updates, "tensor_scatter_nd_add")
    shape = tuple(tensor.shape)
    flat, count, k = _scatter_args(indices, updates, shape, "tensor_scatter_nd_add")
    return apply(_added_rows, tensor, updates, flat=flat, rows=(count,) + shape[k:],
                 backend=tensor._backend)


def _added_rows_forward(xp, tensor, updates, flat, rows, backend):
    out = xp.asarray(xp.reshape(tensor, rows), copy=True)
    Scatter(rows, (flat,), xp.reshape(updates, (flat.shape[0],) + rows[1:]),
            backend).add_into(out)
    return xp.reshape(out, tuple(tensor.shape))


def _added_rows_vjp_updates(xp, g, ans, tensor, updates, flat, rows, backend):
    if isinstance(g, Tensor):
        picked = apply(_take, reshape(g, rows), indices=flat, axis=0, backend=backend)
        return reshape(picked, tuple(updates.shape))
    return xp.reshape(xp.take(xp.reshape(g, rows), flat, axis=0), tuple(updates.shape))


#: ``tensor`` (raveled to rows) copied, ``updates`` added at the rows ``flat`` (repeats add
#: up), in one node: a copy and a scatter-add, where a scatter-add into zeros, a reshape and
#: an addition took three nodes and two more passes; the rules read only the shapes
_added_rows = Primitive("tensor_scatter_nd_add", _added_rows_forward,
                        lambda xp, g, ans, tensor, updates, flat, rows, backend: g,
                        _added_rows_vjp_updates, saves=())


def tensor_scatter_nd_update(tensor, indices, updates):
    """``tensor`` with the slices at the coordinates in ``indices``' last axis replaced by
    ``updates`` (``tf.tensor_scatter_nd_update``). Where a coordinate repeats, the last of its
    updates lands, and only that one gets a gradient (TensorFlow's gives each the gradient of
    its position); the replaced entries of ``tensor`` get none.

    >>> import xpgrad as xg
    >>> ids = xg.asarray([[0], [2]])
    >>> xg.tensor_scatter_nd_update(xg.zeros(3), ids, xg.asarray([5.0, 6.0])).tolist()
    [5.0, 0.0, 6.0]
    """
    tensor, updates = _into(tensor, updates, "tensor_scatter_nd_update")
    shape = tuple(tensor.shape)
    flat, count, k = _scatter_args(indices, updates, shape, "tensor_scatter_nd_update")
    return apply(_updated_rows, tensor, updates, flat=flat, rows=(count,) + shape[k:],
                 backend=tensor._backend)


def _updated_rows_forward(xp, tensor, updates, flat, rows, backend):
    out = xp.asarray(xp.reshape(tensor, rows), copy=True)
    out[flat, ...] = xp.reshape(updates, (flat.shape[0],) + rows[1:])
    return xp.reshape(out, tuple(tensor.shape))


def _updated_rows_vjp_tensor(xp, g, ans, tensor, updates, flat, rows, backend):
    """``g`` with the replaced rows zeroed: the update itself, of zeros (so it differentiates
    again)."""
    if isinstance(g, Tensor):
        return apply(_updated_rows, g, xp.zeros(tuple(updates.shape), dtype=g.dtype,
                                                backend=backend),
                     flat=flat, rows=rows, backend=backend)
    out = xp.asarray(xp.reshape(g, rows), copy=True)
    out[flat, ...] = 0
    return xp.reshape(out, tuple(tensor.shape))


def _updated_rows_vjp_updates(xp, g, ans, tensor, updates, flat, rows, backend):
    """``g``'s rows at ``flat`` (``gather_nd``'s rows), zero where a later update to the same
    row replaced this one."""
    shape = tuple(updates.shape)
    if isinstance(g, Tensor):
        picked = reshape(apply(_take, reshape(g, rows), indices=flat, axis=0, backend=backend),
                         shape)
    else:
        picked = xp.reshape(xp.take(xp.reshape(g, rows), flat, axis=0), shape)
    lost = _overwritten(backend, flat, rows[0])
    if lost is None:
        return picked
    if isinstance(g, Tensor):
        lost = _wrap(lost, backend)
    lost = xp.reshape(lost, (flat.shape[0],) + (1,) * (len(shape) - 1))
    return xp.where(lost, xp.zeros_like(picked), picked)


def _overwritten(backend, flat, count):
    """Which of the raw row positions ``flat`` a later one repeats (its update did not land),
    or None when they are distinct (known only for the backend's own arrays: a traced call's
    are marked whatever they hold)."""
    if flat.shape[0] < 2:
        return None
    rxp = backend.xp
    if type(flat) is backend.array_class:
        ordered = rxp.sort(flat)
        if not bool(rxp.any(ordered[1:] == ordered[:-1])):
            return None
    order = rxp.arange(flat.shape[0], dtype=rxp.int64)
    last = rxp.empty((count,), dtype=rxp.int64)          # only the rows at flat are read
    last[flat] = order                   # NumPy's and CuPy's: the last write of a row lands
    return last[flat] != order


#: ``tensor`` (raveled to rows) copied and its rows at ``flat`` replaced by ``updates``, one
#: node where two reshapes around a setitem and one of the updates took four; the rules read
#: only the shapes
_updated_rows = Primitive("tensor_scatter_nd_update", _updated_rows_forward,
                          _updated_rows_vjp_tensor, _updated_rows_vjp_updates, saves=())


__all__ = ["gather_nd", "scatter_nd", "tensor_scatter_nd_add", "tensor_scatter_nd_update"]
