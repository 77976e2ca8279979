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
``take`` per band entry times its weights (``_plan``; the per-axis machinery is
``resize_axis.py``'s). Nearest is a ``take`` at PyTorch's source indices or, where those are
``dst // r`` for an integer ``r`` (an integer scale factor), a repeat: ``r`` stacked copies
merged by a reshape, whose gradient is a sum of slices, not a scatter. One difference from
PyTorch: a NaN or infinity in the input of an interpolating mode spreads along its whole row
of that axis (its products with the zero weights), where PyTorch's reaches only the outputs
next to it.

>>> import xpgrad as xg
>>> x = xg.asarray([[[1.0, 2.0, 4.0]]])                   # (N, C, L)
>>> xg.nn.interpolate(x, scale_factor=2).tolist()
[[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
>>> xg.nn.interpolate(x, size=5, mode="linear", align_corners=True).tolist()
[[[1.0, 1.5, 2.0, 3.0, 4.0]]]
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..conversion import named_asarray
from ..tensor import Tensor
from .module import Module
from .resize_axis import _along, _nearest, _nearest_resize, _plan  # noqa: F401 (_plan re-exported)

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area")
#: the spatial axes each interpolating mode works on, as PyTorch's (3-D, 4-D, 5-D input)
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}


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
        input = named_asarray(input, f"{owner}: input")
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
