"""The NumPy backend's ``cumulative_sum`` of float32/float64 (and its gradient, the same sum
from the other end) by blocks of ``BLOCK`` along the axis: each block's running sums are one
matrix product with a triangle of ones (OpenBLAS, many blocks at once), then each block gets
the sum of the blocks before it (a scan of the blocks' totals, ``BLOCK`` times shorter).

NumPy's ``cumsum`` adds one element at a time, waiting on the previous sum (about 3 ns an
element whatever the axis, 10 along the first axis of a C-ordered array: float32 (256, 256),
one core, 194 us along the last axis, 600 along the first); by blocks 110 and 60. The sums
are associated differently (within a block, then across blocks), so they agree with NumPy's
to rounding, and their error grows more slowly with the length. A zero's sign may differ.

Non-finite values (an inf or NaN would meet the triangle's zeros: ``inf * 0``) show in the
blocks' totals, which are checked: such inputs (and an overflow) are declined, and the
kernel runs ``np.cumsum``; other dtypes and small arrays are left to the generic rule.

>>> import numpy as np
>>> a = np.arange(100.0).reshape(2, 50)
>>> np.array_equal(prefix_sums(a, 1, min_elements=0), np.cumsum(a, axis=1))
True
>>> np.array_equal(prefix_sums(a, 1, reverse=True, min_elements=0),
...                np.cumsum(a[:, ::-1], axis=1)[:, ::-1])
True
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel

#: elements per block: the product's width (float32 (256, 256) along the last axis, one core:
#: 8: 156 us, 16: 110, 32: 111, 64: 154; along the first 74, 60, 123, 835)
BLOCK = 16

#: below this many elements ``np.cumsum`` is as fast
MIN_ELEMENTS = 4096

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_TRIANGLES: dict = {}


def _triangle(dtype, upper):
    """The (BLOCK, BLOCK) triangle of ones (diagonal included), upper or lower, cached."""
    key = (dtype, upper)
    if key not in _TRIANGLES:
        lower = np.tri(BLOCK, dtype=dtype)
        _TRIANGLES[key] = np.ascontiguousarray(lower.T) if upper else lower
    return _TRIANGLES[key]


def _scanned(a, reverse, exclusive=False):
    """NumPy's running sums along axis 1 (from the end where ``reverse``); ``exclusive``: each
    entry's sum leaves itself out."""
    if reverse:
        return _scanned(a[:, ::-1], False, exclusive)[:, ::-1]
    if not exclusive:
        return np.cumsum(a, axis=1)
    sums = np.zeros_like(a)
    np.cumsum(a[:, :-1], axis=1, out=sums[:, 1:])
    return sums


def prefix_sums(a, axis, reverse=False, min_elements=None):
    """``np.cumsum(a, axis)`` (``reverse``: from the last entry back, each entry the sum of
    itself and those after it) by blocks (module docstring), or None where declined: a dtype
    other than float32/float64, fewer than ``min_elements`` entries (``MIN_ELEMENTS`` unless
    given), fewer than two blocks along ``axis``, a non-finite block total or an overflow.

    >>> import numpy as np
    >>> prefix_sums(np.ones((40, 2)), 0, min_elements=0)[[0, 17, 39], 0].tolist()
    [1.0, 18.0, 40.0]
    """
    if not _takes(a, axis, min_elements):
        return None
    # an overflow declines (np.cumsum then warns of it as it does); an inf or NaN meets the
    # triangle's zeros (invalid), and the totals' check declines
    try:
        with np.errstate(over="raise", invalid="ignore"):
            return _blocked(a, axis, reverse)
    except FloatingPointError:
        return None


def _blocked(a, axis, reverse):
    pre, n, post = math.prod(a.shape[:axis]), a.shape[axis], math.prod(a.shape[axis + 1:])
    source = np.ascontiguousarray(a).reshape(pre, n, post)
    count = n // BLOCK
    whole = count * BLOCK
    out = np.empty((pre, n, post), a.dtype)
    into = out if whole == n else np.empty((pre, whole, post), a.dtype)
    first = 0 if reverse else -1          # where a block's running sums end: its total
    if post == 1:                         # blocks along rows: rows times the triangle
        sums = into.reshape(pre, count, BLOCK)
        np.matmul(source[:, :whole, 0].reshape(pre, count, BLOCK),
                  _triangle(a.dtype, upper=not reverse), out=sums)
        totals = sums[:, :, first, None]
    else:                                 # blocks of rows: the triangle times them
        sums = into.reshape(pre, count, BLOCK, post)
        np.matmul(_triangle(a.dtype, upper=reverse),
                  source[:, :whole].reshape(pre, count, BLOCK, post), out=sums)
        totals = sums[:, :, first, :]
    if not np.isfinite(totals).all():
        return None
    carried = _scanned(totals, reverse, exclusive=True)       # (pre, count, post or 1)
    if whole < n:
        tail = source[:, whole:]
        if reverse:
            tail_sums = _scanned(tail, True)
            carried += tail_sums[:, :1]
        else:
            tail_sums = np.cumsum(tail, axis=1)
            tail_sums += carried[:, -1:] + totals[:, -1:]
        out[:, whole:] = tail_sums
    if not np.isfinite(carried).all():
        return None
    if post == 1:       # (a broadcast over the 16 of a block runs NumPy's loop per block)
        sums += np.repeat(carried[:, :, 0], BLOCK, axis=1).reshape(pre, count, BLOCK)
    else:
        sums += carried[:, :, None, :]
    if into is not out:
        out[:, :whole] = into
    return out.reshape(a.shape)


def _takes(a, axis, min_elements=None) -> bool:
    """Whether ``prefix_sums`` takes an array of ``a``'s dtype and shape (it may still decline
    for its values)."""
    return (a.dtype in _FLOATS and a.size >= (MIN_ELEMENTS if min_elements is None else
                                              min_elements) and a.shape[axis] >= 2 * BLOCK)


# The kernel declines by dtype and shape only, never by the values: an ``xg.function`` replay
# runs a kernel step that its trace took whole, whatever the values (np.cumsum takes those
# prefix_sums declines)

def _cumulative_sum_forward(x, axis, include_initial, dtype=None):
    if include_initial or (dtype is not None and np.dtype(dtype) != x.dtype) \
            or not _takes(x, axis):
        return None
    out = prefix_sums(x, axis)
    return (np.cumsum(x, axis=axis) if out is None else out), None


def _cumulative_sum_vjp(g, saved, x, axis, include_initial, dtype=None):
    sums = prefix_sums(g, axis, reverse=True) if _takes(g, axis) else None
    if sums is None:
        sums = np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)
    return (sums,)


#: the gradient reads neither ``x`` nor the output
KERNELS = {"cumulative_sum": Kernel(_cumulative_sum_forward, _cumulative_sum_vjp, saves=())}
