"""``conv``: the N-d convolution primitive (zero padding, strides, dilation, groups) under
``xg.nn.conv1d`` / ``xg.nn.conv2d``, so that a backend may register one kernel for the whole
operation (the Numba backend's: im2col + one large GEMM, ``backends/numba/_conv.py``).

The generic rule is the composition ``nn/conv.py`` used before, written against ``xp``: the
input zero-padded, its strided slices (one per kernel position) stacked into columns and one
batched ``matmul`` with the weight (a depthwise convolution, one input channel per group: a
sum of the slices times their taps). Its vjp is that composition's: the weight's gradient a
product with the columns, the input's the columns' gradient added back into the padded
input's slices (col2im) and cropped. Written against ``xp``, it runs on every backend and,
with ``xp = xpgrad`` under an outer tape, gives higher-order gradients.

>>> import xpgrad as xg
>>> x, w = xg.ones((1, 1, 3, 3)), xg.ones((1, 1, 2, 2))
>>> conv(x, w, stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1)), groups=1).tolist()[0][0][0]
[1.0, 2.0, 2.0, 1.0]
"""
from __future__ import annotations

import itertools
import math

from ..primitive import Primitive, apply
from ..tensor import Tensor
from .convolution_last import forward_last, vjp_last


def out_shape(lengths, kernel, stride, dilation, pads):
    """The number of windows per spatial axis (PyTorch's, no ceil mode).

    >>> out_shape((5, 7), (3, 3), (2, 1), (1, 2), ((1, 1), (0, 0)))
    (3, 3)
    """
    return tuple((n + left + right - d * (k - 1) - 1) // s + 1
                 for n, k, s, d, (left, right) in zip(lengths, kernel, stride, dilation, pads))


def window_keys(kernel, stride, dilation, n_out):
    """The basic index of each kernel position's slice of the padded input (row-major), each
    ``(Ellipsis, slice, ...)`` shaped ``(..., *n_out)``.

    >>> window_keys((2,), (2,), (1,), (3,))
    [(Ellipsis, slice(0, 5, 2)), (Ellipsis, slice(1, 6, 2))]
    """
    spans = [s * (m - 1) + 1 for s, m in zip(stride, n_out)]
    return [(Ellipsis,) + tuple(slice(k * d, k * d + span, s)
                                for k, d, span, s in zip(position, dilation, spans, stride))
            for position in itertools.product(*(range(k) for k in kernel))]


def _zeros(xp, like, shape):
    return xp.zeros(shape, dtype=like.dtype, device=like.device)


def _pad(xp, x, pads):
    """``x`` zero-padded on its last ``len(pads)`` axes by ``(left, right)`` each."""
    first = x.ndim - len(pads)
    for axis, (left, right) in enumerate(pads, first):
        if left or right:
            sized = [x.shape[:axis] + (k,) + x.shape[axis + 1:] for k in (left, right)]
            parts = ([_zeros(xp, x, sized[0])] if left else []) + [x] + \
                ([_zeros(xp, x, sized[1])] if right else [])
            x = xp.concat(parts, axis=axis)
    return x


def _geometry(x, w, stride, dilation, pads):
    kernel = tuple(w.shape[2:])
    n_out = out_shape(x.shape[2:], kernel, stride, dilation, pads)
    return kernel, n_out, window_keys(kernel, stride, dilation, n_out)


def _depthwise(w, groups):
    return w.shape[1] == 1 and groups > 1


