"""Fused NumPy implementations of primitives, keyed by primitive name (``KERNELS``).

Each is a ``Kernel(forward, vjp)``: ``forward(*raw, **params) -> (out, saved)`` or None (fall
back to the generic rule, e.g. an integer dtype); ``vjp(g, saved, *raw, **params)`` gives one
gradient per input (None: none; NotImplemented: let the generic rule compute it). The losses
compute the loss and its gradient together and save the gradient, so their vjp is one multiply
(or nothing when the incoming gradient is exactly 1). ``np.where`` is avoided: with a random
mask it is several times slower than arithmetic on a boolean mask.
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.deferred import weight_gradient
from xpgrad.dtypes import FLOAT_NAMES
from xpgrad.ops import formulas
from xpgrad.ops._define import kept_shape

from .. import blas
from .blocks import BLOCK_BYTES, blocked
from .ufuncs import clip

#: the native dtypes fused kernels cover (the Numba backend's too)
FLOATS = tuple(np.dtype(name) for name in FLOAT_NAMES)


_FLOAT_SET = frozenset(FLOATS)
#: 1 as a 0-d array of each of those dtypes: ``1 - d`` with it skips NumPy's slower path for a
#: Python scalar operand (same value: NumPy casts the scalar 1.0 to d's dtype)
_ONE = {dt: np.ones((), dt) for dt in FLOATS}


def _float(*arrays):
    for a in arrays:
        if getattr(a, "dtype", None) not in _FLOAT_SET:
            return False
    return True


def _times(g, saved):
    """``g * saved``, returning ``saved`` itself when ``g`` is exactly 1 (the usual seed)."""
    if g.ndim == 0 and g == 1:
        return saved
    return g * saved


def _inv(n):
    """1/n as the mean's gradient factor; an empty batch has an empty gradient (any factor)."""
    return 1.0 / n if n else 1.0


def _total(total, reduction, n, dtype):
    if reduction == "mean":
        total = total / n if n else np.nan        # the mean of nothing, as np.mean, silently
    return np.asarray(total, dtype=dtype)


def _reduced(per, reduction, n):
    if reduction == "none":
        return per
    return _total(per.sum(), reduction, n, per.dtype)


def _loss_only(loss):
    """The ``value`` of a fused loss kernel from ``loss(x, t, reduction)`` (None: declined)."""
    def value(x, t, reduction):
        out = loss(x, t, reduction)
        return None if out is None else (out, None)

    return value


def _sigmoid(x):
    # 1 / (1 + exp(-x)); exp overflows to inf below x ~ -88 (float32), giving 0 there (the true
    # value is subnormal), with no branches or np.where
    with np.errstate(over="ignore"):
        s = np.negative(x, out=np.empty_like(x))     # an array also for 0-d x, not a scalar
        np.exp(s, out=s)
        s += 1.0
        np.divide(1.0, s, out=s)
    return s


# -- softmax cross-entropy ---------------------------------------------------------------------
#: entries of a row's chunk whose products einsum sums in one float32 chain (rows of 2 chunks
#: or more are summed chunk by chunk, then the chunks' sums pairwise)
_DOT_CHUNK = 256


def _row_dots(a, b):
    """``sum(a * b, axis=1)`` of two (n, c) arrays. einsum's float32 chain over a long row
    rounds with its length (a relative 1e-5 at c = 1e6, 4e-7 at 1000; PyTorch's 5e-8-1e-7):
    longer rows go in chunks of ``_DOT_CHUNK`` (1e-7 at any length; the loss 1% slower at
    1000 classes, as fast at 1e6)."""
    n, c = a.shape
    if c < 2 * _DOT_CHUNK:
        return np.einsum("ij,ij->i", a, b)
    k = c - c % _DOT_CHUNK
    chunks = np.einsum("ijk,ijk->ij", a[:, :k].reshape(n, -1, _DOT_CHUNK),
                       b[:, :k].reshape(n, -1, _DOT_CHUNK))
    out = chunks.sum(axis=1)
    if k < c:
        out += np.einsum("ij,ij->i", a[:, k:], b[:, k:])
    return out


