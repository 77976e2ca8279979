"""The ``max_pool`` primitive (``xg.nn.max_pool1d`` / ``max_pool2d``) and the
``adaptive_max_pool`` one (``xg.nn.adaptive_max_pool1d`` / ``2d`` with windows of several
sizes: each window ``[start, end)`` per axis, PyTorch's) as Numba loops, for
float32/float64 inputs: one pass finds each window's maximum and its flat position in the
input plane by PyTorch's CPU rule (``val > max || isnan(val)`` over the positions inside the
input, row-major, from ``max = -inf`` at the first of them: the first of tied maxima, the last
NaN; a window wholly in the padding gives -inf and no gradient), with no padded copy of the
input; the backward adds each window's gradient at its saved position. 1-d pooling runs as
2-d of height 1. A channels-last ``max_pool`` (``last``: (N, *spatial, C)) has its own loops,
the channels innermost (each window position's C entries are adjacent), with no transposed
copies. A channels-first ``max_pool`` with a stride above 1 along the last axis (whose loop
does not vectorize) takes the NumPy backend's kernel, and so does every call no tape records
(its maxima alone, without positions). ``adaptive_max_pool`` with windows of more than
``ADAPTIVE_WINDOW_MAX`` entries takes the NumPy backend's search (faster there). The generic
rules of ``xpgrad.ops.max_pooling`` and ``xpgrad.ops.adaptive_max_pooling`` are the references
the tests compare these with.

>>> import numpy as np
>>> y, _ = KERNELS["max_pool"].forward(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), kernel=(2,),
...     stride=(2,), dilation=(1,), pads=((0, 1),), n_out=(3,), backend=None)
>>> y.tolist()
[[[3.0, 5.0, 4.0]]]
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from xpgrad.backend import Kernel

from ..numpy import max_pooling as numpy_max_pooling
from ..numpy import pooling as numpy_pooling
from ._losses import FLOATS
from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def max_pool_fwd(x, kh, kw, sh, sw, dh, dw, ph, pw, y, pick):
    """``y``, ``pick`` (N, C, HO, WO) <- each window's maximum and its position ``h * W +
    w`` in ``x``'s plane (-1 and -inf for a window wholly outside ``x``). One output row at
    a time, each kernel position a pass over the windows whose entry lies inside ``x``: an
    update by selects, no branch, which vectorizes (a branch per entry on random data cost
    2.4 ns an entry); each window still sees its entries in row-major order."""
    n, c, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    ninf = x.dtype.type(-np.inf)
    for b in range(n):
        for ci in range(c):
            plane = x[b, ci].reshape(h * w)
            for oh in range(ho):
                best, at = y[b, ci, oh], pick[b, ci, oh]
                for ow in range(wo):
                    best[ow] = ninf
                    at[ow] = -1
                hs = oh * sh - ph
                for i in range(kh):
                    ih = hs + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        off = j * dw - pw           # window ow reads row ih at ow * sw + off
                        lo = max(0, (sw - 1 - off) // sw)
                        hi = min(wo, (w - off + sw - 1) // sw)
                        start = ih * w + lo * sw + off
                        # unsigned indices: one Numba cannot prove non-negative gets a
                        # wraparound branch, which keeps LLVM from vectorizing the loop
                        for k in range(hi - lo):
                            q, o = np.uintp(start + k * sw), np.uintp(lo + k)
                            v = plane[q]
                            take = (v > best[o]) | (at[o] < 0) | (v != v)
                            best[o] = v if take else best[o]
                            at[o] = start + k * sw if take else at[o]


@njit(**LOOP_OPTIONS)
def max_pool_bwd(g, pick, dx):
    """``dx`` (N, C, H * W; zeroed) += each window's gradient at its position ``pick``."""
    n, c, p = g.shape
    for b in range(n):
        for ci in range(c):
            src, at, dst = g[b, ci], pick[b, ci], dx[b, ci]
            for q in range(p):
                k = at[q]
                if k >= 0:
                    dst[k] += src[q]


