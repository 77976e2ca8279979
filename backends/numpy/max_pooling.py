"""The ``max_pool`` and ``max_pool_positions`` primitives (``xg.nn.max_pool1d`` / ``max_pool2d``)
for float32/float64 NumPy arrays: each window's maximum by PyTorch's rule (the first of tied
maxima, the last NaN; a window of -inf keeps its first position inside the input) found once, by
one pass per kernel position over a strided view of the input: a comparison with the running
maximum, and the offset of the winner kept as a running maximum of offsets (they increase along
a window), never a ``where`` or a masked copy, which branch per element (250 us each on 65536
float32 entries against 20). The output is the input gathered at those positions (the generic
rule's values bit for bit); the positions are saved, and the backward puts each window's
gradient there (one ``bincount`` where windows overlap) instead of searching again and
scattering. Windows that tile the planes (stride = kernel, no padding or dilation) are instead
gathered as rows, ``(N, C, *n_out, K)``, and searched by one ``argmax`` per row (the first of
tied maxima; where a row holds NaN, its last NaN) where that is faster: one window per plane
(global max pooling, ``adaptive_max_pool2d(x, 1)``: the rows are a view) of 16 or more
entries, or windows of 64 or more (shorter ones cost more in the rows' copy and the short
``argmax`` than a pass per kernel position). Global max pooling of (32, 64, 28, 28) float32,
one core, forward and backward: 4.6 -> 0.28 ms (784 passes before; PyTorch's 1.2-1.4). What
the geometry alone decides (each window's start, the first position inside the
input of a window at the border, windows wholly in the padding) is cached.

(16, 32, 256) float32, ``max_pool1d(x, 3, 2)``, one core: 600 us by the composition of
``nn/pooling.py`` on the tape (the search in tensor operations, then a ``take_along_axis``),
230 by this kernel; with the gradient 910 -> 410.

>>> import numpy as np
>>> y, pick = KERNELS["max_pool"].forward(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), kernel=(2,),
...     stride=(2,), dilation=(1,), pads=((0, 1),), n_out=(3,), backend=None)
>>> y.tolist(), pick.tolist()
([[[3.0, 5.0, 4.0]]], [[[1, 3, 4]]])
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops.convolution import window_keys

from .kernel_common import _FLOAT_SET


@functools.lru_cache(maxsize=128)
def _geometry(spatial, kernel, stride, dilation, pads, n_out):
    """``(keys, offsets, first, base, outside, to_input)`` of windows over planes ``spatial``
    padded by ``pads``: each kernel position's slice of the padded planes (row-major,
    ``window_keys``); its offset from its window's start in the input's plane, or in the
    padded plane's where a window is wider than the input (strictly increasing either way);
    each window's offset of its first position inside the input (``n_out``; None when every
    window starts inside); each window's start in the input's plane, row-major (int64,
    ``n_out``; negative in the padding); a mask of the windows wholly in the padding (None
    where there is none); and for the padded plane's offsets, a table from them to the input
    plane's (else None)."""
    padded = [length + left + right for length, (left, right) in zip(spatial, pads)]
    strides = [math.prod(spatial[a + 1:]) for a in range(len(spatial))]
    # offsets in the input's plane where they increase along a window (its rows narrower than
    # the input's), else in the padded plane's, taken to the input's by a table at the end
    narrow = len(kernel) == 1 or (kernel[-1] - 1) * dilation[-1] < dilation[0] * spatial[-1]
    units = strides if narrow else [math.prod(padded[a + 1:]) for a in range(len(padded))]
    positions = list(itertools.product(*(range(k) for k in kernel)))
    offsets = np.array([sum(k * d * st for k, d, st in zip(position, dilation, units))
                        for position in positions], dtype=_offset_dtype(math.prod(padded)))
    base = np.zeros(n_out, np.int64)
    first = np.zeros(n_out, offsets.dtype)
    outside = np.zeros(n_out, bool)
    for axis, (k, s, d, (left, _), m, length) in enumerate(
            zip(kernel, stride, dilation, pads, n_out, spatial)):
        shape = (m,) + (1,) * (len(n_out) - 1 - axis)
        begin = np.arange(m) * s - left                 # in the input's coordinates
        inside = np.where(begin < 0, (-begin + d - 1) // d, 0)
        outside = outside | ((inside >= k) | (begin + inside * d >= length)).reshape(shape)
        base = base + (begin * strides[axis]).reshape(shape)
        first = first + (np.minimum(inside, k - 1) * d * units[axis]).reshape(shape)
    to_input = None
    if not narrow:
        to_input = np.zeros(int(offsets[-1]) + 1, np.int64)
        to_input[offsets] = [sum(k * d * st for k, d, st in zip(position, dilation, strides))
                             for position in positions]
    return (window_keys(kernel, stride, dilation, n_out), offsets,
            first.astype(offsets.dtype) if first.any() else None, base,
            outside if outside.any() else None, to_input)


def _offset_dtype(size):
    return np.int32 if size < 2 ** 31 else np.int64


def _search(x, kernel, stride, dilation, pads, n_out):
    """``(y, pick)`` of channels-first ``x`` (N, C, *spatial): each window's maximum and its
    position ``h * W + w`` in ``x``'s plane (int64; -1 and -inf for a window wholly in the
    padding). The running offset of the maximum only grows (the offsets increase), so it is
    a ``maximum`` with the offset where the comparison holds: ``where`` and masked copies
    take a branch per element, several times slower."""
    spatial = x.shape[2:]
    keys, offsets, first, base, outside, to_input = _geometry(spatial, kernel, stride,
                                                              dilation, pads, n_out)
    padded = _padded(x, spatial, pads, last=False)
    shape = x.shape[:2] + tuple(n_out)
    nan = bool(np.isnan(x.min()))
    if first is None:
        best = padded[keys[0]].copy()
        at = np.zeros(shape, offsets.dtype)
        rest = range(1, len(keys))
    else:
        best = np.full(shape, -np.inf, x.dtype)
        at = np.broadcast_to(first, shape).copy()     # C-ordered (np.array keeps the strides)
        rest = range(len(keys))
    better = np.empty(shape, bool)
    step = np.empty(shape, offsets.dtype)
    for position in rest:
        piece = padded[keys[position]]
        np.greater(piece, best, out=better)
        if nan:
            better |= np.isnan(piece)
        np.multiply(better, offsets[position], out=step)
        np.maximum(at, step, out=at)
        np.maximum(piece, best, out=best)
    pick = at.astype(np.int64) if to_input is None else np.take(to_input, at)
    pick += base
    if outside is not None:
        np.copyto(pick, -1, where=outside)
    count, plane = math.prod(shape[:2]), math.prod(spatial)
    flat = pick.reshape(count, -1) + (np.arange(count) * plane)[:, None]
    y = np.take(x.reshape(-1), flat, mode="wrap").reshape(shape)
    if outside is not None:
        np.copyto(y, -np.inf, where=outside)
    return y, pick


# entries per window from which ``_rows`` is faster: one window per plane (the rows a view),
# several (the rows a copy; 4x4 windows of 28x28 planes were 3x slower as rows)
_GLOBAL, _LONG = 16, 64


def _tiled(spatial, kernel, stride, dilation, pads, n_out):
    """Whether the windows tile the planes ``spatial`` (side by side, none in the padding or
    past the end) and hold enough entries for ``_rows`` to search them faster."""
    least = _GLOBAL if all(m == 1 for m in n_out) else _LONG
    return math.prod(kernel) >= least and all(
        (s == k or m == 1) and d == 1 and left == right == 0 and m * k <= length
        for k, s, d, (left, right), m, length in zip(kernel, stride, dilation, pads, n_out,
                                                     spatial))


def _rows(x, kernel, n_out):
    """Channels-first ``x``'s tiling windows as rows: (N, C, *n_out, K), each row one window's
    entries in row-major order (a view where there is one window per plane)."""
    crop = x[(Ellipsis,) + tuple(slice(0, m * k) for m, k in zip(n_out, kernel))]
    if len(kernel) == 1:
        return crop.reshape(x.shape[:2] + (n_out[0], kernel[0]))
    split = crop.reshape(x.shape[:2] + (n_out[0], kernel[0], n_out[1], kernel[1]))
    return split.transpose(0, 1, 2, 4, 3, 5).reshape(x.shape[:2] + tuple(n_out) + (-1,))


@functools.lru_cache(maxsize=64)
def _row_positions(spatial, kernel, n_out):
    """``(starts, offsets)``: each tiling window's start in the plane (``n_out``) and each of
    its entries' offset from it (row-major), as ``h * W + w`` (int64)."""
    strides = [math.prod(spatial[a + 1:]) for a in range(len(spatial))]
    starts, offsets = np.zeros(n_out, np.int64), np.zeros(kernel, np.int64)
    for axis, (k, m, unit) in enumerate(zip(kernel, n_out, strides)):
        tail = (1,) * (len(kernel) - 1 - axis)
        starts = starts + (np.arange(m) * k * unit).reshape((m,) + tail)
        offsets = offsets + (np.arange(k) * unit).reshape((k,) + tail)
    return starts, offsets.reshape(-1)


def _row_search(x, kernel, n_out):
    """``_search`` for tiling windows: one ``argmax`` per row of ``_rows`` (the first of tied
    maxima, or the first NaN, corrected to the row's last NaN where there is one)."""
    rows = _rows(x, kernel, n_out)
    at = np.argmax(rows, axis=-1)
    y = np.take_along_axis(rows, at[..., None], axis=-1)[..., 0]
    nan = np.isnan(y)
    if nan.any():
        holding = rows[nan]
        last = holding.shape[-1] - 1 - np.argmax(np.isnan(holding[:, ::-1]), axis=-1)
        at[nan] = last
        y[nan] = holding[np.arange(len(last)), last]
    starts, offsets = _row_positions(tuple(x.shape[2:]), tuple(kernel), tuple(n_out))
    return y, np.take(offsets, at) + starts


def _padded(x, spatial, pads, last):
    """``x`` with its planes ``spatial`` padded by ``pads`` with -inf (``x`` where no padding),
    channels ``last`` or first."""
    if not any(left or right for left, right in pads):
        return x
    lead, tail = (x.shape[:1], x.shape[-1:]) if last else (x.shape[:2], ())
    padded = np.full(lead + tuple(n + left + right for n, (left, right) in zip(spatial, pads))
                     + tail, -np.inf, x.dtype)
    inside = tuple(slice(left, left + n) for (left, _), n in zip(pads, spatial))
    padded[(slice(None),) * len(lead) + inside] = x
    return padded


def _first(a):
    return np.moveaxis(a, -1, 1)


def _last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def max_pool_forward(x, *, kernel, stride, dilation, pads, n_out, last=False, backend):
    if x.__class__ is not np.ndarray or x.dtype not in _FLOAT_SET or x.ndim not in (3, 4) \
            or 0 in x.shape:
        return None
    x = np.ascontiguousarray(_first(x)) if last else x
    if _tiled(x.shape[2:], kernel, stride, dilation, pads, n_out):
        y, pick = _row_search(x, kernel, n_out)
    else:
        y, pick = _search(x, kernel, stride, dilation, pads, n_out)
    return (_last(y), _last(pick)) if last else (y, pick)


def max_pool_value(x, *, kernel, stride, dilation, pads, n_out, last=False, backend):
    """``max_pool`` for a call no tape records: the maxima alone, a running ``maximum`` over
    each kernel position's strided view (NaN wins, as in the search; a window wholly in the
    padding is -inf), in ``x``'s layout, without the positions (3.5x faster than
    ``max_pool_forward`` on (16, 32, 256), ``max_pool1d(x, 3, 2)``)."""
    if x.__class__ is not np.ndarray or x.dtype not in _FLOAT_SET or x.ndim not in (3, 4) \
            or 0 in x.shape:
        return None
    spatial = x.shape[1:-1] if last else x.shape[2:]
    if _tiled(spatial, kernel, stride, dilation, pads, n_out):     # one reduction per row
        y = _rows(np.ascontiguousarray(_first(x)) if last else x, kernel, n_out).max(axis=-1)
        return (_last(y) if last else y), None
    keys = _geometry(spatial, kernel, stride, dilation, pads, n_out)[0]
    if last:                            # the spatial slices between the batch and channels
        keys = [(slice(None),) + key[1:] for key in keys]
    padded = _padded(x, spatial, pads, last)
    y = padded[keys[0]].copy() if len(keys) == 1 else np.maximum(padded[keys[1]],
                                                                 padded[keys[0]])
    for key in keys[2:]:
        np.maximum(padded[key], y, out=y)
    return y, None


def max_pool_vjp(g, pick, x, *, kernel, stride, dilation, pads, n_out, last=False, backend):
    if last:
        g, pick = _first(g), _first(pick)
    spatial = x.shape[1:-1] if last else x.shape[2:]
    rows = pick.shape[:2]
    count, plane = math.prod(rows), math.prod(spatial)
    flat = (pick.reshape(count, -1) + (np.arange(count) * plane)[:, None]).reshape(-1)
    g = np.broadcast_to(g, pick.shape).reshape(-1)
    if _geometry(tuple(spatial), kernel, stride, dilation, pads, n_out)[4] is not None:
        kept = pick.reshape(-1) >= 0        # windows wholly in the padding: no gradient
        flat, g = flat[kept], g[kept]
    overlap = any((k - 1) * d + 1 > s for k, s, d in zip(kernel, stride, dilation))
    if overlap:
        dx = np.bincount(flat, weights=g, minlength=count * plane).astype(x.dtype, copy=False)
    else:                               # each input position in one window at most
        dx = np.zeros(count * plane, x.dtype)
        dx[flat] = g
    dx = dx.reshape(rows + tuple(spatial))
    return (_last(dx) if last else dx,)


def max_pool_positions_forward(x, *, kernel, stride, dilation, pads, n_out, last=False):
    """``max_pool_positions``: ``max_pool_forward``'s positions, in ``x``'s layout."""
    res = max_pool_forward(x, kernel=kernel, stride=stride, dilation=dilation, pads=pads,
                           n_out=n_out, last=last, backend=None)
    return None if res is None else (res[1], None)


# the rule reads nothing but the saved positions (the input only for its shape and dtype)
KERNELS = {"max_pool": Kernel(max_pool_forward, max_pool_vjp, saves=(), value=max_pool_value),
           "max_pool_positions": Kernel(max_pool_positions_forward)}
