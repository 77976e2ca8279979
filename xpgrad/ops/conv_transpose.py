"""``conv_transpose``: the N-d transposed convolution primitive (strides, dilation, zero
padding, output padding, groups) under ``xg.nn.conv_transpose1d`` / ``conv_transpose2d``, so
that a backend may register one kernel for the whole operation (the Numba backend's:
``backends/numba/_conv_transpose.py``).

A transposed convolution is the gradient of a convolution (``ops/convolution.py``'s ``conv``)
with respect to its input, the weight (C_in, C_out / groups, *kernel) read as that
convolution's (C_out', C_in' / groups, *kernel). So its forward is the convolution's
input-gradient computation: one batched ``matmul`` of the weight's transpose with the input
gives every kernel position's contribution (the columns), added into the padded output by
``col2im`` and cropped -- no zero is multiplied, whatever the stride. Its vjp is that of a
linear map: the input's gradient is the convolution's forward of the output gradient (its
windows stacked into columns, im2col, and one ``matmul`` with the weight), the weight's the
convolution's weight gradient with the roles of input and output swapped (the input times
the output gradient's columns). ``n_out`` (the output's spatial shape) carries
``output_padding``: the convolution of an output of that shape may have more windows than the
input has positions (``output_padding >= stride``, allowed below ``dilation``); the last ones
are never used. Written against ``xp``, the rules run on every backend and, with ``xp =
xpgrad`` under an outer tape, give higher-order gradients; the forward itself is
differentiable with ``xp = xpgrad`` (``nn/conv_transpose.py`` runs it so for complex
numbers).

>>> import xpgrad as xg
>>> conv_transpose(xg.asarray([[[1.0, 2.0]]]), xg.asarray([[[1.0, 10.0, 100.0]]]),
...                stride=(2,), dilation=(1,), padding=(0,), n_out=(5,), groups=1).tolist()
[[[1.0, 10.0, 102.0, 20.0, 200.0]]]
"""
from __future__ import annotations

import math

from ..primitive import Primitive, apply
from .convolution import _pad, col2im, window_keys


def _sizes(x, w, groups):
    """``(n, c_in, c_group, lengths, kernel, kk, size)``: the channels, the input's spatial
    shape and positions, the kernel and its positions."""
    lengths, kernel = tuple(x.shape[2:]), tuple(w.shape[2:])
    return (x.shape[0], x.shape[1], w.shape[1], lengths, kernel, math.prod(kernel),
            math.prod(lengths))


def _forward(xp, x, w, *bias, stride, dilation, padding, n_out, groups):
    n, c_in, c_group, lengths, kernel, kk, size = _sizes(x, w, groups)
    per = c_in // groups
    xs = xp.reshape(x, (n, groups, per, size))
    if per == 1:                     # one input channel per group: a broadcast product
        cols = xp.reshape(w, (1, groups, c_group * kk, 1)) * xs
    else:
        wt = xp.matrix_transpose(xp.reshape(w, (groups, per, c_group * kk)))
        cols = xp.matmul(wt, xs)                                   # (N, g, C_g KK, L)
    cols = xp.reshape(cols, (n, c_group * groups, kk) + lengths)
    keys = window_keys(kernel, stride, dilation, lengths)
    y = col2im(xp, cols, (n, c_group * groups) + tuple(n_out), tuple((p, p) for p in padding),
               keys)
    return y + xp.reshape(bias[0], (-1,) + (1,) * len(n_out)) if bias else y


def _vjp(xp, g, ans, needs, x, w, *bias, stride, dilation, padding, n_out, groups):
    n, c_in, c_group, lengths, kernel, kk, size = _sizes(x, w, groups)
    per = c_in // groups
    padded = _pad(xp, g, tuple((p, p) for p in padding))
    cols = xp.stack([padded[key] for key in window_keys(kernel, stride, dilation, lengths)],
                    axis=2)                                        # (N, C_out, KK, *L)
    cols = xp.reshape(cols, (n, groups, c_group * kk, size))
    dx = dw = None
    if needs[0]:                                  # the convolution of g with the weight
        dx = xp.matmul(xp.reshape(w, (groups, per, c_group * kk)), cols)
        dx = xp.reshape(dx, x.shape)
    if needs[1]:                                  # the input times g's columns
        xs = xp.reshape(x, (n, groups, per, size))
        dw = xp.reshape(xp.sum(xp.matmul(xs, xp.matrix_transpose(cols)), axis=0), w.shape)
    if bias:
        axes = (0,) + tuple(range(2, 2 + len(n_out)))
        return dx, dw, (xp.sum(g, axis=axes) if needs[2] else None)
    return dx, dw


_conv_transpose = Primitive("conv_transpose", _forward, joint=_vjp, saves=(0, 1))


def conv_transpose(x, w, b=None, *, stride, dilation, padding, n_out, groups):
    """The transposed convolution of ``x`` (N, C_in, *spatial) with ``w`` (C_in, C_out /
    groups, *kernel), plus the bias ``b`` (C_out,) where given (one node, its gradient a sum
    of the output gradient): ``stride``, ``dilation``, ``padding`` (the zeros cropped from each end,
    PyTorch's ``padding``) tuples of one int per spatial axis, ``n_out`` the output's spatial
    shape (``output_padding`` included), ``groups``, all already checked (``nn/
    conv_transpose.py`` does); (N, C_out, *n_out).

    >>> import xpgrad as xg
    >>> conv_transpose(xg.ones((1, 2, 2)), xg.ones((2, 1, 3)), stride=(2,), dilation=(1,),
    ...                padding=(1,), n_out=(4,), groups=2).tolist()
    [[[1.0, 2.0, 1.0, 1.0], [1.0, 2.0, 1.0, 1.0]]]
    """
    return apply(_conv_transpose, *((x, w) if b is None else (x, w, b)), stride=tuple(stride),
                 dilation=tuple(dilation), padding=tuple(padding), n_out=tuple(n_out),
                 groups=int(groups))


__all__ = ["conv_transpose"]
