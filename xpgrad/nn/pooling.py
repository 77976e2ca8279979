"""1-d and 2-d max and average pooling over (N, C, *spatial) or (C, *spatial), as PyTorch's
``F.max_pool1d`` / ``F.max_pool2d`` and ``F.avg_pool1d`` / ``F.avg_pool2d`` (which hold no
weights), composed of differentiable operations on the windows of ``nn/_windows.py``; the
layers ``MaxPool1d`` ... ``AvgPool2d`` are in ``nn/pooling_layers.py``.

Max pooling finds, per window, which of its kernel positions holds the maximum (running
comparisons off the tape in row-major order, with PyTorch's CPU rule ``val > max ||
isnan(val)``: the first of tied maxima, the last NaN), then gathers the input there with
``take_along_axis``: the gradient goes to that one position per window (overlapping windows
that pick the same position add up), where PyTorch sends it. On a backend with a kernel for
the primitive ``max_pool`` (``ops/max_pooling.py``: the Numba backend's), max pooling is that
primitive instead (``return_indices`` without dilation: its positions, and the input gathered
there). Average pooling (``nn/avg_pooling.py``) sums the windows by one product with a 0/1
matrix per axis and divides by PyTorch's divisor; the window geometry both check and pad by is ``nn/pooling_geometry.py``'s.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
>>> xg.nn.max_pool1d(x, 2).tolist(), xg.nn.avg_pool1d(x, 2).tolist()
([[[3.0, 5.0]]], [[[2.0, 3.5]]])
>>> xg.nn.max_pool2d(xg.arange(16.0).reshape((1, 4, 4)), 2).tolist()
[[[5.0, 7.0], [13.0, 15.0]]]
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .._args import flag
from ..creation import asarray, full, zeros
from ..dtypes import int64
from ..ops.casting import astype
from ..ops.elementwise import isnan, maximum
from ..ops.indexing import take_along_axis
from ..ops.max_pooling import max_pool, max_pool_with_positions
from ..ops.shape import broadcast_to, reshape, squeeze
from ..tape import stop_gradient
from ..tensor import Tensor
from ._data_format import channels_last, pooled
from ._windows import batched, int_tuple, windows
from .avg_pooling import avg_pool1d, avg_pool2d, check_divisor, including_pad  # noqa: F401
from .pooling_geometry import (_nonempty, _window_pads, _windows_of, _without_windows, geometry,
                               pad_pairs)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, data_format="channels_first"):
    """PyTorch's ``F.max_pool1d``: the maximum of each window of ``kernel_size`` entries
    (``dilation`` apart, windows ``stride`` apart, default ``kernel_size``) along L of
    ``input`` (N, C, L) or (C, L), implicitly padded with -inf by ``padding`` (at most half
    of ``kernel_size``); ``ceil_mode`` keeps a last, partial window. ``return_indices``: also
    the int64 positions in L of the maxima (``F.max_unpool1d``'s). The gradient goes to the
    first maximum of each window, as PyTorch's; a window holding NaN gives NaN, its index and
    gradient those of the last NaN, as PyTorch's. ``data_format="channels_last"`` (``"NWC"``):
    ``input`` (N, L, C) or (L, C), outputs likewise (the indices still positions in L).
    ``padding`` may be Keras's ``"valid"`` (none) or ``"same"``, TensorFlow's:
    ``ceil(L / stride)`` windows, the -inf padding split with the odd one at the end; with
    ``"valid"`` an L shorter than the window gives 0 windows (TensorFlow's), not an error.

    >>> import xpgrad as xg
    >>> y, i = xg.nn.max_pool1d(xg.asarray([[[1.0, 3.0, 2.0]]]), 2, ceil_mode=True,
    ...                         return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[3.0, 2.0]]], [[[1, 2]]])
    """
    return _max_pooled(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                       data_format, "max_pool1d", 1)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, data_format="channels_first"):
    """PyTorch's ``F.max_pool2d``: the maximum of each window of ``kernel_size`` (an int or a
    pair (height, width)) entries over H and W of ``input`` (N, C, H, W) or (C, H, W);
    ``stride`` (default ``kernel_size``), ``padding`` (with -inf, at most half the kernel
    size) and ``dilation`` ints or pairs; ``ceil_mode`` keeps last, partial windows.
    ``return_indices``: also the int64 flat positions ``h * W + w`` of the maxima in each
    (H, W) plane, as PyTorch's. Ties and NaN as ``max_pool1d`` (row-major order within a
    window: the first of tied maxima, the last NaN). ``data_format="channels_last"``
    (``"NHWC"``): ``input`` (N, H, W, C) or (H, W, C), as Keras's ``MaxPooling2D`` and flax's
    ``nn.max_pool``, outputs likewise (the indices still ``h * W + w``). ``padding="same"``
    or ``"valid"``: Keras's and TensorFlow's, as ``max_pool1d``'s (``MaxPooling2D(3, 2,
    padding="same")``: ``ceil(H / 2)`` by ``ceil(W / 2)`` outputs).

    >>> import xpgrad as xg
    >>> x = xg.asarray([[[1.0, 2.0, 0.0], [4.0, 3.0, 5.0]]])        # (C, H, W)
    >>> y, i = xg.nn.max_pool2d(x, 2, stride=1, return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[4.0, 5.0]]], [[[3, 5]]])
    >>> xg.nn.max_pool2d(x, 2, padding="same").tolist()
    [[[4.0, 5.0]]]
    """
    return _max_pooled(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                       data_format, "max_pool2d", 2)


def _max_pooled(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                data_format, owner, dims):
    """``max_pool1d/2d`` in ``data_format``: channels last on a backend with a ``max_pool``
    kernel straight into the kernel (with indices: undilated), else channels first."""
    last = channels_last(data_format, owner, dims)
    if last and isinstance(input, Tensor) and "max_pool" in input.backend.kernels and (
            not flag(return_indices, "return_indices", owner)
            or max(int_tuple(dilation, "dilation", owner, dims)) == 1):
        return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices, owner, dims, last=True)
    return pooled(lambda x: _max_pool(x, kernel_size, stride, padding, dilation, ceil_mode,
                                      return_indices, owner, dims),
                  input, data_format, owner, dims)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, owner,
              dims, last=False):
    """Channels first, or with ``last`` (only where the backend has a ``max_pool`` kernel, and
    no dilation when indices are asked for) channels last."""
    k, s, p, d = geometry(kernel_size, stride, padding, dilation, owner, dims)
    ceil_mode = flag(ceil_mode, "ceil_mode", owner)
    return_indices = flag(return_indices, "return_indices", owner)
    x, unbatched = _nonempty(*batched(input, owner, kinds="f", dims=dims, last=last), owner)
    lengths = x.shape[1:-1] if last else x.shape[2:]
    pairs = pad_pairs(p, k, s, d, lengths)
    pads, n = _window_pads(lengths, k, s, pairs, d, ceil_mode, owner, empty_ok=p == "valid")
    if 0 in n:
        y = _without_windows(x, n, last, unbatched)
        return (y, astype(stop_gradient(y), int64)) if return_indices else y
    if "max_pool" in x.backend.kernels and (not return_indices or max(d) == 1):
        # the primitive, for that kernel (numpy's, numba's): its generic rule finds the maxima
        # again for the gradient, slower than the composition below (2x on max_pool2d(3, 2,
        # 1)), so the backends without one run the composition; the
        # indices by the kernel's loop in x's layout (dilation: windows wholly in the padding)
        geom = dict(kernel=k, stride=s, dilation=d, pads=pads, n_out=n, last=last)
        got = max_pool_with_positions(x, **geom) if return_indices else (max_pool(x, **geom),)
        got = tuple(squeeze(t, axis=0) for t in got) if unbatched else got
        return got if return_indices else got[0]
    padded, n = _windows_of(x, k, s, pairs, d, ceil_mode, float("-inf"), owner)
    planes = padded.shape[2:]
    lefts = tuple(left for left, _ in pairs)
    offsets, first, starts = _layout(k, s, lefts, d, n, planes)
    if first is not None:
        first = asarray(first, backend=x.backend)
    chosen = _first_maximum(windows(stop_gradient(padded), k, s, d, n), offsets, first)
    flat = chosen + asarray(starts, backend=x.backend)      # (N, C, *n) in the padded planes
    rows = x.shape[:2]                               # sizes, not -1: a batch may be empty
    y = reshape(take_along_axis(reshape(padded, rows + (math.prod(planes),)),
                                reshape(flat, rows + (math.prod(n),)), axis=2),
                x.shape[:2] + n)
    index = None
    if return_indices:                    # the padded planes' positions as the input's
        if dims == 1:
            index = flat - lefts[0]
        else:
            index = (flat // planes[1] - lefts[0]) * lengths[1] + flat % planes[1] - lefts[1]
    if unbatched:
        y = squeeze(y, axis=0)
        index = None if index is None else squeeze(index, axis=0)
    return (y, index) if return_indices else y


@functools.lru_cache(maxsize=256)
def _layout(k, s, p, d, n, planes):
    """``(offsets, first, starts)`` for windows over planes of shape ``planes`` padded by
    ``p`` on the left (row-major): ``offsets`` (ints, increasing) of each kernel position from its window's
    start; ``first`` (an int64 array of shape ``n``, or None when every window starts inside
    the input) the offset of each window's first position inside the input, where PyTorch
    starts its search; ``starts`` (int64, shape ``n``) each window's start."""
    strides = [math.prod(planes[axis + 1:]) for axis in range(len(k))]
    offsets = tuple(sum(i * di * st for i, di, st in zip(position, d, strides))
                    for position in np.ndindex(*k))
    starts, first = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for axis in range(len(k)):
        shape = (n[axis],) + (1,) * (len(k) - 1 - axis)
        begin = np.arange(n[axis]) * s[axis] - p[axis]       # in the input's coordinates
        inside = np.where(begin < 0, (-begin + d[axis] - 1) // d[axis], 0)
        starts = starts + (np.arange(n[axis]) * s[axis] * strides[axis]).reshape(shape)
        first = first + (inside * d[axis] * strides[axis]).reshape(shape)
    starts.setflags(write=False)
    first.setflags(write=False)
    return offsets, (first if any(p) else None), starts


def _first_maximum(pieces, offsets, first=None):
    """Per window, the offset (of ``offsets``, increasing: piece j is the j-th kernel
    position of every window) of its maximum, by PyTorch's CPU rule (``val > max ||
    isnan(val)`` over the positions inside the input, from ``max = -inf`` at the first of
    them, offset ``first``; None: position 0 for every window): the first of tied maxima, the
    last NaN, the first position inside for a window of -inf; int64 (N, C, *n). The padding
    (-inf) never wins. Running comparisons: ``argmax`` over a short last axis is several times
    slower, and ``where`` slower than ``maximum`` (the offsets only grow)."""
    like = pieces[0]
    if first is None:
        best, pick = like, zeros(like.shape, dtype=int64, backend=like.backend)
        rest = list(zip(offsets, pieces))[1:]
    else:
        best = full(like.shape, float("-inf"), dtype=like.dtype, backend=like.backend)
        pick, rest = broadcast_to(first, like.shape), zip(offsets, pieces)
    for offset, piece in rest:
        better = (piece > best) | isnan(piece)
        best, pick = maximum(best, piece), maximum(pick, astype(better, int64) * offset)
    return pick


__all__ = ["max_pool1d", "avg_pool1d", "max_pool2d", "avg_pool2d"]
