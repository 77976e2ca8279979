"""The frame and column layouts of the Numba convolution (``_conv.py``, ``_conv_transpose.py``):
each image channel zero-padded into a frame (``pad_frames``, undone by ``crop_frames``), the
frames' windows copied into a column buffer (``im2col``) and added back (``col2im``), and the
per-tap products' outputs, computed at every frame position, moved to the output
(``from_wide``). Plain loops without bounds tests: the padding is in the frames.

>>> import numpy as np
>>> x = np.arange(4.0).reshape(1, 1, 2, 2)
>>> frames = np.empty((1, 16))
>>> pad_frames(x, 1, 1, 16, 4, frames)
>>> frames.reshape(4, 4)[1:3, 1:3].tolist()
[[0.0, 1.0], [2.0, 3.0]]
>>> back = np.empty_like(x)
>>> crop_frames(frames, 1, 1, 16, 4, back)
>>> bool((back == x).all())
True
"""
from __future__ import annotations

from numba import njit

from ._math import LOOP_OPTIONS


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
