"""The ``conv`` primitive's generic rule for channels-last operands (``channels_last=True``):
``x`` (N, *spatial, C_in) and ``w`` (*kernel, C_in / groups, C_out), Keras's / flax's "HWIO"
kernel, output (N, *out, C_out).

The windows are the same strided slices of the padded input as channels-first
(``ops/convolution.py``), each (N, *out, C_in); stacked on the next-to-last axis they are
already the rows of the im2col matrix, (N * P, KK * C_in), and the kernel reshaped is its
(KK * C_in, C_out) right factor, so one convolution of one group is one plain 2-d ``matmul``
with no transpose on either side. Forward and both gradients, float32, 32 images, one thread,
CPU time: 32 -> 64 channels 3x3 on 13x13 4.9 ms against 6.2 through transposes and 6.1
channels-first on NumPy (5.7 with Numba's channels-first kernel), stride 2 on 26x26 7.7 against
10.4 and 10.0 (Numba's 10.2); 1 -> 32 on 28x28 1.5 all ways. So the Numba backend runs this
rule too. Grouped and depthwise convolutions are the channels-first rule (or kernel) between
transposes of the operands, the gradients transposed back: natively each group's block of
columns needed a transpose of its own, and the depthwise sums ran over a short last axis (wall
time, loaded machine: 3.9 against 3.4 ms for 4 groups, 5.4 against 2.7 depthwise with
NumPy's kernel). The vjp is the composition's: the kernel's gradient the columns'
transpose times ``g``, the input's ``g`` times the kernel's transpose added back into the
padded input's slices (``col2im`` with ``channels_last``) and cropped.

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


def first(xp, x, w):
    """Channels-last ``x`` and ``w`` as channels-first ones (transposed views).

    >>> import numpy as np
    >>> [a.shape for a in first(np, np.ones((2, 5, 4, 3)), np.ones((3, 3, 3, 8)))]
    [(2, 3, 5, 4), (8, 3, 3, 3)]
    """
    dims = x.ndim - 2
    return (xp.permute_dims(x, (0, dims + 1) + tuple(range(1, dims + 1))),
            xp.permute_dims(w, (dims + 1, dims) + tuple(range(dims))))


def last(xp, a, weight=False):
    """A channels-first result (``weight``: a kernel's gradient) as a channels-last one.

    >>> import numpy as np
    >>> last(np, np.ones((2, 8, 5, 4))).shape, last(np, np.ones((8, 3, 2, 2)), weight=True).shape
    ((2, 5, 4, 8), (2, 2, 3, 8))
    """
    if a is None:
        return None
    dims = a.ndim - 2
    axes = tuple(range(2, dims + 2)) + (1, 0) if weight else \
        (0,) + tuple(range(2, dims + 2)) + (1,)
    return xp.permute_dims(a, axes)


def forward_last(xp, x, w, *, stride, dilation, pads, groups):
    """The convolution of channels-last ``x`` with an HWIO-style ``w``: (N, *out, C_out)."""
    if groups > 1:
        from .convolution import _forward

        return last(xp, _forward(xp, *first(xp, x, w), stride=stride, dilation=dilation,
                                 pads=pads, groups=groups))
    n, c_in, c_out = x.shape[0], x.shape[-1], w.shape[-1]
    kernel, n_out, keys = _geometry(x, w, stride, dilation, pads)
    pieces = _pieces(xp, x, pads, keys)
    kk, rows = math.prod(kernel), n * math.prod(n_out)
    cols = xp.reshape(xp.stack(pieces, axis=-2), (rows, kk * c_in))
    y = xp.matmul(cols, xp.reshape(w, (kk * c_in, c_out)))
    return xp.reshape(y, (n,) + n_out + (c_out,))


def vjp_last(xp, g, needs, x, w, *, stride, dilation, pads, groups):
    """``forward_last``'s joint vjp: ``(dx, dw)``, each None unless ``needs`` it.

    >>> import numpy as np
    >>> dx, dw = vjp_last(np, np.ones((1, 2, 1)), (True, True), np.ones((1, 3, 1)),
    ...                   np.ones((2, 1, 1)), stride=(1,), dilation=(1,), pads=((0, 0),),
    ...                   groups=1)
    >>> dx[0, :, 0].tolist(), dw[:, 0, 0].tolist()
    ([1.0, 2.0, 1.0], [2.0, 2.0])
    """
    from .convolution import _vjp, col2im

    if groups > 1:
        dims = x.ndim - 2
        g = xp.permute_dims(g, (0, dims + 1) + tuple(range(1, dims + 1)))
        dx, dw = _vjp(xp, g, None, needs, *first(xp, x, w), stride=stride, dilation=dilation,
                      pads=pads, groups=groups)
        return last(xp, dx), last(xp, dw, weight=True)
    n, c_in = x.shape[0], x.shape[-1]
    c_out = w.shape[-1]
    kernel, n_out, keys = _geometry(x, w, stride, dilation, pads)
    kk, rows = math.prod(kernel), n * math.prod(n_out)
    g2 = xp.reshape(g, (rows, c_out))
    dx = dw = None
    if needs[1]:
        cols = xp.reshape(xp.stack(_pieces(xp, x, pads, keys), axis=-2), (rows, kk * c_in))
        dw = xp.reshape(xp.matmul(xp.matrix_transpose(cols), g2), w.shape)
    if needs[0]:
        dcols = xp.matmul(g2, xp.matrix_transpose(xp.reshape(w, (kk * c_in, c_out))))
        dcols = xp.reshape(dcols, (n,) + n_out + (kk, c_in))
        dx = col2im(xp, dcols, x.shape, pads, keys, channels_last=True)
    return dx, dw


__all__ = ["forward_last", "vjp_last", "last_keys", "first", "last"]
