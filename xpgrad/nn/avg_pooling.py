"""1-d and 2-d average pooling, PyTorch's ``F.avg_pool1d`` / ``F.avg_pool2d`` (``xg.nn``; the
layers ``AvgPool1d``, ``AvgPool2d`` are in ``pooling_layers.py``, max pooling in ``pooling.py``):
the sum of the windows' slices (``_windows.py``), one spatial axis at a time (``k0 + k1``
slices, not ``k0 * k1``), of the input zero-padded by one ``pad_constant``, divided by
PyTorch's divisor, or TensorFlow's for ``padding="same"``.

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
from ..ops.constant_padding import padded
from ..ops.shape import squeeze
from ._data_format import pooled
from ._windows import batched, windows
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
    pads, n = _window_pads(x.shape[2:], k, s, pairs, d, ceil_mode, owner,
                           empty_ok=p == "valid")
    if 0 in n:
        return _without_windows(x, n, False, unbatched)
    total = _window_sums(_zero_padded(x, pads), k, s, n)
    if divisor_override is not None:
        y = total / float(divisor_override)
    else:
        divisor = _divisor(tuple(x.shape[2:]), k, s, tuple(pairs), n, count_include_pad)
        y = total / (divisor if isinstance(divisor, float) else
                     asarray(divisor, dtype=x.dtype, backend=x.backend))
    return squeeze(y, axis=0) if unbatched else y


def _zero_padded(x, pads):
    """``x`` (N, C, *spatial) with ``pads`` zeros around its spatial axes: one ``pad_constant``
    (``xg.nn.pad``'s primitive; (8, 16, 14, 14) float32 padded by 1, one core: 17 us, with the
    gradient 83, against ``_windows.pad``'s 28 and 92 in 1-d and more in 2-d)."""
    return padded(x, list(pads), 0.0) if any(a or b for a, b in pads) else x


def _window_sums(padded, k, s, n):
    """Each window's sum over ``padded`` (N, C, *spatial), one axis at a time (the sums are
    separable): ``k[0] + k[1]`` slices and adds instead of ``k[0] * k[1]``, in the forward
    and the gradient (3x3 windows, stride 2, (8, 16, 14, 14) float32: 137 -> 80 us forward,
    340 -> 190 with the gradient)."""
    total, dims = padded, len(k)
    for axis in range(dims):
        if k[axis] == 1 and s[axis] == 1:
            continue
        one = tuple(k[a] if a == axis else 1 for a in range(dims))
        step = tuple(s[a] if a == axis else 1 for a in range(dims))
        count = tuple(n[a] if a == axis else total.shape[2 + a] for a in range(dims))
        pieces = windows(total, one, step, (1,) * dims, count)
        total = pieces[0]
        for piece in pieces[1:]:
            total = total + piece
    return total


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
