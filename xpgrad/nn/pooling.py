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
there). Average pooling sums the windows' slices and divides by PyTorch's divisor.

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
import numbers

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
from ._data_format import channels_last, pooled, tf_same_pairs
from ._windows import batched, int_tuple, out_length, pad, windows


def geometry(kernel_size, stride, padding, dilation, owner, dims):
    """``(kernel_size, stride, padding, dilation)`` as tuples of ``dims`` ints, checked as
    PyTorch's pooling does: stride None (or empty) means kernel_size, padding at most half the
    kernel size. ``padding`` may also be Keras's and TensorFlow's ``"valid"`` or ``"same"``
    (``"VALID"``, ``"SAME"``), returned in lower case (``pad_pairs`` makes it pairs).

    >>> geometry(3, None, 1, 1, "max_pool2d", 2)
    ((3, 3), (3, 3), (1, 1), (1, 1))
    >>> geometry(3, 2, "SAME", 1, "max_pool2d", 2)[2]
    'same'
    """
    k = int_tuple(kernel_size, "kernel_size", owner, dims)
    s = k if stride is None or stride == () or stride == [] else \
        int_tuple(stride, "stride", owner, dims)
    d = int_tuple(dilation, "dilation", owner, dims)
    if isinstance(padding, str):
        if padding not in ("valid", "same", "VALID", "SAME"):
            raise ValueError(f"{owner}: padding must be an int, a tuple of ints, 'valid' or "
                             f"'same', got {padding!r}")
        return k, s, padding.lower(), d
    p = int_tuple(padding, "padding", owner, dims, minimum=0)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        shown = (lambda t: t[0]) if dims == 1 else (lambda t: t)
        raise ValueError(f"{owner}: padding should be at most half of kernel_size, got "
                         f"padding={shown(p)} and kernel_size={shown(k)} (as PyTorch)")
    return k, s, p, d


def _nonempty(x, unbatched, owner):
    """``(x, unbatched)`` after PyTorch's check of a pooling's input: only the batch axis may
    be empty (an empty batch gives an empty output); ValueError naming ``owner`` otherwise."""
    if 0 in x.shape[1:]:
        shape = x.shape[1:] if unbatched else x.shape
        raise ValueError(f"{owner}: input of shape {shape} has an empty axis; only the batch "
                         "axis (N) may be empty, as in PyTorch")
    return x, unbatched


def pad_pairs(p, k, s, d, lengths):
    """``(left, right)`` per axis for ``geometry``'s padding ``p`` over spatial ``lengths``:
    ``p`` on both sides (PyTorch's), none for ``"valid"``, and for ``"same"`` TensorFlow's:
    ``ceil(length / stride)`` windows, the padding they need split with the odd one at the end
    (``tf_same_pairs``).

    >>> pad_pairs("same", (2,), (1,), (1,), (6,)), pad_pairs((1,), (3,), (2,), (1,), (6,))
    (((0, 1),), ((1, 1),))
    """
    if p == "valid":
        return ((0, 0),) * len(k)
    if p == "same":
        return tf_same_pairs(lengths, k, s, d)
    return tuple((pi, pi) for pi in p)


def _window_pads(lengths, k, s, pairs, d, ceil_mode, owner, empty_ok=False):
    """``((left, right) padding per axis, the number of windows per axis)`` over spatial
    ``lengths`` for ``pairs`` (of ``pad_pairs``); the right padding is the given one or more,
    enough for ceil_mode's last window. ``empty_ok``: 0 windows on an axis shorter than the
    kernel (``out_length``'s)."""
    n = tuple(out_length(length, ki, si, di, left, right, owner, ceil_mode=ceil_mode,
                         empty_ok=empty_ok)
              for length, ki, si, (left, right), di in zip(lengths, k, s, pairs, d))
    pads = [(left, max(right, si * (ni - 1) + di * (ki - 1) + 1 - length - left))
            for length, ki, si, (left, right), di, ni in zip(lengths, k, s, pairs, d, n)]
    return pads, n


def _without_windows(x, n, last, unbatched):
    """The output of a ``"valid"`` pooling with 0 windows on some axis (the input shorter than
    the kernel there), as TensorFlow's and ``lax.reduce_window``'s: empty, of shape (N, C, *n)
    (channels ``last``: (N, *n, C)), cut from ``x`` so that its gradient is zeros."""
    shape = (x.shape[0],) + n + (x.shape[-1],) if last else x.shape[:2] + n
    y = reshape(reshape(x, (-1,))[:0], shape)
    return squeeze(y, axis=0) if unbatched else y


