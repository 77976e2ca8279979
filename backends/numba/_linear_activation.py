"""Numba kernels of ``linear_relu``, ``linear_tanh`` and ``linear_sigmoid``: ``act(x @ w + b)``.

The product is MKL's (or NumPy's); around it, one pass each way. Forward, the bias and the
activation go over the product's rows in place (tanh: NumPy's SIMD tanh after the bias, as the
tanh kernel does). Backward, one pass over the rows makes ``gz``, the activation's gradient
times ``g``, and adds it into the bias gradient (a column sum in float64, rounded once: float32
error 6e-8 at 4096 x 128 where adding in float32 gave 2e-6 and PyTorch's cascade sum 1.5e-7,
for 51 against 43 us). From ``PAR_MIN`` entries on the threaded activation loops and
``axis_sums.sum_rows`` (products with ones) do the same in two passes. The loops write ``gz``
into ``g``, which the tape hands over when nothing else holds it; otherwise they run on a copy
of ``g`` (one loop per activation: an out-of-place twin would need its own copy of the loop to
vectorize, see ``_act_kernels``).

>>> import numpy as np
>>> k = KERNELS["linear_relu"]
>>> x, w, b = np.ones((2, 2), np.float32), np.eye(2, dtype=np.float32), np.array([0, -2], np.float32)
>>> y, saved = k.forward(x, w, b)
>>> y.tolist(), k.vjp(np.ones((2, 2), np.float32), saved, (False, False, True), x, w, b)[2].tolist()
([[1.0, 0.0], [1.0, 0.0]], [2.0, 0.0])
"""
from __future__ import annotations

import numpy as np
from numba import njit

from xpgrad.backends.axis_sums import sum_rows
from xpgrad.backends.numpy import linear_activation as numpy_kernels

from . import _act_kernels as act
from . import _config
from ._math import LOOP_OPTIONS, sigmoid
from ._templates import parallel_blocks


# -- forward: the bias and the activation, in place on the product's rows ----------------------
@njit(**LOOP_OPTIONS)
def bias_relu(z, bias):       # not ``b``: parallel_blocks' template counts blocks with b
    zero = z.dtype.type(0)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            v = z[i, j] + bias[j]
            z[i, j] = zero if v < zero else v          # NaN passes, as in maximum(v, 0)


bias_relu_par = parallel_blocks(bias_relu, arrays=1)


@njit(**LOOP_OPTIONS)
def bias_sigmoid(z, bias):
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] = sigmoid(z[i, j] + bias[j])


bias_sigmoid_par = parallel_blocks(bias_sigmoid, arrays=1)


# -- backward: gz = g * act'(y), and db = gz.sum(0) (in float64), in one pass ----------------
@njit(**LOOP_OPTIONS)
def relu_grad_in_place(g, y, db):
    zero = y.dtype.type(0)
    db[:] = zero
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            v = zero if y[i, j] <= zero else g[i, j]
            g[i, j] = v
            db[j] += v


@njit(**LOOP_OPTIONS)
def tanh_grad_in_place(g, y, db):
    one = y.dtype.type(1)
    db[:] = 0
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            v = g[i, j] * (one - y[i, j] * y[i, j])
            g[i, j] = v
            db[j] += v


@njit(**LOOP_OPTIONS)
def sigmoid_grad_in_place(g, s, db):
    one = s.dtype.type(1)
    db[:] = 0
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            v = g[i, j] * s[i, j] * (one - s[i, j])
            g[i, j] = v
            db[j] += v


def _rows(a) -> bool:
    return a.ndim == 2 and a.flags.c_contiguous


def _forward(fused, fused_par, numpy_activate):
    """``activate(z, b)``: ``fused`` over rows (threaded from ``PAR_MIN`` entries), or the
    NumPy kernel's steps (``numpy_activate``) where ``fused`` is None or cannot take ``z``."""
    def activate(z, b):
        if fused is None or not _rows(z):
            numpy_activate(z, b)
        elif z.size >= _config.PAR_MIN:
            _config.run_parallel(fused_par, z, b, max(1, _config.BLOCK // max(z.shape[1], 1)))
        else:
            fused(z, b)
    return activate


def _gradient(fused_in_place, bwd_par, bwd_in_place_par, in_place):
    """``gradient(g, y) -> (gz, db)`` by the one-pass loop (on ``g``, or a copy of it), or from
    ``PAR_MIN`` entries by the activation's threaded loop and NumPy's column sum. A ``g`` or
    ``y`` that is not C-contiguous rows (the broadcast seed of a ``sum``) is copied into rows
    first: the kernel cannot decline, as the node it recorded keeps no output for the generic
    rule to read."""
    def gradient(g, y, in_place=in_place):
        if not _rows(g):
            g, in_place = np.ascontiguousarray(g), True       # a fresh copy: write over it
        if not _rows(y):
            y = np.ascontiguousarray(y)
        n = g.size
        if n >= _config.PAR_MIN:
            gf, yf = g.reshape(-1), y.reshape(-1)
            if in_place:
                _config.run_parallel(bwd_in_place_par, gf, yf, _config.BLOCK)
                gz = g
            else:
                gz = np.empty_like(g)
                _config.run_parallel(bwd_par, gf, yf, gz.reshape(-1), _config.BLOCK)
            return gz, sum_rows(gz)
        gz = g if in_place else g.copy()
        db = np.empty(g.shape[1], np.float64)     # float32 rows added in float64, rounded once
        fused_in_place(gz, y, db)
        return gz, db.astype(g.dtype, copy=False)
    return gradient


def _kernel(name, activate):
    loops = (globals()[f"{name}_grad_in_place"], getattr(act, f"{name}_bwd_par"),
             getattr(act, f"{name}_bwd_in_place_par"))
    gradients = (_gradient(*loops, in_place=False), _gradient(*loops, in_place=True))
    return numpy_kernels.linear_activation_kernel(activate, *gradients)


KERNELS = {
    "linear_relu": _kernel("relu", _forward(bias_relu, bias_relu_par, numpy_kernels.relu)),
    "linear_tanh": _kernel("tanh", _forward(None, None, numpy_kernels.tanh)),
    "linear_sigmoid": _kernel("sigmoid", _forward(bias_sigmoid, bias_sigmoid_par,
                                                  numpy_kernels.sigmoid)),
}
