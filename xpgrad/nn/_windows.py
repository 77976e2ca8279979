"""Sliding windows along the last one or two axes, shared by ``conv1d``/``conv2d`` and the
poolings: PyTorch's argument forms (an int, or a tuple of one int per spatial axis), its
output lengths, padding in its four modes, and the windows themselves as strided slices of the
padded input (one per kernel position), so every gradient is that of slicing (a scatter into
one buffer) and needs no rule of its own.

>>> import xpgrad as xg
>>> x = pad(xg.arange(1.0, 6.0).reshape((1, 1, 5)), [(1, 1)], "zeros", 0.0)  # 0 1 2 3 4 5 0
>>> n = out_length(5, 3, 2, 1, 1, 1, "conv1d")          # kernel 3, stride 2, dilation 1
>>> [w.tolist()[0][0] for w in windows(x, (3,), (2,), (1,), (n,))]   # the k-th of each window
[[0.0, 2.0, 4.0], [1.0, 3.0, 5.0], [2.0, 4.0, 0.0]]
"""
from __future__ import annotations

import itertools
import numbers

from ..ops.constant_padding import padded
from ..ops.mode_padding import padded_by_mode
from ..ops.shape import expand_dims
from ..tensor import Tensor

#: PyTorch's ``padding_mode`` values (``nn.Conv1d``, ``nn.Conv2d``)
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

_COUNT = {1: "one int", 2: "two ints"}
#: the input's axes, spatial ones last, for error messages
LAYOUTS = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)")}


def int_tuple(value, name, owner, dims, *, minimum=1):
    """``value`` (an int, or a tuple/list of ``dims`` ints or of one int: PyTorch's forms) as a
    tuple of ``dims`` ints >= ``minimum``; TypeError/ValueError naming ``owner`` and ``name``
    otherwise.

    >>> int_tuple(2, "stride", "conv2d", 2), int_tuple((1, 3), "stride", "conv2d", 2)
    ((2, 2), (1, 3))
    """
    items = (value,) * dims
    if isinstance(value, (tuple, list)):
        if len(value) == 1:                  # torch's functionals take (k,) for (k, k) too
            items = tuple(value) * dims
        elif len(value) != dims:
            raise ValueError(f"{owner}: {name} must be an int or a tuple of {_COUNT[dims]} "
                             f"({dims}-d), got {value!r}")
        else:
            items = tuple(value)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{owner}: {name} must be an int, got {type(item).__name__} "
                            f"{item!r}")
        if item < minimum:
            what = "non-negative" if minimum == 0 else f"at least {minimum}"
            hint = " (negative padding is not supported)" if name == "padding" else ""
            raise ValueError(f"{owner}: {name} must be {what}, got {value!r}{hint}")
    return tuple(int(item) for item in items)


def one_int(value, name, owner, *, minimum=1):
    """``value`` (an int, or a tuple/list of one int: PyTorch's 1-d form) as an int >=
    ``minimum``; TypeError/ValueError naming ``owner`` and ``name`` otherwise.

    >>> one_int((2,), "stride", "conv1d")
    2
    """
    return int_tuple(value, name, owner, 1, minimum=minimum)[0]


def batched(x, owner, like=None, kinds="fc", dims=1, last=False):
    """``(x with a batch axis: (N, C, *spatial), whether it was unbatched (C, *spatial))`` for
    ``dims`` spatial axes (``last``: channels last, (N, *spatial, C)); a non-Tensor is made one
    with ``like``'s dtype and backend; another rank is a ValueError naming ``input``, a dtype
    not of ``kinds`` ("fc": real or complex floats, "f": real) a TypeError."""
    if not isinstance(x, Tensor):
        from ..conversion import named_asarray

        what = f"{owner}: input"
        x = named_asarray(x, what) if like is None else named_asarray(
            x, what, dtype=like.dtype, backend=like.backend)
    if x.ndim not in (dims + 1, dims + 2):
        full_form, single = LAYOUTS[dims]
        if last:
            from ._data_format import input_layouts

            full_form, single = input_layouts(dims, True)
        raise ValueError(f"{owner}: input must be {full_form} or unbatched {single}, got shape "
                         f"{x.shape}")
    if x.dtype.kind not in kinds:
        what = "real floating-point" if kinds == "f" else "floating-point"
        raise TypeError(f"{owner}: input must hold {what} numbers, got {x.dtype}")
    return (expand_dims(x, axis=0), True) if x.ndim == dims + 1 else (x, False)


