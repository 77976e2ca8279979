"""The primitives behind the segment reductions (``segments.py``): ``segment_max``,
``segment_min`` and ``segment_prod`` over the rows of ``data`` (its axis 0) grouped by
``ids``, one per row, each in ``[0, num)``. Sums and gathers are the existing
``take_scatter`` and ``take`` primitives (``gathering.py``): the gradient of a sum by segment is
a gather of ``g``, the gradient of a gather a sum by segment.

The rules are TensorFlow's (``math_grad.py``): the gradient of a max (min) goes to the entries
equal to their segment's max (min), split equally among ties; that of a product is the
product of the others, found without dividing by zero (a segment with one zero gives that
entry the product of the others and the rest 0; with two zeros or more, all get 0). Written
against ``xp``, with the sums, gathers and products as primitives, so they differentiate
again under an outer tape.

The generic forward sorts the rows by id and combines neighbours of one segment in
``log2(rows)`` doubling steps, array-API only; the NumPy backend registers a padded-block
reduction (``backends/numpy/segments.py``) under the same names.

>>> import numpy as np
>>> reduce_sorted(np, np.maximum, np.array([[1.0], [4.0], [2.0]]), np.array([1, 1, 0]), 3,
...               fill=0.0)[:, 0].tolist()
[2.0, 4.0, 0.0]
"""
from __future__ import annotations

from ..accumulate import Scatter
from ..primitive import Primitive, apply, run
from ..tensor import Tensor
from .gathering import _take, _take_scatter


def gather_rows(xp, a, ids):
    """``a[ids]`` along axis 0: the ``take`` primitive on a Tensor (recorded), else raw."""
    if isinstance(a, Tensor):
        return apply(_take, a, indices=ids, axis=0, backend=a._backend)
    return xp.take(a, ids, axis=0)


def sum_rows(xp, a, ids, num, backend):
    """``a``'s rows summed by segment ``ids`` into ``num`` rows: the ``take_scatter``
    primitive on a Tensor (recorded), else the backend's ``index_add`` into zeros."""
    shape = (num,) + tuple(a.shape[1:])
    if isinstance(a, Tensor):
        return apply(_take_scatter, a, indices=ids, axis=0, shape=shape, backend=backend)
    return Scatter(shape, (ids,), a, backend).dense(xp)


def reduce_sorted(xp, combine, data, ids, num, fill):
    """``data``'s rows combined by segment (``combine``: an elementwise binary function) into
    ``num`` rows, ``fill`` where a segment is empty. Sorts the rows by id
    (stable), then after the step of width ``d`` row ``i`` holds the combination of rows
    ``i .. i + 2d - 1`` of its segment, so each segment's first row ends with all of it."""
    n = data.shape[0]
    rest = tuple(data.shape[1:])
    if n == 0:
        return xp.full((num,) + rest, fill, dtype=data.dtype)
    order = xp.argsort(ids, stable=True)
    ordered = xp.take(ids, order)
    rows = xp.take(data, order, axis=0)
    d = 1
    while d < n:
        same = xp.reshape(ordered[d:] == ordered[:-d], (n - d,) + (1,) * len(rest))
        merged = xp.where(same, combine(rows[:-d, ...], rows[d:, ...]), rows[:-d, ...])
        rows = xp.concat([merged, rows[n - d:, ...]], axis=0)
        d *= 2
    wanted = xp.arange(num, dtype=ordered.dtype)
    first = xp.searchsorted(ordered, wanted, side="left")
    present = first < xp.searchsorted(ordered, wanted, side="right")
    picked = xp.take(rows, xp.minimum(first, n - 1), axis=0)
    present = xp.reshape(present, (num,) + (1,) * len(rest))
    return xp.where(present, picked, xp.full_like(picked, fill))


def _extreme_vjp(xp, g, ans, data, ids, num, identity, fill, backend):
    hit = data == gather_rows(xp, ans, ids)
    hits = sum_rows(xp, xp.astype(hit, g.dtype), ids, num, backend)
    share = g / xp.where(hits > 0, hits, xp.ones_like(hits))
    return xp.where(hit, gather_rows(xp, share, ids), xp.zeros_like(data))


def _prod_vjp(xp, g, ans, data, ids, num, identity, fill, backend):
    zero = data == 0
    zeros = sum_rows(xp, xp.astype(zero, data.dtype), ids, num, backend)
    g = xp.where(zeros > 1, xp.zeros_like(g), g)
    nonzero = xp.where(zero, xp.ones_like(data), data)
    if isinstance(nonzero, Tensor):
        nonzero_prod = apply(segment_prod, nonzero, ids=ids, num=num, identity=identity,
                             fill=fill, backend=backend)
    else:
        nonzero_prod = run(segment_prod, backend, nonzero, ids=ids, num=num, identity=identity,
                           fill=fill, backend=backend)
    others = xp.where(zero, gather_rows(xp, nonzero_prod, ids),
                      gather_rows(xp, ans, ids) / nonzero)
    return gather_rows(xp, g, ids) * others


def _forward(combine):
    def forward(xp, data, ids, num, identity, fill, backend):
        # (``identity``, what a padded kernel pads with, is not needed here)
        return reduce_sorted(xp, combine(xp), data, ids, num, fill)

    return forward


_prod_forward = _forward(lambda xp: xp.multiply)

segment_max = Primitive("segment_max", _forward(lambda xp: xp.maximum), _extreme_vjp)
segment_min = Primitive("segment_min", _forward(lambda xp: xp.minimum), _extreme_vjp)
segment_prod = Primitive("segment_prod", _prod_forward, _prod_vjp)
