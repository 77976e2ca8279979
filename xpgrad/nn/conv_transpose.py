"""Transposed convolution as PyTorch's: ``xg.nn.conv_transpose1d`` / ``conv_transpose2d``
(``F.conv_transpose1d`` / ``F.conv_transpose2d``); the layers ``ConvTranspose1d`` /
``ConvTranspose2d`` are in ``nn/conv_transpose_layers.py``.

A transposed convolution is the gradient of a convolution with respect to its input (col2im),
composed here of differentiable operations only: one batched ``matmul`` of the weight with the
input gives each kernel position's contribution, and those are added into the output as
zero-padded slices, one sub-grid (phase) of the output per ``(k * dilation) % stride``, the
phases interleaved by a stack and a transpose, then cropped by ``padding``. No zero is
multiplied (dilating the input and convolving would multiply ``stride**2 - 1`` zeros of
every ``stride**2`` products in 2-d). Every gradient (input, weight, bias) is that of those
operations, exact without a rule of its own.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 2.0]]])                        # (N, C_in, L)
>>> w = xg.asarray([[[1.0, 10.0, 100.0]]])                # (C_in, C_out / groups, K)
>>> xg.nn.conv_transpose1d(x, w, stride=2).tolist()
[[[1.0, 10.0, 102.0, 20.0, 200.0]]]
"""
from __future__ import annotations

import itertools
import math

from ..creation import zeros
from ..ops.joining import stack
from ..ops.linalg import matmul, matrix_transpose
from ..ops.rearranging import flip
from ..ops.shape import permute_dims, reshape, squeeze
from ._windows import batched, int_tuple, pad
from .conv import check_bias, check_groups, check_like, check_weight, convolve


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """PyTorch's ``F.conv_transpose1d``: ``input`` (N, C_in, L) or unbatched (C_in, L),
    ``weight`` (C_in, C_out / groups, K), ``bias`` (C_out,) or None; output (N, C_out, L_out)
    with ``L_out = (L - 1) stride - 2 padding + dilation (K - 1) + output_padding + 1``.

    ``stride``, ``dilation``, ``groups``: positive ints; ``padding``, ``output_padding``: ints
    >= 0 (each also a tuple of one), ``output_padding`` smaller than ``stride`` or
    ``dilation`` (PyTorch's rule). Wrong ranks or channel counts, groups not dividing the
    channels, an empty output: ValueError naming the argument.

    >>> import xpgrad as xg
    >>> xg.nn.conv_transpose1d(xg.ones((2, 4, 5)), xg.ones((4, 3, 3)), stride=2, padding=1,
    ...                        output_padding=1, groups=2).shape
    (2, 6, 10)
    """
    return transpose_convolve(input, weight, bias, stride, padding, output_padding, groups,
                              dilation, "conv_transpose1d", dims=1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """PyTorch's ``F.conv_transpose2d``: ``input`` (N, C_in, H, W) or unbatched (C_in, H, W),
    ``weight`` (C_in, C_out / groups, kH, kW), ``bias`` (C_out,) or None; output (N, C_out,
    H_out, W_out), each ``(size - 1) stride - 2 padding + dilation (k - 1) + output_padding +
    1``. ``stride``, ``padding``, ``output_padding``, ``dilation``: ints or (height, width)
    pairs, as ``conv_transpose1d``'s.

    >>> import xpgrad as xg
    >>> xg.nn.conv_transpose2d(xg.ones((1, 8, 4, 4)), xg.ones((8, 3, 4, 4)), stride=2,
    ...                        padding=1).shape                  # DCGAN's 2x upsampling
    (1, 3, 8, 8)
    """
    return transpose_convolve(input, weight, bias, stride, padding, output_padding, groups,
                              dilation, "conv_transpose2d", dims=2)


def output_lengths(lengths, kernel, stride, padding, output_padding, dilation):
    """The output's spatial shape for an input of spatial shape ``lengths`` (tuples, one per
    axis), PyTorch's formula.

    >>> output_lengths((4,), (3,), (2,), (1,), (1,), (1,))
    (8,)
    """
    return tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, k, s, p, op, d in
                 zip(lengths, kernel, stride, padding, output_padding, dilation))


