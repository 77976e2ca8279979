"""Numba loops of the activations, forward and backward side by side, on 1-D arrays.

Loops run over ``range(n)`` of whole arrays (the threaded versions pass slices): an index
that Numba cannot prove non-negative gets a wraparound check, and LLVM then emits gathers.
"""
from __future__ import annotations

from numba import njit, prange

from ._math import LOOP_FLAGS, exp_neg, log1p01, sigmoid

_OPTS = dict(fastmath=LOOP_FLAGS, error_model="numpy", cache=True)


@njit(**_OPTS)
def sigmoid_fwd(x, out):
    for i in range(out.shape[0]):
        out[i] = sigmoid(x[i])


@njit(**_OPTS)
def sigmoid_bwd(g, s, out):
    one = s.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = g[i] * s[i] * (one - s[i])


@njit(**_OPTS)
def tanh_bwd(g, y, out):
    one = y.dtype.type(1)
    for i in range(out.shape[0]):
        out[i] = g[i] * (one - y[i] * y[i])


@njit(**_OPTS)
def relu_fwd(x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = zero if x[i] < zero else x[i]       # NaN passes, as in maximum(x, 0)


@njit(**_OPTS)
def relu_bwd(g, x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = g[i] if x[i] > zero else zero


@njit(**_OPTS)
def leaky_relu_fwd(x, out, slope):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = x[i] if x[i] >= zero else x[i] * slope


@njit(**_OPTS)
def leaky_relu_bwd(g, x, out, slope):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        out[i] = g[i] if x[i] > zero else g[i] * slope


@njit(**_OPTS)
def softplus_fwd(x, out):
    zero = x.dtype.type(0)
    for i in range(out.shape[0]):
        xi = x[i]
        out[i] = (xi if xi > zero else zero) + log1p01(exp_neg(-abs(xi)))


@njit(**_OPTS)
def softplus_bwd(g, x, out):
    # d softplus / dx = sigmoid(x) (the generic rule writes it as -expm1(-softplus(x)))
    for i in range(out.shape[0]):
        out[i] = g[i] * sigmoid(x[i])


# -- all threads, fixed blocks (one wrapper per loop: a function argument defeats the cache) ---
@njit(parallel=True, **_OPTS)
def sigmoid_fwd_par(x, out, block):
    for b in prange((x.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, x.shape[0])
        sigmoid_fwd(x[lo:hi], out[lo:hi])


@njit(parallel=True, **_OPTS)
def relu_fwd_par(x, out, block):
    for b in prange((x.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, x.shape[0])
        relu_fwd(x[lo:hi], out[lo:hi])


@njit(parallel=True, **_OPTS)
def softplus_fwd_par(x, out, block):
    for b in prange((x.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, x.shape[0])
        softplus_fwd(x[lo:hi], out[lo:hi])


@njit(parallel=True, **_OPTS)
def leaky_relu_fwd_par(x, out, slope, block):
    for b in prange((x.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, x.shape[0])
        leaky_relu_fwd(x[lo:hi], out[lo:hi], slope)


@njit(parallel=True, **_OPTS)
def sigmoid_bwd_par(g, s, out, block):
    for b in prange((g.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, g.shape[0])
        sigmoid_bwd(g[lo:hi], s[lo:hi], out[lo:hi])


@njit(parallel=True, **_OPTS)
def tanh_bwd_par(g, y, out, block):
    for b in prange((g.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, g.shape[0])
        tanh_bwd(g[lo:hi], y[lo:hi], out[lo:hi])


@njit(parallel=True, **_OPTS)
def relu_bwd_par(g, x, out, block):
    for b in prange((g.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, g.shape[0])
        relu_bwd(g[lo:hi], x[lo:hi], out[lo:hi])


@njit(parallel=True, **_OPTS)
def softplus_bwd_par(g, x, out, block):
    for b in prange((g.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, g.shape[0])
        softplus_bwd(g[lo:hi], x[lo:hi], out[lo:hi])


@njit(parallel=True, **_OPTS)
def leaky_relu_bwd_par(g, x, out, slope, block):
    for b in prange((g.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, g.shape[0])
        leaky_relu_bwd(g[lo:hi], x[lo:hi], out[lo:hi], slope)
