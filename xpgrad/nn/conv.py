"""1-d and 2-d convolution as PyTorch's: ``xg.nn.conv1d`` / ``xg.nn.conv2d`` (``F.conv1d`` /
``F.conv2d``); the layers ``Conv1d`` / ``Conv2d`` are in ``nn/conv_layers.py``.

Both are one computation (``convolve``): for real floats on a backend with a kernel for it
the primitive ``conv`` (``ops/convolution.py``; the Numba backend's kernel: im2col + GEMMs),
whose generic rule is the composition used here otherwise: the input padded
(``nn/_windows.py``), its strided slices (one per kernel position) stacked into columns (im2col
without an index array), and one batched ``matmul`` with the weight. Every gradient (input,
weight, bias) is that of those operations: the input's is the slices' scatter into one buffer
(col2im), the weight's a product with the columns. ``data_format="channels_last"`` takes
Keras's and flax's layouts ((N, *spatial, C) input, (k..., C_in / groups, C_out) kernel) to
the same primitive (``ops/convolution_last.py``; ``nn/_data_format.py`` parses the argument).

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 2.0, 3.0, 4.0]]])              # (N, C_in, L)
>>> w = xg.asarray([[[1.0, 0.0, -1.0]]])                  # (C_out, C_in / groups, K)
>>> xg.nn.conv1d(x, w, padding=1).tolist()
[[[-2.0, -2.0, -2.0, 3.0]]]
>>> x2 = xg.ones((1, 1, 3, 3))                            # (N, C_in, H, W)
>>> xg.nn.conv2d(x2, xg.ones((1, 1, 2, 2)), padding=1).tolist()[0][0][0]
[1.0, 2.0, 2.0, 1.0]
"""
from __future__ import annotations

import math

from ..conversion import named_asarray
from ..ops.convolution import conv
from ..ops.joining import stack
from ..ops.linalg import matmul
from ..ops.shape import expand_dims, reshape, squeeze
from ..tensor import Tensor
from ._data_format import (channels_last, tf_same_pairs, to_first, to_last, weight_axes,
                           weight_to_first)
from ._windows import batched, check_mode_padding, int_tuple, out_length, pad, windows


def padding_pairs(padding, kernel_size, stride, dilation, owner, lengths=None, last=False):
    """``(left, right)`` per spatial axis for PyTorch's ``padding``: an int >= 0 or a tuple of
    one per axis, ``"valid"`` (none) or ``"same"`` (the output as large as the input: ``dilation
    * (kernel_size - 1)`` in all per axis, the odd one on the right, as PyTorch; refused with a
    stride above 1, as PyTorch does). ``kernel_size``, ``stride``, ``dilation``: tuples.
    Channels last (``last``, for code from TensorFlow or flax) also takes ``"SAME"`` /
    ``"VALID"`` and strided ``"same"``: TensorFlow's and flax's (``ceil(length / stride)``
    outputs, ``tf_same_pairs``), which needs the input's spatial ``lengths`` (None: only
    checked, None returned).

    >>> padding_pairs("same", (4, 3), (1, 1), (1, 2), "conv2d")
    ((1, 2), (2, 2))
    >>> padding_pairs("SAME", (3,), (2,), (1,), "conv1d", lengths=(8,), last=True)
    ((0, 1),)
    """
    if isinstance(padding, str):
        if last and padding in ("SAME", "VALID"):
            padding = padding.lower()
        if padding == "valid":
            return ((0, 0),) * len(kernel_size)
        if padding == "same":
            if any(s != 1 for s in stride):
                if last:
                    return None if lengths is None else \
                        tf_same_pairs(lengths, kernel_size, stride, dilation)
                shown = stride[0] if len(stride) == 1 else stride
                raise ValueError(f"{owner}: padding='same' is not supported for strided "
                                 f"convolutions (stride={shown}), as in PyTorch; give "
                                 "padding as an int (data_format='channels_last' takes it, "
                                 "as TensorFlow and flax)")
            totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{owner}: padding must be an int, 'valid' or 'same', got "
                         f"{padding!r}")
    return tuple((p, p) for p in int_tuple(padding, "padding", owner, len(kernel_size),
                                           minimum=0))