def _forward(xp, x, w, *, stride, dilation, pads, groups, channels_last=False):
    if channels_last:
        return forward_last(xp, x, w, stride=stride, dilation=dilation, pads=pads,
                            groups=groups)
    n, c_in = x.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel, n_out, keys = _geometry(x, w, stride, dilation, pads)
    padded = _pad(xp, x, pads)
    pieces = [padded[key] for key in keys]
    kk, size = math.prod(kernel), math.prod(n_out)
    if _depthwise(w, groups):
        m = c_out // groups
        taps = xp.reshape(w, (c_in, m, kk) + (1,) * len(n_out))
        y = None
        for k, piece in enumerate(pieces):
            term = xp.expand_dims(piece, axis=2) * taps[:, :, k]
            y = term if y is None else y + term
        return xp.reshape(y, (n, c_out) + n_out)
    cols = xp.stack(pieces, axis=2)                                      # (N, C_in, KK, *out)
    y = xp.matmul(xp.reshape(w, (groups, c_out // groups, c_group * kk)),
                  xp.reshape(cols, (n, groups, c_group * kk, size)))
    return xp.reshape(y, (n, c_out) + n_out)


def _vjp(xp, g, ans, needs, x, w, *, stride, dilation, pads, groups, channels_last=False):
    if channels_last:
        return vjp_last(xp, g, needs, x, w, stride=stride, dilation=dilation, pads=pads,
                        groups=groups)
    n, c_in = x.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel, n_out, keys = _geometry(x, w, stride, dilation, pads)
    kk, size = math.prod(kernel), math.prod(n_out)
    g = xp.reshape(g, (n, groups, c_out // groups, size))
    dx = dw = None
    if needs[1]:
        padded = _pad(xp, x, pads)
        pieces = [padded[key] for key in keys]
        if _depthwise(w, groups):
            gs = xp.reshape(g, (n, c_in, c_out // groups) + n_out)
            axes = (0,) + tuple(range(3, 3 + len(n_out)))
            dw = xp.stack([xp.sum(gs * xp.expand_dims(p, axis=2), axis=axes) for p in pieces],
                          axis=2)
        else:
            cols = xp.reshape(xp.stack(pieces, axis=2), (n, groups, c_group * kk, size))
            dw = xp.sum(xp.matmul(g, xp.matrix_transpose(cols)), axis=0)
        dw = xp.reshape(dw, w.shape)
    if needs[0]:
        if _depthwise(w, groups):
            taps = xp.reshape(w, (1, c_in, c_out // groups, kk) + (1,) * len(n_out))
            gs = xp.reshape(g, (n, c_in, c_out // groups, 1) + n_out)
            dcols = xp.sum(gs * taps, axis=2)                        # (N, C_in, KK, *out)
        else:
            wt = xp.matrix_transpose(xp.reshape(w, (groups, c_out // groups, c_group * kk)))
            dcols = xp.reshape(xp.matmul(wt, g), (n, c_in, kk) + n_out)
        dx = col2im(xp, dcols, x.shape, pads, keys)
    return dx, dw


def col2im(xp, dcols, shape, pads, keys, channels_last=False):
    """The slices ``dcols[:, :, k]`` of a padded array (at ``keys[k]``) added into one buffer,
    cropped to the unpadded ``shape`` (N, C, *spatial): the gradient of the padded input's
    windows (and ``conv_transpose``'s forward). With ``channels_last``, ``dcols[..., k, :]``
    and ``shape`` (N, *spatial, C). Differentiable when ``dcols`` is a Tensor.

    >>> import numpy as np
    >>> col2im(np, np.ones((1, 1, 2, 2)), (1, 1, 3), ((0, 0),), window_keys((2,), (1,), (1,),
    ...        (2,))).tolist()
    [[[1.0, 2.0, 1.0]]]
    """
    spatial = tuple(shape[1:-1] if channels_last else shape[2:])
    grown = tuple(n + left + right for n, (left, right) in zip(spatial, pads))
    padded = (shape[0],) + grown + (shape[-1],) if channels_last else tuple(shape[:2]) + grown

    def tap(k):
        return dcols[..., k, :] if channels_last else dcols[:, :, k]

    if isinstance(dcols, Tensor):                     # differentiable, for higher orders
        from .indexing import _scatter

        total = None
        for k, key in enumerate(keys):
            term = apply(_scatter, tap(k), shape=padded, key=key, backend=dcols._backend)
            total = term if total is None else total + term
    else:
        total = _zeros(xp, dcols, padded)
        for k, key in enumerate(keys):
            total[key] += tap(k)
    crop = tuple(slice(left, left + n) for n, (left, _) in zip(spatial, pads))
    return total[(slice(None),) + crop + (Ellipsis,) if channels_last else (Ellipsis,) + crop]


_conv = Primitive("conv", _forward, joint=_vjp, saves=(0, 1))


def conv(x, w, *, stride, dilation, pads, groups, channels_last=False):
    """The convolution of ``x`` (N, C_in, *spatial) with ``w`` (C_out, C_in / groups,
    *kernel): ``stride``, ``dilation`` (tuples, one per spatial axis), ``pads`` (``(left,
    right)`` zero padding per axis) and ``groups`` already checked (``nn/conv.py`` does);
    (N, C_out, *out). ``channels_last``: ``x`` (N, *spatial, C_in), ``w`` (*kernel,
    C_in / groups, C_out), output (N, *out, C_out) (``ops/convolution_last.py``).

    >>> import xpgrad as xg
    >>> conv(xg.ones((1, 2, 4)), xg.ones((2, 1, 3)), stride=(1,), dilation=(1,),
    ...      pads=((0, 0),), groups=2).tolist()
    [[[3.0, 3.0], [3.0, 3.0]]]
    """
    return apply(_conv, x, w, stride=tuple(stride), dilation=tuple(dilation),
                 pads=tuple(tuple(p) for p in pads), groups=int(groups),
                 channels_last=bool(channels_last))


__all__ = ["col2im", "conv", "out_shape", "window_keys"]
