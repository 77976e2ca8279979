"""The ``conv`` primitive's one-group case on NumPy (``xg.nn.conv1d`` / ``conv2d`` with
``groups=1``, either data format): the input padded once into a channels-last (N, Hp, Wp,
C_in) buffer, its windows copied in one pass into the im2col matrix (N * P, KH * KW * C_in)
(P the output positions per image), and one GEMM with the kernel as (KH * KW * C_in, C_out).

The row-per-position layout is the one OpenBLAS runs fastest (one thread, AVX-512, float32,
16 3x3 images of 32x32 with 16 -> 32 channels: (16384, 144) @ (144, 32) 0.75 ms against 1.3
ms for the channels-first (32, 144) @ (144, 16384)). The GEMM's (N, Ho, Wo, C_out) result is
copied channels first (``channels_first_copy``; returned as a transposed view, it made the
next max pooling 4x slower), and the output gradient channels last (``channels_last_copy``). The
weight's gradient is one GEMM over the whole batch (the columns made again from the saved
padded buffer, a few images at a time); the input's is one product per kernel tap, ``g @
w_tap`` (N * P, C_in): at stride 1 ``g`` laid out on the padded grid, each product added by
the gemm itself into the flat padded buffer shifted by the tap's offset, at other strides
added to the tap's strided window (col2im as strided adds, no scatter), then cropped.
Grouped (non-depthwise) convolutions decline to the generic rule (``xpgrad.ops.convolution``),
the reference the tests compare this with; 1-d convolutions run as 2-d ones of height 1.

>>> import numpy as np
>>> y, _ = conv_forward(np.ones((1, 8, 3, 3)), np.ones((1, 8, 2, 2)), stride=(1, 1),
...                     dilation=(1, 1), pads=((1, 1), (1, 1)), groups=1)
>>> y[0, 0, 0].tolist()
[8.0, 16.0, 16.0, 8.0]
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import blas


class Geometry:
    """A convolution seen as 2-d (1-d: height 1): kernel, strides, dilations, the padding
    before each axis, the padded and output sizes, and each tap's window of the padded
    channels-last buffer as a basic index shaped (N, Ho, Wo, C).

    >>> geo = Geometry((5,), (3,), (2,), (1,), ((1, 1),))
    >>> geo.padded, geo.out
    ((1, 7), (1, 3))
    """

    def __init__(self, spatial, kernel, stride, dilation, pads):
        if len(spatial) == 1:
            spatial, kernel = (1,) + tuple(spatial[-1:]), (1,) + tuple(kernel)
            stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
        self.spatial, self.kernel = tuple(spatial[-2:]), tuple(kernel)
        self.stride, self.dilation = stride, dilation
        self.before = tuple(left for left, _ in pads)
        self.padded = tuple(n + left + right for n, (left, right) in zip(self.spatial, pads))
        self.out = tuple((p - d * (k - 1) - 1) // s + 1 for p, k, s, d in
                         zip(self.padded, kernel, stride, dilation))
        self.keys = [(slice(None),) + tuple(slice(k * d, k * d + s * (m - 1) + 1, s)
                                            for k, d, s, m in zip(tap, dilation, stride,
                                                                  self.out))
                     for tap in np.ndindex(*kernel)]

    def interior(self, buffer):
        """The unpadded input's place in a padded (N, Hp, Wp, C) ``buffer``."""
        (top, left), (h, w) = self.before, self.spatial
        return buffer[:, top:top + h, left:left + w]

    def columns(self, padded, out=None):
        """The im2col matrix (N * Ho * Wo, KH * KW * C) of a padded (N, Hp, Wp, C) buffer: its
        windows (tap-major, channels innermost), one copy (into ``out``'s memory if given)."""
        (kh, kw), (dh, dw), (sh, sw), (ho, wo) = self.kernel, self.dilation, self.stride, \
            self.out
        spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        view = sliding_window_view(padded, spans, axis=(1, 2))[:, ::sh, ::sw, :, ::dh, ::dw]
        shape = (padded.shape[0], ho, wo, kh, kw, padded.shape[3])
        cols = np.empty(shape, padded.dtype) if out is None else \
            out[:np.prod(shape)].reshape(shape)
        np.copyto(cols, view.transpose(0, 1, 2, 4, 5, 3)[:, :ho, :wo])
        return cols.reshape(padded.shape[0] * ho * wo, -1)

    def chunks(self, n, width, itemsize):
        """The images' ``(start, stop)`` chunks whose columns (``width`` entries per output
        position) fit ``COLUMNS_BUDGET`` bytes, and a buffer for one chunk's columns."""
        per_image = self.out[0] * self.out[1] * width * itemsize
        size = max(1, min(n, COLUMNS_BUDGET // per_image))
        return [(b, min(n, b + size)) for b in range(0, n, size)], \
            np.empty(size * per_image // itemsize, np.dtype(f"f{itemsize}"))


#: the im2col columns made and multiplied per chunk of images (bytes), kept in cache: float32,
#: 16 64 -> 64 3x3 images of 32x32 (37 MB of columns) forward 10.6 ms in one product, 8.4 in
#: chunks of 4 MB; 1 to 16 MB measure alike
COLUMNS_BUDGET = 1 << 22


def accepts(x, w, groups, channels_last=False):
    """Whether the one-group GEMM path takes ``x`` and ``w``: one real float dtype, 1-d or
    2-d, one group, nothing empty, and channels first at least ``FEW_CHANNELS`` input
    channels (fewer run faster as the generic rule's channels-first product, whose columns
    copy whole rows: float32, 64 1 -> 32 3x3 images of 28x28, forward 0.23 ms against 1.2, 3
    -> 32 on 32x32 0.66 against 1.18; at 8 channels the GEMM path is faster, 4.5 against 5.2
    ms forward and both gradients), channels last at least 2 (the generic rule's columns are
    this path's, made slower: 3 -> 32 forward and both gradients 5.6 ms against 2.3, but one
    input channel is a channels-first image: 32 1 -> 32 3x3 on 28x28 0.67 against 0.95).

    >>> accepts(np.ones((1, 8, 4), np.float32), np.ones((3, 8, 2), np.float32), 1)
    True
    >>> accepts(np.ones((1, 2, 4), np.float32), np.ones((3, 2, 2), np.float32), 1)
    False
    """
    return x.dtype in (np.float32, np.float64) and w.dtype == x.dtype \
        and x.ndim in (3, 4) and x.size > 0 and groups == 1 \
        and (x.shape[-1] > 1 if channels_last else x.shape[1] >= FEW_CHANNELS)


#: below this many input channels a channels-first convolution declines (``accepts``) and a
#: channels-last one makes the input's gradient channels first (``_input_gradient_few``):
#: per-tap products with so few columns run slowly, and so do additions over rows this short
#: (float32, 8 3 -> 64 7x7 images of 112x112, stride 2: 31 ms against 3.2)
FEW_CHANNELS = 8


def _to_last(x):
    """A channels-first (N, C, *spatial) array as a channels-last (N, H, W, C) view (1-d:
    height 1)."""
    x = np.moveaxis(x, 1, -1)
    return x[:, None] if x.ndim == 3 else x


def _to_first(a, dims):
    """A channels-last (N, H, W, C) result as channels-first (N, C, *spatial), a view."""
    a = np.moveaxis(a, -1, 1)
    return a[:, :, 0] if dims == 1 else a


def channels_first_copy(a, dims):
    """A channels-last (N, H, W, C) array copied channels first, (N, C, *spatial), C-contiguous
    (the next channels-first kernel, a max pooling's strided windows, reads it 4x faster
    than the transposed view), 8 rows at a time: float32 (16, 32, 32, 32) 0.17 ms against
    0.29 in one copy.

    >>> a = np.arange(24.0).reshape(1, 2, 3, 4)
    >>> b = channels_first_copy(a, 2)
    >>> b.shape, bool((b[0, 1] == a[0, ..., 1]).all()), b.flags.c_contiguous
    ((1, 4, 2, 3), True, True)
    """
    out = np.empty((a.shape[0], a.shape[3]) + a.shape[1:3], a.dtype)
    for row in range(0, a.shape[1], 8):
        out[:, :, row:row + 8] = np.moveaxis(a[:, row:row + 8], -1, 1)
    return out[:, :, 0] if dims == 1 else out


def _hwio(w, channels_last):
    """The kernel as (KH, KW, C_in, C_out) (1-d: KH = 1), contiguous."""
    if not channels_last:
        w = np.moveaxis(w, (0, 1), (-1, -2))
    w = np.ascontiguousarray(w)
    return w[None] if w.ndim == 3 else w


def _padded(x4, geo):
    """Channels-last ``x4`` (N, H, W, C) zero-padded into a new (N, Hp, Wp, C) buffer."""
    padded = np.zeros((x4.shape[0],) + geo.padded + (x4.shape[3],), x4.dtype)
    geo.interior(padded)[...] = x4
    return padded


def _forward_last(x4, w4, geo):
    """``(y (N, Ho, Wo, C_out), the padded input)`` of channels-last ``x4`` (N, H, W, C_in)
    and ``w4`` (KH, KW, C_in, C_out)."""
    n = x4.shape[0]
    padded = _padded(x4, geo)
    w2 = w4.reshape(-1, w4.shape[3])
    y = np.empty((n,) + geo.out + (w4.shape[3],), x4.dtype)
    rows = y.reshape(n, -1, w4.shape[3])
    chunks, buffer = geo.chunks(n, w2.shape[0], x4.dtype.itemsize)
    for b0, b1 in chunks:
        blas.matmul(geo.columns(padded[b0:b1], buffer), w2,
                    out=rows[b0:b1].reshape(-1, w2.shape[1]))
    return y, padded


def channels_last_copy(a):
    """A C-contiguous copy of ``a`` (N, H, W, C), a channels-last view of channels-first
    memory (or ``a`` itself when already contiguous); copied 8 channels at a time where the
    planes are large (float32 (16, 32, 32, 32): 0.22 ms against 0.46 in one copy, whose
    reads 4 KiB apart contend for the same cache sets).

    >>> a = np.arange(24.0).reshape(1, 2, 3, 4)
    >>> bool((channels_last_copy(np.moveaxis(a, 1, -1)) == np.moveaxis(a, 1, -1)).all())
    True
    """
    if a.flags.c_contiguous or a.shape[1] * a.shape[2] < _LARGE_PLANE or a.shape[3] <= 8:
        return np.ascontiguousarray(a)
    out = np.empty(a.shape, a.dtype)
    for c in range(0, a.shape[3], 8):
        out[..., c:c + 8] = a[..., c:c + 8]
    return out


#: the plane size (H * W entries) from which ``channels_last_copy`` copies 8 channels at a time
#: (at 16x16 one copy is as fast)
_LARGE_PLANE = 1024


def _add_product(c, a, b):
    """``c += a @ b``, in place by one gemm where the BLAS takes it."""
    if not blas.gemm_update(c, a, b, 1.0):
        c += a @ b


def _input_gradient(gm, g_shape, w4, geo, padded_shape):
    """The padded input's gradient (N, Hp, Wp, C_in) from ``gm`` (N * Ho * Wo, C_out). Stride
    1: ``gm`` laid out on the padded grid (zeros past the outputs), each tap's product is
    added by the gemm itself into the flat buffer shifted by the tap's offset (one contiguous
    block of rows). Strides: each tap's product into a buffer, added to its strided window."""
    c_in, c_out = w4.shape[2:]
    taps = w4.reshape(-1, c_in, c_out)                          # (KK, C_in, C_out)
    if c_in < FEW_CHANNELS:
        return _input_gradient_few(gm, g_shape, taps, geo, padded_shape)
    dpad = np.zeros(padded_shape, w4.dtype)
    if geo.stride == (1, 1):
        wide = np.zeros(padded_shape[:3] + (c_out,), w4.dtype)
        wide[:, :geo.out[0], :geo.out[1]] = gm.reshape(g_shape)
        flat, dflat = wide.reshape(-1, c_out), dpad.reshape(-1, c_in)
        total, (dh, dw), wp = flat.shape[0], geo.dilation, geo.padded[1]
        for k, (i, j) in enumerate(np.ndindex(*geo.kernel)):
            shift = i * dh * wp + j * dw
            _add_product(dflat[shift:], flat[:total - shift], taps[k].T)
        return dpad
    term = np.empty((gm.shape[0], c_in), w4.dtype)
    for k, key in enumerate(geo.keys):
        blas.matmul(gm, taps[k].T, out=term)
        dpad[key] += term.reshape(g_shape[:3] + (c_in,))
    return dpad




def _input_gradient_few(gm, g_shape, taps, geo, padded_shape):
    """``_input_gradient`` for few input channels: every tap's gradient in one product,
    channels first (KK * C_in, N * Ho * Wo), each tap's block added to its strided window of
    a channels-first padded buffer (rows of Wo), returned as a channels-last view."""
    n, c_in = padded_shape[0], padded_shape[3]
    dcols = blas.matmul(taps.reshape(-1, taps.shape[2]), gm.T)
    dcols = dcols.reshape((len(geo.keys), c_in, n) + geo.out)
    dpad = np.zeros((n, c_in) + padded_shape[1:3], gm.dtype)
    for k, key in enumerate(geo.keys):
        dpad[(slice(None),) + key] += dcols[k].transpose(1, 0, 2, 3)
    return np.moveaxis(dpad, 1, -1)


def _vjp_last(g4, padded, needs, w4, geo, padded_shape):
    """``(dx (N, H, W, C_in) view, dw (KH, KW, C_in, C_out))`` for channels-last ``g4``;
    ``padded`` (of ``padded_shape``) is read for the weight's gradient only."""
    gm = channels_last_copy(g4.astype(w4.dtype, copy=False)).reshape(-1, w4.shape[3])
    dx = dw = None
    if needs[1]:
        dw = np.zeros((w4.size // w4.shape[3], w4.shape[3]), w4.dtype)
        per_image = gm.shape[0] // padded_shape[0]
        chunks, buffer = geo.chunks(padded_shape[0], dw.shape[0], w4.dtype.itemsize)
        for b0, b1 in chunks:
            _add_product(dw, geo.columns(padded[b0:b1], buffer).T,
                         gm[b0 * per_image:b1 * per_image])
        dw = dw.reshape(w4.shape)
    if needs[0]:
        dx = geo.interior(_input_gradient(gm, g4.shape, w4, geo, padded_shape))
    return dx, dw


def conv_forward(x, w, *, stride, dilation, pads, groups, channels_last=False):
    """The ``conv`` kernel's forward for one group: ``(y, the padded input)``, or None to
    decline (``accepts``)."""
    if not accepts(x, w, groups, channels_last):
        return None
    dims = x.ndim - 2
    spatial = x.shape[1:-1] if channels_last else x.shape[2:]
    kernel = w.shape[:-2] if channels_last else w.shape[2:]
    geo = Geometry(spatial, kernel, stride, dilation, pads)
    if min(geo.out) <= 0:
        return None
    x4 = (x[:, None] if dims == 1 else x) if channels_last else _to_last(x)
    y4, padded = _forward_last(x4, _hwio(w, channels_last), geo)
    if channels_last:
        return (y4[:, 0] if dims == 1 else y4), padded
    return channels_first_copy(y4, dims), padded


def conv_vjp(g, padded, needs, x, w, *, stride, dilation, pads, groups, channels_last=False):
    """``conv_forward``'s joint vjp: ``(dx, dw)``, each None unless ``needs`` it; ``padded``
    None: the input is padded again (after another forward, the Numba backend's)."""
    dims = x.ndim - 2
    spatial = x.shape[1:-1] if channels_last else x.shape[2:]
    kernel = w.shape[:-2] if channels_last else w.shape[2:]
    geo = Geometry(spatial, kernel, stride, dilation, pads)
    y_shape = (x.shape[0],) + (geo.out[1:] if dims == 1 else geo.out)
    y_shape = y_shape + (w.shape[-1],) if channels_last else \
        y_shape[:1] + (w.shape[0],) + y_shape[1:]
    g = np.broadcast_to(g, y_shape)
    g4 = (g[:, None] if dims == 1 else g) if channels_last else _to_last(g)
    if padded is None and needs[1]:
        padded = _padded((x[:, None] if dims == 1 else x) if channels_last else _to_last(x), geo)
    c_in = x.shape[-1] if channels_last else x.shape[1]
    dx4, dw4 = _vjp_last(g4, padded, needs, _hwio(w, channels_last), geo,
                         (x.shape[0],) + geo.padded + (c_in,))
    dx = dw = None
    if dx4 is not None:
        if channels_last:
            dx = dx4[:, 0] if dims == 1 else dx4
        elif dx4.strides[3] > dx4.strides[2]:       # made channels first (few channels)
            dx = np.ascontiguousarray(_to_first(dx4, dims))
        else:
            dx = channels_first_copy(dx4, dims)
    if dw4 is not None:
        dw4 = dw4[0] if dims == 1 else dw4
        dw = dw4 if channels_last else np.ascontiguousarray(np.moveaxis(dw4, (-1, -2), (0, 1)))
    return dx, dw


__all__ = ["Geometry", "accepts", "channels_first_copy", "channels_last_copy", "conv_forward",
           "conv_vjp"]
