"""Transposed convolution as PyTorch's: ``xg.nn.conv_transpose1d`` / ``conv_transpose2d``
(``F.conv_transpose1d`` / ``F.conv_transpose2d``); the layers ``ConvTranspose1d`` /
``ConvTranspose2d`` are in ``nn/conv_transpose_layers.py``.

A transposed convolution is the gradient of a convolution with respect to its input: for
real floats one primitive, ``conv_transpose`` (``ops/conv_transpose.py``), whose forward is
the convolution's input-gradient computation (one ``matmul`` of the weight's transpose with
the input, its columns added into the output by col2im: no zero is multiplied, whatever the
stride) and whose vjp is the convolution's forward (the input's gradient) and weight gradient
(the weight's); the Numba backend's kernel does both by im2col / col2im loops and GEMMs.
Complex numbers run the primitive's forward composed of differentiable operations.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 2.0]]])                        # (N, C_in, L)
>>> w = xg.asarray([[[1.0, 10.0, 100.0]]])                # (C_in, C_out / groups, K)
>>> xg.nn.conv_transpose1d(x, w, stride=2).tolist()
[[[1.0, 10.0, 102.0, 20.0, 200.0]]]
"""
from __future__ import annotations

from ..ops.conv_transpose import _forward, conv_transpose
from ..ops.rearranging import flip
from ..ops.shape import permute_dims, reshape, squeeze
from ._windows import batched, int_tuple
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
    if 0 in x.shape[2:]:
        raise ValueError(f"{owner}: input has an empty spatial axis, shape {x.shape} (only the "
                         f"batch may be empty, as in PyTorch)")
    out = output_lengths(x.shape[2:], kernel, stride, padding, output_padding, dilation)
    if min(out) < 1:
        raise ValueError(f"{owner}: the output would be empty: spatial shape {out} for input "
                         f"{x.shape}, kernel {kernel}, stride {stride}, padding {padding}, "
                         f"dilation {dilation}")
    params = dict(stride=stride, dilation=dilation, padding=padding, n_out=out,
                  groups=groups)
    full = [d * (k - 1) - p for k, p, d in zip(kernel, padding, dilation)]
    if x.dtype.kind == "f" and "conv_transpose" not in x.backend.kernels \
            and all(s == 1 for s in stride) and not any(output_padding) and min(full) >= 0:
        y = _as_convolution(x, weight, bias, full, groups, dilation, owner, dims)
    elif x.dtype.kind == "f":
        y = conv_transpose(x, weight, bias, **params)
    else:                           # complex: the primitive's forward composed of xpgrad's ops
        import xpgrad

        y = _forward(xpgrad, x, weight, *(() if bias is None else (bias,)), **params)
    return squeeze(y, axis=0) if unbatched else y


def _as_convolution(x, weight, bias, padding, groups, dilation, owner, dims):
    """A transposed convolution of stride 1 as a convolution, where the backend has no
    ``conv_transpose`` kernel (NumPy: its convolution's products beat the primitive's phases
    at stride 1, 22 against 29 ms on a 32->64 3x3 of 32x32x16x16): each group's kernel with
    its in and out channels swapped and its taps flipped, padded by ``dilation * (k - 1) -
    padding``."""
    c_in, c_group, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    spatial = tuple(range(3, 3 + dims))
    w = reshape(weight, (groups, c_in // groups, c_group) + kernel)
    w = reshape(permute_dims(w, (0, 2, 1) + spatial), (c_group * groups, c_in // groups) + kernel)
    w = flip(w, axis=tuple(range(2, 2 + dims)))
    return convolve(x, w, bias, 1, tuple(padding), dilation, groups, "zeros", owner, dims=dims)


__all__ = ["conv_transpose1d", "conv_transpose2d"]
