"""The ``conv`` primitive (``xg.nn.conv1d`` / ``conv2d``) as Numba loops + BLAS products, for
float32/float64 inputs of one dtype; other dtypes decline to the generic rule.

Each image channel is first zero-padded into a frame (``pad_frames``), so no loop tests bounds.
Stride 1 with one group and at least ``TAPS_MIN_CHANNELS`` input channels (``_taps_forward``):
no columns at all -- the output is the sum over the KH * KW taps of the tap's (C_out, C_in)
weights times the frames shifted by the tap's offset, a strided view BLAS reads in place, a
few images row-interleaved per product; the weight's gradient is a product per tap with the
same views, the input's the sum over taps of the transposed taps times the output gradient
shifted back (``_taps_vjp``). Otherwise (strides, groups): the frames' windows copied into a
column buffer of shape (C_in * KK, N * P) (P the output positions per image, one plain copy
per output row), then one GEMM per group of the weight (C_out / groups, C_in / groups * KK)
with its block of rows, a few images per product, and the result (C_out, N * P) moved to (N,
C_out, P). The columns are made again in the backward pass for the weight's gradient, one
GEMM ``g @ cols.T``; the input's is ``w.T @ g`` (one GEMM) added back into frames by a col2im
loop and cropped. A depthwise convolution (one input channel per group) is direct loops
instead, whose products would be 1 x KK. 1-d convolutions run as 2-d ones of height 1. The
generic rule of ``xpgrad.ops.convolution`` is the reference the tests compare this with.

>>> import numpy as np
>>> y, _ = KERNELS["conv"].forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), stride=(1, 1),
...                                dilation=(1, 1), pads=((1, 1), (1, 1)), groups=1)
>>> y[0, 0, 0].tolist()
[1.0, 2.0, 2.0, 1.0]
"""
from __future__ import annotations

import numpy as np
from numba import njit

from xpgrad.backend import Kernel

