"""The ``conv_transpose`` primitive (``xg.nn.conv_transpose1d`` / ``2d``) by the ``conv``
kernel's loops and BLAS products (``_conv.py``), for float32/float64 inputs of one dtype;
other dtypes decline to the generic rule.

A transposed convolution is a convolution's input gradient, its weight (C_in, C_out / groups,
*kernel) read as that convolution's (C_out', C_in' / groups, *kernel): the forward is one GEMM
per group ``w.T @ x`` (the input's images side by side, a few at a time) into a column buffer
that ``_conv.col2im`` adds into the zeroed output; the input's gradient is the convolution's
forward (``_conv.im2col`` of the output gradient, one GEMM per group with the weight) and the
weight's the convolution's weight gradient with input and output swapped (``x @ cols.T``, one
GEMM update per group). One output channel per group (a depthwise convolution's gradient) is
``_conv``'s direct depthwise loops instead. 1-d runs as 2-d of height 1. The generic rule of
``xpgrad.ops.conv_transpose`` is the reference the tests compare this with.

>>> import numpy as np
>>> y, _ = KERNELS["conv_transpose"].forward(
...     np.array([[[1.0, 2.0]]]), np.array([[[1.0, 10.0, 100.0]]]), stride=(2,),
...     dilation=(1,), padding=(0,), n_out=(5,), groups=1)
>>> y.tolist()
[[[1.0, 10.0, 102.0, 20.0, 200.0]]]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .. import blas
from . import _conv
from ._losses import FLOATS
from ._read_only import read_only
from ._phases import deinterleave, interleave, phase_col2im, phase_im2col, phase_lengths


def _accepts(x, w):
    return x.dtype in FLOATS and w.dtype == x.dtype and x.ndim in (3, 4) and x.size > 0


def _setup(x, w, stride, dilation, padding, n_out):
    """``(x, w as 4-d contiguous, the conv geometry whose windows are x's positions, the
    output's spatial shape (2-d), whether the convolution of an output of that shape has
    exactly x's positions at stride 1 (1), or x's positions spread by the stride (2): the
    depthwise loops for stride 1 then apply, else 0)``; 1-d as 2-d of height 1."""
    if x.ndim == 3:
        x, w = x[:, :, None], w[:, :, None]
        stride, dilation, padding, n_out = ((1,) + stride, (1,) + dilation, (0,) + padding,
                                            (1,) + n_out)
    h, wd = x.shape[2:]
    geometry = (w.shape[2], w.shape[3], stride[0], stride[1], dilation[0], dilation[1],
                padding[0], padding[1], h, wd)
    spans = [o + 2 * p - d * (k - 1) for o, p, d, k in zip(n_out, padding, dilation,
                                                             w.shape[2:])]
    unit = 1 if all(s == 1 and m == n for s, m, n in zip(stride, spans, x.shape[2:])) else \
        2 if all(m == (n - 1) * s + 1 for s, m, n in zip(stride, spans, x.shape[2:])) else 0
    return np.ascontiguousarray(x), np.ascontiguousarray(w), geometry, tuple(n_out), unit


def _spread(x, geometry):
    """``x`` with ``stride - 1`` zeros between its entries (``x`` itself at stride 1)."""
    sh, sw = geometry[2:4]
    if sh == sw == 1:
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - 1) * sh + 1, (w - 1) * sw + 1), x.dtype)
    out[:, :, ::sh, ::sw] = x
    return out


def _depthwise(w, groups):
    """One output channel per group: the convolution it is the gradient of is depthwise."""
    return w.shape[1] == 1 and groups > 1


def conv_transpose_forward(x, w, *bias, stride, dilation, padding, n_out, groups):
    if not _accepts(x, w) or (bias and bias[0].dtype != x.dtype):
        return None
    final = x.shape[:1] + (w.shape[1] * groups,) + tuple(n_out)
    x, w, geometry, spatial, unit = _setup(x, w, stride, dilation, padding, n_out)
    n, c_in = x.shape[:2]
    c_out = w.shape[1] * groups
    dt = x.dtype
    if _depthwise(w, groups):
        y = np.zeros((n, c_out) + spatial, dt)
        # the depthwise convolution's input gradient, x as its output gradient (y only gives
        # the loop its input's shape where it reads no input)
        unused = np.zeros((c_in,) + w.shape[2:], np.float64)
        if unit:                # (stride > 1: the zeros multiplied cost less than the
            #                     strided loop's scattered adds: 2x faster at stride 2)
            _conv.depthwise_bwd1(read_only(_spread(x, geometry)), read_only(y), read_only(w),
                                 *geometry[4:8], True, False, y, unused)
        else:
            _conv.depthwise_bwd(read_only(x), read_only(y), read_only(w), *geometry[2:8], True,
                                False, y, unused)
        if bias:
            y += bias[0].reshape(-1, 1, 1)
        return y.reshape(final), None
    p = geometry[8] * geometry[9]
    ckk = c_out * geometry[0] * geometry[1]
    size, chunks = _conv._chunks(n, ckk * p * dt.itemsize)
    buf = np.empty(ckk * p * size, dt)
    xbuf = np.empty(c_in * p * size, dt) if size > 1 else None
    phases = _phase_buffer(size, c_out, geometry, spatial, dt)
    w2 = _conv._grouped(w.reshape(c_in, -1), groups)           # (g, C_in / g, C_g KK)
    x3 = x.reshape(n, c_in, p)
    y = np.empty((n, c_out) + spatial, dt)
    shift = np.ascontiguousarray(bias[0]) if bias else np.zeros(c_out, dt)
    for b0, b1 in chunks:
        m = b1 - b0
        cols = buf[:ckk * m * p].reshape(ckk, m * p)
        xb = x3[b0] if m == 1 else _side_by_side(x3[b0:b1], xbuf)
        rows, xg = _conv._grouped(cols, groups), _conv._grouped(xb, groups)
        for k in range(groups):
            blas.matmul(w2[k].T, xg[k], out=rows[k])
        planes = phases[:m]
        planes[...] = 0
        phase_col2im(cols, *geometry[:6], *geometry[8:], planes)
        interleave(planes, *geometry[2:4], *geometry[6:8], shift, y[b0:b1])
    return y.reshape(final), None


def _phase_buffer(size, c, geometry, spatial, dt):
    """The buffer of ``size`` images' ``c`` channels split in phases (``_phases``)."""
    stride, padding = geometry[2:4], geometry[6:8]
    return np.empty((size, c) + tuple(stride) + phase_lengths(spatial, stride, padding), dt)


