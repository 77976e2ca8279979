"""Resizing as PyTorch's: ``xg.nn.interpolate`` (``F.interpolate``) in the modes ``"nearest"``,
``"nearest-exact"``, ``"linear"``, ``"bilinear"``, ``"trilinear"``, ``"bicubic"`` and
``"area"``, and the layers
``Upsample``, ``UpsamplingNearest2d`` and ``UpsamplingBilinear2d``.

Every mode is separable: one spatial axis after the other. Along an axis, the interpolating
modes are a fixed banded (out, length) matrix of PyTorch's weights (2 nonzeros per row for
linear, 4 for cubic; computed on the host from the sizes alone, in float64, then in the
input's dtype) applied as a matrix product, so the gradient is the transposed product:
BLAS-fast, no rule of its own, differentiable to any order. A short axis is one dense
product (``x @ A.T`` on the last axis, ``A @ x`` on another); a long one, where the band
repeats (integer and simple scale factors), the edge-padded input cut into blocks with a halo
times one small block matrix; else dense up to 512 entries, beyond that PyTorch's form, one
``take`` per band entry times its weights (``_plan``). Nearest is a ``take`` at PyTorch's
source indices or, where those are ``dst // r`` for an integer ``r`` (an integer scale
factor), a repeat: ``r`` stacked copies merged by a reshape, whose gradient is a sum of
slices, not a scatter. One difference from PyTorch: a NaN or infinity in the input of an
interpolating mode spreads along its whole row of that axis (its products with the zero
weights), where PyTorch's reaches only the outputs next to it.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 2.0, 4.0]]])                   # (N, C, L)
>>> xg.nn.interpolate(x, scale_factor=2).tolist()
[[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
>>> xg.nn.interpolate(x, size=5, mode="linear", align_corners=True).tolist()
[[[1.0, 1.5, 2.0, 3.0, 4.0]]]
"""
from __future__ import annotations

import functools
import math
import numbers
from fractions import Fraction

import numpy as np