from .. import blas
from ._losses import FLOATS
from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def _valid(n_out, size, k, s, d, p):
    """The outputs ``[lo, hi)`` whose input ``o * s - p + k * d`` lies in ``[0, size)``."""
    off = k * d - p
    lo = 0 if off >= 0 else (-off + s - 1) // s
    hi = 0 if size - off <= 0 else min(n_out, (size - off + s - 1) // s)
    return lo, max(lo, hi)


@njit(**LOOP_OPTIONS)
def pad_frames(x, ph, pw, ipitch, rpitch, frames):
    """``frames[c, b * ipitch + (r + ph) * rpitch + pw + t]`` <- ``x[b, c, r, t]``, zero
    elsewhere: each image channel zero-padded into one row of ``frames`` per channel, image
    after image (``ipitch = hp * wp, rpitch = wp``) or row-interleaved (``ipitch = wp,
    rpitch = n * wp``: row ``r`` of every image, then row ``r + 1``); the zeros past the last
    frame are the tail a shifted window reads."""
    n, c, h, w = x.shape
    for ci in range(c):
        out = frames[ci]
        out[:] = 0
        for b in range(n):
            for r in range(h):
                base = b * ipitch + (r + ph) * rpitch + pw
                src = x[b, ci, r]
                for t in range(w):
                    out[base + t] = src[t]


@njit(**LOOP_OPTIONS)
def crop_frames(frames, ph, pw, ipitch, rpitch, x):
    """``x[b, c, r, t]`` <- ``frames[c, b * ipitch + (r + ph) * rpitch + pw + t]`` (the
    inverse of ``pad_frames``)."""
    n, c, h, w = x.shape
    for b in range(n):
        for ci in range(c):
            src = frames[ci]
            for r in range(h):
                base = b * ipitch + (r + ph) * rpitch + pw
                dst = x[b, ci, r]
                for t in range(w):
                    dst[t] = src[base + t]


@njit(**LOOP_OPTIONS)
def im2col(frames, n, kh, kw, sh, sw, dh, dw, ipitch, rpitch, ho, wo, cols):
    """``cols[(c * kh + i) * kw + j, b * ho * wo + oh * wo + ow]`` <- the padded input at
    ``(oh * sh + i * dh, ow * sw + j * dw)`` of image ``b``, read from ``pad_frames``'s
    ``frames``: one plain copy per output row, no bounds tests."""
    c = frames.shape[0]
    p = ho * wo
    for ci in range(c):
        src = frames[ci]
        for i in range(kh):
            for j in range(kw):
                dst = cols[(ci * kh + i) * kw + j]
                for b in range(n):
                    for oh in range(ho):
                        s0 = b * ipitch + (oh * sh + i * dh) * rpitch + j * dw
                        d0 = b * p + oh * wo
                        if sw == 1:
                            for t in range(wo):
                                dst[d0 + t] = src[s0 + t]
                        else:
                            for t in range(wo):
                                dst[d0 + t] = src[s0 + t * sw]


@njit(**LOOP_OPTIONS)
def col2im(cols, n, kh, kw, sh, sw, dh, dw, ipitch, rpitch, ho, wo, frames):
    """``frames`` (zeroed) += every column entry at the padded position ``im2col`` copied it
    from (``crop_frames`` then drops the padding)."""
    c = frames.shape[0]
    p = ho * wo
    for ci in range(c):
        dst = frames[ci]
        for i in range(kh):
            for j in range(kw):
                src = cols[(ci * kh + i) * kw + j]
                for b in range(n):
                    for oh in range(ho):
                        s0 = b * ipitch + (oh * sh + i * dh) * rpitch + j * dw
                        d0 = b * p + oh * wo
                        if sw == 1:
                            for t in range(wo):
                                dst[s0 + t] += src[d0 + t]
                        else:
                            for t in range(wo):
                                dst[s0 + t * sw] += src[d0 + t]


@njit(**LOOP_OPTIONS)
def from_wide(wide, ipitch, rpitch, y):
    """``y[b, co, oh, ow]`` <- ``wide[co, b * ipitch + oh * rpitch + ow]``: the outputs of
    the per-tap products, computed at every frame position, the ones past the image dropped."""
    n, c_out, ho, wo = y.shape
    for b in range(n):
        for co in range(c_out):
            src = wide[co]
            for oh in range(ho):
                base = b * ipitch + oh * rpitch
                dst = y[b, co, oh]
                for ow in range(wo):
                    dst[ow] = src[base + ow]


@njit(**LOOP_OPTIONS)
def to_wide(g, ipitch, rpitch, start, wide):
    """``wide[co, start + b * ipitch + oh * rpitch + ow]`` <- ``g[b, co, oh, ow]``, zero
    elsewhere (``from_wide``'s adjoint, shifted by ``start``)."""
    n, c_out, ho, wo = g.shape
    for co in range(c_out):
        dst = wide[co]
        dst[:] = 0
        for b in range(n):
            for oh in range(ho):
                base = start + b * ipitch + oh * rpitch
                src = g[b, co, oh]
                for ow in range(wo):
                    dst[base + ow] = src[ow]


@njit(**LOOP_OPTIONS)
def depthwise_fwd(x, w, sh, sw, dh, dw, ph, pw, y):
    """``y[b, co]`` <- the sum over taps of ``w[co, 0, i, j]`` times ``x[b, co // m]``'s
    shifted window (``m`` output channels per input channel)."""
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = y.shape[2], y.shape[3]
    m = c_out // c
    y[...] = 0
    for b in range(n):
        for co in range(c_out):
            ci = co // m
            for oh in range(ho):
                for i in range(kh):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        tap = w[co, 0, i, j]
                        lo, hi = _valid(wo, wd, j, sw, dw, pw)
                        off = j * dw - pw
                        if sw == 1:
                            for ow in range(lo, hi):
                                y[b, co, oh, ow] += tap * x[b, ci, ih, ow + off]
                        else:
                            for ow in range(lo, hi):
                                y[b, co, oh, ow] += tap * x[b, ci, ih, ow * sw + off]


@njit(**LOOP_OPTIONS)
def depthwise_bwd(g, x, w, sh, sw, dh, dw, ph, pw, want_dx, want_dw, dx, dwt):
    """``dx`` (zeroed) += each tap times ``g`` at its shifted window; ``dwt`` (float64,
    zeroed, (C_out, KH, KW)) += the sums of ``g`` times the input's window."""
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = g.shape[2], g.shape[3]
    m = c_out // c
    zero = g.dtype.type(0)
    for b in range(n):
        for co in range(c_out):
            ci = co // m
            for i in range(kh):
                for j in range(kw):
                    tap = w[co, 0, i, j]
                    lo, hi = _valid(wo, wd, j, sw, dw, pw)
                    off = j * dw - pw
                    acc = zero
                    for oh in range(ho):
                        ih = oh * sh - ph + i * dh
                        if ih < 0 or ih >= h:
                            continue
                        if sw == 1:
                            if want_dx:
                                for ow in range(lo, hi):
                                    dx[b, ci, ih, ow + off] += tap * g[b, co, oh, ow]
                            if want_dw:
                                for ow in range(lo, hi):
                                    acc += g[b, co, oh, ow] * x[b, ci, ih, ow + off]
                        else:
                            if want_dx:
                                for ow in range(lo, hi):
                                    dx[b, ci, ih, ow * sw + off] += tap * g[b, co, oh, ow]
                            if want_dw:
                                for ow in range(lo, hi):
                                    acc += g[b, co, oh, ow] * x[b, ci, ih, ow * sw + off]
                    dwt[co, i, j] += acc


@njit(**LOOP_OPTIONS)
def _padded_plane(x, b, ci, ph, pw, hp, wp, out):
    """``out`` (flat, zero beyond ``hp * wp``) <- ``x[b, ci]`` zero-padded to ``hp x wp``."""
    h, w = x.shape[2], x.shape[3]
    out[:] = 0
    for r in range(h):
        base = (r + ph) * wp + pw
        dst, src = out[base:base + w], x[b, ci, r]
        for t in range(w):
            dst[t] = src[t]


@njit(**LOOP_OPTIONS)
def depthwise_fwd1(x, w, dh, dw, ph, pw, y):
    """``depthwise_fwd`` for stride 1: each plane padded once, each tap one long loop over
    the output rows taken as wide as the padded plane (``wp``), the extra columns dropped."""
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = y.shape[2], y.shape[3]
    m = c_out // c
    hp, wp = ho + (kh - 1) * dh, wo + (kw - 1) * dw
    length = ho * wp
    xp = np.empty(hp * wp + (kw - 1) * dw, x.dtype)
    yw = np.empty(length, x.dtype)
    for b in range(n):
        for ci in range(c):
            _padded_plane(x, b, ci, ph, pw, hp, wp, xp)
            for co in range(ci * m, ci * m + m):
                yw[:] = 0
                for i in range(kh):
                    for j in range(kw):
                        tap = w[co, 0, i, j]
                        base = i * dh * wp + j * dw
                        src = xp[base:base + length]
                        for q in range(length):
                            yw[q] += tap * src[q]
                for oh in range(ho):
                    dst, src = y[b, co, oh], yw[oh * wp:oh * wp + wo]
                    for ow in range(wo):
                        dst[ow] = src[ow]


@njit(**LOOP_OPTIONS)
def depthwise_bwd1(g, x, w, dh, dw, ph, pw, want_dx, want_dw, dx, dwt):
    """``depthwise_bwd`` for stride 1, by ``depthwise_fwd1``'s wide rows: ``g``'s rows
    widened with zeros, so the extra columns add nothing."""
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    ho, wo = g.shape[2], g.shape[3]
    m = c_out // c
    hp, wp = ho + (kh - 1) * dh, wo + (kw - 1) * dw
    length = ho * wp
    extra = (kw - 1) * dw
    xp = np.empty(hp * wp + extra, x.dtype)
    dxp = np.empty(hp * wp + extra, x.dtype)
    gw = np.zeros(length, x.dtype)
    zero = x.dtype.type(0)
    for b in range(n):
        for ci in range(c):
            if want_dw:
                _padded_plane(x, b, ci, ph, pw, hp, wp, xp)
            dxp[:] = 0
            for co in range(ci * m, ci * m + m):
                for oh in range(ho):
                    dst, src = gw[oh * wp:oh * wp + wo], g[b, co, oh]
                    for ow in range(wo):
                        dst[ow] = src[ow]
                for i in range(kh):
                    for j in range(kw):
                        base = i * dh * wp + j * dw
                        if want_dx:
                            tap = w[co, 0, i, j]
                            dst = dxp[base:base + length]
                            for q in range(length):
                                dst[q] += tap * gw[q]
                        if want_dw:
                            acc = zero
                            src = xp[base:base + length]
                            for q in range(length):
                                acc += gw[q] * src[q]
                            dwt[co, i, j] += acc
            if want_dx:
                for r in range(h):
                    base = (r + ph) * wp + pw
                    dst, src = dx[b, ci, r], dxp[base:base + wd]
                    for t in range(wd):
                        dst[t] = src[t]


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


def _taps_vjp(g, x, w, geometry, needs, dx):
    """``_taps_forward``'s adjoint: ``g`` laid out on the frame positions (zero past the
    image) after a zero margin of the largest row offset; the weight's gradient per kernel
    row the product of that with the shifted stack, the input's the sum over kernel rows of
    the row's transposed weights times ``g`` shifted back (a stack of KW blocks), the
    blocks added back shifted by their kernel column, cropped."""
    n, c_in, _, _ = x.shape
    c_out, _, kh, kw = w.shape
    hp, wp, size, chunks, tail = _taps_plan(x.shape, w, geometry)
    ho, plane, dh, dw = geometry[8], hp * wp, geometry[4], geometry[5]
    margin = (kh - 1) * dh * size * wp
    fbuf = np.empty(kw * c_in * (size * plane + tail), x.dtype)
    gbuf = np.empty(c_out * (margin + size * plane), x.dtype)
    dwt = np.zeros((kh, c_out, kw * c_in), x.dtype) if needs[1] else None
    wt = np.ascontiguousarray(w.transpose(2, 0, 3, 1)).reshape(kh, c_out, kw * c_in)
    for b0, b1 in chunks:
        m = b1 - b0
        length, pitch, span = ho * m * wp, m * wp, m * plane
        gz = gbuf[:c_out * (margin + span)].reshape(c_out, margin + span)
        to_wide(g[b0:b1], wp, pitch, margin, gz)
        if needs[1]:
            frames = fbuf[:kw * c_in * (span + tail)].reshape(kw * c_in, span + tail)
            pad_frames(x[b0:b1], geometry[6], geometry[7], wp, pitch, frames[:c_in])
            _stack(frames, c_in, kw, dw, span)
            gw = gz[:, margin:margin + length]
            for i in range(kh):
                _add_product(dwt[i], gw, frames[:, i * dh * pitch:i * dh * pitch + length].T)
        if needs[0]:
            stack = fbuf[:kw * c_in * span].reshape(kw * c_in, span)
            for i in range(kh):
                view = gz[:, margin - i * dh * pitch:margin - i * dh * pitch + span]
                if i == 0:
                    blas.matmul(wt[i].T, view, out=stack)
                else:
                    _add_product(stack, wt[i].T, view)
            for j in range(1, kw):
                stack[:c_in, j * dw:] += stack[j * c_in:(j + 1) * c_in, :span - j * dw]
            crop_frames(stack[:c_in], geometry[6], geometry[7], wp, pitch, dx[b0:b1])
    if dwt is None:
        return None
    return dwt.reshape(kh, c_out, kw, c_in).transpose(1, 3, 0, 2)


def conv_forward(x, w, *, stride, dilation, pads, groups):
    if not _accepts(x, w, pads):
        return None
    w, x_shape, n_out, geometry, final = _setup(x.shape, w, stride, dilation, pads, groups)
    x = np.ascontiguousarray(x).reshape(x_shape)
    n, c_in = x_shape[:2]
    c_out = w.shape[0]
    dt = x.dtype
    y = np.empty((n, c_out) + n_out, dt)
    if w.shape[1] == 1 and groups > 1:
        if geometry[2] == geometry[3] == 1:              # stride 1
            depthwise_fwd1(x, w, *geometry[4:8], y)
        else:
            depthwise_fwd(x, w, *geometry[2:8], y)
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


def conv_vjp(g, saved, needs, x, w, *, stride, dilation, pads, groups):
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
            depthwise_bwd1(g, x, w, *geometry[4:8], needs[0], needs[1], dx_or, dwt)
        else:
            depthwise_bwd(g, x, w, *geometry[2:8], needs[0], needs[1], dx_or, dwt)
        return (dx.reshape(shape) if needs[0] else None,
                dwt.astype(dt).reshape(w_shape) if needs[1] else None)
    dx = np.empty(x_shape, dt) if needs[0] else None
    if _by_taps(w, geometry, groups):
        dw = _taps_vjp(g, x, w, geometry, needs, dx)
        return (dx.reshape(shape) if needs[0] else None,
                dw.reshape(w_shape) if needs[1] else None)
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
