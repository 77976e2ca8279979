"""Activation kernels: one fused launch forward (y = f(x)) and one backward (dx = g * f').

Registered under the primitive names sigmoid, tanh, relu, leaky_relu and softplus, and a dense
layer with its activation under linear_relu, linear_tanh and linear_sigmoid. ``saved`` is
the output y (the rules for sigmoid, tanh and softplus need it; the vjp is handed only x). The
forward returns None (generic rule) for dtypes other than float32/float64, non-contiguous or
empty input; the vjp hands the gradient to the generic rule (NotImplemented) when the incoming
gradient is not a contiguous array of x's dtype and shape (e.g. a broadcast view).
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.dtypes import FLOAT_NAMES

from . import _sources as S
from ._launch import elementwise_grid



def _ok(a, like=None) -> bool:
    if not (hasattr(a, "dtype") and a.dtype.name in FLOAT_NAMES and a.flags.c_contiguous):
        return False
    return like is None or (a.dtype == like.dtype and a.shape == like.shape)


def activation(L, prim: str) -> Kernel:
    xp = L.xp
    functor = S.ACTIVATIONS[prim]
    param_name = "negative_slope" if prim == "leaky_relu" else None

    def param(params, dtype):
        if set(params) != ({param_name} if param_name else set()):
            return None
        return dtype.type(params[param_name] if param_name else 0.0)

    def forward(x, **params):
        if not _ok(x) or x.size == 0:
            return None
        p = param(params, x.dtype)
        if p is None:
            return None
        y = xp.empty_like(x)
        n = x.size
        grid = elementwise_grid(n, x.itemsize, S.ACTIVATION_THREADS, L.sm_count)
        name = S.expr("activation_fwd", S.CTYPE[x.dtype.name], functor)
        L.kernel("activations", name)(grid, S.ACTIVATION_THREADS, (x, y, np.int64(n), p))
        return y, y

    def vjp(g, y, x, **params):
        if not _ok(g, like=x):
            return (NotImplemented,)
        dx = xp.empty_like(x)
        n = x.size
        grid = elementwise_grid(n, x.itemsize, S.ACTIVATION_THREADS, L.sm_count)
        name = S.expr("activation_bwd", S.CTYPE[x.dtype.name], functor)
        L.kernel("activations", name)(
            grid, S.ACTIVATION_THREADS, (g, x, y, dx, np.int64(n), param(params, x.dtype)))
        return (dx,)

    return Kernel(forward, vjp)


def linear_activation(L, prim: str) -> Kernel:
    """``act(x @ w + b)`` (``linear_relu``, ...): the product by CuPy (cuBLAS), then one launch
    for the bias and the activation in place; backward, ``activation_bwd`` on the output for
    ``gz`` (ReLU's reads the output as its input: the same sign), the two products and the
    bias's column sum."""
    xp = L.xp
    functor = S.ACTIVATIONS[prim]

    def forward(x, w, b):
        if not (_ok(x) and _ok(w) and _ok(b)) or x.ndim != 2 or w.dtype != x.dtype \
                or b.dtype != x.dtype or x.size == 0 or w.size == 0:
            return None
        z = xp.matmul(x, w)
        n = z.size
        grid = elementwise_grid(n, z.itemsize, S.ACTIVATION_THREADS, L.sm_count)
        name = S.expr("bias_activation_fwd", S.CTYPE[z.dtype.name], functor)
        L.kernel("activations", name)(grid, S.ACTIVATION_THREADS,
                                      (z, b, np.int64(n), np.int64(z.shape[1]), z.dtype.type(0)))
        return z, z

    def vjp(g, y, needs, x, w, b):
        if not _ok(g, like=y):
            return (NotImplemented,) * 3
        gz = xp.empty_like(y)
        n = y.size
        grid = elementwise_grid(n, y.itemsize, S.ACTIVATION_THREADS, L.sm_count)
        name = S.expr("activation_bwd", S.CTYPE[y.dtype.name], functor)
        L.kernel("activations", name)(grid, S.ACTIVATION_THREADS,
                                      (g, y, y, gz, np.int64(n), y.dtype.type(0)))
        return (xp.matmul(gz, w.T) if needs[0] else None,
                xp.matmul(x.T, gz) if needs[1] else None,
                gz.sum(axis=0) if needs[2] else None)

    return Kernel(forward, vjp, saves=(0, 1), needs=True)


def kernels(L) -> dict:
    """The activation kernels for launcher ``L``, keyed by primitive name (the dense layers'
    with their activation among them)."""
    return {**{prim: activation(L, prim) for prim in S.ACTIVATIONS},
            **{f"linear_{a}": linear_activation(L, a) for a in S.DENSE_ACTIVATIONS}}