def _side_by_side(images, buf):
    """(m, C, P) images as (C, m * P) in ``buf``."""
    m, c, p = images.shape
    out = buf[:c * m * p].reshape(c, m * p)
    out.reshape(c, m, p)[...] = images.transpose(1, 0, 2)
    return out


def conv_transpose_vjp(g, saved, needs, x, w, *bias, stride, dilation, padding, n_out,
                       groups):
    grads = _vjp(g, needs, x, w, stride, dilation, padding, n_out, groups)
    if not bias:
        return grads
    g = np.broadcast_to(g, x.shape[:1] + (w.shape[1] * groups,) + tuple(n_out))
    axes = (0,) + tuple(range(2, g.ndim))
    return grads + ((g.sum(axis=axes, dtype=g.dtype) if needs[2] else None),)


def _vjp(g, needs, x, w, stride, dilation, padding, n_out, groups):
    x_shape, w_shape = x.shape, w.shape
    final = x.shape[:1] + (w.shape[1] * groups,) + tuple(n_out)
    x, w, geometry, spatial, unit = _setup(x, w, stride, dilation, padding, n_out)
    n, c_in = x.shape[:2]
    c_out = w.shape[1] * groups
    dt = w.dtype
    g = np.ascontiguousarray(np.broadcast_to(g, final), dtype=dt).reshape(
        (n, c_out) + spatial)
    if _depthwise(w, groups):
        dx = np.empty(x.shape, dt) if needs[0] else None
        if needs[0] and unit:            # the depthwise convolution's forward of g
            dxs = dx if unit == 1 else np.empty(x.shape[:2] + tuple(
                (n - 1) * s + 1 for n, s in zip(x.shape[2:], geometry[2:4])), dt)
            _conv.depthwise_fwd1(read_only(g), read_only(w), *geometry[4:8], dxs)
            if unit == 2:
                dx[...] = dxs[:, :, ::geometry[2], ::geometry[3]]
        elif needs[0]:
            _conv.depthwise_fwd(read_only(g), read_only(w), *geometry[2:8], dx)
        dw = None
        if needs[1]:                     # its weight gradient, x as its output gradient
            dwt = np.zeros((c_in,) + w.shape[2:], np.float64)
            unused = np.zeros((1, 1, 1, 1), dt)
            if unit:
                _conv.depthwise_bwd1(read_only(_spread(x, geometry)), read_only(g), read_only(w),
                                     *geometry[4:8], False, True, unused, dwt)
            else:
                _conv.depthwise_bwd(read_only(x), read_only(g), read_only(w), *geometry[2:8],
                                    False, True, unused, dwt)
            dw = dwt.astype(dt).reshape(w_shape)
        return (dx.reshape(x_shape) if needs[0] else None), dw
    p = geometry[8] * geometry[9]
    ckk = c_out * geometry[0] * geometry[1]
    size, chunks = _conv._chunks(n, ckk * p * dt.itemsize)
    buf = np.empty(ckk * p * size, dt)
    side = np.empty(c_in * p * size, dt) if size > 1 else None
    phases = _phase_buffer(size, c_out, geometry, spatial, dt)
    w2 = _conv._grouped(w.reshape(c_in, -1), groups)           # (g, C_in / g, C_g KK)
    dx = np.empty((n, c_in, p), dt) if needs[0] else None
    dw = np.zeros(w2.shape, dt) if needs[1] else None
    x3 = x.reshape(n, c_in, p)
    for b0, b1 in chunks:
        m = b1 - b0
        cols = buf[:ckk * m * p].reshape(ckk, m * p)
        planes = deinterleave(g[b0:b1], *geometry[2:4], *geometry[6:8], phases[:m])
        phase_im2col(planes, *geometry[:6], *geometry[8:], cols)
        rows = _conv._grouped(cols, groups)
        if needs[1]:
            xb = x3[b0] if m == 1 else _side_by_side(x3[b0:b1], side)
            xg = _conv._grouped(xb, groups)
            for k in range(groups):
                if not blas.gemm_update(dw[k], xg[k], rows[k].T, 1.0):
                    dw[k] += xg[k] @ rows[k].T
        if needs[0]:
            dest = dx[b0] if m == 1 else side[:c_in * m * p].reshape(c_in, m * p)
            dest_g = _conv._grouped(dest, groups)
            for k in range(groups):
                blas.matmul(w2[k], rows[k], out=dest_g[k])
            if m > 1:
                dx[b0:b1] = dest.reshape(c_in, m, p).transpose(1, 0, 2)
    return (dx.reshape(x_shape) if needs[0] else None,
            dw.reshape(w_shape) if needs[1] else None)


# the rule reads the input and the weight (the output gradient's columns are made again)
KERNELS = {"conv_transpose": Kernel(conv_transpose_forward, conv_transpose_vjp, saves=(0, 1),
                                    needs=True)}
