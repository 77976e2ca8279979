"""1-d max and average pooling over (N, C, L) or (C, L), as PyTorch's ``F.max_pool1d`` /
``nn.MaxPool1d`` and ``F.avg_pool1d`` / ``nn.AvgPool1d`` (which hold no weights), composed of
differentiable operations on the windows of ``nn/_windows.py``.

Max pooling finds, per window, which of its ``kernel_size`` slices holds the maximum (running
comparisons off the tape, with PyTorch's CPU rule ``val > max || isnan(val)``: the first of tied
maxima, the last NaN), then gathers the input there with ``take_along_axis``: the gradient goes
to that one position per window (overlapping windows that pick the same position add up),
where PyTorch sends it. Average pooling sums the windows' slices and divides by PyTorch's
divisor.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 3.0, 2.0, 5.0, 4.0]]])
>>> xg.nn.max_pool1d(x, 2).tolist(), xg.nn.avg_pool1d(x, 2).tolist()
([[[3.0, 5.0]]], [[[2.0, 3.5]]])
"""
from __future__ import annotations

import functools

from .._args import flag
from ..creation import arange, asarray, zeros
from ..dtypes import int64
from ..ops.casting import astype
from ..ops.elementwise import isnan, maximum
from ..ops.indexing import take_along_axis
from ..ops.shape import squeeze
from ..tape import stop_gradient
from ._windows import batched, one_int, out_length, pad, windows
from .module import Module


def _geometry(kernel_size, stride, padding, dilation, owner):
    """``(kernel_size, stride, padding, dilation)`` checked as PyTorch's pooling does: stride
    None means kernel_size, padding at most half the kernel size."""
    k = one_int(kernel_size, "kernel_size", owner)
    s = k if stride is None or stride == () or stride == [] else one_int(stride, "stride", owner)
    p = one_int(padding, "padding", owner, minimum=0)
    d = one_int(dilation, "dilation", owner)
    if p > k // 2:
        raise ValueError(f"{owner}: padding should be at most half of kernel_size, got "
                         f"padding={p} and kernel_size={k} (as PyTorch)")
    return k, s, p, d


def _right_padding(length, k, s, p, d, n):
    """The right padding that holds all ``n`` windows: ``p``, or more for ceil_mode's last."""
    return max(p, s * (n - 1) + d * (k - 1) + 1 - length - p)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """PyTorch's ``F.max_pool1d``: the maximum of each window of ``kernel_size`` entries
    (``dilation`` apart, windows ``stride`` apart, default ``kernel_size``) along L of
    ``input`` (N, C, L) or (C, L), implicitly padded with -inf by ``padding`` (at most half
    of ``kernel_size``); ``ceil_mode`` keeps a last, partial window. ``return_indices``: also
    the int64 positions in L of the maxima (``F.max_unpool1d``'s). The gradient goes to the
    first maximum of each window, as PyTorch's; a window holding NaN gives NaN, its index and
    gradient those of the last NaN, as PyTorch's.

    >>> import xpgrad as xg
    >>> y, i = xg.nn.max_pool1d(xg.asarray([[[1.0, 3.0, 2.0]]]), 2, ceil_mode=True,
    ...                         return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[3.0, 2.0]]], [[[1, 2]]])
    """
    owner = "max_pool1d"
    k, s, p, d = _geometry(kernel_size, stride, padding, dilation, owner)
    ceil_mode = flag(ceil_mode, "ceil_mode", owner)
    return_indices = flag(return_indices, "return_indices", owner)
    x, unbatched = batched(input, owner, kinds="f")
    length = x.shape[2]
    n = _pooled_length(length, k, s, p, d, ceil_mode, owner)
    padded = pad(x, p, _right_padding(length, k, s, p, d, n), "zeros", float("-inf"))
    pick = _first_maximum(windows(stop_gradient(padded), k, s, d, n))     # (N, C, n)
    where = pick * d + arange(0, s * n, s, backend=x.backend)             # in padded L
    y = take_along_axis(padded, where, axis=2)
    if unbatched:
        y, where = squeeze(y, axis=0), squeeze(where, axis=0)
    return (y, where - p) if return_indices else y


