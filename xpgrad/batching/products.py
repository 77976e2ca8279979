"""Batching rules for products: ``matmul``, ``tensordot``, ``outer``.

``matmul`` is the one that per-example gradients of a dense layer meet: an example's vector
times a shared weight matrix is one matrix product of the whole batch (``(B, k) @ (k, m)``),
and a shared matrix times each example's vector is one too (``(B, k) @ (n, k).T``).

>>> import numpy as np
>>> from xpgrad.batching.namespace import Level
>>> level = Level(3, np)
>>> x = level.wrap(np.ones((3, 4)))
>>> (x @ np.ones((4, 2)))._data.shape, (np.ones((5, 4)) @ x)._data.shape
((3, 2), (3, 5))
"""
from __future__ import annotations

import numpy as np

from .batched import BatchedArray
from .namespace import batched, loop

_NDARRAY = np.ndarray
_NUMPY_MATMUL = np.matmul
from .outer_products import outer as outer_factors


def _unbatched_view(level, a):
    """A batched ``a`` made by broadcasting one example (a shared buffer) as that example."""
    if batched(level, a) and a._shared and level.size:
        if a._example is not None:
            return a._example
        strides = getattr(a._data, "strides", None)
        if strides and strides[0] == 0:
            return a._data[0, ...]
    return a


def matmul(level, real, args, kwargs):
    if kwargs or len(args) != 2:
        return loop(level, real, "matmul", args, kwargs)
    a, b = _unbatched_view(level, args[0]), _unbatched_view(level, args[1])
    inner = level.inner
    ba, bb = batched(level, a), batched(level, b)
    if not (ba or bb):
        return real(a, b)
    na, nb = a.ndim, b.ndim
    if na == 0 or nb == 0:
        return loop(level, real, "matmul", args, kwargs)
    n = level.size
    if ba and not bb and nb <= 2 and na <= 2:
        if na == 1 or nb == 1:
            # (B, k) @ (k, m) or (B, k) @ (k,), and (B, n, k) @ (k,)
            return BatchedArray(real(a._data, b), level)
        d = a._data                               # (B, n, k) @ (k, m): one product
        shape = d.shape
        if d.__class__ is _NDARRAY and b.__class__ is _NDARRAY:   # (no wrapper's checks)
            out = _NUMPY_MATMUL(d.reshape(n * shape[1], shape[2]), b)
            return BatchedArray(out.reshape(n, shape[1], b.shape[-1]), level)
        rows = inner.reshape(d, (n * shape[1], shape[2]))
        return level.wrap(inner.reshape(real(rows, b), (n, shape[1], b.shape[-1])))
    if bb and not ba and nb == 1 and na <= 2:
        # (n, k) @ each example's (k,): (B, k) @ (k, n); (k,) @ (B, k) too
        return level.wrap(real(b._data, inner.matrix_transpose(a) if na == 2 else a))
    # the general case: vectors as matrices, the examples' stack axes aligned
    da = a._data if ba else a
    db = b._data if bb else b
    if na == 1:
        da = inner.expand_dims(da, axis=-2)
    if nb == 1:
        db = inner.expand_dims(db, axis=-1)
    stack = max(max(na, 2), max(nb, 2)) - 2
    if ba:
        da = _pad_stack(inner, da, max(na, 2), stack)
    if bb:
        db = _pad_stack(inner, db, max(nb, 2), stack)
    if da.shape[-1] == 1 and ba and bb:
        # outer products of the examples (a vjp's ``g @ x.T``): kept as factors (a sum over
        # the examples is then one product), else made by broadcasting: a batched matmul over
        # one term is 3x slower (NumPy, (64, 784, 1) @ (64, 1, 256))
        if na == 2 and nb == 2 and a._factors is None and b._factors is None:
            factors = outer_factors(level, da, db)
            if factors is not None:
                return factors
        out = inner.multiply(da, db)
    else:
        out = real(da, db)
    if nb == 1:
        out = inner.squeeze(out, axis=-1)
    if na == 1:
        out = inner.squeeze(out, axis=-1 if nb == 1 else -2)
    return level.wrap(out)


def _pad_stack(inner, d, nd, stack):
    """Batched data ``d`` of examples with ``nd`` axes, with size-1 stack axes after the batch
    axis so that the examples have ``stack`` stack axes."""
    have = nd - 2
    if have >= stack:
        return d
    return inner.reshape(d, (d.shape[0],) + (1,) * (stack - have) + tuple(d.shape[1:]))


def tensordot(level, real, args, kwargs):
    a, b = args[0], args[1]
    axes = args[2] if len(args) > 2 else kwargs.get("axes", 2)
    ba, bb = batched(level, a), batched(level, b)
    if not isinstance(axes, int) or (ba and bb):
        return loop(level, real, "tensordot", args, kwargs)
    if ba:
        return level.wrap(real(a._data, b, axes=axes))
    inner = level.inner
    moved = inner.moveaxis(b._data, 0, -1)
    return level.wrap(inner.moveaxis(real(a, moved, axes=axes), -1, 0))


def outer(level, real, args, kwargs):
    a, b = args[0], args[1]
    if kwargs or a.ndim != 1 or b.ndim != 1:
        return loop(level, real, "outer", args, kwargs)
    ns = level.namespace
    return ns.multiply(ns.expand_dims(a, axis=-1), b)
