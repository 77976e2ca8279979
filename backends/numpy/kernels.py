"""Fused NumPy implementations of primitives, keyed by primitive name (``KERNELS``).

Each is a ``Kernel(forward, vjp)``: ``forward(*raw, **params) -> (out, saved)`` or None (fall
back to the generic rule, e.g. an integer dtype); ``vjp(g, saved, *raw, **params)`` gives one
gradient per input (None: none; NotImplemented: let the generic rule compute it). The
activations, the linear layer, the matrix product and the sum are here, the losses in
``loss_kernels.py``, what they share in ``kernel_common.py``. ``np.where`` is avoided: with a
random mask it is several times slower than arithmetic on a boolean mask.
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.deferred import weight_gradient
from xpgrad.ops._define import count, kept_shape

from .. import blas
from ..axis_sums import sum_axes, sum_rows
from . import blocks
from .blocks import BLOCK_BYTES, blocked, gradient_by_blocks
from .kernel_common import (_FLOAT_SET, _ONE, FLOATS, _float, _sigmoid,  # noqa: F401 (FLOATS)
                            _sigmoid_into)
from .loss_gradients import handed_once
from .huber import _huber_forward, _huber_value, _huber_vjp
from .loss_kernels import (_bce_forward, _bce_loss, _loss_only, _mse_forward, _mse_loss,
                           _sce_forward, _sce_loss, _sce_vjp, _smse_forward, _smse_loss)
from .smoothed_sce import _smoothed_sce_forward, _smoothed_sce_vjp
from .ufuncs import clip

# -- activations -------------------------------------------------------------------------------
def _sigmoid_forward(x):
    if getattr(x, "dtype", None) not in _FLOAT_SET:     # _float(x), inline
        return None
    if x.nbytes <= blocks.BLOCK_BYTES or not x.ndim:
        s = _sigmoid(x)
        return s, s
    # _sigmoid's four passes block by block, in cache (4096x256 float32: 1.12 -> 0.96 ms)
    s = np.empty(x.shape, x.dtype)
    with np.errstate(over="ignore"):
        blocked(_sigmoid_into, (x, s), 0)
    return s, s


def _sigmoid_vjp(g, s, x):
    if s.nbytes > blocks.BLOCK_BYTES and s.ndim and g.dtype == s.dtype:     # by blocks:
        return (gradient_by_blocks(_sigmoid_slope_times, g, (s,), 1),)      # in cache
    d = 1.0 - s
    d *= s
    d *= g
    return (d,)


def _sigmoid_vjp_in_place(g, s, x):
    if not _own_dense(g, s) or s.nbytes <= blocks.BLOCK_BYTES:
        return _sigmoid_vjp(g, s, x)
    return (gradient_by_blocks(_sigmoid_slope_times, g, (s,), 1, out=g),)


def _sigmoid_slope_times(g, s, out, slope):
    """``out`` <- ``g (1 - s) s``, the bits of ``_sigmoid_vjp``'s three passes."""
    np.subtract(1.0, s, out=slope)
    slope *= s
    np.multiply(slope, g, out=out)


def _own_dense(g, like):
    """Whether ``g`` is a writeable C-contiguous array of ``like``'s shape and dtype (a vjp may
    write into it)."""
    return (type(g) is np.ndarray and g.shape == like.shape and g.dtype == like.dtype
            and g.flags.c_contiguous and g.flags.writeable)


def _tanh_forward(x):
    if getattr(x, "dtype", None) not in _FLOAT_SET:     # _float(x), inline
        return None
    y = np.tanh(x)
    return y, y


def _tanh_vjp(g, y, x):
    if y.nbytes > blocks.BLOCK_BYTES and y.ndim and g.dtype == y.dtype:     # by blocks:
        return (gradient_by_blocks(_tanh_slope_times, g, (y,), 1),)         # in cache
    # g (1 - y^2) in one new array (a 0-d product would be a NumPy scalar, not an array)
    d = y * y if y.ndim else np.multiply(y, y, out=np.empty_like(y))
    np.subtract(_ONE[d.dtype], d, d)        # out positional: a keyword costs ~0.14 us here
    d *= g
    return (d,)


