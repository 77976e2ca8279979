"""The ``conv`` primitive on NumPy: one group (either data format) by ``convolution_gemm.py``
(channels-last im2col and one GEMM); the depthwise case (one input channel per group,
``xg.nn.conv1d`` / ``conv2d`` with ``groups == in_channels``) here: per-tap in-place
multiply-adds on raw arrays, instead of the generic rule's broadcast products and sums of
differentiable slices (a 32-channel 3x3 on 32x16x16: forward + backward 5.5x PyTorch's time
with the rule). Other grouped convolutions and other dtypes decline to the generic rule
(``xpgrad.ops.convolution``), the reference the tests compare this with. A channels-last
depthwise convolution (``channels_last=True``) is this one between transposes of the arrays.

Each input channel is zero-padded once. Stride 1: the padded planes flattened, each tap's
window is one contiguous slice of length ``ho * wp`` (``wp`` the padded width): the outputs
are computed as wide as the padded rows and the extra ``wp - wo`` columns dropped, so every
multiply-add runs over long contiguous rows. Strides: each tap's window is a strided view of
the padded planes.

>>> import numpy as np
>>> y, _ = KERNELS["conv"].forward(np.ones((1, 2, 3)), np.ones((2, 1, 2)), stride=(1,),
...                                dilation=(1,), pads=((1, 1),), groups=2)
>>> y.tolist()
[[[1.0, 2.0, 2.0, 1.0], [1.0, 2.0, 2.0, 1.0]]]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.dtypes import FLOAT_NAMES
from xpgrad.ops.convolution_last import first, last

from . import convolution_gemm as gemm
from . import convolution_wide as wide

_FLOATS = frozenset(np.dtype(name) for name in FLOAT_NAMES)


class _Taps:
    """The geometry of a depthwise convolution as 2-d (1-d: height 1): the padded buffer's
    shape, the output buffer's trailing shape, and each tap's window of the padded buffer as
    a basic index whose shape is the output buffer's."""

    def __init__(self, x_shape, w, stride, dilation, pads):
        if len(x_shape) == 3:
            x_shape = x_shape[:2] + (1,) + x_shape[2:]
            w = w[:, :, None]
            stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
        self.shape4, self.w = x_shape, w
        (n, c, h, wd), (kh, kw) = x_shape, w.shape[2:]
        (sh, sw), (dh, dw), ((top, bottom), (left, right)) = stride, dilation, pads
        self.hp, self.wp = h + top + bottom, wd + left + right
        self.ho = (self.hp - dh * (kh - 1) - 1) // sh + 1
        self.wo = (self.wp - dw * (kw - 1) - 1) // sw + 1
        self.top, self.left = top, left
        self.wide = sh == sw == 1
        if self.wide:               # flat planes: a tap is one slice of ho * wp entries
            length = self.ho * self.wp
            self.buffer = (n, c, self.hp * self.wp + (kw - 1) * dw)
            self.out = (length,)
            self.keys = [(Ellipsis, slice(s, s + length)) for s in
                         (i * dh * self.wp + j * dw for i in range(kh) for j in range(kw))]
        else:
            self.buffer, self.out = (n, c, self.hp, self.wp), (self.ho, self.wo)
            self.keys = [(Ellipsis, slice(i * dh, i * dh + sh * (self.ho - 1) + 1, sh),
                          slice(j * dw, j * dw + sw * (self.wo - 1) + 1, sw))
                         for i in range(kh) for j in range(kw)]

    def planes(self, buffer):
        """``buffer`` seen as the padded (N, C, hp, wp) planes."""
        n, c = self.buffer[:2]
        return buffer[:, :, :self.hp * self.wp].reshape(n, c, self.hp, self.wp) \
            if self.wide else buffer

    def interior(self, buffer):
        """The unpadded input's place in ``buffer``."""
        return self.planes(buffer)[:, :, self.top:self.top + self.shape4[2],
                                   self.left:self.left + self.shape4[3]]

    def outputs(self, out):
        """The (N, C, M, ho, wo) outputs in the output buffer ``out`` (N, C, M, *self.out)."""
        if self.wide:
            return out.reshape(out.shape[:3] + (self.ho, self.wp))[..., :self.wo]
        return out


def _accepts(x, w, pads, groups):
    return x.dtype in _FLOATS and w.dtype == x.dtype and x.ndim in (3, 4) and x.size > 0 \
        and w.shape[1] == 1 and groups == x.shape[1] and groups > 1 \
        and all(p >= 0 for pad in pads for p in pad)