def padding_pair(padding, kernel_size, stride, dilation, owner):
    """``padding_pairs`` of the 1-d form (ints): ``(left, right)``.

    >>> padding_pair("same", 4, 1, 1, "conv1d")
    (1, 2)
    """
    return padding_pairs(padding, (kernel_size,), (stride,), (dilation,), owner)[0]


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           data_format="channels_first"):
    """PyTorch's ``F.conv1d``: ``input`` (N, C_in, L) or unbatched (C_in, L), ``weight``
    (C_out, C_in / groups, K), ``bias`` (C_out,) or None; output (N, C_out, L_out) (unbatched:
    (C_out, L_out)) with ``L_out = (L + 2 padding - dilation (K - 1) - 1) // stride + 1``.

    ``stride``, ``dilation`` and ``groups`` are positive ints (``stride``/``dilation`` also a
    tuple of one); ``padding`` is an int >= 0 (or a tuple of one), ``"valid"`` or ``"same"``
    (PyTorch's: not with stride > 1). ``input`` and ``weight`` must share a floating dtype (no
    silent promotion). Wrong channel counts, a kernel longer than the padded input, groups not
    dividing the channels, negative padding: ValueError naming the argument.

    ``data_format="channels_last"`` (or ``"NWC"``; ``"channels_first"`` / ``"NCW"`` is the
    default) takes Keras's and flax's layouts: ``input`` (N, L, C_in), ``weight`` (K,
    C_in / groups, C_out), output (N, L_out, C_out); ``padding`` then also ``"SAME"`` /
    ``"VALID"``, and ``"same"`` with a stride is TensorFlow's (``conv2d``).

    >>> import xpgrad as xg
    >>> x, w = xg.ones((2, 4, 10)), xg.ones((6, 2, 3))
    >>> xg.nn.conv1d(x, w, stride=2, padding=1, groups=2).shape
    (2, 6, 5)
    >>> xg.nn.conv1d(xg.ones((2, 10, 4)), xg.ones((3, 4, 6)), stride=2, padding="same",
    ...              data_format="NWC").shape
    (2, 5, 6)
    """
    return convolve(input, weight, bias, stride, padding, dilation, groups, "zeros", "conv1d",
                    data_format=data_format)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           data_format="channels_first"):
    """PyTorch's ``F.conv2d``: ``input`` (N, C_in, H, W) or unbatched (C_in, H, W), ``weight``
    (C_out, C_in / groups, kH, kW), ``bias`` (C_out,) or None; output (N, C_out, H_out, W_out)
    (unbatched: (C_out, H_out, W_out)), each ``(size + 2 padding - dilation (k - 1) - 1) //
    stride + 1``.

    ``stride`` and ``dilation`` are positive ints or pairs (height, width), ``groups`` a
    positive int (``groups == C_in``: depthwise); ``padding`` an int >= 0, a pair, ``"valid"``
    or ``"same"`` (PyTorch's: not with a stride above 1). ``input`` and ``weight`` must share a
    floating dtype (no silent promotion). Wrong ranks or channel counts, a kernel larger than
    the padded input, groups not dividing the channels, negative padding: ValueError naming
    the argument.

    ``data_format="channels_last"`` (or ``"NHWC"``; ``"channels_first"`` / ``"NCHW"`` is the
    default) takes Keras's and flax's layouts, as ``lax.conv_general_dilated`` with
    ``("NHWC", "HWIO", "NHWC")``: ``input`` (N, H, W, C_in) or (H, W, C_in), ``weight`` (kH,
    kW, C_in / groups, C_out) (a Keras or flax kernel as is), output (N, H_out, W_out, C_out).
    ``padding`` then also takes ``"SAME"`` / ``"VALID"``, and ``"same"`` with a stride is
    TensorFlow's and flax's: ``ceil(size / stride)`` outputs, the odd padding at the end.
    Keras's ``DepthwiseConv2D`` kernel (kH, kW, C_in, multiplier) is ``kernel.reshape((kH, kW,
    1, C_in * multiplier))`` with ``groups=C_in``.

    >>> import xpgrad as xg
    >>> x, w = xg.ones((2, 4, 10, 8)), xg.ones((6, 2, 3, 3))
    >>> xg.nn.conv2d(x, w, stride=(2, 1), padding=1, groups=2).shape
    (2, 6, 5, 8)
    >>> xg.nn.conv2d(xg.ones((2, 10, 8, 4)), xg.ones((3, 3, 2, 6)), stride=2, padding="same",
    ...              groups=2, data_format="channels_last").shape
    (2, 5, 4, 6)
    """
    return convolve(input, weight, bias, stride, padding, dilation, groups, "zeros", "conv2d",
                    dims=2, data_format=data_format)