from ..creation import asarray
from ..ops.indexing import take
from ..ops.joining import concat, stack
from ..ops.linalg import matmul
from ..ops.shape import reshape
from ..tensor import Tensor
from ._windows import pad
from .module import Module

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area")
#: the spatial axes each interpolating mode works on, as PyTorch's (3-D, 4-D, 5-D input)
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}
#: PyTorch's cubic convolution coefficient
_CUBIC_A = -0.75


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """PyTorch's ``F.interpolate`` of ``input`` (N, C, *spatial) with 1, 2 or 3 spatial axes
    (3-D, 4-D or 5-D): to ``size`` (an int, or one per spatial axis) or by ``scale_factor`` (a
    number, or one per axis; the output ``floor(length * scale_factor)``), exactly one of the
    two. ``mode``:

    - ``"nearest"``: source index ``min(floor(dst * scale), length - 1)`` (PyTorch's rule, in
      float32 as its kernel, and its shortcuts for 4-D input: a copy where the output length
      is the input's, ``dst // 2`` where it is twice it), ``"nearest-exact"``:
      ``floor((dst + 0.5) * scale)``;
    - ``"linear"`` (3-D input), ``"bilinear"`` (4-D), ``"trilinear"`` (5-D): linear in each
      axis, ``align_corners`` (default False) as PyTorch's: True maps the corner samples onto
      each other, False the corners of the pixels (source ``(dst + 0.5) * scale - 0.5``,
      clamped at 0); an axis whose length does not change is copied, as PyTorch's;
    - ``"bicubic"`` (4-D): PyTorch's cubic convolution (A = -0.75) over four neighbours,
      clamped at the edges, ``align_corners`` as for linear; values may overshoot the input's
      range, as PyTorch's;
    - ``"area"`` (3-D, 4-D): ``adaptive_avg_pool1d`` / ``adaptive_avg_pool2d`` to the output
      size, as PyTorch's.

    ``scale`` is ``1 / scale_factor`` when ``scale_factor`` is given (PyTorch's rule with
    ``recompute_scale_factor=None`` or False), else ``length / out_length``; with
    ``recompute_scale_factor=True`` the output size is computed from ``scale_factor`` and
    the scale from the sizes (with ``size`` instead: ValueError, as PyTorch).
    ``antialias=True`` (PyTorch's filtered downsampling) is not supported (ValueError). Bad
    arguments: TypeError/ValueError naming them.

    >>> import xpgrad as xg
    >>> xg.nn.interpolate(xg.ones((1, 3, 5, 4)), scale_factor=(2, 0.5), mode="bilinear").shape
    (1, 3, 10, 2)
    """
    owner = "interpolate"
    if not isinstance(input, Tensor):
        input = asarray(input)
    if mode not in MODES:
        raise ValueError(f"{owner}: mode must be one of {list(MODES)}, got {mode!r}")
    if antialias:
        raise ValueError(f"{owner}: antialias=True is not supported; resize without it, or "
                         "blur first (e.g. avg_pool2d) and then resize")
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"{owner}: input must be 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, "
                         f"C, D, H, W), got shape {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{owner}: input must hold real floating-point numbers, got "
                        f"{input.dtype}")
    dims = input.ndim - 2
    if mode in _LINEAR_DIMS and _LINEAR_DIMS[mode] != dims:
        want = {1: "3-D", 2: "4-D", 3: "5-D"}[_LINEAR_DIMS[mode]]
        raise ValueError(f"{owner}: mode={mode!r} needs {want} input, got shape {input.shape}")
    if align_corners is not None:
        if mode not in _LINEAR_DIMS:
            raise ValueError(f"{owner}: align_corners can only be set with the interpolating "
                             f"modes (linear, bilinear, trilinear, bicubic), not mode="
                             f"{mode!r}")
        if not isinstance(align_corners, (bool, np.bool_)):
            raise TypeError(f"{owner}: align_corners must be a bool or None, got "
                            f"{align_corners!r}")
    if recompute_scale_factor and size is not None:
        raise ValueError(f"{owner}: recompute_scale_factor=True is only meaningful with "
                         f"scale_factor, not with an explicit size={size!r} (as PyTorch)")
    lengths = input.shape[2:]
    sizes, scales = _sizes(size, scale_factor, lengths, dims, owner)
    if recompute_scale_factor:
        scales = (None,) * dims
    if mode == "area":                         # PyTorch's: adaptive average pooling
        if dims == 3:
            raise ValueError(f"{owner}: mode='area' takes 3-D or 4-D input here (no "
                             f"adaptive_avg_pool3d), got shape {input.shape}")
        from .adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d

        return (adaptive_avg_pool1d if dims == 1 else adaptive_avg_pool2d)(
            input, sizes[0] if dims == 1 else sizes)
    if mode in ("nearest", "nearest-exact"):
        real = np.float64 if input.dtype.name == "float64" else np.float32
        return _nearest_resize(input, tuple(
            _nearest(length, out, scale, mode == "nearest-exact", dims == 2, real)
            for length, out, scale in zip(lengths, sizes, scales)))
    for axis, (length, out, scale) in enumerate(zip(lengths, sizes, scales), 2):
        if out == length and mode != "bicubic":          # PyTorch's linear kernel copies
            continue
        input = _along(input, axis, _plan(mode == "bicubic", length, out, scale,
                                          bool(align_corners)))
    return input


