"""The window geometry that max and average pooling share (``pooling.py``, ``avg_pooling.py``,
the layers of ``pooling_layers.py``): ``kernel_size``, ``stride``, ``padding`` and ``dilation``
checked as PyTorch's (``geometry``), the padding as ``(left, right)`` pairs (``pad_pairs``, with
Keras's and TensorFlow's ``"same"``), the number of windows and the padding they need
(``_window_pads``), and the empty output of a ``"valid"`` pooling with no window.

>>> k, s, p, d = geometry(2, None, "same", 1, "avg_pool1d", 1)
>>> pad_pairs(p, k, s, d, (5,)), _window_pads((5,), k, s, pad_pairs(p, k, s, d, (5,)), d,
...                                           False, "avg_pool1d")
(((0, 1),), ([(0, 1)], (3,)))
"""
from __future__ import annotations

from ..ops.shape import reshape, squeeze
from ._data_format import tf_same_pairs
from ._windows import int_tuple, out_length, pad


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