def convolve(x, weight, bias, stride, padding, dilation, groups, padding_mode, owner, *,
             dims=1, data_format="channels_first"):
    """``conv1d`` (``dims=1``) or ``conv2d`` (``dims=2``) with ``padding_mode`` (the layers':
    the input padded in that mode first); errors name ``owner``."""
    last = channels_last(data_format, owner, dims)
    weight = check_weight(weight, owner, dims, weight_axes(dims, last),
                          empty_inputs=-2 if last else 1)
    x, unbatched = batched(x, owner, like=weight, dims=dims, last=last)
    stride = int_tuple(stride, "stride", owner, dims)
    dilation = int_tuple(dilation, "dilation", owner, dims)
    groups = int_tuple(groups, "groups", owner, 1)[0] if dims == 1 else check_groups(groups, owner)
    if last:
        kernel, (c_group, c_out) = weight.shape[:-2], weight.shape[-2:]
        n, c_in, lengths = x.shape[0], x.shape[-1], x.shape[1:-1]
    else:
        c_out, c_group, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
        n, c_in, lengths = x.shape[0], x.shape[1], x.shape[2:]
    pads = padding_pairs(padding, kernel, stride, dilation, owner, lengths, last)
    _check_channels(c_in, c_out, c_group, groups, weight.shape, x.shape, owner, last)
    check_like(x, weight, owner)
    bias = check_bias(bias, weight, c_out, owner)
    n_out = tuple(out_length(length, k, s, d, left, right, owner)
                  for length, k, s, d, (left, right) in zip(lengths, kernel, stride, dilation,
                                                            pads))
    if padding_mode != "zeros":
        check_mode_padding(padding_mode, pads, lengths, owner)
    if x.dtype.kind == "f" and ("conv" in x.backend.kernels or last):
        # the primitive, for that kernel or channels last (its rule is one GEMM, CuPy's too);
        # elsewhere the composition below, faster on NumPy than the primitive's channels-first
        # generic rule (which stacks the columns again for the weight's gradient: MNIST Net
        # 1.8x -> 2.2x PyTorch's time)
        if padding_mode != "zeros":
            channel = ((0, 0),) if last else ()
            x, pads = pad(x, pads + channel, padding_mode, 0.0), ((0, 0),) * dims
        y = conv(x, weight, stride=stride, dilation=dilation, pads=pads, groups=groups,
                 channels_last=last)
    elif last:          # complex: the channels-first composition between two transposes
        y = to_last(_compose(to_first(x, dims), weight_to_first(weight, dims), pads,
                             padding_mode, stride, dilation, groups, n_out), dims)
    else:
        y = _compose(x, weight, pads, padding_mode, stride, dilation, groups, n_out)
    if bias is not None:
        y = y + (bias if last else reshape(bias, (c_out,) + (1,) * dims))
    return squeeze(y, axis=0) if unbatched else y


