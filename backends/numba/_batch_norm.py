"""``batch_norm``'s training primitive as a Numba kernel for (N, C) and (N, C, ...)
float32/float64 C-contiguous inputs (BatchNorm1d's, BatchNorm2d's: the trailing axes are read
as one, (N, C, S)): one pass forward, two backward, instead of the generic rule's many array
passes. Anything else (other dtypes, a strided input) declines to the generic rule.

Forward, given the batch's ``mean`` and biased ``var`` (the primitive's inputs): ``rstd =
1 / sqrt(var + eps)`` per channel and ``y = (x - mean) * rstd * w + b``; ``mean`` and ``rstd``
are saved (``xhat`` is recomputed from ``x``, not kept). Backward: pass one sums, per channel
in float64, ``g`` and ``g * (x - mean)``; then, with ``gy = g * w``, ``dx = rstd * (gy -
mean(gy) - xhat * mean(gy * xhat))``, ``dw = rstd * sum(g * (x - mean))`` and ``db =
sum(g)``: the generic rule of ``xpgrad.ops.batch_norm``, which the tests compare this with.
Missing weight/bias are ones/zeros here.

>>> import numpy as np
>>> x = np.array([[1.0], [3.0]])
>>> y, saved = KERNELS["batch_norm"].forward(x, np.array([[2.0]]), np.array([[1.0]]),
...                                          eps=0.0, affine=(False, False))
>>> y.tolist()
[[-1.0], [1.0]]
"""
from __future__ import annotations

import numpy as np
from numba import njit

from xpgrad.backend import Kernel

from ._losses import FLOATS
from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def batch_norm_fwd(x, mean, var, w, b, eps, out, rstd):
    """``rstd`` <- 1 / sqrt(var + eps) per channel; ``out`` <- ``(x - mean) * rstd * w + b``,
    row by row."""
    c = x.shape[1]
    one = x.dtype.type(1)
    scale = np.empty(c, x.dtype)
    for j in range(c):
        rs = one / np.sqrt(var[j] + eps)
        rstd[j] = rs
        scale[j] = rs * w[j]
    for i in range(x.shape[0]):
        xr, yr = x[i], out[i]
        for j in range(c):
            yr[j] = (xr[j] - mean[j]) * scale[j] + b[j]


@njit(**LOOP_OPTIONS)
def batch_norm_sums(g, x, mean, sg, sgx):
    """``sg``/``sgx`` (float64, zeroed) += per channel, the sums of ``g`` and of ``g * (x -
    mean)`` over the rows."""
    c = x.shape[1]
    for i in range(x.shape[0]):
        gr, xr = g[i], x[i]
        for j in range(c):
            gi = gr[j]
            sg[j] += gi
            sgx[j] += gi * (xr[j] - mean[j])


@njit(**LOOP_OPTIONS)
def batch_norm_dx(g, x, mean, rstd, w, sg, sgx, dx):
    """``dx`` <- ``rstd * (gy - mean(gy) - xhat * mean(gy * xhat))`` with ``gy = g * w``, from
    the per-channel sums of ``batch_norm_sums``: ``a * g + c + (x - mean) * d`` per channel."""
    n, c = x.shape
    dt = x.dtype.type
    a = np.empty(c, x.dtype)
    cc = np.empty(c, x.dtype)
    d = np.empty(c, x.dtype)
    inv_n = 1.0 / n
    for j in range(c):
        aj = np.float64(rstd[j]) * np.float64(w[j])
        a[j] = dt(aj)
        cc[j] = dt(-aj * sg[j] * inv_n)
        r = np.float64(rstd[j])
        d[j] = dt(sgx[j] * inv_n * r * r * -aj)     # not rstd**3 first: it underflows
    for i in range(n):
        gr, xr, dxr = g[i], x[i], dx[i]
        for j in range(c):
            dxr[j] = a[j] * gr[j] + cc[j] + (xr[j] - mean[j]) * d[j]


@njit(**LOOP_OPTIONS)
def batch_norm_fwd3(x, mean, var, w, b, eps, out, rstd):
    """``batch_norm_fwd`` for (N, C, S): the S entries of a row share their channel's scale
    and shift."""
    c = x.shape[1]
    one = x.dtype.type(1)
    scale = np.empty(c, x.dtype)
    for j in range(c):
        rs = one / np.sqrt(var[j] + eps)
        rstd[j] = rs
        scale[j] = rs * w[j]
    for i in range(x.shape[0]):
        for j in range(c):
            xr, yr, m, sc, bj = x[i, j], out[i, j], mean[j], scale[j], b[j]
            for k in range(x.shape[2]):
                yr[k] = (xr[k] - m) * sc + bj


@njit(**LOOP_OPTIONS)
def batch_norm_sums3(g, x, mean, sg, sgx):
    """``batch_norm_sums`` for (N, C, S): per channel, over N and S, in float64."""
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            gr, xr, m = g[i, j], x[i, j], mean[j]
            acc_g = acc_gx = 0.0
            for k in range(x.shape[2]):
                gi = np.float64(gr[k])
                acc_g += gi
                acc_gx += gi * np.float64(xr[k] - m)
            sg[j] += acc_g
            sgx[j] += acc_gx


