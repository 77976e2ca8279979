"""Depthwise convolution (one input channel per group) for the Numba ``conv`` and
``conv_transpose`` kernels as direct loops: per-image products would be 1 x KK. Any stride
(``depthwise_fwd``, ``depthwise_bwd``: bounds computed per tap by ``_valid``), and stride 1 by
wide rows over each plane padded once (``depthwise_fwd1``, ``depthwise_bwd1``).

>>> import numpy as np
>>> x, w = np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2))
>>> y = np.empty((1, 2, 2, 2))
>>> depthwise_fwd(x, w, 1, 1, 1, 1, 0, 0, y)
>>> y1 = np.empty_like(y)
>>> depthwise_fwd1(x, w, 1, 1, 0, 0, y1)
>>> y[0, 0].tolist(), bool((y1 == y).all())
([[4.0, 4.0], [4.0, 4.0]], True)
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def _valid(n_out, size, k, s, d, p):
    """The outputs ``[lo, hi)`` whose input ``o * s - p + k * d`` lies in ``[0, size)``."""
    off = k * d - p
    lo = 0 if off >= 0 else (-off + s - 1) // s
    hi = 0 if size - off <= 0 else min(n_out, (size - off + s - 1) // s)
    return lo, max(lo, hi)


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

