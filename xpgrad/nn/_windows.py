"""Sliding windows along the last axis, shared by ``conv1d`` and the 1-d poolings: PyTorch's
argument forms (an int or a tuple of one), its output length, padding in its four modes, and
the windows themselves as ``kernel_size`` strided slices of the padded input, so every
gradient is that of slicing (a scatter into one buffer) and needs no rule of its own.

>>> import xpgrad as xg
>>> x = pad(xg.arange(1.0, 6.0).reshape((1, 1, 5)), 1, 1, "zeros", 0.0)   # 0 1 2 3 4 5 0
>>> n = out_length(5, 3, 2, 1, 1, 1, "conv1d")          # kernel 3, stride 2, dilation 1
>>> [w.tolist()[0][0] for w in windows(x, 3, 2, 1, n)]   # slice k: the k-th of each window
[[0.0, 2.0, 4.0], [1.0, 3.0, 5.0], [2.0, 4.0, 0.0]]
"""
from __future__ import annotations

import numbers

from ..creation import full
from ..ops.joining import concat
from ..ops.rearranging import flip
from ..ops.shape import broadcast_to, expand_dims
from ..tensor import Tensor

#: PyTorch's ``padding_mode`` values (``nn.Conv1d``)
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def one_int(value, name, owner, *, minimum=1):
    """``value`` (an int, or a tuple/list of one int: PyTorch's 1-d form) as an int >=
    ``minimum``; TypeError/ValueError naming ``owner`` and ``name`` otherwise.

    >>> one_int((2,), "stride", "conv1d")
    2
    """
    item = value
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{owner}: {name} must be an int or a tuple of one int (1-d), "
                             f"got {value!r}")
        item = value[0]
    if isinstance(item, bool) or not isinstance(item, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {type(item).__name__} {item!r}")
    if item < minimum:
        what = "non-negative" if minimum == 0 else f"at least {minimum}"
        hint = " (negative padding is not supported)" if name == "padding" else ""
        raise ValueError(f"{owner}: {name} must be {what}, got {value!r}{hint}")
    return int(item)


def batched(x, owner, like=None, kinds="fc"):
    """``(x as a 3-D (N, C, L) Tensor, whether it was unbatched (C, L))``; a non-Tensor is made
    one with ``like``'s dtype and backend; another rank is a ValueError naming ``input``, a
    dtype not of ``kinds`` ("fc": real or complex floats, "f": real) a TypeError."""
    if not isinstance(x, Tensor):
        from ..creation import asarray

        x = asarray(x) if like is None else asarray(x, dtype=like.dtype, backend=like.backend)
    if x.ndim not in (2, 3):
        raise ValueError(f"{owner}: input must be (N, C, L) or unbatched (C, L), got shape "
                         f"{x.shape}")
    if x.dtype.kind not in kinds:
        what = "real floating-point" if kinds == "f" else "floating-point"
        raise TypeError(f"{owner}: input must hold {what} numbers, got {x.dtype}")
    return (expand_dims(x, axis=0), True) if x.ndim == 2 else (x, False)


def out_length(length, kernel_size, stride, dilation, left, right, owner, *, ceil_mode=False):
    """The number of windows over ``length`` entries padded by ``left`` and ``right`` (PyTorch's
    ``pooling_output_shape``: with ``ceil_mode`` a last, partial window, kept only if it starts
    inside the input or the left padding); ValueError naming ``owner`` when the (dilated)
    kernel is longer than the padded input."""
    span = dilation * (kernel_size - 1) + 1
    padded = length + left + right
    if padded < span:
        raise ValueError(f"{owner}: the padded input has length {padded} (input {length} + "
                         f"padding {left + right}), shorter than the kernel: kernel_size "
                         f"{kernel_size} with dilation {dilation} spans {span}")
    n = (padded - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (n - 1) * stride >= length + left:
        n -= 1
    return n


def pad(x, left, right, mode, value):
    """``x`` (N, C, L) padded along L: ``"zeros"`` with ``value`` (any constant; max pooling
    pads with -inf), ``"reflect"`` (mirrored without the edge; ``left``/``right`` < L),
    ``"replicate"`` (the edge repeated) or ``"circular"`` (wrapped; <= L), as ``F.pad``; the
    pieces are slices of ``x``, so the gradient is theirs. The caller checked the sizes."""
    if not left and not right:
        return x
    n, c, length = x.shape
    if mode == "zeros":
        pieces = [full((n, c, k), value, dtype=x.dtype, backend=x.backend) if k else None
                  for k in (left, right)]
    elif mode == "reflect":
        pieces = [flip(x[:, :, 1:left + 1], axis=2) if left else None,
                  flip(x[:, :, length - 1 - right:length - 1], axis=2) if right else None]
    elif mode == "replicate":
        pieces = [broadcast_to(x[:, :, :1], (n, c, left)) if left else None,
                  broadcast_to(x[:, :, length - 1:], (n, c, right)) if right else None]
    else:                                                  # circular
        pieces = [x[:, :, length - left:] if left else None, x[:, :, :right] if right else None]
    return concat([p for p in (pieces[0], x, pieces[1]) if p is not None], axis=2)


def check_mode_padding(mode, left, right, length, owner):
    """ValueError naming ``owner`` when ``mode``'s padding cannot be taken from an input of
    ``length`` (PyTorch's limits: reflect < L, circular <= L)."""
    biggest = max(left, right)
    if mode == "reflect" and biggest >= length:
        raise ValueError(f"{owner}: padding_mode='reflect' needs padding < the input length, "
                         f"got padding {biggest} for length {length}")
    if mode == "circular" and biggest > length:
        raise ValueError(f"{owner}: padding_mode='circular' needs padding <= the input length "
                         f"(it wraps once), got padding {biggest} for length {length}")


def windows(x, kernel_size, stride, dilation, n):
    """The ``kernel_size`` slices of ``x`` (..., L) holding the k-th entry of each of ``n``
    windows: slice k is ``x[..., k*dilation :: stride]``, ``n`` long."""
    last = stride * (n - 1) + 1
    return [x[..., k * dilation:k * dilation + last:stride] for k in range(kernel_size)]


__all__ = ["PADDING_MODES", "one_int", "batched", "out_length", "pad", "check_mode_padding",
           "windows"]