def _tanh_vjp_in_place(g, y, x):
    if not _own_dense(g, y) or y.nbytes <= blocks.BLOCK_BYTES:
        return _tanh_vjp(g, y, x)
    return (gradient_by_blocks(_tanh_slope_times, g, (y,), 1, out=g),)


def _tanh_slope_times(g, y, out, slope):
    """``out`` <- ``g (1 - y y)``, the bits of ``_tanh_vjp``'s three passes."""
    np.multiply(y, y, out=slope)
    np.subtract(1.0, slope, out=slope)
    np.multiply(slope, g, out=out)


def _relu_forward(x):
    if getattr(x, "dtype", None) not in _FLOAT_SET:     # _float(x), inline
        return None
    # clip's loop (ufuncs.py) is faster here than maximum's with a scalar (128x256 float32:
    # 7.1 -> 4.1 us), and it keeps -0.0 as -0.0, as PyTorch and the numba backend do
    y = clip(x, 0.0, _INF)
    return y, y       # y != 0 where x > 0 or NaN: the output, kept anyway, is the mask


def _relu_vjp(g, y, x):
    # the gradient passes where y != 0: x > 0, and x NaN (as in PyTorch). An inf or NaN in g
    # where x <= 0 gives NaN here (inf * 0), 0 in the generic rule: np.where is 10x slower
    return (g * (y != 0),)


