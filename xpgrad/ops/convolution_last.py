"""The ``conv`` primitive's generic rule for channels-last operands (``channels_last=True``):
``x`` (N, *spatial, C_in) and ``w`` (*kernel, C_in / groups, C_out), Keras's / flax's "HWIO"
kernel, output (N, *out, C_out).

The windows are the same strided slices of the padded input as channels-first
(``ops/convolution.py``), each (N, *out, C_in); stacked on the next-to-last axis they are
already the rows of the im2col matrix, (N * P, KK * C_in), and the kernel reshaped is its
(KK * C_in, C_out) right factor, so one convolution of one group is one plain 2-d ``matmul``
with no transpose on either side. Groups take each group's block of channels (one transpose of
the columns and of the kernel), a depthwise convolution (one input channel per group) is a sum
of the windows times their taps. The vjp is the composition's: the kernel's gradient the
columns' transpose times ``g``, the input's ``g`` times the kernel's transpose added back into
the padded input's slices (``col2im`` with ``channels_last``) and cropped.

>>> import numpy as np
>>> y = forward_last(np, np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)), stride=(1, 1),
...                  dilation=(1, 1), pads=((1, 1), (1, 1)), groups=1)
>>> y[0, 0, :, 0].tolist()
[1.0, 2.0, 2.0, 1.0]
"""
from __future__ import annotations

import math


def last_keys(keys):
    """Channels-first window keys ``(Ellipsis, *slices)`` as channels-last ones
    ``(:, *slices, ...)``, which leave the last (channel) axis whole.

    >>> last_keys([(Ellipsis, slice(0, 3, 2))])
    [(slice(None, None, None), slice(0, 3, 2), Ellipsis)]
    """
    return [(slice(None),) + tuple(key[1:]) + (Ellipsis,) for key in keys]


def _geometry(x, w, stride, dilation, pads):
    from .convolution import out_shape, window_keys

    kernel = tuple(w.shape[:-2])
    n_out = out_shape(x.shape[1:-1], kernel, stride, dilation, pads)
    return kernel, n_out, last_keys(window_keys(kernel, stride, dilation, n_out))


def _pieces(xp, x, pads, keys):
    from .convolution import _pad

    padded = _pad(xp, x, tuple(pads) + ((0, 0),))        # the channel axis is not padded
    return [padded[key] for key in keys]


def _by_group(xp, a, rows, kk, groups, c_group):
    """Columns (rows, KK * C_in) as (groups, rows, KK * C_in / groups): each group's block."""
    a = xp.reshape(a, (rows, kk, groups, c_group))
    return xp.reshape(xp.permute_dims(a, (2, 0, 1, 3)), (groups, rows, kk * c_group))


def _kernel_by_group(xp, w, kk, groups):
    """The kernel (*kernel, C_in / groups, C_out) as (groups, KK * C_in / groups,
    C_out / groups)."""
    c_group, c_out = w.shape[-2:]
    w = xp.reshape(w, (kk, c_group, groups, c_out // groups))
    return xp.reshape(xp.permute_dims(w, (2, 0, 1, 3)), (groups, kk * c_group, c_out // groups))


def forward_last(xp, x, w, *, stride, dilation, pads, groups):
    """The convolution of channels-last ``x`` with an HWIO-style ``w``: (N, *out, C_out)."""
    n, c_in = x.shape[0], x.shape[-1]
    c_group, c_out = w.shape[-2:]
    kernel, n_out, keys = _geometry(x, w, stride, dilation, pads)
    pieces = _pieces(xp, x, pads, keys)
    kk, rows = math.prod(kernel), n * math.prod(n_out)
    if c_group == 1 and groups > 1:                     # depthwise
        taps = xp.reshape(w, (kk, c_in, c_out // groups))
        y = None
        for k, piece in enumerate(pieces):
            term = xp.expand_dims(piece, axis=-1) * taps[k]
            y = term if y is None else y + term
        return xp.reshape(y, (n,) + n_out + (c_out,))
    cols = xp.reshape(xp.stack(pieces, axis=-2), (rows, kk * c_in))
    if groups == 1:
        y = xp.matmul(cols, xp.reshape(w, (kk * c_in, c_out)))
    else:
        y = xp.matmul(_by_group(xp, cols, rows, kk, groups, c_group),
                      _kernel_by_group(xp, w, kk, groups))
        y = xp.permute_dims(y, (1, 0, 2))
    return xp.reshape(y, (n,) + n_out + (c_out,))


def vjp_last(xp, g, needs, x, w, *, stride, dilation, pads, groups):
    """``forward_last``'s joint vjp: ``(dx, dw)``, each None unless ``needs`` it."""
    from .convolution import col2im

    n, c_in = x.shape[0], x.shape[-1]
    c_group, c_out = w.shape[-2:]
    kernel, n_out, keys = _geometry(x, w, stride, dilation, pads)
    kk, rows = math.prod(kernel), n * math.prod(n_out)
    depthwise = c_group == 1 and groups > 1
    m = c_out // groups
    dx = dw = None
    if depthwise:
        gs = xp.reshape(g, (n,) + n_out + (c_in, m))
    else:
        g2 = xp.reshape(g, (rows, c_out))
        gg = None if groups == 1 else \
            xp.permute_dims(xp.reshape(g2, (rows, groups, m)), (1, 0, 2))
    if needs[1]:
        pieces = _pieces(xp, x, pads, keys)
        if depthwise:
            axes = tuple(range(len(n_out) + 1))
            dw = xp.stack([xp.sum(gs * xp.expand_dims(p, axis=-1), axis=axes) for p in pieces],
                          axis=0)
        else:
            cols = xp.reshape(xp.stack(pieces, axis=-2), (rows, kk * c_in))
            if groups == 1:
                dw = xp.matmul(xp.matrix_transpose(cols), g2)
            else:
                dw = xp.matmul(xp.matrix_transpose(_by_group(xp, cols, rows, kk, groups,
                                                             c_group)), gg)
                dw = xp.permute_dims(xp.reshape(dw, (groups, kk, c_group, m)), (1, 2, 0, 3))
        dw = xp.reshape(dw, w.shape)
    if needs[0]:
        if depthwise:
            taps = xp.reshape(w, (kk, c_in, m))
            dcols = xp.stack([xp.sum(gs * taps[k], axis=-1) for k in range(kk)], axis=-2)
        elif groups == 1:
            dcols = xp.matmul(g2, xp.matrix_transpose(xp.reshape(w, (kk * c_in, c_out))))
        else:
            dcols = xp.matmul(gg, xp.matrix_transpose(_kernel_by_group(xp, w, kk, groups)))
            dcols = xp.permute_dims(xp.reshape(dcols, (groups, rows, kk, c_group)),
                                    (1, 2, 0, 3))
        dcols = xp.reshape(dcols, (n,) + n_out + (kk, c_in))
        dx = col2im(xp, dcols, x.shape, pads, keys, channels_last=True)
    return dx, dw


__all__ = ["forward_last", "vjp_last", "last_keys"]