def _padded(x, geo):
    buffer = np.zeros(geo.buffer, x.dtype)
    geo.interior(buffer)[...] = x.reshape(geo.shape4)
    return buffer


def conv_forward(x, w, *, stride, dilation, pads, groups, channels_last=False):
    frame = wide.frame_for(x, w, stride, dilation, pads, groups, channels_last)
    if frame is not None:
        return wide.conv_forward(x, w, frame)
    if gemm.accepts(x, w, groups, channels_last):
        return gemm.conv_forward(x, w, stride=stride, dilation=dilation, pads=pads,
                                 groups=groups, channels_last=channels_last)
    if channels_last:
        x, w = first(np, x, w)
        if not _accepts(x, w, pads, groups):
            return None
        y, _ = conv_forward(x, w, stride=stride, dilation=dilation, pads=pads, groups=groups)
        return np.ascontiguousarray(last(np, y)), None
    if not _accepts(x, w, pads, groups):
        return None
    geo = _Taps(x.shape, w, stride, dilation, pads)
    if geo.ho <= 0 or geo.wo <= 0:
        return None
    n, c = x.shape[:2]
    m = w.shape[0] // c
    taps = geo.w.reshape(c, m, -1)
    buffer = _padded(x, geo)
    out = np.empty((n, c, m) + geo.out, x.dtype)
    term = np.empty_like(out)
    ones = (None,) * len(geo.out)
    for k, key in enumerate(geo.keys):
        window = buffer[key][:, :, None]
        np.multiply(window, taps[(None, slice(None), slice(None), k) + ones],
                    out=out if k == 0 else term)
        if k:
            out += term
    y = np.ascontiguousarray(geo.outputs(out))
    return y.reshape((n, c * m) + y.shape[3:] if x.ndim == 4 else (n, c * m, -1)), None


def conv_vjp(g, saved, needs, x, w, *, stride, dilation, pads, groups, channels_last=False):
    if isinstance(saved, wide.Saved):
        return wide.conv_vjp(g, saved, needs, x, w)
    if saved is not None:                       # the one-group GEMM path's padded input
        return gemm.conv_vjp(g, saved, needs, x, w, stride=stride, dilation=dilation,
                             pads=pads, groups=groups, channels_last=channels_last)
    if channels_last:
        g = np.moveaxis(g, -1, 1)
        dx, dw = conv_vjp(g, saved, needs, *first(np, x, w), stride=stride, dilation=dilation,
                          pads=pads, groups=groups)
        return (None if dx is None else np.ascontiguousarray(last(np, dx)),
                None if dw is None else np.ascontiguousarray(last(np, dw, weight=True)))
    geo = _Taps(x.shape, w, stride, dilation, pads)
    n, c = x.shape[:2]
    m = w.shape[0] // c
    taps = geo.w.reshape(c, m, -1)
    gb = np.zeros((n, c, m) + geo.out, w.dtype)            # zero past the outputs (wide)
    final = (n, c * m) + ((geo.ho, geo.wo) if x.ndim == 4 else (geo.wo,))
    geo.outputs(gb)[...] = np.broadcast_to(g, final).reshape(n, c, m, geo.ho, geo.wo)
    spatial = tuple(range(3, 3 + len(geo.out)))
    dx = dw = None
    if needs[1]:
        buffer = _padded(x, geo)
        dwk = np.empty((c, m, len(geo.keys)), w.dtype)
        dot = "ncl,ncl->c" if geo.wide else "nchw,nchw->c"
        for k, key in enumerate(geo.keys):
            window = buffer[key]
            if m == 1:
                dwk[:, 0, k] = np.einsum(dot, gb[:, :, 0], window)
            else:
                dwk[:, :, k] = (gb * window[:, :, None]).sum(axis=(0,) + spatial)
        dw = dwk.reshape(w.shape)
    if needs[0]:
        dbuf = np.zeros(geo.buffer, w.dtype)
        ones = (None,) * len(geo.out)
        term = np.empty((n, c) + geo.out, w.dtype)
        for k, key in enumerate(geo.keys):
            if m == 1:
                np.multiply(gb[:, :, 0], taps[(None, slice(None), 0, k) + ones], out=term)
            else:
                np.sum(gb * taps[(None, slice(None), slice(None), k) + ones], axis=2,
                       out=term)
            dbuf[key] += term
        dx = np.ascontiguousarray(geo.interior(dbuf)).reshape(x.shape)
    return dx, dw


# the rule reads the input (padded again) and the weight
KERNELS = {"conv": Kernel(conv_forward, conv_vjp, saves=(0, 1), needs=True)}