def _windows_of(x, k, s, pairs, d, ceil_mode, value, owner):
    """``(x padded with value, the number of windows per axis)`` (``_window_pads``')."""
    pads, n = _window_pads(x.shape[2:], k, s, pairs, d, ceil_mode, owner)
    return pad(x, pads, "zeros", value), n


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
        # the primitive, for that kernel: its generic rule finds the maxima again for the
        # gradient, slower than the composition below (numpy: 2x on max_pool2d(3, 2, 1)); the
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


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=None, data_format="channels_first"):
    """PyTorch's ``F.avg_pool1d``: the mean of each window of ``kernel_size`` entries (windows
    ``stride`` apart, default ``kernel_size``) along L of ``input`` (N, C, L) or (C, L),
    zero-padded by ``padding`` (at most half of ``kernel_size``). The divisor is PyTorch's:
    the window's length clipped to the padded input, or with ``count_include_pad=False`` the
    number of input entries in it; ``ceil_mode`` keeps a last, partial window.
    ``data_format="channels_last"`` (``"NWC"``): ``input`` (N, L, C) or (L, C). ``padding``
    may be Keras's ``"valid"`` (none) or ``"same"``, TensorFlow's: ``ceil(L / stride)``
    windows, the padding split with the odd one at the end, each window divided by the number
    of input entries in it (``count_include_pad`` None means that; True for PyTorch's). With
    ``"valid"`` an L shorter than the window gives 0 windows (TensorFlow's), not an error.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[[1.0, 2.0, 3.0]]])
    >>> xg.nn.avg_pool1d(x, 2, padding=1).tolist()
    [[[0.5, 2.5]]]
    >>> xg.nn.avg_pool1d(x, 2, padding=1, count_include_pad=False).tolist()
    [[[1.0, 2.5]]]
    >>> xg.nn.avg_pool1d(x, 2, stride=1, padding="same").tolist()
    [[[1.5, 2.5, 3.0]]]
    """
    return pooled(lambda x: _avg_pool(x, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, None, "avg_pool1d", 1),
                  input, data_format, "avg_pool1d", 1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=None, divisor_override=None, data_format="channels_first"):
    """PyTorch's ``F.avg_pool2d``: the mean of each window of ``kernel_size`` (an int or a
    pair) over H and W of ``input`` (N, C, H, W) or (C, H, W), zero-padded by ``padding`` (at
    most half the kernel size); ``stride`` defaults to ``kernel_size``. The divisor is
    PyTorch's: the window's area clipped to the padded input, with ``count_include_pad=False``
    the number of input entries in it, or ``divisor_override`` (a non-zero int) for every
    window; ``ceil_mode`` keeps last, partial windows. ``data_format="channels_last"``
    (``"NHWC"``): ``input`` (N, H, W, C) or (H, W, C), the output likewise. ``padding="same"``
    or ``"valid"``: Keras's and TensorFlow's, as ``avg_pool1d``'s (``AveragePooling2D(2,
    padding="same")``).

    >>> import xpgrad as xg
    >>> x = xg.ones((1, 3, 3))
    >>> xg.nn.avg_pool2d(x, 2, padding=1, count_include_pad=False).tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
    >>> xg.nn.avg_pool2d(x, 2, padding=1).tolist()
    [[[0.25, 0.5], [0.5, 1.0]]]
    """
    return pooled(lambda x: _avg_pool(x, kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override, "avg_pool2d", 2),
                  input, data_format, "avg_pool2d", 2)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, owner, dims):
    k, s, p, d = geometry(kernel_size, stride, padding, 1, owner, dims)
    ceil_mode = flag(ceil_mode, "ceil_mode", owner)
    count_include_pad = including_pad(count_include_pad, p, owner)
    divisor_override = check_divisor(divisor_override, owner)
    x, unbatched = _nonempty(*batched(input, owner, kinds="f", dims=dims), owner)
    pairs = pad_pairs(p, k, s, d, x.shape[2:])
    _, n = _window_pads(x.shape[2:], k, s, pairs, d, ceil_mode, owner, empty_ok=p == "valid")
    if 0 in n:
        return _without_windows(x, n, False, unbatched)
    padded, n = _windows_of(x, k, s, pairs, d, ceil_mode, 0.0, owner)
    total = None
    for piece in windows(padded, k, s, d, n):
        total = piece if total is None else total + piece
    if divisor_override is not None:
        y = total / float(divisor_override)
    else:
        divisor = None
        for axis, length in enumerate(x.shape[2:]):
            counts = asarray(_divisors(length, k[axis], s[axis], *pairs[axis], n[axis],
                                       count_include_pad), dtype=x.dtype, backend=x.backend)
            counts = reshape(counts, (n[axis],) + (1,) * (dims - 1 - axis))
            divisor = counts if divisor is None else divisor * counts
        y = total / divisor
    return squeeze(y, axis=0) if unbatched else y


def including_pad(count_include_pad, padding, owner):
    """``count_include_pad`` as a bool: None is PyTorch's True, but False (TensorFlow's
    divisor, the input entries in the window) with ``geometry``'s padding ``"same"``.

    >>> including_pad(None, (1,), "avg_pool1d"), including_pad(None, "same", "avg_pool1d")
    (True, False)
    """
    if count_include_pad is None:
        return padding != "same"
    return flag(count_include_pad, "count_include_pad", owner)


def check_divisor(divisor_override, owner):
    """``divisor_override``: None or a non-zero int (PyTorch's); ValueError naming ``owner``.

    >>> check_divisor(4, "avg_pool2d")
    4
    """
    if divisor_override is not None and (
            isinstance(divisor_override, bool)
            or not isinstance(divisor_override, numbers.Integral) or divisor_override == 0):
        raise ValueError(f"{owner}: divisor_override must be None or a non-zero int, got "
                         f"{divisor_override!r}")
    return divisor_override


@functools.lru_cache(maxsize=256)
def _divisors(length, k, s, left, right, n, count_include_pad):
    """PyTorch's avg_pool divisor of each window along one axis padded by ``left`` and
    ``right`` (``avg_pool2d``'s CPU kernel: the 2-d divisor is the product of the two
    axes')."""
    out = []
    for j in range(n):
        start = j * s - left
        end = min(start + k, length + right)
        if count_include_pad:
            out.append(end - start)
        else:
            out.append(min(end, length) - max(start, 0))
    return tuple(out)


__all__ = ["max_pool1d", "avg_pool1d", "max_pool2d", "avg_pool2d"]