def _sizes(size, scale_factor, lengths, dims, owner):
    """(output sizes, the scale factors given or Nones), one per spatial axis."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{owner}: give exactly one of size and scale_factor, got size="
                         f"{size!r} and scale_factor={scale_factor!r}")
    if size is not None:
        sizes = _per_axis(size, "size", dims, owner, numbers.Integral)
        if any(s < 1 for s in sizes):
            raise ValueError(f"{owner}: size must be positive, got {size!r}")
        return tuple(int(s) for s in sizes), (None,) * dims
    factors = _per_axis(scale_factor, "scale_factor", dims, owner, numbers.Real)
    if any(not f > 0 or not math.isfinite(f) for f in factors):
        raise ValueError(f"{owner}: scale_factor must be positive and finite, got "
                         f"{scale_factor!r}")
    sizes = tuple(math.floor(float(n) * float(f)) for n, f in zip(lengths, factors))
    if any(s < 1 for s in sizes):
        raise ValueError(f"{owner}: scale_factor {scale_factor!r} makes an empty output "
                         f"(sizes {sizes}) from spatial shape {lengths}")
    return sizes, tuple(float(f) for f in factors)


def _per_axis(value, name, dims, owner, kind):
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims
    if len(items) != dims:
        raise ValueError(f"{owner}: {name} must be a number or a tuple of {dims} (one per "
                         f"spatial axis), got {value!r}")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, kind):
            what = "an int" if kind is numbers.Integral else "a number"
            raise TypeError(f"{owner}: {name} must be {what} or a tuple of them, got "
                            f"{type(item).__name__} {item!r}")
    return items


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


#: axes at most this long are resized by one dense product; up to ``_DENSE_MAX`` too where
#: the band does not repeat (then the product still beats the gathers' scatter, measured)
_DENSE, _DENSE_MAX = 128, 512
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


class Upsample(Module):
    """``Upsample(size=None, scale_factor=None, mode="nearest", align_corners=None,
    recompute_scale_factor=None)``, PyTorch's ``nn.Upsample``: ``xg.nn.interpolate`` with these
    arguments (checked when the layer is made where they alone decide).

    >>> import xpgrad as xg
    >>> xg.nn.Upsample(scale_factor=2, mode="bilinear")(xg.ones((2, 3, 4, 5))).shape
    (2, 3, 8, 10)
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None, name=None):
        super().__init__(name)
        who = type(self).__name__
        if mode not in MODES:
            raise ValueError(f"{who}: mode must be one of {list(MODES)}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{who}: give exactly one of size and scale_factor, got size="
                             f"{size!r} and scale_factor={scale_factor!r}")
        if align_corners is not None and mode not in _LINEAR_DIMS:
            raise ValueError(f"{who}: align_corners can only be set with the interpolating "
                             f"modes (linear, bilinear, trilinear, bicubic), not mode="
                             f"{mode!r}")
        if isinstance(scale_factor, tuple):
            scale_factor = tuple(float(f) for f in scale_factor)
        elif isinstance(scale_factor, numbers.Real) and not isinstance(scale_factor, bool):
            scale_factor = float(scale_factor)
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        try:
            return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                               self.recompute_scale_factor)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{type(self).__name__}: {str(e)[len('interpolate: '):]}") from None

    def _extra_repr(self):
        what = f"size={self.size!r}" if self.size is not None else \
            f"scale_factor={self.scale_factor!r}"
        corners = "" if self.align_corners is None else f", align_corners={self.align_corners}"
        return f", {what}, mode={self.mode!r}{corners}"


class UpsamplingNearest2d(Upsample):
    """``UpsamplingNearest2d(size=None, scale_factor=None)``, PyTorch's: ``Upsample`` with
    ``mode="nearest"`` on (N, C, H, W).

    >>> import xpgrad as xg
    >>> xg.nn.UpsamplingNearest2d(scale_factor=2)(xg.ones((1, 1, 2, 3))).shape
    (1, 1, 4, 6)
    """

    def __init__(self, size=None, scale_factor=None, name=None):
        super().__init__(size, scale_factor, "nearest", name=name)


class UpsamplingBilinear2d(Upsample):
    """``UpsamplingBilinear2d(size=None, scale_factor=None)``, PyTorch's: ``Upsample`` with
    ``mode="bilinear", align_corners=True`` on (N, C, H, W).

    >>> import xpgrad as xg
    >>> xg.nn.UpsamplingBilinear2d(size=(3, 3))(xg.ones((1, 1, 2, 2))).shape
    (1, 1, 3, 3)
    """

    def __init__(self, size=None, scale_factor=None, name=None):
        super().__init__(size, scale_factor, "bilinear", True, name=name)


__all__ = ["interpolate", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]
