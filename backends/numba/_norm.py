"""``layer_norm`` as a Numba kernel: each row normalized in one sweep forward (its mean, its
centered variance, the affine output) and one backward, instead of the generic rule's dozen
array passes.

Forward, per row of the last ``k`` axes flattened (``n`` entries): ``mean``, ``rstd =
1 / sqrt(mean((x - mean)^2) + eps)``, ``y = (x - mean) * rstd * w + b``; the row's ``mean`` and
``rstd`` are saved (float64: the sums run in float64, as PyTorch's CPU kernel, and ``x - mean``
as ``(x - hi) - lo``, the mean split in two of the input's dtype). Backward, per row, with ``xhat = (x - mean) * rstd`` recomputed and
``gy = g * w``: ``dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat))``, and ``dw += g *
xhat``, ``db += g`` summed over the rows in float64: the generic rule of
``xpgrad.ops.nn``, which the tests compare this with. Missing weight/bias are ones/zeros here.
Other dtypes than float32/float64 (one for all arrays) or an empty input fall back to the
generic rule.

>>> import numpy as np
>>> y, saved = KERNELS["layer_norm"].forward(np.array([[1.0, 3.0]]), k=1, eps=0.0,
...                                          affine=(False, False))
>>> y.tolist()
[[-1.0, 1.0]]
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from xpgrad.backend import Kernel

from ._losses import FLOATS
from ._math import LOOP_OPTIONS, MATH_FLAGS


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _centred(x, hi, lo):
    """``(x - hi) - lo``, in this order (``hi + lo`` the row's mean, ``hi`` in the row's dtype):
    a caller's ``reassoc`` could make it ``x - (hi + lo)``, which rounds the mean to the dtype
    (an error of 5e-4 standard deviations at mean / std = 1e4 in float32)."""
    return (x - hi) - lo


@njit(**LOOP_OPTIONS)
def layer_norm_rows(x, w, b, eps, out, mean, rstd):
    """``out`` <- each row of ``x`` normalized, scaled by ``w`` and shifted by ``b``;
    ``mean`` (float64) / ``rstd`` <- the rows' means and 1 / sqrt(var + eps). The sums run in
    float64 and the centring as ``(x - hi) - lo`` (a float32 row of 1e4 + N(0, 1) summed in
    float32 normalized 40x less accurately than PyTorch's)."""
    n = x.shape[1]
    inv_n = 1.0 / n
    dt = x.dtype.type
    for r in range(x.shape[0]):
        xr, yr = x[r], out[r]
        s = 0.0
        for j in range(n):
            s += np.float64(xr[j])
        mu = s * inv_n
        v = 0.0
        for j in range(n):
            d = np.float64(xr[j]) - mu
            v += d * d
        rs = 1.0 / np.sqrt(v * inv_n + eps)
        mean[r] = mu
        rstd[r] = rs
        hi = dt(mu)
        lo, rsd = dt(mu - np.float64(hi)), dt(rs)
        for j in range(n):
            yr[j] = _centred(xr[j], hi, lo) * rsd * w[j] + b[j]


@njit(**LOOP_OPTIONS)
def layer_norm_rows_bwd(g, x, w, mean, rstd, dx, dw, db):
    """``dx`` <- the input's gradient, row by row; ``dw``/``db`` (float64) += the weight's and
    bias's gradients of each row. The row sums in float64."""
    n = x.shape[1]
    inv_n = 1.0 / n
    dt = x.dtype.type
    for r in range(x.shape[0]):
        gr, xr, dxr = g[r], x[r], dx[r]
        hi = dt(mean[r])
        lo, rs = dt(mean[r] - np.float64(hi)), dt(rstd[r])
        sa = 0.0
        sc = 0.0
        for j in range(n):
            xh = _centred(xr[j], hi, lo) * rs
            gy = gr[j] * w[j]
            sa += np.float64(gy)
            sc += np.float64(gy * xh)
        a, c = dt(sa * inv_n), dt(sc * inv_n)
        for j in range(n):
            xh = _centred(xr[j], hi, lo) * rs
            dxr[j] = rs * (gr[j] * w[j] - a - xh * c)
        for j in range(n):
            dw[j] += gr[j] * (_centred(xr[j], hi, lo) * rs)
            db[j] += gr[j]


def _weight(arrays, affine, n, dt):
    """The weight as a contiguous (n,) array: the given one, else ones."""
    return np.ascontiguousarray(arrays[0]).reshape(n) if affine[0] else np.ones(n, dt)


def _affine(arrays, affine, n, dt):
    """``(w, b)`` as contiguous (n,) arrays: the given ones, else ones / zeros."""
    b = np.ascontiguousarray(arrays[-1]).reshape(n) if affine[1] else np.zeros(n, dt)
    return _weight(arrays, affine, n, dt), b


def layer_norm_forward(x, *affine_arrays, k, eps, affine):
    dt = x.dtype
    if dt not in FLOATS or x.size == 0 or any(a.dtype != dt for a in affine_arrays):
        return None
    n = math.prod(x.shape[x.ndim - k:])
    rows = np.ascontiguousarray(x).reshape(-1, n)
    w, b = _affine(affine_arrays, affine, n, dt)
    out = np.empty_like(rows)
    mean = np.empty(rows.shape[0], dtype=np.float64)
    rstd = np.empty(rows.shape[0], dtype=np.float64)
    layer_norm_rows(rows, w, b, float(eps), out, mean, rstd)
    return out.reshape(x.shape), (mean, rstd)


def layer_norm_vjp(g, saved, needs, x, *affine_arrays, k, eps, affine):
    mean, rstd = saved
    dt = x.dtype
    n = math.prod(x.shape[x.ndim - k:])
    rows = np.ascontiguousarray(x).reshape(-1, n)
    g_rows = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt).reshape(-1, n)
    w = _weight(affine_arrays, affine, n, dt)   # the bias is not kept: its (shape, dtype)
    dx = np.empty_like(rows)
    dw = np.zeros(n, dtype=np.float64)
    db = np.zeros(n, dtype=np.float64)
    layer_norm_rows_bwd(g_rows, rows, w, mean, rstd, dx, dw, db)
    shape = x.shape[x.ndim - k:]
    out = [dx.reshape(x.shape) if needs[0] else None]
    for present, total in zip(affine, (dw, db)):
        if present:
            out.append(total.astype(dt).reshape(shape) if needs[len(out)] else None)
    return tuple(out)


# the rule reads x and the weight (position 1 when there is one; a bias there is small)
KERNELS = {"layer_norm": Kernel(layer_norm_forward, layer_norm_vjp, saves=(0, 1), needs=True)}