def out_length(length, kernel_size, stride, dilation, left, right, owner, *, ceil_mode=False,
               empty_ok=False):
    """The number of windows over ``length`` entries padded by ``left`` and ``right`` (PyTorch's
    ``pooling_output_shape``: with ``ceil_mode`` a last, partial window, kept only if it starts
    inside the input or the left padding, so a window may reach past the padded input there);
    when the (dilated) kernel is longer than the padded input and no window is left, 0 with
    ``empty_ok`` (TensorFlow's "valid" pooling), else ValueError naming ``owner``.

    >>> out_length(1, 2, 2, 1, 0, 0, "max_pool1d", ceil_mode=True)   # torch's: one window
    1
    """
    span = dilation * (kernel_size - 1) + 1
    padded = length + left + right
    n = (padded - span + (stride - 1 if ceil_mode else 0)) // stride + 1      # floor, as torch
    if ceil_mode and (n - 1) * stride >= length + left:
        n -= 1
    if n < 1 and empty_ok:
        return 0
    if n < 1:
        raise ValueError(f"{owner}: the padded input has length {padded} (input {length} + "
                         f"padding {left + right}), shorter than the kernel: kernel_size "
                         f"{kernel_size} with dilation {dilation} spans {span}")
    return n


def pad(x, pads, mode, value):
    """``x`` (N, C, *spatial) padded by ``pads`` (one ``(left, right)`` per spatial axis, the
    last ones): ``"zeros"`` with ``value`` (any constant; max pooling pads with -inf),
    ``"reflect"`` (mirrored without the edge; each < its length), ``"replicate"`` (the edge
    repeated) or ``"circular"`` (wrapped; <= its length), as ``F.pad``, one axis after the
    other (these modes are separable): one primitive each, ``ops/mode_padding.py`` and, for
    ``"zeros"``, ``xg.nn.pad``'s constant one (``ops/constant_padding.py``: float32 (16, 16,
    32, 32) padded on two axes, forward + backward 600 -> 407 us against PyTorch's 395). The
    caller checked the sizes."""
    if not any(left or right for left, right in pads):
        return x
    return padded(x, pads, value) if mode == "zeros" else padded_by_mode(x, pads, mode)


def check_mode_padding(mode, pads, lengths, owner):
    """ValueError naming ``owner`` when ``mode``'s padding ``pads`` (``(left, right)`` per
    spatial axis) cannot be taken from an input of spatial shape ``lengths`` (PyTorch's limits:
    reflect < the length, circular <= it)."""
    for (left, right), length in zip(pads, lengths):
        biggest = max(left, right)
        if mode == "reflect" and biggest >= length:
            raise ValueError(f"{owner}: padding_mode='reflect' needs padding < the input "
                             f"length, got padding {biggest} for length {length}")
        if mode == "circular" and biggest > length:
            raise ValueError(f"{owner}: padding_mode='circular' needs padding <= the input "
                             f"length (it wraps once), got padding {biggest} for length "
                             f"{length}")


def windows(x, kernel_size, stride, dilation, n):
    """The slices of ``x`` (..., *spatial) holding one kernel position of each window, the
    positions in row-major order (``kernel_size``, ``stride``, ``dilation``, ``n``: tuples,
    one per spatial axis, ``n`` the windows along it): the slice of position ``(k0, k1)`` is
    ``x[..., k0*d0 :: s0, k1*d1 :: s1]``, shaped ``(..., *n)``."""
    spans = [s * (m - 1) + 1 for s, m in zip(stride, n)]
    out = []
    for position in itertools.product(*(range(k) for k in kernel_size)):
        out.append(x[(Ellipsis,) + tuple(slice(k * d, k * d + span, s) for k, d, span, s in
                                         zip(position, dilation, spans, stride))])
    return out


__all__ = ["PADDING_MODES", "LAYOUTS", "int_tuple", "one_int", "batched", "out_length", "pad",
           "check_mode_padding", "windows"]