def _sce_losses(logits, labels):
    """``(per-row losses, exp of the max-shifted logits, their row sums (n, 1), the row
    numbers (class indices) or the targets' row sums (n, 1) (probabilities))``, or None where
    the generic rule runs."""
    if logits.dtype not in FLOATS or logits.ndim != 2:
        return None
    n = logits.shape[0]
    e = logits - logits.max(axis=1, keepdims=True)          # shifted logits
    if labels.dtype.kind in "iu":
        rows = np.arange(n)
        picked = e[rows, labels]
        np.exp(e, out=e)
        s = e.sum(axis=1, keepdims=True)
        per = np.log(s.reshape(n))
        per -= picked
        return per, e, s, rows
    if labels.dtype not in FLOATS:
        return None
    t_sum = labels.sum(axis=1, keepdims=True)
    t_dot = _row_dots(labels, e)
    if not np.isfinite(t_dot).all():          # 0 * -inf (a masked class) counts as 0
        with np.errstate(invalid="ignore"):
            t_dot = np.where(labels == 0, 0.0, labels * e).sum(axis=1)
    np.exp(e, out=e)
    s = e.sum(axis=1, keepdims=True)
    per = np.log(s.reshape(n))
    per *= t_sum.reshape(n)
    per -= t_dot
    return per, e, s, t_sum


def _sce_forward(logits, labels, reduction):
    parts = _sce_losses(logits, labels)
    if parts is None:
        return None
    per, e, s, rows_or_t_sum = parts
    n = logits.shape[0]
    coef = _inv(n) if reduction == "mean" else 1.0
    if labels.dtype.kind in "iu":
        np.divide(coef, s, out=s)
        e *= s                                               # softmax, scaled for "mean"
        e[rows_or_t_sum, labels] -= coef
    else:
        t_sum = rows_or_t_sum
        e *= (coef * t_sum) / s                             # softmax * sum(t), scaled
        if coef == 1.0:
            e -= labels
        else:
            e -= coef * labels
    return _reduced(per, reduction, n), e


def _sce_loss(logits, labels, reduction):
    parts = _sce_losses(logits, labels)
    return None if parts is None else _reduced(parts[0], reduction, logits.shape[0])


def _sce_vjp(g, saved, logits, labels, reduction):
    dlogits = g[:, None] * saved if reduction == "none" else _times(g, saved)
    return dlogits, (None if labels.dtype.kind in "iu" else NotImplemented)


# -- sigmoid cross-entropy with logits ---------------------------------------------------------
def _bce_loss(x, t, reduction):
    """The loss (per entry or reduced), or None where the generic rule runs."""
    if not _float(x, t) or x.shape != t.shape or not x.ndim:
        return None     # 0-d: NumPy's arithmetic gives scalars, which the in-place steps need
    a = np.abs(x)
    per = np.where(x > 0, 1.0 - t, t)          # the losing side's weight (formulas.sigmoid_ce)
    with np.errstate(invalid="ignore"):        # inf * 0 at an infinite logit: redone below
        per *= a
    np.negative(a, out=a)
    np.exp(a, out=a)                                         # exp(-|x|)
    per += np.log1p(a, out=a)
    total = per.sum()
    if np.isnan(total):        # NaN somewhere, or an infinite logit with nothing to lose
        per = formulas.sigmoid_ce(np, x, t)
        total = per.sum()
    return per if reduction == "none" else _total(total, reduction, x.size, per.dtype)


def _bce_forward(x, t, reduction):
    out = _bce_loss(x, t, reduction)
    if out is None:
        return None
    grad = _sigmoid(x)
    grad -= t
    if reduction == "mean":
        grad *= _inv(x.size)
    return out, grad


def _elementwise_vjp(g, saved, x, t, reduction):
    return _times(g, saved), NotImplemented


# -- squared errors ----------------------------------------------------------------------------
def _sum_of_squares(flat):
    """``sum(flat**2)`` as accurately as the generic rule: one BLAS dot in float64; in float32
    the generic rule's pairwise sum (a float32 dot of 1e5 entries is off by about 1e-5
    relative, the pairwise sum by 1e-7), at the price of one temporary.

    >>> round(float(_sum_of_squares(np.full(100_000, 0.1, np.float32))), 2)
    1000.0
    """
    if flat.dtype == np.float32:
        return np.square(flat).sum()
    return np.dot(flat, flat)


def _squared_loss(d, reduction):
    """The loss of residuals ``d``."""
    if reduction == "none":
        return d * d
    return _total(_sum_of_squares(d.reshape(-1)), reduction, d.size, d.dtype)


def _squared(d, reduction):
    """The loss of residuals ``d``; scales ``d`` in place into d(loss)/d(residual)."""
    out = _squared_loss(d, reduction)
    d *= 2.0 * _inv(d.size) if reduction == "mean" else 2.0
    return out