@njit(**LOOP_OPTIONS)
def batch_norm_dx3(g, x, mean, rstd, w, sg, sgx, dx):
    """``batch_norm_dx`` for (N, C, S): the means over the N * S entries of a channel."""
    n, c, s = x.shape
    dt = x.dtype.type
    inv_n = 1.0 / (n * s)
    for j in range(c):
        aj = np.float64(rstd[j]) * np.float64(w[j])
        a = dt(aj)
        cc = dt(-aj * sg[j] * inv_n)
        r = np.float64(rstd[j])
        d = dt(sgx[j] * inv_n * r * r * -aj)        # not rstd**3 first: it underflows
        m = mean[j]
        for i in range(n):
            gr, xr, dxr = g[i, j], x[i, j], dx[i, j]
            for k in range(s):
                dxr[k] = a * gr[k] + cc + (xr[k] - m) * d


@njit(**LOOP_OPTIONS)
def batch_moments3(x, mean, var):
    """``mean`` and biased ``var`` (float64, (C,)) per channel of (N, C, S) ``x``: two passes,
    summed in float64 (as PyTorch's CPU batch norm), nothing the size of ``x`` made."""
    n, c, s = x.shape
    inv_n = 1.0 / (n * s)
    for i in range(n):
        for j in range(c):
            xr = x[i, j]
            acc = 0.0
            for k in range(s):
                acc += np.float64(xr[k])
            mean[j] += acc
    for j in range(c):
        mean[j] *= inv_n
    for i in range(n):
        for j in range(c):
            xr, m = x[i, j], mean[j]
            acc = 0.0
            for k in range(s):
                d = np.float64(xr[k]) - m
                acc += d * d
            var[j] += acc
    for j in range(c):
        var[j] *= inv_n


@njit(**LOOP_OPTIONS)
def batch_moments2(x, mean, var):
    """``batch_moments3`` for (N, C): row by row, the channels the contiguous inner loop."""
    n, c = x.shape
    inv_n = 1.0 / n
    for i in range(n):
        xr = x[i]
        for j in range(c):
            mean[j] += np.float64(xr[j])
    for j in range(c):
        mean[j] *= inv_n
    for i in range(n):
        xr = x[i]
        for j in range(c):
            d = np.float64(xr[j]) - mean[j]
            var[j] += d * d
    for j in range(c):
        var[j] *= inv_n


def batch_moments_forward(x):
    """``stack([mean, var])`` shaped (2, 1, C, 1...) for a C-contiguous float (N, C, ...)
    ``x`` (``xpgrad.ops.batch_norm._moments``); anything else declines."""
    if x.dtype not in FLOATS or x.size == 0 or not x.flags.c_contiguous:
        return None
    c = x.shape[1]
    stats = np.zeros((2, c), np.float64)
    if x.ndim == 2:
        batch_moments2(x, stats[0], stats[1])
    else:
        batch_moments3(x.reshape(x.shape[0], c, -1), stats[0], stats[1])
    return stats.astype(x.dtype).reshape((2, 1, c) + (1,) * (x.ndim - 2)), None


def _rows(a):
    """An (N, C, ...) array as (N, C, S), S the product of its trailing axes (a view); an
    (N, C) one as it is."""
    return a if a.ndim == 2 else a.reshape(a.shape[0], a.shape[1], -1)


def _channel(a, c):
    """``a`` ((C,) or (1, C)) as a contiguous (C,) array."""
    return np.ascontiguousarray(a).reshape(c)


def _weight(arrays, affine, c, dt):
    return _channel(arrays[0], c) if affine[0] else np.ones(c, dt)


def batch_norm_forward(x, mean, var, *affine_arrays, eps, affine):
    dt = x.dtype
    if dt not in FLOATS or x.size == 0 or not x.flags.c_contiguous or \
            any(a.dtype != dt for a in (mean, var, *affine_arrays)):
        return None
    c = x.shape[1]
    mean = _channel(mean, c)
    w = _weight(affine_arrays, affine, c, dt)
    b = _channel(affine_arrays[-1], c) if affine[1] else np.zeros(c, dt)
    out = np.empty_like(x)
    rstd = np.empty(c, dt)
    fwd = batch_norm_fwd if x.ndim == 2 else batch_norm_fwd3
    fwd(_rows(x), mean, _channel(var, c), w, b, dt.type(eps), _rows(out), rstd)
    return out, (mean, rstd)


def batch_norm_vjp(g, saved, needs, x, mean, var, *affine_arrays, eps, affine):
    mean, rstd = saved
    dt = x.dtype
    c = x.shape[1]
    g = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt)
    sg = np.zeros(c, np.float64)
    sgx = np.zeros(c, np.float64)
    flat = x.ndim == 2
    (batch_norm_sums if flat else batch_norm_sums3)(_rows(g), _rows(x), mean, sg, sgx)
    dx = None
    if needs[0]:
        dx = np.empty_like(x)
        (batch_norm_dx if flat else batch_norm_dx3)(
            _rows(g), _rows(x), mean, rstd, _weight(affine_arrays, affine, c, dt), sg, sgx,
            _rows(dx))
    out = [dx, None, None]
    if affine[0]:
        out.append((sgx * rstd).astype(dt) if needs[len(out)] else None)
    if affine[1]:
        out.append(sg.astype(dt) if needs[len(out)] else None)
    return tuple(out)


# the rule reads x and the weight (position 3 when there is one; a bias there is small);
# mean and rstd travel in ``saved``
KERNELS = {"batch_norm": Kernel(batch_norm_forward, batch_norm_vjp, saves=(0, 3), needs=True),
           "batch_moments": Kernel(batch_moments_forward)}