def transpose_convolve(x, weight, bias, stride, padding, output_padding, groups, dilation,
                       owner, *, dims=1):
    """``conv_transpose1d`` (``dims=1``) or ``conv_transpose2d`` (``dims=2``); errors name
    ``owner``."""
    weight = check_weight(weight, owner, dims, axes="in_channels, out_channels / groups")
    x, unbatched = batched(x, owner, like=weight, dims=dims)
    stride = int_tuple(stride, "stride", owner, dims)
    padding = int_tuple(padding, "padding", owner, dims, minimum=0)
    output_padding = int_tuple(output_padding, "output_padding", owner, dims, minimum=0)
    dilation = int_tuple(dilation, "dilation", owner, dims)
    groups = check_groups(groups, owner)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(f"{owner}: output_padding must be smaller than either stride or "
                             f"dilation (as PyTorch), got output_padding={output_padding}, "
                             f"stride={stride}, dilation={dilation}")
    c_in, c_group, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    if x.shape[1] != c_in:
        raise ValueError(f"{owner}: input has {x.shape[1]} channels (shape {x.shape}), but "
                         f"weight {weight.shape} (in_channels, out_channels / groups, ...) "
                         f"expects {c_in}")
    if c_in % groups:
        raise ValueError(f"{owner}: groups={groups} does not divide the weight's in_channels "
                         f"{c_in} (weight shape {weight.shape})")
    check_like(x, weight, owner)
    c_out = c_group * groups
    bias = check_bias(bias, weight, c_out, owner)
    out = output_lengths(x.shape[2:], kernel, stride, padding, output_padding, dilation)
    if min(out) < 1:
        raise ValueError(f"{owner}: the output would be empty: spatial shape {out} for input "
                         f"{x.shape}, kernel {kernel}, stride {stride}, padding {padding}, "
                         f"dilation {dilation}")
    full = [d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation)]
    depthwise = c_group == 1 and groups == c_in and "conv" in x.backend.kernels   # numba's
    if (all(s == 1 for s in stride) or depthwise) and not any(output_padding) \
            and min(full) >= 0:
        if any(s != 1 for s in stride):         # depthwise: the zeros multiplied cost less
            x = _spread(x, stride)               # than _scattered's one-channel products
        y = _as_convolution(x, weight, bias, full, groups, dilation, owner, dims)
    else:
        y = _scattered(x, weight, bias, stride, padding, out, groups, dilation)
    return squeeze(y, axis=0) if unbatched else y


def _spread(x, stride):
    """``x`` with ``stride - 1`` zeros between its entries along each spatial axis."""
    lengths = x.shape[2:]
    spread = zeros(x.shape[:2] + tuple((n - 1) * s + 1 for n, s in zip(lengths, stride)),
                   dtype=x.dtype, backend=x.backend)
    spread[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)] = x
    return spread


def _as_convolution(x, weight, bias, padding, groups, dilation, owner, dims):
    """A transposed convolution of stride 1 as a convolution: each group's kernel with its
    in and out channels swapped and its taps flipped, padded by ``dilation * (k - 1) -
    padding`` (the convolution's depthwise and im2col paths: a depthwise 3x3 took 7x PyTorch's
    time by ``_scattered``'s batched products of one channel)."""
    c_in, c_group, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    spatial = tuple(range(3, 3 + dims))
    w = reshape(weight, (groups, c_in // groups, c_group) + kernel)
    w = reshape(permute_dims(w, (0, 2, 1) + spatial), (c_group * groups, c_in // groups) + kernel)
    w = flip(w, axis=tuple(range(2, 2 + dims)))
    return convolve(x, w, bias, 1, tuple(padding), dilation, groups, "zeros", owner, dims=dims)


def _scattered(x, weight, bias, stride, padding, out, groups, dilation):
    """The transposed convolution without multiplying zeros: one batched ``matmul`` gives
    every kernel position's contribution of every input entry; input entry ``i`` and kernel
    position ``k`` land on output ``i * stride + k * dilation - padding``, so the positions
    of one phase ``(k * dilation) % stride`` land on one sub-grid of the output, shifted by
    ``(k * dilation) // stride``: each phase is a sum of zero-padded slices, and the phases are
    interleaved (stacked, transposed, reshaped) into the output, then cropped by
    ``padding``."""
    n, c_in, lengths = x.shape[0], x.shape[1], x.shape[2:]
    c_group, kernel = weight.shape[1], weight.shape[2:]
    dims, c_out, kk, size = len(kernel), c_group * groups, math.prod(kernel), \
        math.prod(lengths)
    w = matrix_transpose(reshape(weight, (groups, c_in // groups, c_group * kk)))
    cols = matmul(w, reshape(x, (n, groups, c_in // groups, size)))   # (N, g, C_g KK, L)
    cols = reshape(cols, (n, c_out) + kernel + lengths)
    grid = tuple(length + d * (k - 1) // s for length, k, s, d in
                 zip(lengths, kernel, stride, dilation))              # each phase's length
    phases = {}
    for position in itertools.product(*(range(k) for k in kernel)):
        piece = cols[(slice(None), slice(None)) + position]           # (N, C_out, *L)
        shift = [k * d // s for k, s, d in zip(position, stride, dilation)]
        piece = pad(piece, [(e, m - length - e) for e, m, length in zip(shift, grid, lengths)],
                    "zeros", 0.0)
        phase = tuple(k * d % s for k, s, d in zip(position, stride, dilation))
        phases[phase] = piece if phase not in phases else phases[phase] + piece
    empty = None
    ordered = []
    for phase in itertools.product(*(range(s) for s in stride)):
        if phase not in phases and empty is None:
            empty = zeros((n, c_out) + grid, dtype=x.dtype, backend=x.backend)
        ordered.append(phases.get(phase, empty))
    y = reshape(stack(ordered, axis=2), (n, c_out) + tuple(stride) + grid)
    order = (0, 1) + tuple(a for axis in range(dims) for a in (2 + dims + axis, 2 + axis))
    y = reshape(permute_dims(y, order), (n, c_out) + tuple(m * s for m, s in zip(grid, stride)))
    short = [max(0, p + o - m * s) for p, o, m, s in zip(padding, out, grid, stride)]
    if any(short):                                    # output_padding past the last entry
        y = pad(y, [(0, e) for e in short], "zeros", 0.0)
    y = y[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(padding, out))]
    if bias is not None:
        y = y + reshape(bias, (c_out,) + (1,) * dims)
    return y


__all__ = ["conv_transpose1d", "conv_transpose2d"]
