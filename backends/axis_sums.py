"""Sums of host arrays over axes by matrix-vector products: how the tape sums a broadcast
operand's gradient back to its shape (``xpgrad.backward._fit``), and the bias gradients of the
dense kernels.

NumPy sums a C-ordered array over its leading axes row by row, one short inner loop per row, and
in float32 without pairwise summation: a channels-last gradient (128, 26, 26, 32) summed to its
32 channels took 1.14 ms, 1,000,000 x 8 took 16 ms (error 2e-5 relative to the sum of
magnitudes). A product with a vector of ones is a BLAS ``gemv`` at memory speed: 0.14 ms and
0.57 ms (one thread, an AVX-512 Xeon, NumPy 2.4's OpenBLAS). One ``gemv`` over all the rows still
adds them in order, so its error grows with their number (8e-6 at 1,000,000 rows, PyTorch's
cascade sum 2e-7); ``sum_rows`` therefore adds at most ``DEPTH`` rows per product and sums the
partial sums the same way in turn (error 5e-8 there, about PyTorch's or below everywhere
measured: benchmarks/axis_sums.py).

``sum_axes(a, axes)`` is ``a.sum(axes)`` for a C-ordered float32/float64 array whose summed axes
form a leading block, a trailing block, or both (ones ignored): the leading block by
``sum_rows``, the trailing one by ``a.reshape(-1, n) @ ones`` (NumPy's pairwise sum of
contiguous rows runs at a third of that speed), split into two products of at most
``TRAILING_MAX`` terms each past that length. Any other array, dtype or pattern of axes is
NumPy's ``sum``. Results equal NumPy's to rounding; floating-point warnings (an overflow) come
from ``matmul`` instead of ``reduce``.

>>> import numpy as np
>>> g = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
>>> sum_axes(g, (0, 1)).tolist() == g.sum((0, 1)).tolist()
True
>>> sum_rows(np.ones((1000, 2))).tolist()
[1000.0, 1000.0]
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

#: the most rows one product adds in order; each product's partial sums are summed in turn
DEPTH = 128
#: the longest contiguous run one product sums; longer ones are split in two (see ``_split``)
TRAILING_MAX = 1024

_ndarray = np.ndarray


def _ones(dtype):
    ones = np.ones(max(DEPTH, TRAILING_MAX), dtype)
    ones.flags.writeable = False
    return ones


_ONES = {np.dtype(np.float32): _ones(np.float32), np.dtype(np.float64): _ones(np.float64)}


def sum_rows(a):
    """The sums of the rows of a 2-D float32/float64 array ``a`` (M, C) of unit column stride,
    ``a.sum(0)``: at most ``DEPTH`` rows added in order per product, then their partial sums
    likewise. Any other array is ``a.sum(0)``.

    >>> import numpy as np
    >>> sum_rows(np.full((300, 2), 0.1, np.float32)).round(3).tolist()
    [30.0, 30.0]
    """
    ones = _ONES.get(a.dtype) if a.__class__ is _ndarray and a.ndim == 2 else None
    if ones is None or not a.size or (a.strides[1] != a.itemsize and a.shape[1] > 1):
        return a.sum(0)
    m, c = a.shape
    while m > DEPTH:
        if not a.flags.c_contiguous:        # a column slice: its rows into one block
            a = np.ascontiguousarray(a)
        per, left = divmod(m, DEPTH)
        # row i of the partial sums adds rows i, i + per, ..., i + (DEPTH - 1) per
        part = ones[:DEPTH] @ a[:m - left].reshape(DEPTH, per * c)
        if left:
            part[:c] += ones[:left] @ a[m - left:]
        a, m = part.reshape(per, c), per
    return ones[:m] @ a


def _sum_trailing(a, n):
    """``a`` (C-ordered) summed over its last ``n`` elements, as a 1-D array."""
    ones = _ONES[a.dtype]
    if n <= TRAILING_MAX:
        return a.reshape(-1, n) @ ones[:n]
    inner = _split(n)
    if inner is None:
        return a.reshape(-1, n).sum(1)
    outer = n // inner
    return (a.reshape(-1, inner) @ ones[:inner]).reshape(-1, outer) @ ones[:outer]


@lru_cache(maxsize=256)
def _split(n):
    """The largest divisor of ``n`` of at most ``TRAILING_MAX`` whose cofactor is at most that
    too, or None."""
    for inner in range(TRAILING_MAX, -(-n // TRAILING_MAX) - 1, -1):
        if n % inner == 0:
            return inner
    return None


@lru_cache(maxsize=512)
def _plan(shape, axes):
    """``(lead, keep, trail)``: the sizes of the summed leading block, the kept block and the
    summed trailing block of ``shape`` with its ones dropped; None where the summed axes are not
    so placed."""
    runs = []
    for i, n in enumerate(shape):
        if n != 1:
            summed = i in axes
            if runs and runs[-1][0] == summed:
                runs[-1][1] *= n
            else:
                runs.append([summed, n])
    flags = tuple(summed for summed, _ in runs)
    sizes = [n for _, n in runs]
    if flags == (True, False):
        return sizes[0], sizes[1], 1
    if flags == (False, True):
        return 1, sizes[0], sizes[1]
    if flags == (True,):
        return 1, 1, sizes[0]
    if flags == (True, False, True):
        return tuple(sizes)
    return None


def sum_axes(a, axes):
    """``a.sum(axes)`` (``axes`` a tuple of non-negative axes), by products with ones where the
    summed axes of a C-ordered float32/float64 array are a leading and/or a trailing block.

    >>> import numpy as np
    >>> g = np.ones((4, 3, 5, 5), np.float32)
    >>> sum_axes(g, (0, 2, 3)).tolist()
    [100.0, 100.0, 100.0]
    """
    if a.__class__ is not _ndarray or a.dtype not in _ONES or not a.flags.c_contiguous \
            or not a.size:
        return a.sum(axes)
    plan = _plan(a.shape, axes)
    if plan is None:
        return a.sum(axes)
    lead, keep, trail = plan
    out = a if trail == 1 else _sum_trailing(a, trail)
    if lead != 1:
        out = sum_rows(out.reshape(lead, keep))
    return out.reshape([n for i, n in enumerate(a.shape) if i not in axes])
