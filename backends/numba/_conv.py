"""The ``conv`` primitive (``xg.nn.conv1d`` / ``conv2d``) as Numba loops + BLAS products, for
float32/float64 inputs of one dtype; other dtypes decline to the generic rule.

One group with at least ``FEW_CHANNELS`` (8) input channels, and one group channels last,
take the NumPy backend's GEMM path (``backends/numpy/convolution_gemm.py``: channels-last
im2col, one GEMM with the output positions as rows, OpenBLAS's fast orientation) for their
gradients, and for the forward unless the per-tap products below run it (then the vjp pads
the input channels-last again): float32, one thread, forward and both gradients, 32 -> 64
channels 3x3 on 16x26x26 7.7 -> 6.5 ms, 64 -> 64 on 16x32x32 25.6 -> 22.2, stride 2 64 -> 128
15.6 -> 12.5 (this module's loops -> that path).

Each image channel is first zero-padded into a frame (``pad_frames``), so no loop tests bounds.
Stride 1 with one group and at least ``TAPS_MIN_CHANNELS`` input channels (``_taps_forward``):
no columns at all -- the output is the sum over the KH * KW taps of the tap's (C_out, C_in)
weights times the frames shifted by the tap's offset, a strided view BLAS reads in place, a
few images row-interleaved per product. Otherwise (strides, groups, one group with few
channels): the frames' windows copied into a
column buffer of shape (C_in * KK, N * P) (P the output positions per image, one plain copy
per output row), then one GEMM per group of the weight (C_out / groups, C_in / groups * KK)
with its block of rows, a few images per product, and the result (C_out, N * P) moved to (N,
C_out, P). The columns are made again in the backward pass for the weight's gradient, one
GEMM ``g @ cols.T``; the input's is ``w.T @ g`` (one GEMM) added back into frames by a col2im
loop and cropped. A depthwise convolution (one input channel per group) is direct loops
instead, whose products would be 1 x KK (``_conv_depthwise.py``; the frame and column loops
are ``_conv_frames.py``'s). 1-d convolutions run as 2-d ones of height 1. Channels last
(``channels_last=True``) with groups runs these loops on transposed copies. The generic rule
of ``xpgrad.ops.convolution`` is the reference the tests compare this with.

>>> import numpy as np
>>> y, _ = KERNELS["conv"].forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), stride=(1, 1),
...                                dilation=(1, 1), pads=((1, 1), (1, 1)), groups=1)
>>> y[0, 0, 0].tolist()
[1.0, 2.0, 2.0, 1.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .. import blas
from ..numpy import convolution_gemm as gemm
# imported by name: the tests wrap the loops on this module, _conv_transpose reaches them here
from ._conv_depthwise import depthwise_bwd, depthwise_bwd1, depthwise_fwd, depthwise_fwd1
from ._conv_frames import col2im, crop_frames, from_wide, im2col, pad_frames
from ._losses import FLOATS
from ._read_only import read_only


def _accepts(x, w, pads):
    return x.dtype in FLOATS and w.dtype == x.dtype and x.ndim in (3, 4) and x.size > 0 \
        and all(left == right for left, right in pads)


#: the column buffer's size per product (bytes): images go through im2col and their GEMMs a
#: few at a time, so the columns stay in cache (one product over the whole batch streams its
#: columns through memory: 1.4-2x slower than per-image ones on a 32->64 3x3 conv)
BUDGET = 1 << 17

#: the per-tap path's stacked frames and wide outputs per chunk of images (bytes): a 32->64
#: 3x3 conv on 16x16 (forward, input's, weight's gradient): 3.0, 3.7, 3.6 ms at 2 MiB (10
#: images), 3.0, 4.1, 3.8 at 1 MiB, 4.1, 5.3, 5.3 at 256 KiB, 3.2, 3.8, 3.9 at 8 MiB
FRAME_BUDGET = 1 << 21

#: the fewest input channels (per group) for the per-tap products: each tap's product has the
#: input channels as its inner dimension, too short below this for BLAS to run at speed
TAPS_MIN_CHANNELS = 16


#: the fewest output positions per im2col product: images with few outputs (strided) are
#: taken together so the GEMMs are wide enough (a 32->64 3x3 conv of stride 2 on 16x16: 64
#: outputs per image; 4 images per product: forward 1.1 ms, one: 1.45)
MIN_COLUMNS = 256


def _chunks(n, per_image, budget=None, positions=0):
    """``(images per chunk, the chunks)``: as many images as ``budget`` bytes hold at
    ``per_image`` each, at least enough for ``positions`` per image to reach
    ``MIN_COLUMNS``."""
    budget = BUDGET if budget is None else budget
    least = -(-MIN_COLUMNS // positions) if positions else 1
    size = max(1, min(n, max(least, budget // max(per_image, 1))))
    return size, [(b, min(n, b + size)) for b in range(0, n, size)]


def _setup(x_shape, w, stride, dilation, pads, groups):
    """``(w as 2-d, stride, dilation, pads, the (N, C, H, W) shape, n_out, the im2col
    geometry, the output's final shape)``; a 1-d convolution as one of height 1."""
    final_dims = len(x_shape) - 2
    if final_dims == 1:
        w = w[:, :, None]
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
        x_shape = x_shape[:2] + (1,) + x_shape[2:]
    n_out = tuple((k + 2 * p[0] - d * (kk - 1) - 1) // s + 1 for k, kk, s, d, p in
                  zip(x_shape[2:], w.shape[2:], stride, dilation, pads))
    geometry = (w.shape[2], w.shape[3], stride[0], stride[1], dilation[0], dilation[1],
                pads[0][0], pads[1][0], n_out[0], n_out[1])
    final = x_shape[:1] + (w.shape[0],) + n_out[2 - final_dims:]
    return np.ascontiguousarray(w), x_shape, n_out, geometry, final


def _grouped(a, groups):
    """A 2-d (rows, cols) array as (groups, rows / groups, cols): each group's block."""
    return a.reshape(groups, a.shape[0] // groups, a.shape[1])


def _frame(x_shape, geometry):
    """The padded frame ``(hp, wp)`` of each image channel."""
    return x_shape[2] + 2 * geometry[6], x_shape[3] + 2 * geometry[7]


def _by_taps(w, geometry, groups):
    """Whether the per-tap products run: stride 1, one group, enough input channels."""
    return geometry[2] == geometry[3] == 1 and groups == 1 and w.shape[1] >= TAPS_MIN_CHANNELS


def _add_product(c, a, b):
    """``c += a @ b`` (MKL's gemm in place where it takes them)."""
    if not blas.gemm_update(c, a, b, 1.0):
        c += a @ b


def _taps_plan(x_shape, w, geometry):
    """``(hp, wp, images per chunk, the chunks, the tail past the frames)`` of the per-tap
    products."""
    c_in, c_out, kw = w.shape[1], w.shape[0], w.shape[3]
    hp, wp = _frame(x_shape, geometry)
    per_image = (kw * c_in + c_out) * hp * wp * w.dtype.itemsize
    size, chunks = _chunks(x_shape[0], per_image, FRAME_BUDGET)
    return hp, wp, size, chunks, (kw - 1) * geometry[5]


def _stack(frames, c_in, kw, dw, span):
    """Rows ``j * c_in + c`` of ``frames`` <- row ``c`` shifted left by ``j * dw`` (its
    first ``span`` entries) for each kernel column ``j > 0``: the frames of all taps of one
    kernel row, one operand with ``kw * c_in`` rows."""
    for j in range(1, kw):
        frames[j * c_in:(j + 1) * c_in, :span] = frames[:c_in, j * dw:j * dw + span]


def _taps_forward(x, w, geometry, y):
    """Stride 1, one group, no columns: each image channel zero-padded once into a frame,
    a few images' frames row-interleaved (``pad_frames``), stacked with their copies
    shifted by each kernel column (``_stack``), and the output at every frame position
    (``wide``) the sum over kernel rows ``i`` of the row's (C_out, KW * C_in) weights times
    the stack shifted down ``i * dh`` rows -- a strided view BLAS reads in place (KH
    products of inner size KW * C_in: 1.2x faster than KH * KW of inner size C_in); the
    ``wp - wo`` positions past each output row are computed and dropped (row-interleaving
    keeps the ``hp - ho`` rows past each image out of the products)."""
    n, c_in, _, _ = x.shape
    c_out, _, kh, kw = w.shape
    hp, wp, size, chunks, tail = _taps_plan(x.shape, w, geometry)
    ho, plane, dh = geometry[8], hp * wp, geometry[4]
    fbuf = np.empty(kw * c_in * (size * plane + tail), x.dtype)
    obuf = np.empty(c_out * size * plane, x.dtype)
    wt = np.ascontiguousarray(w.transpose(2, 0, 3, 1)).reshape(kh, c_out, kw * c_in)
    for b0, b1 in chunks:
        m = b1 - b0
        length, pitch, span = ho * m * wp, m * wp, m * plane
        frames = fbuf[:kw * c_in * (span + tail)].reshape(kw * c_in, span + tail)
        pad_frames(x[b0:b1], geometry[6], geometry[7], wp, pitch, frames[:c_in])
        _stack(frames, c_in, kw, geometry[5], span)
        wide = obuf[:c_out * length].reshape(c_out, length)
        for i in range(kh):
            view = frames[:, i * dh * pitch:i * dh * pitch + length]
            if i == 0:
                blas.matmul(wt[i], view, out=wide)
            else:
                _add_product(wide, wt[i], view)
        from_wide(wide, wp, pitch, y[b0:b1])


def _first(x, w):
    """Channels-last ``x`` (N, *spatial, C) and ``w`` (*kernel, C_in / groups, C_out) as the
    channels-first arrays the loops take (copies)."""
    return (np.ascontiguousarray(np.moveaxis(x, -1, 1)),
            np.ascontiguousarray(np.moveaxis(w, (-1, -2), (0, 1))))


def _last(a, weight=False):
    """A channels-first result as the channels-last caller's array: a transposed view (no
    copy: an elementwise op keeps its memory order, so the next channels-last conv's or
    pooling's transpose to channels-first finds it contiguous); a kernel's gradient copied."""
    if a is None:
        return None
    return np.ascontiguousarray(np.moveaxis(a, (0, 1), (-1, -2))) if weight else \
        np.moveaxis(a, 1, -1)


class _PadAgain:
    """What the per-tap forward saves: its gradients are the GEMM path's, which pads the input
    channels-last again (an object of its own: a trace keeps a kernel's saved object as a
    value of the program, a string or number it would take for an array)."""


_PAD_AGAIN = _PadAgain()


def _by_gemm(x, w, groups, channels_last):
    """Whether the NumPy backend's one-group GEMM path (``convolution_gemm``) computes the
    gradients: one group, channels last or at least ``FEW_CHANNELS`` input channels (fewer:
    these loops' im2col is faster)."""
    return gemm.accepts(x, w, groups, channels_last)


def conv_forward(x, w, *, stride, dilation, pads, groups, channels_last=False):
    if _by_gemm(x, w, groups, channels_last):
        if channels_last or not (_accepts(x, w, pads) and all(s == 1 for s in stride)
                                 and w.shape[1] >= TAPS_MIN_CHANNELS):
            return gemm.conv_forward(x, w, stride=stride, dilation=dilation, pads=pads,
                                     groups=groups, channels_last=channels_last)
        y, _ = _forward_loops(x, w, stride, dilation, pads, groups)
        return y, _PAD_AGAIN
    if not _accepts(x, w, pads):
        return None
    if channels_last:
        if groups == 1:         # one input channel: the generic rule (ops/convolution_last.py)
            return None
        # the loops are channels-first: one copy of each operand
        y, _ = conv_forward(*_first(x, w), stride=stride, dilation=dilation, pads=pads,
                            groups=groups)
        return _last(y), None
    return _forward_loops(x, w, stride, dilation, pads, groups)


def _forward_loops(x, w, stride, dilation, pads, groups):
    """The channels-first forward by these loops: ``(y, None)``."""
    w, x_shape, n_out, geometry, final = _setup(x.shape, w, stride, dilation, pads, groups)
    x = np.ascontiguousarray(x).reshape(x_shape)
    n, c_in = x_shape[:2]
    c_out = w.shape[0]
    dt = x.dtype
    y = np.empty((n, c_out) + n_out, dt)
    if w.shape[1] == 1 and groups > 1:
        if geometry[2] == geometry[3] == 1:              # stride 1
            depthwise_fwd1(read_only(x), read_only(w), *geometry[4:8], y)
        else:
            depthwise_fwd(read_only(x), read_only(w), *geometry[2:8], y)
        return y.reshape(final), None
    if _by_taps(w, geometry, groups):
        _taps_forward(x, w, geometry, y)
        return y.reshape(final), None
    hp, wp = _frame(x_shape, geometry)
    p = n_out[0] * n_out[1]
    ckk = c_in * w.shape[2] * w.shape[3]
    size, chunks = _chunks(n, ckk * p * dt.itemsize, positions=p)
    buf = np.empty(ckk * p * size, dt)
    fbuf = np.empty(c_in * hp * wp * size, dt)
    out = np.empty(c_out * p * size, dt) if size > 1 else None
    w2 = _grouped(w.reshape(c_out, -1), groups)
    y3 = y.reshape(n, c_out, p)
    for b0, b1 in chunks:
        m = b1 - b0
        cols = buf[:ckk * m * p].reshape(ckk, m * p)
        frames = fbuf[:c_in * hp * wp * m].reshape(c_in, hp * wp * m)
        pad_frames(x[b0:b1], geometry[6], geometry[7], hp * wp, wp, frames)
        im2col(frames, m, *geometry[:6], hp * wp, wp, *n_out, cols)
        dest = y3[b0] if m == 1 else out[:c_out * m * p].reshape(c_out, m * p)
        rows, dest_g = _grouped(cols, groups), _grouped(dest, groups)
        for k in range(groups):
            blas.matmul(w2[k], rows[k], out=dest_g[k])
        if m > 1:
            y3[b0:b1] = dest.reshape(c_out, m, p).transpose(1, 0, 2)
    return y.reshape(final), None


def conv_vjp(g, saved, needs, x, w, *, stride, dilation, pads, groups, channels_last=False):
    if saved is not None:                       # the GEMM path's (or the per-tap forward's)
        return gemm.conv_vjp(g, None if saved is _PAD_AGAIN else saved, needs, x, w,
                             stride=stride, dilation=dilation, pads=pads, groups=groups,
                             channels_last=channels_last)
    if channels_last:
        x, w = _first(x, w)
        g = np.moveaxis(g, -1, 1)
        dx, dw = conv_vjp(g, saved, needs, x, w, stride=stride, dilation=dilation, pads=pads,
                          groups=groups)
        return _last(dx), _last(dw, weight=True)
    w_shape, shape = w.shape, x.shape
    w, x_shape, n_out, geometry, final = _setup(x.shape, w, stride, dilation, pads, groups)
    x = np.ascontiguousarray(x).reshape(x_shape)
    n, c_in = x_shape[:2]
    c_out = w.shape[0]
    dt = w.dtype
    g = np.ascontiguousarray(np.broadcast_to(g, final), dtype=dt).reshape((n, c_out) + n_out)
    if w.shape[1] == 1 and groups > 1:
        dx = np.zeros(x_shape, dt) if needs[0] else None
        dwt = np.zeros((c_out,) + w.shape[2:], np.float64)
        dx_or = dx if needs[0] else np.zeros((1, 1, 1, 1), dt)
        if geometry[2] == geometry[3] == 1:              # stride 1
            depthwise_bwd1(read_only(g), read_only(x), read_only(w), *geometry[4:8], needs[0],
                           needs[1], dx_or, dwt)
        else:
            depthwise_bwd(read_only(g), read_only(x), read_only(w), *geometry[2:8], needs[0],
                          needs[1], dx_or, dwt)
        return (dx.reshape(shape) if needs[0] else None,
                dwt.astype(dt).reshape(w_shape) if needs[1] else None)
    dx = np.empty(x_shape, dt) if needs[0] else None
    hp, wp = _frame(x_shape, geometry)
    p = n_out[0] * n_out[1]
    ckk = c_in * w.shape[2] * w.shape[3]
    size, chunks = _chunks(n, ckk * p * dt.itemsize, positions=p)
    buf = np.empty(ckk * p * size, dt)
    fbuf = np.empty(c_in * hp * wp * size, dt)
    gbuf = np.empty(c_out * p * size, dt) if size > 1 else None
    w2 = _grouped(w.reshape(c_out, -1), groups)
    dw = np.zeros(w2.shape, dt) if needs[1] else None
    g3 = g.reshape(n, c_out, p)
    for b0, b1 in chunks:
        m = b1 - b0
        cols = buf[:ckk * m * p].reshape(ckk, m * p)
        frames = fbuf[:c_in * hp * wp * m].reshape(c_in, hp * wp * m)
        if m == 1:
            gb = g3[b0]
        else:
            gb = gbuf[:c_out * m * p].reshape(c_out, m * p)
            gb.reshape(c_out, m, p)[...] = g3[b0:b1].transpose(1, 0, 2)
        gg, rows = _grouped(gb, groups), _grouped(cols, groups)
        if needs[1]:
            pad_frames(x[b0:b1], geometry[6], geometry[7], hp * wp, wp, frames)
            im2col(frames, m, *geometry[:6], hp * wp, wp, *n_out, cols)
            for k in range(groups):
                if not blas.gemm_update(dw[k], gg[k], rows[k].T, 1.0):
                    dw[k] += gg[k] @ rows[k].T
        if needs[0]:
            for k in range(groups):
                blas.matmul(w2[k].T, gg[k], out=rows[k])
            frames[...] = 0
            col2im(cols, m, *geometry[:6], hp * wp, wp, *n_out, frames)
            crop_frames(frames, geometry[6], geometry[7], hp * wp, wp, dx[b0:b1])
    return (dx.reshape(shape) if needs[0] else None,
            dw.reshape(w_shape) if needs[1] else None)


# the rule reads the input (its columns are made again, a few images at a time) and weight
KERNELS = {"conv": Kernel(conv_forward, conv_vjp, saves=(0, 1), needs=True)}
