"""Kernels (forward + vjp) of the fused losses for the Numba backend.

Each forward computes the loss and, in the same pass, the gradient for an output gradient of 1
(the primitive's contract, see ``xpgrad/ops/losses.py``; ``value``, for a call no tape records,
the loss alone); the vjp scales that saved gradient by the incoming one. The saved buffer is
handed out (scaled in place) the first time; a second vjp on the same record (a persistent
tape) recomputes it, so a caller may keep or modify what it got. Unsupported inputs (dtypes
other than float32/float64, mixed dtypes) return None: the generic rule runs instead.

>>> import numpy as np
>>> out, saved = KERNELS["mse"].forward(np.array([1.0, 3.0], np.float32),
...                                     np.zeros(2, np.float32), reduction="mean")
>>> float(out), saved.grad.tolist()
(5.0, [1.0, 3.0])
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from ..numpy.kernels import FLOATS
from ..numpy.loss_gradients import SavedGradient as Saved
from . import _config
from . import _loss_kernels as loops
from . import _sce_kernels
from ._sce_gathered import GATHERED_MAX
from ._sce_registers import regs_max

_EMPTY = {d: np.empty(0, d) for d in FLOATS}


def _flat(a):
    """A 1-D C-contiguous view of ``a`` (a copy when ``a`` is not contiguous)."""
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a.reshape(-1)


def _reduce(total, n, reduction, dtype):
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    return np.asarray(total / n if n else np.nan, dtype=dtype)


def _scale(reduction, n):
    return 1.0 / n if reduction == "mean" and n else 1.0


def _take(saved, g, forward, raws, params):
    """The saved gradient times ``g``: the buffer itself the first time, a fresh one after."""
    if saved.taken:
        saved = forward(*raws, **params)[1]
    saved.taken = True
    grad = saved.grad
    if g.ndim == 0:
        if g != 1:
            grad *= g
    elif g.ndim == 1 and grad.ndim == 2:           # reduction="none" of the softmax loss
        grad *= g[:, None]
    else:
        grad *= g
    return grad


# -- softmax cross-entropy ----------------------------------------------------------------------
#: the gradient's scale per (dtype, reduction, rows), as the kernels take it (in the dtype)
_scales: dict = {}

def _sce_inputs(logits, labels):
    """``(logits C-ordered, targets, kind, rows limit of the short kernels)`` for the kernels,
    or None where the generic rule runs."""
    dt = logits.dtype
    if dt not in FLOATS or logits.ndim != 2:
        return None
    n, c = logits.shape
    x = logits if logits.flags.c_contiguous else np.ascontiguousarray(logits)
    if labels.dtype.kind in "iu":
        if labels.shape != (n,):
            return None
        target = labels if labels.dtype == np.intp else labels.astype(np.intp)
        return x, target, "labels", _config.SHORT_ROWS_MAX
    if labels.dtype == dt and labels.shape == (n, c):
        return x, np.ascontiguousarray(labels), "probs", _config.SHORT_PROBS_MAX
    return None


def _bad_label(kind, target, c):
    """Whether a NaN total comes from a label out of range (the generic rule reports it)."""
    return kind == "labels" and (target.min() < 0 or target.max() >= c)


def _sce_loop(kind, limit, dt, c):
    """The one-thread and threaded loops for rows of ``c`` classes."""
    # rows of few classes: SIMD across rows (float64 rows fill registers twice as fast)
    length = ("gathered" if c <= GATHERED_MAX
              else "regs" if c <= regs_max(dt, kind)
              else "short" if c <= limit // (dt.itemsize // 4) else "rows")
    return _sce_kernels.sce_loops(kind, length, c)


def sce_forward(logits, labels, reduction):
    # the choices for these shapes and dtypes made once (sce_prepared): 3-4 us of an eager
    # step's, after its products have left the interpreter's memory cold
    # (the threading threshold too: sce_prepared declines sizes that run threaded)
    key = (logits.shape, logits.dtype, labels.shape, labels.dtype, reduction,
           _config.ROW_PAR_MIN)
    prepared = _PREPARED.get(key, _UNSEEN)
    if prepared is _UNSEEN:
        if len(_PREPARED) >= 64:
            _PREPARED.clear()
        prepared = _PREPARED[key] = sce_prepared(*key[:5])
    if prepared is None:
        return _sce_forward(logits, labels, reduction)
    out = prepared(logits, labels)
    return None if out is None else (out[0], Saved(out[1]))


#: ``sce_prepared`` by (logits' shape and dtype, the labels', reduction, ``ROW_PAR_MIN``); None:
#: the general path
_PREPARED: dict = {}
_UNSEEN = object()


def _sce_forward(logits, labels, reduction):
    """``sce_forward`` choosing its loop and scale for these inputs."""
    inputs = _sce_inputs(logits, labels)
    if inputs is None:
        return None
    x, target, kind, limit = inputs
    dt = logits.dtype
    n, c = logits.shape
    grad = np.empty((n, c), dt)
    losses = np.empty(n, dt)
    scale = _scales.get((dt, reduction, n))
    if scale is None:
        if len(_scales) > 64:
            _scales.clear()
        scale = _scales[dt, reduction, n] = dt.type(_scale(reduction, n))
    one_thread, threaded = _sce_loop(kind, limit, dt, c)
    total = 0.0                      # the losses' sum in float64; NaN also at a bad label
    if n:
        total = _config.run_by_rows(one_thread, threaded, n, c, x, target, grad, losses, scale)
    if total != total and _bad_label(kind, target, c):
        return None
    out = losses if reduction == "none" else _reduce(total, n, reduction, dt)
    return out, Saved(grad)


def sce_prepared(shape, dtype, labels_shape, labels_dtype, reduction):
    """``sce_forward`` with the gradient, for the fixed shapes and dtypes of a replayed
    program, what depends on them alone chosen once: ``forward(logits, labels)`` gives
    ``(loss, gradient)`` (the buffer itself), or None at a bad label. None where only the
    general path runs: threaded sizes, no rows, labels to convert or of another shape. (A
    replayed B=32 MLP step spent 9-10 us in ``sce_forward``, 3.5 of them in these choices,
    after its big products had left the interpreter's memory cold.)"""
    dt, labels_dtype = np.dtype(dtype), np.dtype(labels_dtype)
    if dt not in FLOATS or len(shape) != 2:
        return None
    n, c = shape
    if labels_dtype == np.intp and tuple(labels_shape) == (n,):
        kind, limit = "labels", _config.SHORT_ROWS_MAX
    elif labels_dtype == dt and tuple(labels_shape) == (n, c):
        kind, limit = "probs", _config.SHORT_PROBS_MAX
    else:
        return None
    if not n or (n > 1 and n * c >= _config.ROW_PAR_MIN):
        return None
    loop = _sce_loop(kind, limit, dt, c)[0]
    scale = dt.type(_scale(reduction, n))

    def forward(logits, labels):
        if not (logits.flags.c_contiguous and labels.flags.c_contiguous):
            out = _sce_forward(logits, labels, reduction)
            return None if out is None else (out[0], out[1].grad)
        grad = np.empty(shape, dt)
        losses = np.empty(n, dt)
        total = loop(logits, labels, grad, losses, scale)
        if total != total and _bad_label(kind, labels, c):
            return None
        return (losses if reduction == "none" else _reduce(total, n, reduction, dt)), grad

    return forward


#: the fewest classes the loss-only row loops take; rows of fewer go through the forward's
#: SIMD-across-rows loops, gradient and all, which are faster there (forward / loss-only time,
#: 4096 rows, one thread: 0.75 at 40 classes, 1.04-1.28 at 64, 1.3-1.6 at 128 and 1000)
LOSS_ONLY_MIN = 64


def sce_value(logits, labels, reduction):
    """``sce_forward`` for a call no tape records: the losses alone (no gradient)."""
    if logits.ndim != 2 or logits.shape[1] < LOSS_ONLY_MIN:
        return sce_forward(logits, labels, reduction)
    inputs = _sce_inputs(logits, labels)
    if inputs is None:
        return None
    x, target, kind, _ = inputs
    n, c = logits.shape
    losses = np.empty(n, logits.dtype)
    one_thread, threaded = (loops.sce_labels_loss_block, loops.sce_labels_loss_par) \
        if kind == "labels" else (loops.sce_probs_loss_block, loops.sce_probs_loss_par)
    total = _config.run_by_rows(one_thread, threaded, n, c, x, target, losses) if n else 0.0
    if total != total and _bad_label(kind, target, c):
        return None
    return (losses if reduction == "none" else _reduce(total, n, reduction, logits.dtype)), None


def sce_vjp(g, saved, logits, labels, reduction):
    dlabels = None if labels.dtype.kind in "iu" else NotImplemented
    return _take(saved, g, sce_forward, (logits, labels), {"reduction": reduction}), dlabels


# -- elementwise losses --------------------------------------------------------------------------
def _elementwise(block, par, two, value_loops):
    """Kernel forward for a loss ``f(x, t)`` of same-shaped float arrays."""

    def forward(x, t, reduction):
        dt = x.dtype
        if dt not in FLOATS or t.dtype != dt or t.shape != x.shape:
            return None
        shape = x.shape
        xf, tf = _flat(x), _flat(t)
        n = xf.shape[0]
        grad = np.empty(shape, dt)      # no base: a vjp may write over it (vjp_in_place)
        out = np.empty(n, dt) if reduction == "none" else _EMPTY[dt]
        c = dt.type(two * _scale(reduction, n))
        total = _config.run_by_size(block, par, n, xf, tf, grad.reshape(-1), out, c)
        res = out.reshape(shape) if reduction == "none" else _reduce(total, n, reduction, dt)
        return res, Saved(grad)

    def vjp(g, saved, x, t, reduction):
        return _take(saved, g, forward, (x, t), {"reduction": reduction}), NotImplemented

    return Kernel(forward, vjp, value=_elementwise_value(*value_loops, two))


def _elementwise_value(block, par, two):
    """The ``value`` of an elementwise loss: ``forward`` without the gradient."""

    def value(x, t, reduction):
        dt = x.dtype
        if dt not in FLOATS or t.dtype != dt or t.shape != x.shape:
            return None
        xf, tf = _flat(x), _flat(t)
        n = xf.shape[0]
        out = np.empty(n, dt) if reduction == "none" else _EMPTY[dt]
        c = dt.type(two * _scale(reduction, n))
        total = _config.run_by_size(block, par, n, xf, tf, out, c)
        res = out.reshape(x.shape) if reduction == "none" else _reduce(total, n, reduction, dt)
        return res, None

    return value


# -- Huber and smooth L1 --------------------------------------------------------------------------
def _huber_constants(dt, reduction, n, delta, scale):
    """``(gradient factor, delta, scale / 2)`` in ``dt``, as ``loops._huber`` takes them."""
    return (dt.type(scale * _scale(reduction, n)), dt.type(delta), dt.type(0.5 * scale))


def huber_forward(x, t, reduction, delta, scale):
    dt = x.dtype
    if dt not in FLOATS or t.dtype != dt or t.shape != x.shape:
        return None
    xf, tf = _flat(x), _flat(t)
    n = xf.shape[0]
    grad = np.empty(n, dt)
    out = np.empty(n, dt) if reduction == "none" else _EMPTY[dt]
    c = _huber_constants(dt, reduction, n, delta, scale)
    total = _config.run_by_size(loops.huber_block, loops.huber_par, n, xf, tf, grad, out, c)
    res = out.reshape(x.shape) if reduction == "none" else _reduce(total, n, reduction, dt)
    return res, Saved(grad.reshape(x.shape))


def huber_value(x, t, reduction, delta, scale):
    dt = x.dtype
    if dt not in FLOATS or t.dtype != dt or t.shape != x.shape:
        return None
    xf, tf = _flat(x), _flat(t)
    n = xf.shape[0]
    out = np.empty(n, dt) if reduction == "none" else _EMPTY[dt]
    c = _huber_constants(dt, reduction, n, delta, scale)
    total = _config.run_by_size(loops.huber_loss_block, loops.huber_loss_par, n, xf, tf, out, c)
    res = out.reshape(x.shape) if reduction == "none" else _reduce(total, n, reduction, dt)
    return res, None


def huber_vjp(g, saved, x, t, reduction, delta, scale):
    params = {"reduction": reduction, "delta": delta, "scale": scale}
    return _take(saved, g, huber_forward, (x, t), params), NotImplemented


# -- softmax cross-entropy with label smoothing ---------------------------------------------------
def smoothed_sce_forward(logits, labels, reduction, smoothing, ignore_index):
    """The loss against ``(1 - smoothing) * onehot + smoothing / classes`` and its gradient,
    rows labelled ``ignore_index`` left out (``"mean"`` divides by the rows kept)."""
    dt = logits.dtype
    if dt not in FLOATS or logits.ndim != 2 or labels.dtype.kind not in "iu" \
            or labels.shape != logits.shape[:1]:
        return None
    n, c = logits.shape
    x = logits if logits.flags.c_contiguous else np.ascontiguousarray(logits)
    target = labels if labels.dtype == np.intp else labels.astype(np.intp)
    kept = n - int(np.count_nonzero(target == ignore_index))
    grad = np.empty((n, c), dt)
    losses = np.empty(n, dt)
    scale = dt.type(1.0 / kept if reduction == "mean" and kept else 1.0)
    keep, spread = dt.type(1.0 - smoothing), dt.type(smoothing / c)
    total = 0.0
    if n:
        total = _config.run_by_rows(loops.sce_smoothed_block, loops.sce_smoothed_par, n, c, x,
                                    target, grad, losses, scale, keep, spread, ignore_index)
    if total != total and _bad_label("labels", target[target != ignore_index], c):
        return None
    out = losses if reduction == "none" else _reduce(total, kept, reduction, dt)
    return out, Saved(grad)


def smoothed_sce_vjp(g, saved, logits, labels, reduction, smoothing, ignore_index):
    params = {"reduction": reduction, "smoothing": smoothing, "ignore_index": ignore_index}
    return _take(saved, g, smoothed_sce_forward, (logits, labels), params), None


KERNELS = {
    "huber": Kernel(huber_forward, huber_vjp, value=huber_value),
    "smoothed_softmax_cross_entropy": Kernel(smoothed_sce_forward, smoothed_sce_vjp),
    "softmax_cross_entropy": Kernel(sce_forward, sce_vjp, value=sce_value),
    "sigmoid_mse": _elementwise(loops.sigmoid_mse_block, loops.sigmoid_mse_par, 2.0,
                                (loops.sigmoid_mse_loss_block, loops.sigmoid_mse_loss_par)),
    "mse": _elementwise(loops.mse_block, loops.mse_par, 2.0,
                        (loops.mse_loss_block, loops.mse_loss_par)),
    "sigmoid_cross_entropy_with_logits": _elementwise(
        loops.sigmoid_ce_block, loops.sigmoid_ce_par, 1.0,
        (loops.sigmoid_ce_loss_block, loops.sigmoid_ce_loss_par)),
}