@njit(**LOOP_OPTIONS)
def max_pool_fwd_last(x, kh, kw, sh, sw, dh, dw, ph, pw, y, pick):
    """``max_pool_fwd`` for channels last: ``x`` (N, H, W, C), ``y``, ``pick`` (N, HO, WO,
    C); the window's positions in the same row-major order, each over all channels."""
    n, h, w, c = x.shape
    ho, wo = y.shape[1], y.shape[2]
    ninf = x.dtype.type(-np.inf)
    for b in range(n):
        for oh in range(ho):
            hs = oh * sh - ph
            for ow in range(wo):
                ws = ow * sw - pw
                best, at = y[b, oh, ow], pick[b, oh, ow]
                for ci in range(c):
                    best[ci] = ninf
                    at[ci] = -1
                for i in range(kh):
                    ih = hs + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        iw = ws + j * dw
                        if iw < 0 or iw >= w:
                            continue
                        row, here = x[b, ih, iw], ih * w + iw
                        for ci in range(c):
                            v = row[ci]
                            take = (v > best[ci]) | (at[ci] < 0) | (v != v)
                            best[ci] = v if take else best[ci]
                            at[ci] = here if take else at[ci]


@njit(**LOOP_OPTIONS)
def max_pool_bwd_last(g, pick, dx):
    """``max_pool_bwd`` for channels last: ``g``, ``pick`` (N, P, C), ``dx`` (N, H * W, C;
    zeroed)."""
    n, p, c = g.shape
    for b in range(n):
        for q in range(p):
            src, at = g[b, q], pick[b, q]
            for ci in range(c):
                k = at[ci]
                if k >= 0:
                    dx[b, k, ci] += src[ci]


@njit(**LOOP_OPTIONS)
def adaptive_max_pool_fwd(x, h0, h1, w0, w1, y, pick):
    """``y``, ``pick`` (N, C, HO, WO) <- the maximum of each window ``[h0[oh], h1[oh]) x
    [w0[ow], w1[ow])`` (never empty) and its position ``h * W + w`` in ``x``'s plane."""
    n, c, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    for b in range(n):
        for ci in range(c):
            for oh in range(ho):
                for ow in range(wo):
                    best = x[b, ci, h0[oh], w0[ow]]
                    at = h0[oh] * w + w0[ow]
                    for ih in range(h0[oh], h1[oh]):
                        for iw in range(w0[ow], w1[ow]):
                            v = x[b, ci, ih, iw]
                            if v > best or v != v:
                                best = v
                                at = ih * w + iw
                    y[b, ci, oh, ow] = best
                    pick[b, ci, oh, ow] = at


def _as_2d(shape, kernel, stride, dilation, pads, n_out):
    if len(shape) == 4:
        return shape, kernel, stride, dilation, pads, n_out
    return (shape[:2] + (1,) + shape[2:], (1,) + kernel, (1,) + stride, (1,) + dilation,
            ((0, 0),) + pads, (1,) + n_out)


def max_pool_forward(x, *, kernel, stride, dilation, pads, n_out, last=False, backend):
    if x.dtype not in FLOATS or x.ndim not in (3, 4):
        return None
    x = np.ascontiguousarray(x)
    first_shape = (x.shape[0], x.shape[-1]) + x.shape[1:-1] if last else x.shape
    shape, k, s, d, p, n = _as_2d(first_shape, kernel, stride, dilation, pads, n_out)
    if not last and s[1] > 1:
        # the windows' entries of a row are strided: LLVM does not vectorize the loop, and
        # the NumPy backend's strided passes are faster (2x2 stride 2 on (16, 16, 32, 32)
        # float32: 300 us against 1000)
        return numpy_max_pooling.max_pool_forward(x, kernel=kernel, stride=stride,
                                                  dilation=dilation, pads=pads, n_out=n_out,
                                                  backend=backend)
    out = (shape[0],) + n + (shape[1],) if last else shape[:2] + n
    y, pick = np.empty(out, x.dtype), np.empty(out, np.int64)
    loops = max_pool_fwd_last if last else max_pool_fwd
    loops(x.reshape((shape[0],) + shape[2:] + (shape[1],) if last else shape), k[0], k[1], s[0],
          s[1], d[0], d[1], p[0][0], p[1][0], y, pick)
    out = (x.shape[0],) + tuple(n_out) + (x.shape[-1],) if last else x.shape[:2] + tuple(n_out)
    return y.reshape(out), pick.reshape(out)


