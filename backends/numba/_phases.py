"""im2col / col2im for a transposed convolution's output (``_conv_transpose.py``) by phases:
tap ``i`` of input position ``o`` lands on output ``o * s - p + i * d``, so with the (padded)
output split into its ``s`` phases (``deinterleave``: entries ``q * s + r`` of phase ``r``)
each tap reads, or adds into, a contiguous run of one phase -- no strided gather or scatter
per column entry, which made ``_conv.im2col`` of a stride-2 output 5x slower than the GEMMs
around it.

>>> import numpy as np
>>> g = np.arange(6.0).reshape(1, 1, 1, 6)
>>> out = np.empty((1, 1, 1, 2, 1, 3))
>>> deinterleave(g, 1, 2, 0, 0, out)[0, 0, 0, :, 0].tolist()
[[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]
"""
from __future__ import annotations

from numba import njit

from ._math import LOOP_OPTIONS


def phase_lengths(n_out, stride, padding):
    """Each phase's length per axis: the output's ``n_out`` entries padded by ``padding`` at
    both ends (every tap lands there), split in ``stride`` phases.

    >>> phase_lengths((32, 32), (2, 2), (1, 1))
    (17, 17)
    """
    return tuple((n + 2 * p + s - 1) // s for n, s, p in zip(n_out, stride, padding))


@njit(**LOOP_OPTIONS)
def _run(off, s, size, count):
    """The ``t`` in ``[lo, hi)`` (of ``[0, count)``) whose ``t * s + off`` lies in ``[0,
    size)``."""
    lo = 0 if off >= 0 else (-off + s - 1) // s
    hi = 0 if size - off <= 0 else min(count, (size - off + s - 1) // s)
    return lo, max(lo, hi)


@njit(**LOOP_OPTIONS)
def deinterleave(g, sh, sw, ph, pw, out):
    """``out[b, c, rh, rw, jh, jw]`` <- ``g[b, c, jh * sh + rh - ph, jw * sw + rw - pw]``,
    zero outside ``g``; returns ``out``."""
    n, c, h, w = g.shape
    hj, wj = out.shape[4], out.shape[5]
    zero = g.dtype.type(0)
    for b in range(n):
        for ci in range(c):
            for rh in range(sh):
                for jh in range(hj):
                    ih = jh * sh + rh - ph
                    for rw in range(sw):
                        dst = out[b, ci, rh, rw, jh]
                        if ih < 0 or ih >= h:
                            for t in range(wj):
                                dst[t] = zero
                            continue
                        lo, hi = _run(rw - pw, sw, w, wj)
                        for t in range(lo):
                            dst[t] = zero
                        src = g[b, ci, ih, lo * sw + rw - pw:]
                        for t in range(hi - lo):
                            dst[lo + t] = src[t * sw]
                        for t in range(hi, wj):
                            dst[t] = zero
    return out


@njit(**LOOP_OPTIONS)
def interleave(phases, sh, sw, ph, pw, shift, y):
    """``y[b, c, oh, ow]`` <- ``phases[b, c, (oh + ph) % sh, (ow + pw) % sw, (oh + ph) // sh,
    (ow + pw) // sw] + shift[c]``: ``deinterleave``'s inverse, cropped to ``y``, plus a
    value per channel (a bias)."""
    n, c, h, w = y.shape
    for b in range(n):
        for ci in range(c):
            add = shift[ci]
            for oh in range(h):
                qh = oh + ph
                rh, jh = qh % sh, qh // sh
                for rw in range(sw):
                    first = (rw - pw) % sw          # the first ow of phase rw
                    dst = y[b, ci, oh, first:]
                    src = phases[b, ci, rh, rw, jh, (first + pw) // sw:]
                    for t in range((w - first + sw - 1) // sw):
                        dst[t * sw] = src[t] + add


@njit(**LOOP_OPTIONS)
def phase_im2col(phases, kh, kw, sh, sw, dh, dw, ho, wo, cols):
    """``cols[(c * kh + i) * kw + j, b * ho * wo + oh * wo + ow]`` <- the output entry that tap
    ``(i, j)`` of input position ``(oh, ow)`` lands on, read from its phase."""
    n, c = phases.shape[:2]
    p = ho * wo
    for ci in range(c):
        for i in range(kh):
            rh, oh0 = (i * dh) % sh, (i * dh) // sh
            for j in range(kw):
                rw, ow0 = (j * dw) % sw, (j * dw) // sw
                r = (ci * kh + i) * kw + j
                for b in range(n):
                    plane = phases[b, ci, rh, rw]
                    for oh in range(ho):
                        src = plane[oh + oh0, ow0:ow0 + wo]
                        dst = cols[r, b * p + oh * wo:b * p + oh * wo + wo]
                        for t in range(wo):
                            dst[t] = src[t]


@njit(**LOOP_OPTIONS)
def phase_col2im(cols, kh, kw, sh, sw, dh, dw, ho, wo, phases):
    """``phases`` (zeroed) += every column entry at the output entry its tap lands on:
    ``phase_im2col``'s adjoint."""
    n, c = phases.shape[:2]
    p = ho * wo
    for ci in range(c):
        for i in range(kh):
            rh, oh0 = (i * dh) % sh, (i * dh) // sh
            for j in range(kw):
                rw, ow0 = (j * dw) % sw, (j * dw) // sw
                r = (ci * kh + i) * kw + j
                for b in range(n):
                    plane = phases[b, ci, rh, rw]
                    for oh in range(ho):
                        dst = plane[oh + oh0, ow0:ow0 + wo]
                        src = cols[r, b * p + oh * wo:b * p + oh * wo + wo]
                        for t in range(wo):
                            dst[t] += src[t]
