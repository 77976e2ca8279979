"""1-d and 2-d average pooling, PyTorch's ``F.avg_pool1d`` / ``F.avg_pool2d`` (``xg.nn``; the
layers ``AvgPool1d``, ``AvgPool2d`` are in ``pooling_layers.py``, max pooling in ``pooling.py``):
the windows' sums, one matrix product with 0/1 window matrices per spatial axis (the
padding's zeros left out), divided by PyTorch's divisor, or TensorFlow's for
``padding="same"``.

>>> import xpgrad as xg
>>> xg.nn.avg_pool1d(xg.asarray([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2).tolist()
[[[2.0, 3.5]]]
"""
from __future__ import annotations

import functools
import numbers

import numpy as np

from .._args import flag
from ..creation import asarray
from ..ops.linalg import matmul
from ..ops.shape import squeeze
from ._data_format import pooled
from ._windows import batched
from .pooling_geometry import _nonempty, _window_pads, _without_windows, geometry, pad_pairs


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
    total = _matrix_sums(x, k, s, pairs, n)
    if divisor_override is not None:
        y = total / float(divisor_override)
    else:
        divisor = _divisor(tuple(x.shape[2:]), k, s, tuple(pairs), n, count_include_pad)
        y = total / (divisor if isinstance(divisor, float) else
                     asarray(divisor, dtype=x.dtype, backend=x.backend))
    return squeeze(y, axis=0) if unbatched else y


@functools.lru_cache(maxsize=256)
def _window_matrix(length, k, s, left, n):
    """The (n, length) 0/1 matrix whose row ``j`` sums window ``j`` (``k`` entries from ``j * s
    - left``; the padding, zeros, left out), read-only float64."""
    starts = np.arange(n) * s - left
    i = np.arange(length)
    rows = ((i >= starts[:, None]) & (i < starts[:, None] + k)).astype(np.float64)
    rows.setflags(write=False)
    return rows


def _matrix_sums(x, k, s, pairs, n):
    """Each window's sum over ``x`` (N, C, *spatial), one matrix product per spatial axis with
    ``_window_matrix``, as ``adaptive_avg_pool2d``'s: no padded copy, no slices (whose
    gradients are each a zero array written into), the gradient two products. 3x3 windows,
    stride 2, padding 1, float32, one core, forward (and with the gradient): (8, 16, 14, 14)
    58 -> 35 us (205 -> 68), (32, 64, 28, 28) 2.0 -> 1.1 ms (5.0 -> 2.1)."""
    y, dims = x, len(k)
    for axis, length in enumerate(x.shape[2:]):
        rows = asarray(_window_matrix(length, k[axis], s[axis], pairs[axis][0], n[axis]),
                       dtype=x.dtype, backend=x.backend)
        y = matmul(y, rows.T) if axis == dims - 1 else matmul(rows, y)
    return y


@functools.lru_cache(maxsize=256)
def _divisor(lengths, k, s, pairs, n, count_include_pad):
    """PyTorch's divisor of every window (``_divisors``' per axis, multiplied): a float where
    every window has the same, else a read-only float64 array of shape ``n``."""
    per_axis = [_divisors(length, k[a], s[a], *pairs[a], n[a], count_include_pad)
                for a, length in enumerate(lengths)]
    if all(len(set(counts)) == 1 for counts in per_axis):
        return float(np.prod([counts[0] for counts in per_axis]))
    divisor = np.ones(n)
    for a, counts in enumerate(per_axis):
        divisor = divisor * np.reshape(counts, (n[a],) + (1,) * (len(n) - 1 - a))
    divisor.setflags(write=False)
    return divisor


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


__all__ = ["avg_pool1d", "avg_pool2d"]
