"""Softmax and log-softmax along the last axis as Numba kernels: each row in one sweep forward
and one backward, instead of NumPy's five passes (max, subtract, exp, sum, divide), three of
them into new arrays.

Forward, per row: its maximum ``m`` (through integer keys, which vectorize);
``e = exp(x - m)`` (``_math.exp_neg``, vectorized) and its sum ``s``; then ``y = e / s``
(softmax) or ``y = (x - m) - log(s)`` (log-softmax). Backward, per
row: ``dx = y * (g - sum(g * y))`` (softmax) and ``dx = g - exp(y) * sum(g)`` (log-softmax),
the generic rules of ``xpgrad.ops.activations``, which the tests compare these with. Another
axis, a non-float dtype or an empty array falls back to the generic rule.

>>> import numpy as np
>>> y, saved = KERNELS["softmax"].forward(np.array([[0.0, 0.0]], np.float32), axis=1)
>>> y.tolist(), KERNELS["softmax"].vjp(np.array([[1.0, 0.0]], np.float32), saved, None,
...                                     axis=1)[0].tolist()
([[0.5, 0.5]], [[0.25, -0.25]])
"""
from __future__ import annotations

import numpy as np
from numba import njit

from xpgrad.backend import Kernel

from . import _config
from ._loss_kernels import _log_prob, _row_max
from ._losses import FLOATS
from ._math import LOOP_OPTIONS, exp_neg
from ._templates import parallel_blocks


@njit(**LOOP_OPTIONS)
def softmax_rows(x, out):
    for r in range(x.shape[0]):
        xr, yr = x[r], out[r]
        m = _row_max(xr)
        s = xr.dtype.type(0)
        for j in range(xr.shape[0]):
            e = exp_neg(xr[j] - m)
            yr[j] = e
            s += e
        inv = xr.dtype.type(1) / s
        for j in range(xr.shape[0]):
            yr[j] *= inv


softmax_rows_par = parallel_blocks(softmax_rows, arrays=2)


@njit(**LOOP_OPTIONS)
def log_softmax_rows(x, out):
    for r in range(x.shape[0]):
        xr, yr = x[r], out[r]
        m = _row_max(xr)
        s = xr.dtype.type(0)
        for j in range(xr.shape[0]):
            s += exp_neg(xr[j] - m)
        log_s = np.log(s)
        for j in range(xr.shape[0]):
            # not x - (m + log s), where m's rounding would stay: the loop's ``reassoc`` may
            # rewrite an inline ``(x - m) - log_s`` so; ``_log_prob`` keeps the order
            yr[j] = _log_prob(xr[j], m, log_s)


log_softmax_rows_par = parallel_blocks(log_softmax_rows, arrays=2)


@njit(**LOOP_OPTIONS)
def softmax_rows_bwd(g, y, out):
    for r in range(g.shape[0]):
        gr, yr, dr = g[r], y[r], out[r]
        dot = gr.dtype.type(0)
        for j in range(gr.shape[0]):
            dot += gr[j] * yr[j]
        for j in range(gr.shape[0]):
            dr[j] = yr[j] * (gr[j] - dot)


softmax_rows_bwd_par = parallel_blocks(softmax_rows_bwd, arrays=3)


@njit(**LOOP_OPTIONS)
def log_softmax_rows_bwd(g, y, out):
    for r in range(g.shape[0]):
        gr, yr, dr = g[r], y[r], out[r]
        total = gr.dtype.type(0)
        for j in range(gr.shape[0]):
            total += gr[j]
        for j in range(gr.shape[0]):
            dr[j] = gr[j] - exp_neg(yr[j]) * total


log_softmax_rows_bwd_par = parallel_blocks(log_softmax_rows_bwd, arrays=3)


def _rows(a):
    """``a`` as C-contiguous (rows, last axis) when it is a float array with entries."""
    if a.dtype not in FLOATS or a.ndim == 0 or a.size == 0:
        return None
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


def _kernel(fwd, fwd_par, bwd, bwd_par):
    """The Kernel of one function; its loops are closure cells of their own, where the
    background compiler (``_background.kernel_loops``) finds them."""
    def forward(x, axis):
        if axis != x.ndim - 1:
            return None
        rows = _rows(x)
        if rows is None:
            return None
        out = np.empty_like(rows)
        _config.run_by_rows(fwd, fwd_par, *rows.shape, rows, out)
        out = out.reshape(x.shape)
        return out, out

    def vjp(g, saved, x, axis):
        rows_g = _rows(g) if g.dtype == saved.dtype and g.shape == saved.shape else None
        if rows_g is None:
            return (NotImplemented,)
        dx = np.empty_like(rows_g)
        _config.run_by_rows(bwd, bwd_par, *rows_g.shape, rows_g, saved.reshape(rows_g.shape), dx)
        return (dx.reshape(saved.shape),)

    # the rules read the output alone: the tape keeps it (the same array as ``saved``) for the
    # generic rule, which runs where ``vjp`` declines
    return Kernel(forward, vjp, saves=("output",))


KERNELS = {
    "softmax": _kernel(softmax_rows, softmax_rows_par, softmax_rows_bwd, softmax_rows_bwd_par),
    "log_softmax": _kernel(log_softmax_rows, log_softmax_rows_par, log_softmax_rows_bwd,
                           log_softmax_rows_bwd_par),
}
