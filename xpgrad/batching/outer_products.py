"""Each example's outer product kept as its factors until its values are read.

A vjp of a product with a weight matrix that every example shares makes each example's outer
product (``x[:, None] * g[None, :]``, ``g @ x.T``): a ``(B, k, m)`` batch that a gradient
through ``vmap`` from a tape outside then sums over the examples. Kept as factors ``u``
``(B, k, r)`` and ``v`` ``(B, r, m)`` (an example's value is ``u[b] @ v[b]``), a sum of such
products adds factors (``r`` grows), a transpose swaps them, and the sum over the examples is
one matrix product, ``(k, B r) @ (B r, m)``, instead of writing ``B k m`` values and reading
them back. Any other use of the value makes it (``BatchedArray._data``), so the factors are
only ever an optimization.

>>> import numpy as np
>>> from xpgrad.batching.namespace import Level
>>> level = Level(3, np)
>>> x, g = level.wrap(np.ones((3, 40))), level.wrap(np.arange(96.0).reshape(3, 32))
>>> product = level.namespace.expand_dims(x, axis=-1) * level.namespace.expand_dims(g, axis=-2)
>>> product._factors is not None, product.shape
(True, (40, 32))
>>> total = sum_examples(level, product + product.mT.mT)
>>> bool(np.all(total == 2 * np.ones((40, 1)) @ np.arange(96.0).reshape(3, 32).sum(0)[None]))
True
"""
from __future__ import annotations

import numpy as np

from ..backends.blas_stacks import stacked_matmul
from .batched import BatchedArray

#: below this many values per example, the product is made at once (the factors save little)
_SMALLEST = 1024
#: up to this many factor pairs, values are made by broadcast products (a batched matmul over
#: a few terms is slower in NumPy than the products it adds)
_FEW = 8
#: from this many rows per example on, NumPy's values are made by a gemm call per example
#: (NumPy's broadcast multiply costs a call of its inner loop per row: 64 examples of 256x10
#: float32 148 -> 131 us, 128x128 587 -> 534, 784x256 16.7 -> 13.3 ms (MKL; OpenBLAS 15.4 ->
#: 12.4), a fresh output each; 64x64 124 -> 148 us: fewer rows, the calls cost more)
_GEMM_ROWS = 128
_ndarray = np.ndarray


def factored(level, u, v):
    """The batch whose example ``b`` is ``u[b] @ v[b]`` (raw ``(B, k, r)`` and ``(B, r, m)``)."""
    out = BatchedArray.__new__(BatchedArray)
    out._level = level
    out._shared = False
    out._truth = None
    out._example = None
    out._factors = (u, v)
    return out


def made(level, factors):
    """The ``(B, k, m)`` values of ``factors``: NumPy's arrays of ``_GEMM_ROWS`` rows or more
    by a gemm call per example (``backends/blas_stacks.py``), others by ``level.inner``."""
    inner = level.inner
    u, v = factors
    if u.shape[1] >= _GEMM_ROWS and u.__class__ is _ndarray:
        out = stacked_matmul(u, v)
        if out is not None:
            return out
    r = u.shape[2]
    if r > _FEW:
        return inner.matmul(u, v)
    out = inner.multiply(u[:, :, :1], v[:, :1, :])
    for i in range(1, r):       # (not in place: an xg.function trace sees only xp's calls)
        out = inner.add(out, inner.multiply(u[:, :, i:i + 1], v[:, i:i + 1, :]))
    return out


def outer(level, da, db):
    """``da * db`` for raw ``(B, k, 1)`` and ``(B, 1, m)`` or ``(B, m)`` batches (either
    order) as factors, or None where that does not pay (small, other shapes, dtypes that
    differ)."""
    nda, ndb = getattr(da, "ndim", 0), getattr(db, "ndim", 0)
    if nda == 2 and ndb == 3:                       # (B, m): examples' rows broadcast
        da = level.inner.expand_dims(da, axis=1)
    elif nda == 3 and ndb == 2:
        db = level.inner.expand_dims(db, axis=1)
    elif nda != 3 or ndb != 3:
        return None             # (a Python scalar, or a shared example, among the operands)
    if da.dtype != db.dtype:
        return None
    if da.shape[1] == 1 and db.shape[2] == 1:
        da, db = db, da
    k, m = da.shape[1], db.shape[2]
    if da.shape[2] != 1 or db.shape[1] != 1 or k == 1 or m == 1 or k * m < _SMALLEST:
        return None
    return factored(level, da, db)


def joined(level, a, b):
    """``a + b`` of two factored batches of ``level`` of one shape and dtype, as factors (the
    factors side by side); None for other operands."""
    fa, fb = a._factors, b.__class__ is BatchedArray and b._factors
    if not fb or a._level is not level or b._level is not level or a.shape != b.shape \
            or fa[0].dtype != fb[0].dtype:
        return None
    inner = level.inner
    return factored(level, inner.concat([fa[0], fb[0]], axis=2),
                    inner.concat([fa[1], fb[1]], axis=1))


def transposed(level, x):
    """The examples' transposes of a factored batch ``x``: ``(u v)^T = v^T u^T``."""
    inner = level.inner
    u, v = x._factors
    return factored(level, inner.permute_dims(v, (0, 2, 1)), inner.permute_dims(u, (0, 2, 1)))


def transposing(batched, axes_at=None):
    """The namespace's ``matrix_transpose`` or (``axes_at``: where its ``axes`` argument is)
    ``permute_dims`` (``batched``) transposing a factored batch as factors."""
    def transpose(ns, *args, **kwargs):
        x = args[0] if args else None
        if x.__class__ is BatchedArray and x._factors is not None and x._level is ns._level():
            axes = None if axes_at is None else (
                args[axes_at] if len(args) > axes_at else kwargs.get("axes"))
            if axes is None or tuple(axes) in ((1, 0), (-1, -2), (1, -2), (-1, 0)):
                return transposed(x._level, x)
        return batched(ns, *args, **kwargs)
    transpose.__name__ = batched.__name__
    return transpose


def sum_examples(level, x):
    """The sum over the examples of a batch of ``level`` (one example's shape, a raw array):
    one matrix product for a factored batch."""
    inner = level.inner
    f = x._factors
    if f is None:
        return inner.sum(x._data, axis=0)
    u, v = f
    b, k, r = u.shape
    rows = inner.reshape(inner.permute_dims(u, (1, 0, 2)), (k, b * r))
    return inner.matmul(rows, inner.reshape(v, (b * r, v.shape[2])))


#: namespace functions that keep factored batches factored (``namespace._batching`` wraps them;
#: ``multiply`` and ``add`` call ``outer`` and ``joined`` from the elementwise fast path)
FACTORED = {"matrix_transpose": transposing, "linalg.matrix_transpose": transposing,
            "permute_dims": lambda batched: transposing(batched, 1)}