def _relu_vjp_in_place(g, y, x):
    # g *= y != 0, a block of rows at a time: the boolean mask stays small too
    if type(g) is not np.ndarray or not g.flags.writeable or g.shape != y.shape \
            or g.dtype != y.dtype:          # a NumPy scalar, a read-only or broadcast gradient
        return _relu_vjp(g, y, x)
    if g.ndim < 2 or g.size <= _BLOCK:
        np.multiply(g, y != 0, out=g)
        return (g,)
    step = max(1, _BLOCK // (g.size // g.shape[0]))
    for i in range(0, g.shape[0], step):
        np.multiply(g[i:i + step], y[i:i + step] != 0, out=g[i:i + step])
    return (g,)


_BLOCK = 1 << 16       # elements per block of the in-place ReLU backward
_INF = float("inf")


def _leaky_forward(x, negative_slope):
    if not _float(x) or not 0.0 <= negative_slope <= 1.0:
        return None
    if not x.ndim:
        return np.maximum(x, x * negative_slope), None
    if x.nbytes <= BLOCK_BYTES:                  # one new array (128x256 float32: 8.7 -> 7.8 us)
        y = np.multiply(x, negative_slope)
        return np.maximum(x, y, out=y), None
    y = np.empty(x.shape, x.dtype)               # by blocks (4096x256: 733 -> 428 us)
    blocked(_leaky_into, (x, y), 0, negative_slope=negative_slope)
    return y, None


def _leaky_into(x, out, negative_slope):
    np.maximum(x, np.multiply(x, negative_slope, out=out), out=out)


def _leaky_vjp(g, saved, x, negative_slope):
    if x.nbytes > blocks.BLOCK_BYTES and x.ndim and g.dtype == x.dtype:
        return (gradient_by_blocks(_leaky_slope_times, g, (x,), 1,          # four passes in
                                   negative_slope=negative_slope),)        # cache, no masks
    slope = (x > 0).astype(g.dtype)                          # 1 above 0, else negative_slope
    slope *= 1.0 - negative_slope
    slope += negative_slope
    slope *= g
    return (slope,)


def _leaky_slope_times(g, x, out, slope, negative_slope):
    """``out`` <- ``g`` times 1 above 0, else ``negative_slope``: ``_leaky_vjp``'s bits."""
    np.greater(x, 0.0, out=slope)
    slope *= 1.0 - negative_slope
    slope += negative_slope
    np.multiply(slope, g, out=out)


# -- linear layer ------------------------------------------------------------------------------
def _linear_forward(x, w, b):
    out = blas.matmul(x, w)
    if b.dtype is not out.dtype and out.dtype != np.result_type(out, b):
        return None
    out += b                                                 # in place: no second array
    return out, None


def _linear_vjp(g, saved, needs, x, w, b):
    # no dx for a first layer; complex operands take the generic (conjugating) rules
    real = x.dtype.kind == "f" and w.dtype.kind == "f"
    dx = (blas.matmul(g, w.T) if real else NotImplemented) if needs[0] else None
    dw = (weight_gradient(x, g, w, needs[1]) if real else NotImplemented) if needs[1] else None
    return dx, dw, sum_rows(g) if needs[2] else None


# -- matrix product --------------------------------------------------------------------------------
def _matmul_forward(a, b):
    # 2-D float products of one dtype on the host products' BLAS (MKL's where installed; the
    # namespace's matmul is NumPy's); anything else (1-D, batched, complex) is the generic one
    if a.__class__ is not np.ndarray or b.__class__ is not np.ndarray or a.ndim != 2 \
            or b.ndim != 2 or a.dtype not in _FLOAT_SET or b.dtype != a.dtype:
        return None
    if a.shape[0] * a.shape[1] * b.shape[1] < blas.MIN_WORK:
        return np.matmul(a, b), None                   # blas.matmul's choice, without its checks
    return blas.matmul(a, b), None


def _matmul_vjp(g, saved, needs, a, b):
    if g.__class__ is not np.ndarray or g.ndim != 2 or g.dtype != a.dtype:
        return NotImplemented, NotImplemented          # a NumPy scalar or a broadcast seed
    return (blas.matmul(g, b.T) if needs[0] else None,
            weight_gradient(a, g, b, needs[1]) if needs[1] else None)


# -- sum -----------------------------------------------------------------------------------------
#: the most elements a sum's gradient is written out for: the generic rule's broadcast view
#: costs ~2.5 us to make (np.broadcast_to), an array of 256 floats filled with g far less
_FILLED_MAX = 256


#: from this many elements on, a sum is ``axis_sums.sum_axes``'s products with ones (float32
#: (256, 256) over its rows: 9 us against NumPy's 28 along short rows; whole: 10 against 25);
#: below it the array's own sum, whose call costs less
_PRODUCTS_MIN = 4096


def _sum_forward(x, axis, keepdims, dtype=None):
    # the array's own sum, without np.sum's wrapper (~1 us); not np.add.reduce called from
    # here, which would make NumPy's floating-point warnings (inf - inf) look like xpgrad's own
    # (sum_axes sums again by the array's own sum where its result is not finite)
    if dtype is not None or getattr(x, "dtype", None) not in _FLOAT_SET:
        return None
    if x.size < _PRODUCTS_MIN or x.__class__ is not np.ndarray:
        return x.sum(axis, None, None, keepdims), None
    out = sum_axes(x, tuple(range(x.ndim)) if axis is None else axis)
    return (out.reshape(kept_shape(x.shape, axis)) if keepdims else out), None


def _sum_vjp(g, saved, x, axis=None, keepdims=False, dtype=None):
    # keywords at their defaults: a full sum's tape node has none (Primitive.default_keywords)
    if x.size > _FILLED_MAX:
        if axis is None and not keepdims and g.__class__ is np.ndarray and not g.ndim:
            # g everywhere, kept 0-d: the walk adds it to a dense gradient as one scalar, or
            # broadcasts it where it is the only one (backward.py, gradient_fit)
            return (g,)
        view = _broadcast_view(g, x.shape, axis, keepdims)
        return (NotImplemented if view is None else view,)   # None: the generic rule's
    out = np.empty(x.shape, g.dtype)
    out[...] = g if keepdims or axis is None else g.reshape(kept_shape(x.shape, axis))
    return (out,)


def _mean_forward(x, axis, keepdims):
    """``sum``'s kernel divided by the count: global average pooling of (32, 64, 28, 28)
    float32 (``mean`` over the last two axes), one core: 440 us by NumPy's ``mean`` (a pairwise
    sum along each short row), 75 by the products with ones (PyTorch's 70)."""
    n = count(getattr(x, "shape", ()), axis)
    if not n:                               # empty: NumPy's NaN and its warning
        return None
    res = _sum_forward(x, axis, keepdims)
    return None if res is None else (res[0] / n, None)


def _mean_vjp(g, saved, x, axis=None, keepdims=False):
    """``sum``'s gradient of ``g / count``: the division on the small output, not the input."""
    return _sum_vjp(g / count(x.shape, axis), saved, x, axis, keepdims)


def _broadcast_view(g, shape, axis, keepdims):
    """The generic rule's read-only broadcast of a sum's gradient ``g`` over ``shape``, made
    by the array constructor with zero strides (0.7 us; ``np.broadcast_to`` takes 2.2); None
    where ``g`` is not one contiguous block.

    >>> v = _broadcast_view(np.float32(2.0), (2, 3), None, False)
    >>> v.tolist(), v.strides, v.flags.writeable
    ([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]], (0, 0), False)
    """
    if g.__class__ is not np.ndarray:
        g = np.asarray(g)                   # a NumPy scalar
    if not (keepdims or axis is None):
        g = g.reshape(kept_shape(shape, axis))
    if not g.flags.c_contiguous:
        return None
    strides = (0,) * len(shape) if g.ndim == 0 else \
        tuple(0 if n == 1 else step for n, step in zip(g.shape, g.strides))
    view = np.ndarray(shape, g.dtype, g, 0, strides)     # holds g (its base)
    view.flags.writeable = False
    return view


#: a float's sign scaled past 1 (its smallest subnormal included) by two products: 2**100
#: twice for float32 (2**-149 and up), 2**600 for float64 (2**-1074)
_SIGN_SCALES = {np.dtype(np.float32): 2.0 ** 100, np.dtype(np.float64): 2.0 ** 600}


def _sign_forward(x):
    """``np.sign`` of a float array (a scalar loop: 22 us for 256x256 float32) as ``x`` scaled
    past 1 and clipped to +-1 (+-inf too; NaN stays), plus 0.0 so that -0.0 gives 0.0 as NumPy's:
    four vectorized passes, the same values."""
    scale = _SIGN_SCALES.get(getattr(x, "dtype", None))
    if scale is None or not x.ndim:
        return None
    with np.errstate(over="ignore"):           # +-inf past the range: clipped below
        out = np.multiply(x, scale)
        out *= scale
    clip(out, -1.0, 1.0, out=out)
    out += 0.0
    return out, None


def _sign_vjp(g, saved, x):
    return (np.zeros_like(g),)


KERNELS: dict = {
    "sign": Kernel(_sign_forward, _sign_vjp, saves=()),
    "linear": Kernel(_linear_forward, _linear_vjp, saves=(0, 1), needs=True,
                     traced_generic=(0, 1), defers=(1,)),
    # eager only: a trace records the generic product and its rules, which its rewrites read
    "matmul": Kernel(_matmul_forward, _matmul_vjp, saves=(0, 1), needs=True, eager_only=True,
                     defers=(1,)),
    "softmax_cross_entropy": Kernel(_sce_forward, _sce_vjp, value=_loss_only(_sce_loss)),
    "sigmoid_cross_entropy_with_logits": Kernel(*handed_once(_bce_forward),
                                                value=_loss_only(_bce_loss)),
    "mse": Kernel(*handed_once(_mse_forward), value=_loss_only(_mse_loss)),
    "sigmoid_mse": Kernel(*handed_once(_smse_forward), value=_loss_only(_smse_loss)),
    "huber": Kernel(_huber_forward, _huber_vjp, value=_huber_value),
    "smoothed_softmax_cross_entropy": Kernel(_smoothed_sce_forward, _smoothed_sce_vjp),
    "sigmoid": Kernel(_sigmoid_forward, _sigmoid_vjp, saves=(),
                      vjp_in_place=_sigmoid_vjp_in_place),
    "tanh": Kernel(_tanh_forward, _tanh_vjp, saves=(), vjp_in_place=_tanh_vjp_in_place),
    "relu": Kernel(_relu_forward, _relu_vjp, saves=(), vjp_in_place=_relu_vjp_in_place),
    "leaky_relu": Kernel(_leaky_forward, _leaky_vjp),
    "sum": Kernel(_sum_forward, _sum_vjp, saves=(), eager_only=True),
    "mean": Kernel(_mean_forward, _mean_vjp, saves=(), eager_only=True),
}
