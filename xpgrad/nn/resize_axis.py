"""Resizing one spatial axis, for ``xg.nn.interpolate`` (``upsampling.py``, which re-exports
these): PyTorch's source indices for the nearest modes (a ``take``, or a repeat for an integer
factor), and for the interpolating modes the banded (out, length) weight matrix, applied as a
dense product, as blocks of the edge-padded input times one small block matrix where the band
repeats, or one ``take`` per band entry (``_plan`` picks by size).

>>> _linear_matrix(2, 3, 0.5, True).tolist()
[[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from ..creation import asarray
from ..ops.indexing import take
from ..ops.joining import concat, stack
from ..ops.linalg import matmul
from ..ops.shape import reshape
from ._windows import pad


#: PyTorch's cubic convolution coefficient
_CUBIC_A = -0.75


def _scale(length, out, scale, align_corners=False):
    """PyTorch's ``area_pixel_compute_scale`` (float64)."""
    if align_corners:
        return (length - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale if scale is not None and scale > 0 else length / out


def _nearest(length, out, scale, exact, shortcuts, real=np.float32):
    """PyTorch's nearest source indices (``nearest_idx`` / ``nearest_exact_idx``), whose
    scale and products are in ``real``: float64 for a float64 input, else float32
    (PyTorch's ``opmath_type``), the product then rounded to float32 (its ``floorf``); a
    float32 rule for float64 input differs once lengths reach the thousands. Its 2-d kernel
    (``shortcuts``) copies when ``out == length`` and halves the index when ``out == 2
    length`` whatever ``scale`` is (which differs from the float rule only with a
    ``scale_factor`` that is not exactly 1 or 2 and gives those sizes); its 1-d and 3-d
    kernels always use the float rule."""
    dst = np.arange(out)
    if shortcuts and not exact and out == length:
        return dst
    if shortcuts and not exact and out == 2 * length:
        return dst >> 1
    s = real(1.0 / scale) if scale is not None and scale > 0 else real(length) / real(out)
    src = ((dst.astype(real) + real(0.5 if exact else 0.0)) * s).astype(np.float32)
    return np.minimum(np.floor(src).astype(np.int64), length - 1)


def _nearest_resize(x, indices):
    """``x`` gathered along each spatial axis at ``indices`` (one int64 array per axis):
    skipped where they are ``arange(length)``; a repeat where they are ``arange(out) // r``
    (``r`` copies stacked after the axis, merged into it by a reshape: the gradient adds
    ``r`` strided slices, several times faster than ``take``'s scatter or a broadcast's sum
    over a short axis); else ``take``."""
    for axis, index in enumerate(indices, 2):
        length, out = x.shape[axis], len(index)
        r = out // length
        if r * length == out and np.array_equal(index, np.arange(out) // r):
            if r > 1:
                y = stack([x] * r, axis=axis + 1)
                x = reshape(y, x.shape[:axis] + (out,) + x.shape[axis + 1:])
        else:
            x = take(x, asarray(index, backend=x.backend), axis=axis)
    return x


#: axes at most this long are resized by one dense product; up to ``_DENSE_MAX`` too where
#: the band does not repeat (then the product still beats the gathers' scatter, measured)
_DENSE, _DENSE_MAX = 128, 512


@functools.lru_cache(maxsize=256)
def _plan(cubic, length, out, scale, align_corners):
    """How ``_along`` resizes an axis of ``length`` entries to ``out`` by PyTorch's linear
    (or ``cubic``) rule, whose (out, length) matrix is banded: ``("dense", matrix)`` for a
    short axis (one product); for a long one, ``("blocks", block, m, h, nb, out)`` where the
    band repeats (``_blocks``: an integer or simple scale factor), else dense up to
    ``_DENSE_MAX``, beyond it ``("gather", indices, weights)``, one pair per band entry (a
    dense product's work grows with the length, a gather's gradient is a scatter)."""
    matrix = (_cubic_matrix if cubic else _linear_matrix)(length, out, scale, align_corners)
    blocks = None if length <= _DENSE else _blocks(matrix)
    if blocks is not None:
        return ("blocks",) + blocks
    if length <= _DENSE_MAX:
        return ("dense", matrix)
    rows = np.arange(out)
    starts = np.argmax(matrix != 0, axis=1)
    ends = length - np.argmax(matrix[:, ::-1] != 0, axis=1)
    indices, weights = [], []
    for t in range(int(np.max(ends - starts))):
        index = np.minimum(starts + t, length - 1)
        indices.append(index)
        weights.append(np.where(starts + t < ends, matrix[rows, index], 0.0))
    return ("gather", tuple(indices), tuple(weights))


def _along(x, axis, plan):
    """``x`` with its axis ``axis`` resized by ``plan`` (``_plan``'s), in ``x``'s dtype: a
    dense product (``x @ A.T`` on the last axis, ``A @ x`` on another); blocks: the input
    edge-padded (PyTorch's clamping), cut into ``nb`` blocks of ``m`` entries each widened
    by a halo of ``h`` on both sides, times one small block matrix; or a sum of ``take``s
    times their weights."""
    kind = plan[0]
    if kind == "dense":
        return _apply(x, axis, asarray(plan[1], dtype=x.dtype, backend=x.backend))
    if kind == "gather":
        shape = (len(plan[1][0]),) + (1,) * (x.ndim - 1 - axis)
        y = None
        for index, w in zip(plan[1], plan[2]):
            term = take(x, asarray(index, backend=x.backend), axis=axis) * \
                asarray(w.reshape(shape), dtype=x.dtype, backend=x.backend)
            y = term if y is None else y + term
        return y
    _, block, m, h, nb, out = plan
    if axis < x.ndim - 2:                            # make the axes after it one
        shape = x.shape
        y = _along(reshape(x, shape[:axis + 1] + (math.prod(shape[axis + 1:]),)), axis, plan)
        return reshape(y, shape[:axis] + (out,) + shape[axis + 1:])
    last = axis == x.ndim - 1
    length = x.shape[axis]
    pads = [(h, (nb + 1) * m - length - h)] + ([] if last else [(0, 0)])
    padded = pad(x, pads, "replicate", None)         # length (nb + 1) * m
    rest = () if last else (x.shape[-1],)
    lead = x.shape[:axis]

    def chunks(start):                                # (..., nb, m, *rest)
        piece = padded[(slice(None),) * axis + (slice(start, start + nb * m),)]
        return reshape(piece, lead + (nb, m) + rest)

    halo = chunks(m)[(slice(None),) * (axis + 1) + (slice(0, 2 * h),)]
    wide = concat([chunks(0), halo], axis=axis + 1)   # (..., nb, m + 2h, *rest)
    y = _apply(wide, axis + 1, asarray(block, dtype=x.dtype, backend=x.backend))
    y = reshape(y, lead + (nb * block.shape[0],) + rest)
    return y[(slice(None),) * axis + (slice(0, out),)] if nb * block.shape[0] > out else y


def _apply(x, axis, a):
    """``a @`` ``x`` along ``axis``: its last axis as one 2-d product (numpy would otherwise
    run one per leading index), its second-to-last one broadcast, another through a reshape
    making the axes after it one."""
    shape = x.shape
    if axis == x.ndim - 1:                 # one product, not one per leading index
        y = matmul(reshape(x, (math.prod(shape[:-1]), shape[-1])), a.T)
        return reshape(y, shape[:-1] + (a.shape[0],))
    if axis == x.ndim - 2:
        return matmul(a, x)
    y = matmul(a, reshape(x, shape[:axis + 1] + (math.prod(shape[axis + 1:]),)))
    return reshape(y, shape[:axis] + (a.shape[0],) + shape[axis + 1:])


#: input entries per block (about) of a long axis's blocked product
_BLOCK = 32


def _blocks(matrix):
    """``(block, m, h, nb, out)`` when ``matrix`` (out, length) is ``nb`` copies of ``block``
    (``k * p_out`` rows, ``m + 2 h`` columns) down its diagonal, block ``i`` reading input
    ``[i m - h, (i + 1) m + h)`` with indices clamped to the input (edge padding), its rows
    the output's ``[i k p_out, (i + 1) k p_out)`` (the last block's cut at ``out``), checked
    entry by entry; the period ``p_in / p_out`` is the length ratio's fraction (small
    denominators only). None otherwise."""
    out, length = matrix.shape
    ratio = Fraction(length, out).limit_denominator(_BLOCK)
    rows_at, cols_at = np.nonzero(matrix)
    h = int(math.ceil(np.max(np.abs(cols_at - rows_at * (length / out))))) + 1
    p_in, p_out = ratio.numerator, ratio.denominator
    k = max(1, _BLOCK // p_in)
    m, rows = k * p_in, k * p_out
    nb = -(-out // rows)
    mid = nb // 2
    if nb < 3 or 2 * h > m or (mid + 1) * rows > out or (mid + 1) * m + h > length:
        return None
    block = matrix[mid * rows:(mid + 1) * rows, mid * m - h:(mid + 1) * m + h]
    rebuilt = np.zeros((nb * rows, length))
    for i in range(nb):
        at = np.clip(np.arange(i * m - h, (i + 1) * m + h), 0, length - 1)
        np.add.at(rebuilt[i * rows:(i + 1) * rows], (slice(None), at), block)
    if not np.allclose(rebuilt[:out], matrix, rtol=0, atol=1e-13):
        return None
    block = block.copy()
    block.setflags(write=False)
    return block, m, h, nb, out


@functools.lru_cache(maxsize=256)
def _linear_matrix(length, out, scale, align_corners):
    """The (out, length) float64 matrix of PyTorch's linear rule (``compute_indices_weights_
    linear``): row ``dst`` holds ``1 - lambda`` at ``i0`` and ``lambda`` at ``i1``."""
    s = _scale(length, out, scale, align_corners)
    dst = np.arange(out, dtype=np.float64)
    src = s * dst if align_corners else np.maximum(s * (dst + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), length - 1)
    i1 = np.minimum(i0 + 1, length - 1)
    lam = np.clip(src - i0, 0.0, 1.0)
    matrix = np.zeros((out, length))
    rows = np.arange(out)
    np.add.at(matrix, (rows, i0), 1.0 - lam)
    np.add.at(matrix, (rows, i1), lam)
    matrix.setflags(write=False)
    return matrix


@functools.lru_cache(maxsize=256)
def _cubic_matrix(length, out, scale, align_corners):
    """The (out, length) float64 matrix of PyTorch's bicubic rule (``upsample_bicubic2d``):
    row ``dst`` holds the cubic convolution coefficients (A = -0.75) of ``t = src -
    floor(src)`` at ``floor(src) - 1 ... floor(src) + 2``, clamped to the input (clamped
    neighbours add up); the source index is not clamped at 0, as PyTorch's cubic one."""
    s = _scale(length, out, scale, align_corners)
    dst = np.arange(out, dtype=np.float64)
    src = s * dst if align_corners else s * (dst + 0.5) - 0.5
    base = np.floor(src).astype(np.int64)
    t = src - base
    a = _CUBIC_A

    def near(v):                                  # |v| <= 1
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v):                                   # 1 < |v| < 2
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    matrix = np.zeros((out, length))
    rows = np.arange(out)
    for offset, w in zip((-1, 0, 1, 2), (far(t + 1), near(t), near(1 - t), far(2 - t))):
        np.add.at(matrix, (rows, np.clip(base + offset, 0, length - 1)), w)
    matrix.setflags(write=False)
    return matrix