def _first_maximum(pieces):
    """Per window, which of ``pieces`` (slice j: the j-th entry of every window) holds its
    maximum, by PyTorch's CPU rule (``val > max || isnan(val)``): the first of tied maxima,
    the last NaN; int64 (N, C, n). Running comparisons: ``argmax`` over a short last axis is
    several times slower, and ``where`` slower than ``maximum`` (j only grows)."""
    best, pick = pieces[0], zeros(pieces[0].shape, dtype=int64, backend=pieces[0].backend)
    for j, piece in enumerate(pieces[1:], 1):
        better = (piece > best) | isnan(piece)
        best, pick = maximum(best, piece), maximum(pick, astype(better, int64) * j)
    return pick


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """PyTorch's ``F.avg_pool1d``: the mean of each window of ``kernel_size`` entries (windows
    ``stride`` apart, default ``kernel_size``) along L of ``input`` (N, C, L) or (C, L),
    zero-padded by ``padding`` (at most half of ``kernel_size``). The divisor is PyTorch's:
    the window's length clipped to the padded input, or with ``count_include_pad=False`` the
    number of input entries in it; ``ceil_mode`` keeps a last, partial window.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[[1.0, 2.0, 3.0]]])
    >>> xg.nn.avg_pool1d(x, 2, padding=1).tolist()
    [[[0.5, 2.5]]]
    >>> xg.nn.avg_pool1d(x, 2, padding=1, count_include_pad=False).tolist()
    [[[1.0, 2.5]]]
    """
    owner = "avg_pool1d"
    k, s, p, _ = _geometry(kernel_size, stride, padding, 1, owner)
    ceil_mode = flag(ceil_mode, "ceil_mode", owner)
    count_include_pad = flag(count_include_pad, "count_include_pad", owner)
    x, unbatched = batched(input, owner, kinds="f")
    length = x.shape[2]
    n = _pooled_length(length, k, s, p, 1, ceil_mode, owner)
    padded = pad(x, p, _right_padding(length, k, s, p, 1, n), "zeros", 0.0)
    total = None
    for piece in windows(padded, k, s, 1, n):
        total = piece if total is None else total + piece
    divisor = asarray(_divisors(length, k, s, p, n, count_include_pad), dtype=x.dtype,
                      backend=x.backend)
    y = total / divisor
    return squeeze(y, axis=0) if unbatched else y


def _pooled_length(length, k, s, p, d, ceil_mode, owner):
    n = out_length(length, k, s, d, p, p, owner, ceil_mode=ceil_mode)
    if n < 1:
        raise ValueError(f"{owner}: input length {length} gives no window "
                         f"(kernel_size={k}, stride={s}, padding={p}, dilation={d})")
    return n


@functools.lru_cache(maxsize=256)
def _divisors(length, k, s, p, n, count_include_pad):
    """PyTorch's avg_pool divisor of each window (``avg_pool2d``'s CPU kernel, 1-d)."""
    out = []
    for j in range(n):
        start = j * s - p
        end = min(start + k, length + p)
        if count_include_pad:
            out.append(end - start)
        else:
            out.append(min(end, length) - max(start, 0))
    return tuple(out)



class MaxPool1d(Module):
    """``MaxPool1d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, PyTorch's (``stride`` None: ``kernel_size``); see
    ``xg.nn.max_pool1d``. With ``return_indices`` it returns ``(values, indices)``.

    >>> import xpgrad as xg
    >>> xg.nn.MaxPool1d(3, stride=1, padding=1)(xg.asarray([[1.0, 5.0, 2.0]])).tolist()
    [[5.0, 5.0, 5.0]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, *, name=None):
        super().__init__(name)
        who = type(self).__name__
        self.kernel_size, self.stride, self.padding, self.dilation = _geometry(
            kernel_size, stride, padding, dilation, who)
        self.return_indices = flag(return_indices, "return_indices", who)
        self.ceil_mode = flag(ceil_mode, "ceil_mode", who)

    def forward(self, x):
        return max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def _extra_repr(self):
        return f", kernel_size={self.kernel_size}, stride={self.stride}, " \
               f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class AvgPool1d(Module):
    """``AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True)``, PyTorch's (``stride`` None: ``kernel_size``); see
    ``xg.nn.avg_pool1d``.

    >>> import xpgrad as xg
    >>> xg.nn.AvgPool1d(2)(xg.asarray([[1.0, 3.0, 5.0, 7.0]])).tolist()
    [[2.0, 6.0]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, *, name=None):
        super().__init__(name)
        who = type(self).__name__
        self.kernel_size, self.stride, self.padding, _ = _geometry(kernel_size, stride,
                                                                   padding, 1, who)
        self.ceil_mode = flag(ceil_mode, "ceil_mode", who)
        self.count_include_pad = flag(count_include_pad, "count_include_pad", who)

    def forward(self, x):
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def _extra_repr(self):
        return f", kernel_size={self.kernel_size}, stride={self.stride}, " \
               f"padding={self.padding}"


__all__ = ["max_pool1d", "avg_pool1d", "MaxPool1d", "AvgPool1d"]