def _compose(x, weight, pads, padding_mode, stride, dilation, groups, n_out):
    """The channels-first convolution as differentiable operations (no bias)."""
    n, c_in, c_out, c_group, kernel = x.shape[0], x.shape[1], *weight.shape[:2], weight.shape[2:]
    x = pad(x, pads, padding_mode, 0.0)
    pieces = windows(x, kernel, stride, dilation, n_out)
    kk, size = math.prod(kernel), math.prod(n_out)
    if c_group == 1 and groups > 1:
        return _depthwise(pieces, weight, c_in, c_out // groups, n, n_out)
    cols = stack(pieces, axis=2)                                        # (N, C_in, KK, *out)
    if groups == 1:
        y = matmul(reshape(weight, (c_out, c_in * kk)), reshape(cols, (n, c_in * kk, size)))
    else:
        y = matmul(reshape(weight, (groups, c_out // groups, c_group * kk)),
                   reshape(cols, (n, groups, c_group * kk, size)))
    return reshape(y, (n, c_out) + n_out)


def _depthwise(pieces, weight, c_in, multiplier, n, n_out):
    """A depthwise convolution (one input channel per group) as a sum over the kernel
    positions of the pieces times their weights, elementwise: faster here than the batched
    ``matmul`` of 1 x KK by KK x size products, whose gradients NumPy computes slowly."""
    shape = (c_in,) + (1,) * len(n_out) if multiplier == 1 else \
        (c_in, multiplier) + (1,) * len(n_out)
    taps = reshape(weight, (c_in * multiplier, -1))
    y = None
    for k, piece in enumerate(pieces):
        if multiplier > 1:
            piece = expand_dims(piece, axis=2)                # (N, C_in, 1, *out)
        term = piece * reshape(taps[:, k], shape)
        y = term if y is None else y + term
    return reshape(y, (n, c_in * multiplier) + n_out)


def check_groups(groups, owner):
    """``groups`` as a positive int; TypeError/ValueError naming ``owner`` otherwise."""
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{owner}: groups must be an int, got {type(groups).__name__} "
                        f"{groups!r}")
    if groups < 1:
        raise ValueError(f"{owner}: groups must be at least 1, got {groups!r}")
    return groups


def check_weight(weight, owner, dims, axes="out_channels, in_channels / groups",
                 empty_inputs=None):
    """``weight`` as a floating Tensor of ``dims + 2`` non-empty axes (``axes``, then the
    kernel's, unless ``axes`` names them), but for axis ``empty_inputs`` (a convolution's input
    channels, which PyTorch lets be 0); ValueError/TypeError naming ``owner`` otherwise."""
    if not isinstance(weight, Tensor):
        weight = named_asarray(weight, f"{owner}: weight")
    if weight.ndim != dims + 2:
        kernel = "kernel_size" if dims == 1 else "kH, kW"
        shown = axes if kernel in axes else f"{axes}, {kernel}"
        raise ValueError(f"{owner}: weight must be {dims + 2}-D ({shown}), got "
                         f"shape {weight.shape}")
    if weight.dtype.kind not in "fc":
        raise TypeError(f"{owner}: weight must hold floating-point numbers, got {weight.dtype}")
    kept = [n for i, n in enumerate(weight.shape) if i != empty_inputs % weight.ndim] \
        if empty_inputs is not None else weight.shape
    if 0 in kept:
        raise ValueError(f"{owner}: weight has an empty axis, shape {weight.shape}")
    return weight


def _check_channels(c_in, c_out, c_group, groups, w_shape, x_shape, owner, last=False):
    dims = len(w_shape) - 2
    if c_in % groups == 0:
        shown = f"(..., {c_in // groups}, out_channels)" if last else \
            f"(out_channels, {c_in // groups}, ...)"
        expected = f"; with data_format={'channels_last' if last else 'channels_first'!r} " \
                   f"the weight is ({weight_axes(dims, last)}), here {shown}"
    else:
        expected = ""
    if c_out % groups:
        raise ValueError(f"{owner}: groups={groups} does not divide the weight's "
                         f"out_channels {c_out} (weight shape {w_shape}){expected}")
    if c_in != c_group * groups:
        raise ValueError(f"{owner}: input has {c_in} channels (shape {x_shape}), but weight "
                         f"{w_shape} with groups={groups} expects {c_group * groups} "
                         f"(in_channels / groups = {c_group}){expected}")


def check_like(x, weight, owner):
    """TypeError/ValueError naming ``owner`` unless ``x`` has ``weight``'s dtype (no silent
    promotion) and backend."""
    if x.dtype != weight.dtype:
        raise TypeError(f"{owner}: input is {x.dtype} but weight is {weight.dtype}; cast one "
                        "with xg.astype (no silent promotion)")
    if x.backend is not weight.backend:
        raise ValueError(f"{owner}: input is on backend {x.backend.name!r} but weight on "
                         f"{weight.backend.name!r}; move one with .to()")


def check_bias(bias, weight, c_out, owner):
    """``bias`` (None, or ``c_out`` values of ``weight``'s dtype) as a Tensor on ``weight``'s
    backend; ValueError/TypeError naming ``owner`` otherwise."""
    if bias is None:
        return None
    if not isinstance(bias, Tensor):
        bias = named_asarray(bias, f"{owner}: bias", dtype=weight.dtype, backend=weight.backend)
    if bias.shape != (c_out,):
        raise ValueError(f"{owner}: bias must have shape (out_channels,) = ({c_out},), got "
                         f"{bias.shape}")
    if bias.dtype != weight.dtype:
        raise TypeError(f"{owner}: bias is {bias.dtype} but weight is {weight.dtype}; cast "
                        "with xg.astype")
    return bias


__all__ = ["conv1d", "conv2d"]