def _mse_residuals(p, t):
    if not _float(p, t) or p.shape != t.shape or not p.ndim:
        return None                                          # 0-d: the generic rule
    return p - t


def _mse_forward(p, t, reduction):
    d = _mse_residuals(p, t)
    return None if d is None else (_squared(d, reduction), d)


def _smse_residuals(x, t):
    """``(sigmoid(x) - t, sigmoid(x))``, or None where the generic rule runs."""
    if not _float(x, t) or x.shape != t.shape or not x.ndim:
        return None                                          # 0-d: the generic rule
    s = _sigmoid(x)
    return s - t, s


def _smse_forward(x, t, reduction):
    residuals = _smse_residuals(x, t)
    if residuals is None:
        return None
    d, s = residuals
    out = _squared(d, reduction)
    d *= s                                                   # 2 (s - t) s (1 - s)
    s -= 1.0
    d *= s
    np.negative(d, out=d)
    return out, d


def _mse_loss(p, t, reduction):
    d = _mse_residuals(p, t)
    return None if d is None else _squared_loss(d, reduction)


def _smse_loss(x, t, reduction):
    residuals = _smse_residuals(x, t)
    return None if residuals is None else _squared_loss(residuals[0], reduction)


# -- Huber and smooth L1 -----------------------------------------------------------------------
def _huber_losses(p, t, delta, half_scale):
    """``(d = p - t, the losses per entry)`` (or None where the generic rule runs): ``half_scale
    * r (2|d| - r)`` with ``r = min(|d|, delta)``, the generic rule's two branches in one
    expression, so no mask or ``np.where``."""
    if not _float(p, t) or p.shape != t.shape or not p.ndim:
        return None                                          # 0-d: the generic rule
    d = p - t
    a = np.abs(d)
    r = np.minimum(a, delta)                                 # (NaN stays NaN)
    a += a
    a -= r
    a *= r
    if half_scale != 1.0:
        a *= half_scale
    return d, a


def _huber_forward(p, t, reduction, delta, scale):
    parts = _huber_losses(p, t, delta, 0.5 * scale)
    if parts is None:
        return None
    d, per = parts
    clip(d, -delta, delta, out=d)                            # the gradient, scaled below
    factor = scale * (_inv(d.size) if reduction == "mean" else 1.0)
    if factor != 1.0:
        d *= factor
    return _reduced(per, reduction, p.size), d


def _huber_value(p, t, reduction, delta, scale):
    parts = _huber_losses(p, t, delta, 0.5 * scale)
    return None if parts is None else (_reduced(parts[1], reduction, p.size), None)


def _huber_vjp(g, saved, p, t, reduction, delta, scale):
    return _times(g, saved), NotImplemented


# -- softmax cross-entropy with label smoothing --------------------------------------------------
def _smoothed_sce_forward(logits, labels, reduction, smoothing, ignore_index):
    """Integer labels against ``(1 - smoothing) onehot + smoothing / C``, rows labelled
    ``ignore_index`` left out: the losses from the shifted logits' row sums (no target
    array), the gradient ``softmax - target`` written over their exponentials."""
    if logits.dtype not in FLOATS or logits.ndim != 2 or labels.dtype.kind not in "iu" \
            or labels.shape != logits.shape[:1]:
        return None
    n, c = logits.shape
    ignored = labels == ignore_index
    count = n - int(np.count_nonzero(ignored))
    safe = labels if count == n else np.where(ignored, 0, labels)
    keep, spread = 1.0 - smoothing, smoothing / c
    e = logits - logits.max(axis=1, keepdims=True)           # shifted logits
    rows = np.arange(n)
    bracket = e.sum(axis=1)
    bracket *= spread
    bracket += keep * e[rows, safe]
    np.exp(e, out=e)
    s = e.sum(axis=1, keepdims=True)
    per = np.log(s.reshape(n))
    per -= bracket
    coef = 1.0 / count if reduction == "mean" and count else 1.0
    np.divide(coef, s, out=s)
    e *= s                                                   # softmax, scaled for "mean"
    e -= coef * spread
    e[rows, safe] -= coef * keep
    if count != n:
        per[ignored] = 0.0
        e[ignored] = 0.0
    if reduction == "none":
        return per, e
    return _total(per.sum(), reduction, count, per.dtype), e


def _smoothed_sce_vjp(g, saved, logits, labels, reduction, smoothing, ignore_index):
    return (g[:, None] * saved if reduction == "none" else _times(g, saved)), None


