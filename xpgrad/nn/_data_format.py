"""Channels-first or channels-last, for the convolutions and poolings: the ``data_format``
argument (Keras's ``"channels_first"`` / ``"channels_last"``, TensorFlow's ``"NCHW"`` /
``"NHWC"`` in 2-d and ``"NCW"`` / ``"NWC"`` in 1-d), the shapes that errors name, the
transposes between the two layouts (differentiable: ``permute_dims``), and TensorFlow's and
flax's ``"same"`` padding, which also takes strides.

>>> channels_last("NHWC", "conv2d", 2), channels_last("channels_first", "conv1d", 1)
(True, False)
>>> import xpgrad as xg
>>> to_first(xg.ones((2, 5, 4, 3)), 2).shape, to_last(xg.ones((2, 3, 5, 4)), 2).shape
((2, 3, 5, 4), (2, 5, 4, 3))
"""
from __future__ import annotations

import math

from ..ops.shape import permute_dims

#: TensorFlow's spellings, per number of spatial axes: (channels first, channels last)
TF_NAMES = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC")}


def choices(dims) -> list:
    """The accepted ``data_format`` values for ``dims`` spatial axes.

    >>> choices(1)
    ['channels_first', 'channels_last', 'NCW', 'NWC']
    """
    return ["channels_first", "channels_last", *TF_NAMES[dims]]


def channels_last(data_format, owner, dims) -> bool:
    """Whether ``data_format`` says channels last; a ValueError naming ``owner``, the argument
    and the choices for any other value."""
    if isinstance(data_format, str):
        if data_format in ("channels_last", TF_NAMES[dims][1]):
            return True
        if data_format in ("channels_first", TF_NAMES[dims][0]):
            return False
    raise ValueError(f"{owner}: data_format must be one of {choices(dims)}, got "
                     f"{data_format!r}")


def canonical(data_format, owner, dims) -> str:
    """``"channels_last"`` or ``"channels_first"`` for any accepted spelling (a layer keeps
    this).

    >>> canonical("NWC", "Conv1d", 1)
    'channels_last'
    """
    return "channels_last" if channels_last(data_format, owner, dims) else "channels_first"


def input_layouts(dims, last) -> tuple:
    """The input's axes for error messages: ``(batched, unbatched)``.

    >>> input_layouts(2, True)
    ('(N, H, W, C)', '(H, W, C)')
    """
    spatial = ("L",) if dims == 1 else ("H", "W")
    axes = spatial + ("C",) if last else ("C",) + spatial
    return f"(N, {', '.join(axes)})", f"({', '.join(axes)})"


def weight_axes(dims, last) -> str:
    """The weight's axes for error messages.

    >>> weight_axes(2, True)
    'kH, kW, in_channels / groups, out_channels'
    """
    kernel = "kernel_size" if dims == 1 else "kH, kW"
    channels = ("in_channels / groups, out_channels" if last else
                "out_channels, in_channels / groups")
    return f"{kernel}, {channels}" if last else f"{channels}, {kernel}"


def to_first(x, dims):
    """(N, *spatial, C) as (N, C, *spatial), differentiably.

    >>> import xpgrad as xg
    >>> to_first(xg.ones((2, 7, 3)), 1).shape
    (2, 3, 7)
    """
    return permute_dims(x, (0, dims + 1) + tuple(range(1, dims + 1)))


def to_last(x, dims):
    """(N, C, *spatial) as (N, *spatial, C), differentiably (``to_first``'s inverse)."""
    return permute_dims(x, (0,) + tuple(range(2, dims + 2)) + (1,))


def weight_to_first(w, dims):
    """A channels-last kernel (*kernel, C_in / groups, C_out) as PyTorch's (C_out,
    C_in / groups, *kernel), differentiably.

    >>> import xpgrad as xg
    >>> weight_to_first(xg.ones((3, 3, 2, 8)), 2).shape
    (8, 2, 3, 3)
    """
    return permute_dims(w, (dims + 1, dims) + tuple(range(dims)))


def tf_same_pairs(lengths, kernel, stride, dilation) -> tuple:
    """TensorFlow's and flax's ``"same"`` padding, ``(left, right)`` per axis: ``ceil(length
    / stride)`` outputs, the padding they need (``(out - 1) * stride + dilation * (kernel -
    1) + 1 - length``, at least 0) split with the odd one at the end. With stride 1 this is
    PyTorch's ``"same"``.

    >>> tf_same_pairs((7, 6), (3, 3), (2, 2), (1, 1))
    ((1, 1), (0, 1))
    """
    pairs = []
    for length, k, s, d in zip(lengths, kernel, stride, dilation):
        out = math.ceil(length / s)
        total = max((out - 1) * s + d * (k - 1) + 1 - length, 0)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)




def pooled(fn, input, data_format, owner, dims):
    """``fn(input)`` for a channels-first pooling ``fn`` of (N, C, *spatial); with channels
    last, ``fn`` of the input transposed once (after the rank check, in its own layout's
    words), each output (values, indices) transposed back, an unbatched input's batch axis
    dropped. The gradient flows through the transposes.

    >>> import xpgrad as xg
    >>> pooled(lambda x: x[..., ::2], xg.ones((2, 6, 3)), "NWC", "max_pool1d", 1).shape
    (2, 3, 3)
    """
    if not channels_last(data_format, owner, dims):
        return fn(input)
    from ..ops.shape import squeeze
    from ._windows import batched

    x, unbatched = batched(input, owner, kinds="f", dims=dims, last=True)
    out = fn(to_first(x, dims))
    outs = tuple(to_last(o, dims) for o in (out if isinstance(out, tuple) else (out,)))
    if unbatched:
        outs = tuple(squeeze(o, axis=0) for o in outs)
    return outs if isinstance(out, tuple) else outs[0]


__all__ = ["channels_last", "canonical", "choices", "input_layouts", "weight_axes", "to_first",
           "to_last", "weight_to_first", "tf_same_pairs", "pooled"]