def max_pool_vjp(g, pick, x, *, kernel, stride, dilation, pads, n_out, last=False, backend):
    rows = (x.shape[0], x.shape[-1]) if last else x.shape[:2]
    p, planes = math.prod(n_out), math.prod(x.shape[1:-1] if last else x.shape[2:])
    g = np.ascontiguousarray(np.broadcast_to(g, pick.shape), dtype=x.dtype)
    if last:
        dx = np.zeros((rows[0], planes, rows[1]), x.dtype)
        max_pool_bwd_last(g.reshape((rows[0], p, rows[1])), pick.reshape((rows[0], p, rows[1])),
                          dx)
    else:
        dx = np.zeros(rows + (planes,), x.dtype)
        max_pool_bwd(g.reshape(rows + (p,)), pick.reshape(rows + (p,)), dx)
    return (dx.reshape(x.shape),)


def max_pool_positions_forward(x, *, kernel, stride, dilation, pads, n_out, last=False):
    """``max_pool_positions``: ``max_pool_forward``'s positions, in ``x``'s layout."""
    res = max_pool_forward(x, kernel=kernel, stride=stride, dilation=dilation, pads=pads,
                           n_out=n_out, last=last, backend=None)
    return None if res is None else (res[1], None)


#: ``adaptive_max_pool`` windows of more entries than this take the NumPy backend's search: the
#: loop scans a window's entries one by one (3.6 ns each on random data), while NumPy's
#: passes run over all windows at once, faster where windows are few and wide; (16, 16, 32,
#: 32) float32 to a 6x6 grid (36 entries a window): 1850 us against 1075, to 8x9 (25): 1600
#: against 1780; (16, 32, 256) to 7 (37): 425 against 265, to 12 (22): 335 against 1180
ADAPTIVE_WINDOW_MAX = 32


def adaptive_max_pool_forward(x, *, out, backend):
    if x.dtype not in FLOATS or x.ndim not in (3, 4) or 0 in x.shape[2:]:
        return None
    if 0 in tuple(out):     # no windows: nothing for the loop to search
        empty = x.shape[:2] + tuple(out)
        return np.empty(empty, x.dtype), np.empty(empty, np.int64)
    from xpgrad.ops.adaptive_max_pooling import window_bounds

    shape, grid = x.shape, tuple(out)
    if x.ndim == 3:
        shape, grid = shape[:2] + (1,) + shape[2:], (1,) + grid
    bounds = [window_bounds(length, n) for length, n in zip(shape[2:], grid)]
    if math.prod(int((end - start).max()) for start, end in bounds) > ADAPTIVE_WINDOW_MAX:
        y, pick = numpy_pooling.adaptive_max_pool_forward(x, out=out, backend=backend)
        return y, pick.reshape(y.shape)         # the positions in this kernel's layout
    y = np.empty(shape[:2] + grid, x.dtype)
    pick = np.empty(shape[:2] + grid, np.int64)
    adaptive_max_pool_fwd(np.ascontiguousarray(x).reshape(shape), bounds[0][0], bounds[0][1],
                          bounds[1][0], bounds[1][1], y, pick)
    return y.reshape(x.shape[:2] + tuple(out)), pick.reshape(x.shape[:2] + tuple(out))


def adaptive_max_pool_vjp(g, pick, x, *, out, backend):
    return max_pool_vjp(g, pick, x, kernel=None, stride=None, dilation=None, pads=None,
                        n_out=out, backend=backend)


# the rules read nothing but the saved positions (the input only for its shape and dtype)
# a call no tape records takes the NumPy backend's maxima alone (no positions): a running
# ``maximum`` over strided views, faster than any search (2x2 pooling above: 94 us)
KERNELS = {"max_pool": Kernel(max_pool_forward, max_pool_vjp, saves=(),
                              value=numpy_max_pooling.max_pool_value),
           "max_pool_positions": Kernel(max_pool_positions_forward),
           "adaptive_max_pool": Kernel(adaptive_max_pool_forward, adaptive_max_pool_vjp,
                                       saves=())}