# -- activations -------------------------------------------------------------------------------
def _sigmoid_forward(x):
    if getattr(x, "dtype", None) not in _FLOAT_SET:     # _float(x), inline
        return None
    s = _sigmoid(x)
    return s, s


def _sigmoid_vjp(g, s, x):
    d = 1.0 - s
    d *= s
    d *= g
    return (d,)


def _tanh_forward(x):
    if getattr(x, "dtype", None) not in _FLOAT_SET:     # _float(x), inline
        return None
    y = np.tanh(x)
    return y, y


def _tanh_vjp(g, y, x):
    # g (1 - y^2) in one new array (a 0-d product would be a NumPy scalar, not an array)
    d = y * y if y.ndim else np.multiply(y, y, out=np.empty_like(y))
    np.subtract(_ONE[d.dtype], d, d)        # out positional: a keyword costs ~0.14 us here
    d *= g
    return (d,)


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
    slope = (x > 0).astype(g.dtype)                          # 1 above 0, else negative_slope
    slope *= 1.0 - negative_slope
    slope += negative_slope
    slope *= g
    return (slope,)


# -- linear layer ------------------------------------------------------------------------------
def _linear_forward(x, w, b):
    out = blas.matmul(x, w)
    if out.dtype != np.result_type(out, b):
        return None
    out += b                                                 # in place: no second array
    return out, None


def _linear_vjp(g, saved, needs, x, w, b):
    # no dx for a first layer; complex operands take the generic (conjugating) rules
    real = x.dtype.kind == "f" and w.dtype.kind == "f"
    dx = (blas.matmul(g, w.T) if real else NotImplemented) if needs[0] else None
    dw = (weight_gradient(x, g, w, needs[1]) if real else NotImplemented) if needs[1] else None
    # the array's own sum, as the sum kernel's: NumPy's warnings stay NumPy's
    return dx, dw, g.sum(0) if needs[2] else None


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


def _sum_forward(x, axis, keepdims, dtype=None):
    # the array's own sum, without np.sum's wrapper (~1 us); not np.add.reduce called from
    # here, which would make NumPy's floating-point warnings (inf - inf) look like xpgrad's own
    if dtype is not None or getattr(x, "dtype", None) not in _FLOAT_SET:
        return None
    return x.sum(axis, None, None, keepdims), None


def _sum_vjp(g, saved, x, axis, keepdims, dtype=None):
    if x.size > _FILLED_MAX:
        view = _broadcast_view(g, x.shape, axis, keepdims)
        return (NotImplemented if view is None else view,)   # None: the generic rule's
    out = np.empty(x.shape, g.dtype)
    out[...] = g if keepdims or axis is None else g.reshape(kept_shape(x.shape, axis))
    return (out,)


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


KERNELS: dict = {
    "linear": Kernel(_linear_forward, _linear_vjp, saves=(0, 1), needs=True,
                     traced_generic=(0, 1), defers=(1,)),
    # eager only: a trace records the generic product and its rules, which its rewrites read
    "matmul": Kernel(_matmul_forward, _matmul_vjp, saves=(0, 1), needs=True, eager_only=True,
                     defers=(1,)),
    "softmax_cross_entropy": Kernel(_sce_forward, _sce_vjp, value=_loss_only(_sce_loss)),
    "sigmoid_cross_entropy_with_logits": Kernel(_bce_forward, _elementwise_vjp,
                                                value=_loss_only(_bce_loss)),
    "mse": Kernel(_mse_forward, _elementwise_vjp, value=_loss_only(_mse_loss)),
    "sigmoid_mse": Kernel(_smse_forward, _elementwise_vjp, value=_loss_only(_smse_loss)),
    "huber": Kernel(_huber_forward, _huber_vjp, value=_huber_value),
    "smoothed_softmax_cross_entropy": Kernel(_smoothed_sce_forward, _smoothed_sce_vjp),
    "sigmoid": Kernel(_sigmoid_forward, _sigmoid_vjp, saves=()),
    "tanh": Kernel(_tanh_forward, _tanh_vjp, saves=()),
    "relu": Kernel(_relu_forward, _relu_vjp, saves=(), vjp_in_place=_relu_vjp_in_place),
    "leaky_relu": Kernel(_leaky_forward, _leaky_vjp),
    "sum": Kernel(_sum_forward, _sum_vjp, saves=(), eager_only=True),
}
