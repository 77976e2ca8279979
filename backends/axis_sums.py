"""Sums of host arrays over axes by matrix-vector products: how the tape sums a broadcast
operand's gradient back to its shape (``xpgrad.gradient_fit``), and the bias gradients of the
dense kernels.

NumPy sums a C-ordered array over its leading axes row by row, one short inner loop per row, and
in float32 without pairwise summation: a channels-last gradient (128, 26, 26, 32) summed to its
32 channels took 1.14 ms, 1,000,000 x 8 took 16 ms (error 2e-5 relative to the sum of
magnitudes). A product with a vector of ones is a BLAS ``gemv`` at memory speed: 0.14 ms and
0.57 ms (one thread, an AVX-512 Xeon, NumPy 2.4's OpenBLAS). One ``gemv`` over all the rows still
adds them in order, so its error grows with their number (8e-6 at 1,000,000 rows, PyTorch's
cascade sum 1.5e-7); ``sum_rows`` therefore adds at most ``DEPTH`` rows per product and sums
the partial sums the same way in turn (error 4e-8 there, and at or below PyTorch's everywhere
measured from 64 rows on: benchmarks/axis_sums.py).

``sum_axes(a, axes)`` is ``a.sum(axes)`` for a C-ordered float32/float64 array whose summed axes
form a leading block, a trailing block, or both (ones ignored): the leading block by
``sum_rows``, the trailing one by ``a.reshape(-1, n) @ ones`` (NumPy's pairwise sum of
contiguous rows runs at a third of that speed), split into two products of at most
``TRAILING_MAX`` terms each past that length. Any other array, dtype or pattern of axes, and
a small one (``SMALL_MAX``) summed over at most ``DEPTH`` leading rows, is NumPy's ``sum``.
Results equal NumPy's to rounding. The products run with NumPy's floating-point
warnings off; a result with an inf or NaN is summed again by NumPy's ``sum``, so an overflow or
an ``inf - inf`` warns from NumPy's frame, as the array's own ``sum`` does (the tests turn a
RuntimeWarning raised from xpgrad's code into an error), at the price of a second sum only
there. ``sum_rows`` of a small array adds the same groups by NumPy's own sums, which warn
from NumPy's frame themselves.

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
DEPTH = 32
#: ``sum_rows`` of a C-ordered array of at most this many elements, whose rows are a multiple
#: of ``DEPTH`` and at most ``DEPTH`` times that, adds them in the products' groups by NumPy's
#: ``sum`` (two calls): a dense layer's bias gradient at batch 128 (128x256 and 128x10) cost
#: 3-4 % of an MLP step by the products (their ``errstate``, ``isfinite`` and BLAS calls, each
#: first touched after the weight gemm; benchmarks/mlp_phases.py), alone 5.4 -> 4.3 us at
#: 128x256, even at 512x256 and slower past it. ``sum_axes`` of a C-ordered array of at most
#: this many elements over at most ``DEPTH`` leading rows (and any trailing block) is NumPy's
#: ``sum`` for the same reason (a loop's (32, 64) bias gradient: 1.1 us against 3.6; float32
#: 16 x 4096: 6.0 against 8.1; 32 x 16384, past it: 57 against 54)
SMALL_MAX = 1 << 16
#: the longest contiguous run one product sums; longer ones are split in two (see ``_split``)
TRAILING_MAX = 1024

_ndarray, _dot, _isfinite = np.ndarray, np.dot, np.isfinite


def _ones(dtype):
    ones = np.ones(max(DEPTH, TRAILING_MAX), dtype)
    ones.flags.writeable = False
    return ones


_ONES = {np.dtype(np.float32): _ones(np.float32), np.dtype(np.float64): _ones(np.float64)}


def sum_rows(a):
    """The sums of the rows of a 2-D float32/float64 array ``a`` (M, C) of unit column stride,
    ``a.sum(0)``: at most ``DEPTH`` rows added in order per product, then their partial sums
    likewise (a small array, ``SMALL_MAX``: the same groups by NumPy's sums). Any other array
    is ``a.sum(0)``.

    >>> import numpy as np
    >>> sum_rows(np.full((300, 2), 0.1, np.float32)).round(3).tolist()
    [30.0, 30.0]
    """
    if a.__class__ is not _ndarray or a.ndim != 2 or a.shape[0] <= DEPTH:
        return a.sum(0)         # up to DEPTH rows NumPy adds them in order too, and faster
    m = a.shape[0]
    if a.size <= SMALL_MAX and m <= DEPTH * DEPTH and not m % DEPTH and \
            a.flags.c_contiguous and a.dtype in _ONES:
        # the products' grouping by NumPy's own sums: no BLAS call, no errstate, no check of
        # the result (an overflow warns from NumPy's frame, as ``a.sum(0)`` does)
        per = m // DEPTH
        return a.reshape(DEPTH, per * a.shape[1]).sum(0).reshape(per, a.shape[1]).sum(0)
    ones = _ONES.get(a.dtype)
    if ones is None or not a.size or (a.strides[1] != a.itemsize and a.shape[1] > 1):
        return a.sum(0)
    with np.errstate(all="ignore"):
        out = _rows(a, ones)
    return out if _isfinite(out).all() else a.sum(0)


def _rows(a, ones):
    """``sum_rows`` of an array it takes, warnings as the caller sets them."""
    m, c = a.shape
    if m <= DEPTH:
        return _dot(ones[:m], a)
    if not a.flags.c_contiguous:            # a column slice: its rows into one block
        a = np.ascontiguousarray(a)
    while m > DEPTH:
        per, left = divmod(m, DEPTH)
        # row i of the partial sums adds rows i, i + per, ..., i + (DEPTH - 1) per
        part = _dot(ones[:DEPTH], a[:m - left].reshape(DEPTH, per * c))
        if left:
            part[:c] += _dot(ones[:left], a[m - left:])
        a, m = part.reshape(per, c), per
    return _dot(ones[:m], a)


def _sum_trailing(a, n):
    """``a`` (C-ordered) summed over its last ``n`` elements, as a 1-D array."""
    ones = _ONES[a.dtype]
    if n <= TRAILING_MAX:
        return _dot(a.reshape(-1, n), ones[:n])
    inner = _split(n)
    if inner is None:
        return a.reshape(-1, n).sum(1)
    outer = n // inner
    return _dot(_dot(a.reshape(-1, inner), ones[:inner]).reshape(-1, outer), ones[:outer])


@lru_cache(maxsize=256)
def _split(n):
    """The largest divisor of ``n`` of at most ``TRAILING_MAX`` whose cofactor is at most that
    too, or None."""
    for inner in range(TRAILING_MAX, -(-n // TRAILING_MAX) - 1, -1):
        if n % inner == 0:
            return inner
    return None


def _plan(shape, axes):
    """``(lead, keep, trail, kept shape)``: the sizes of the summed leading block, the kept
    block and the summed trailing block of ``shape`` with its ones dropped, and the shape
    ``sum`` leaves; None where the summed axes are not so placed."""
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
    kept = tuple(n for i, n in enumerate(shape) if i not in axes)
    if flags == (True, False):
        return sizes[0], sizes[1], 1, kept
    if flags in ((False, True), (True,)):
        return 1, (sizes[0] if len(sizes) == 2 else 1), sizes[-1], kept
    if flags == (True, False, True):
        return (*sizes, kept)
    return None


_PLANS: dict = {}
_NO_PLAN = object()


def sum_axes(a, axes):
    """``a.sum(axes)`` (``axes`` a tuple of non-negative axes), by products with ones where the
    summed axes of a float32/float64 array laid out in memory in some order of its axes (C-
    ordered, or a transpose of that) are a leading and/or a trailing block in that order; a
    summed axis a broadcast view repeats (stride 0) is a multiplication by its length.

    >>> import numpy as np
    >>> g = np.ones((4, 3, 5, 5), np.float32)
    >>> sum_axes(g, (0, 2, 3)).tolist(), sum_axes(g.transpose(0, 2, 3, 1), (0, 1, 2)).tolist()
    ([100.0, 100.0, 100.0], [100.0, 100.0, 100.0])
    """
    if a.__class__ is not _ndarray or a.dtype not in _ONES or not a.size:
        return a.sum(axes)
    if a.size <= SMALL_MAX and a.flags.c_contiguous:
        plan = _plan_of(a.shape, axes)
        if plan is None or plan[0] <= DEPTH:
            # NumPy adds up to DEPTH rows in order too: its call costs less than the
            # products' warning guard and finiteness check
            return a.sum(axes)
    with np.errstate(all="ignore"):
        out = _sum_axes(a, axes)
    return out if _isfinite(out).all() else a.sum(axes)


def _sum_axes(a, axes):
    """``sum_axes`` of an array it takes, warnings as the caller sets them."""
    ones = _ONES.get(a.dtype) if a.__class__ is _ndarray else None
    if ones is None or not a.size:
        return a.sum(axes)
    if not a.flags.c_contiguous:
        return _sum_permuted(a, axes)
    plan = _plan_of(a.shape, axes)
    if plan is None:
        return a.sum(axes)
    lead, keep, trail, kept = plan
    if trail != 1:
        a = _sum_trailing(a, trail)
    if lead == 1:
        return a.reshape(kept)
    if lead <= DEPTH:
        return _dot(ones[:lead], a.reshape(lead, keep)).reshape(kept)
    return _rows(a.reshape(lead, keep), ones).reshape(kept)


def _plan_of(shape, axes):
    """``_plan(shape, axes)``, remembered."""
    key = (shape, axes)
    plan = _PLANS.get(key, _NO_PLAN)
    if plan is _NO_PLAN:
        if len(_PLANS) > 1024:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(shape, axes)
    return plan


def _sum_permuted(a, axes):
    """``sum_axes`` of an array that is not C-ordered: a summed axis of stride 0 (a broadcast
    view) is one slice times its length; an array whose axes, reordered, are C-ordered (a
    transposed view) is summed in memory order, the result's axes put back in ``a``'s order;
    any other layout is ``a.sum(axes)``."""
    shape, strides = a.shape, a.strides
    repeated = [i for i in axes if strides[i] == 0 and shape[i] > 1]
    if repeated:
        count = 1
        for i in repeated:
            count *= shape[i]
        one = a[tuple(slice(0, 1) if i in repeated else slice(None) for i in range(a.ndim))]
        return _sum_axes(one, axes) * count
    order = sorted(range(a.ndim), key=lambda i: -strides[i])
    b = a.transpose(order)
    if not b.flags.c_contiguous:
        return a.sum(axes)
    out = _sum_axes(b, tuple(j for j, i in enumerate(order) if i in axes))
    kept = [i for i in order if i not in axes]
    return out.transpose(sorted(range(len(kept)), key=kept.__getitem__))
