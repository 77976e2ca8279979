"""Adaptive pooling, PyTorch's ``F.adaptive_avg_pool1d/2d`` and ``F.adaptive_max_pool1d/2d``:
the window of output ``i`` along an axis of length ``L`` pooled to ``out`` is ``[floor(i * L /
out), ceil((i + 1) * L / out))`` (windows may overlap, differ in size, or repeat an entry when
``out > L``); the layers ``AdaptiveAvgPool1d`` ... ``AdaptiveMaxPool2d`` are in
``nn/adaptive_pooling_layers.py``.

Average pooling is separable: the window sums are two matrix products with 0/1 matrices
(constants of the shapes), divided by the window sizes, so the gradient is that of ``matmul``;
global pooling (output 1) is the mean.
Max pooling without ``return_indices`` is the primitive ``adaptive_max_pool``
(``ops/adaptive_max_pooling.py``; the NumPy and Numba backends' kernels find the maxima once
and add the gradient at the saved positions), or, where every axis's length is a multiple of
its output size and the backend has a ``max_pool`` kernel (Numba's), that: the windows are
then fixed (kernel = stride = length / output). With ``return_indices`` it is a composition:
each window gathered, its entries repeated up to the longest window's size (a repeat never
changes the maximum or where it is), the maximum picked by PyTorch's CPU rule, as
``max_pool2d`` does (the first of tied maxima, the last NaN), and the input taken there with
``take_along_axis``: the gradient goes to that one position (or ``max_pool1d/2d``'s own
``return_indices``, where they are used).

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 3.0, 2.0, 4.0, 6.0]]])     # windows [0, 3) and [2, 5)
>>> xg.nn.adaptive_avg_pool1d(x, 2).tolist(), xg.nn.adaptive_max_pool1d(x, 2).tolist()
([[[2.0, 4.0]]], [[[3.0, 6.0]]])
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from .._args import flag
from ..creation import asarray, zeros
from ..dtypes import int64
from ..ops.casting import astype
from ..ops.elementwise import isnan, maximum
from ..ops.indexing import take, take_along_axis
from ..ops.adaptive_max_pooling import adaptive_max_pool, window_bounds, window_table
from ..ops.linalg import matmul
from ..ops.rearranging import flip
from ..ops.reductions import mean
from ..ops.selection import where
from ..ops.shape import broadcast_to, expand_dims, reshape, squeeze
from ..tape import stop_gradient
from ._data_format import pooled
from ._windows import batched
from .pooling import max_pool1d, max_pool2d

_LONG = 16          # windows of this many entries or more: _pick uses argmax


def output_size_of(output_size, owner, dims, lengths=None):
    """``output_size`` (an int, or a tuple/list of ``dims`` ints; in 2-d an entry may be None:
    that axis keeps the input's length, from ``lengths``) as a tuple of ``dims`` ints >= 0, or
    with None entries left as they are when ``lengths`` is None (a layer's check at
    construction); TypeError/ValueError naming ``owner`` otherwise.

    >>> output_size_of((None, 3), "adaptive_avg_pool2d", 2, lengths=(5, 7))
    (5, 3)
    """
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * dims
    form = "an int" if dims == 1 else "an int or a pair of ints (or None: keep that size)"
    if len(items) != dims:
        raise ValueError(f"{owner}: output_size must be {form}, got {output_size!r}")
    out = []
    for i, item in enumerate(items):
        if item is None and dims > 1:
            out.append(item if lengths is None else lengths[i])
            continue
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{owner}: output_size must be {form}, got {output_size!r}")
        if item < 0:
            raise ValueError(f"{owner}: output_size must be non-negative, got {output_size!r}")
        out.append(int(item))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _sum_matrix(length, out):
    """The (out, length) 0/1 matrix whose row ``i`` sums window ``i``, and the window sizes."""
    starts, ends = window_bounds(length, out)
    j = np.arange(length)
    rows = (j >= starts[:, None]) & (j < ends[:, None])
    return rows.astype(np.float64), (ends - starts).astype(np.float64)


def _input(input, output_size, owner, dims):
    x, unbatched = batched(input, owner, kinds="f", dims=dims)
    lengths = x.shape[2:]
    if 0 in lengths:
        raise ValueError(f"{owner}: input must have non-empty spatial axes, got shape "
                         f"{x.shape[1:] if unbatched else x.shape}")
    return x, unbatched, lengths, output_size_of(output_size, owner, dims, lengths)


def adaptive_avg_pool1d(input, output_size, data_format="channels_first"):
    """PyTorch's ``F.adaptive_avg_pool1d``: ``input`` (N, C, L) or (C, L) averaged over
    ``output_size`` windows along L (PyTorch's, see the module), whatever L is.

    >>> import xpgrad as xg
    >>> xg.nn.adaptive_avg_pool1d(xg.asarray([[1.0, 2.0, 4.0]]), 2).tolist()
    [[1.5, 3.0]]
    """
    return pooled(lambda x: _adaptive_avg(x, output_size, "adaptive_avg_pool1d", 1), input,
                  data_format, "adaptive_avg_pool1d", 1)


def adaptive_avg_pool2d(input, output_size, data_format="channels_first"):
    """PyTorch's ``F.adaptive_avg_pool2d``: ``input`` (N, C, H, W) or (C, H, W) averaged over
    an ``output_size`` grid of windows (an int, or a pair whose None keeps that axis); ``1``
    is global average pooling (ResNet's head). ``data_format="channels_last"`` (``"NHWC"``):
    ``input`` (N, H, W, C) or (H, W, C), the output likewise (Keras's
    ``GlobalAveragePooling2D(keepdims=True)`` is ``output_size=1``); so too the 1-d and the
    max poolings.

    >>> import xpgrad as xg
    >>> x = xg.arange(16.0).reshape((1, 1, 4, 4))
    >>> xg.nn.adaptive_avg_pool2d(x, 1).tolist(), xg.nn.adaptive_avg_pool2d(x, (None, 1)).shape
    ([[[[7.5]]]], (1, 1, 4, 1))
    """
    return pooled(lambda x: _adaptive_avg(x, output_size, "adaptive_avg_pool2d", 2), input,
                  data_format, "adaptive_avg_pool2d", 2)


def _adaptive_avg(input, output_size, owner, dims):
    x, unbatched, lengths, out = _input(input, output_size, owner, dims)
    if all(n == 1 for n in out):              # global pooling: the mean, one pass
        y = mean(x, axis=tuple(range(2, x.ndim)), keepdims=True)
        return squeeze(y, axis=0) if unbatched else y
    y, divisor = x, None
    for axis, (length, n) in enumerate(zip(lengths, out)):
        if length == n:                       # windows of one entry: nothing to do
            continue
        rows, sizes = _sum_matrix(length, n)
        sizes = reshape(asarray(sizes, dtype=x.dtype, backend=x.backend),
                        (n,) + (1,) * (dims - 1 - axis))
        divisor = sizes if divisor is None else divisor * sizes
        rows = asarray(rows, dtype=x.dtype, backend=x.backend)
        if axis == dims - 1:                  # the last axis: y @ rows.T
            y = matmul(y, rows.T)
        else:                                 # (n, H) @ (..., H, W), here dims == 2
            y = matmul(rows, y)
    if divisor is not None:
        y = y / divisor
    return squeeze(y, axis=0) if unbatched else y


def adaptive_max_pool1d(input, output_size, return_indices=False,
                        data_format="channels_first"):
    """PyTorch's ``F.adaptive_max_pool1d``: the maximum of each of ``output_size`` windows
    along L of ``input`` (N, C, L) or (C, L); ``return_indices``: also the int64 positions in
    L of the maxima. Ties and NaN as ``max_pool1d`` (the first maximum; the last NaN).

    >>> import xpgrad as xg
    >>> y, i = xg.nn.adaptive_max_pool1d(xg.asarray([[1.0, 3.0, 2.0]]), 2, return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[3.0, 3.0]], [[1, 1]])
    """
    return pooled(lambda x: _adaptive_max(x, output_size, return_indices,
                                          "adaptive_max_pool1d", 1),
                  input, data_format, "adaptive_max_pool1d", 1)


def adaptive_max_pool2d(input, output_size, return_indices=False,
                        data_format="channels_first"):
    """PyTorch's ``F.adaptive_max_pool2d``: the maximum of each window of an ``output_size``
    grid (an int, or a pair whose None keeps that axis) over H and W of ``input`` (N, C, H,
    W) or (C, H, W); ``return_indices``: also the int64 flat positions ``h * W + w`` in each
    (H, W) plane, as PyTorch's.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[[1.0, 2.0, 0.0], [4.0, 3.0, 5.0]]])        # (C, H, W)
    >>> y, i = xg.nn.adaptive_max_pool2d(x, (1, 2), return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[4.0, 5.0]]], [[[3, 5]]])
    """
    return pooled(lambda x: _adaptive_max(x, output_size, return_indices,
                                          "adaptive_max_pool2d", 2),
                  input, data_format, "adaptive_max_pool2d", 2)


def _pick(gathered):
    """Per window (the last axis of ``gathered``, off the tape), which entry holds its maximum
    by PyTorch's CPU rule (``val > max || isnan(val)``: the first of tied maxima, the last
    NaN); int64. Short windows: running comparisons, as ``max_pool2d``'s; long ones (global
    pooling): ``argmax``, a few passes instead of one per entry."""
    k = gathered.shape[-1]
    if k < _LONG:           # max_pool2d's rule: j only grows, so ``maximum`` keeps the last
        best = gathered[..., 0]
        pick = zeros(best.shape, dtype=int64, backend=best.backend)
        for j in range(1, k):
            piece = gathered[..., j]
            better = (piece > best) | isnan(piece)
            best, pick = maximum(best, piece), maximum(pick, astype(better, int64) * j)
        return pick
    nan = isnan(gathered)
    last_nan = (k - 1) - flip(nan, axis=-1).argmax(axis=-1)
    return astype(where(nan.any(axis=-1), last_nan, gathered.argmax(axis=-1)), int64)


def _adaptive_max(input, output_size, return_indices, owner, dims):
    return_indices = flag(return_indices, "return_indices", owner)
    x, unbatched, lengths, out = _input(input, output_size, owner, dims)
    if x.shape[1] and all(n and length % n == 0 for length, n in zip(lengths, out)) and \
            "max_pool" in x.backend.kernels:
        # windows of one size, as many apart: max pooling with kernel = stride (its kernel)
        kernel = tuple(length // n for length, n in zip(lengths, out))
        got = (max_pool1d if dims == 1 else max_pool2d)(x, kernel,
                                                         return_indices=return_indices)
        if not unbatched:
            return got
        return tuple(squeeze(t, axis=0) for t in got) if return_indices else \
            squeeze(got, axis=0)
    if not return_indices and x.size:
        y = adaptive_max_pool(x, out=out)
        return squeeze(y, axis=0) if unbatched else y
    rows = x.shape[:2] + (int(np.prod(lengths)),)              # not -1: N or C may be 0
    planes = reshape(x, rows)                                    # (N, C, prod(lengths))
    table = window_table(tuple(lengths), out)                    # (prod(out), K)
    positions = asarray(table, dtype=int64, backend=x.backend)
    gathered = reshape(take(stop_gradient(planes), reshape(positions, (-1,)), axis=2),
                       x.shape[:2] + table.shape)                # (N, C, prod(out), K)
    pick = _pick(gathered)
    index = squeeze(take_along_axis(broadcast_to(positions, gathered.shape),
                                    expand_dims(pick, axis=-1), axis=3), axis=3)
    y = reshape(take_along_axis(planes, index, axis=2), x.shape[:2] + out)
    index = reshape(index, x.shape[:2] + out)
    if unbatched:
        y, index = squeeze(y, axis=0), squeeze(index, axis=0)
    return (y, index) if return_indices else y


__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
           "adaptive_max_pool2d"]
