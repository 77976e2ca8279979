"""``layer_norm`` as a Numba kernel: each row normalized in one sweep forward (its mean, its
centered variance, the affine output) and one backward, instead of the generic rule's dozen
array passes.

Forward, per row of the last ``k`` axes flattened (``n`` entries): ``mean``, ``rstd =
1 / sqrt(mean((x - mean)^2) + eps)``, ``y = (x - mean) * rstd * w + b``; the row's ``mean`` and
``rstd`` are saved. Backward, per row, with ``xhat = (x - mean) * rstd`` recomputed and
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
from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def layer_norm_rows(x, w, b, eps, out, mean, rstd):
    """``out`` <- each row of ``x`` normalized, scaled by ``w`` and shifted by ``b``;
    ``mean``/``rstd`` <- the rows' means and 1 / sqrt(var + eps)."""
    n = x.shape[1]
    one = x.dtype.type(1)
    inv_n = one / x.dtype.type(n)
    for r in range(x.shape[0]):
        xr, yr = x[r], out[r]
        s = x.dtype.type(0)
        for j in range(n):
            s += xr[j]
        mu = s * inv_n
        v = x.dtype.type(0)
        for j in range(n):
            d = xr[j] - mu
            v += d * d
        rs = one / np.sqrt(v * inv_n + eps)
        mean[r] = mu
        rstd[r] = rs
        for j in range(n):
            yr[j] = (xr[j] - mu) * rs * w[j] + b[j]


@njit(**LOOP_OPTIONS)
def layer_norm_rows_bwd(g, x, w, mean, rstd, dx, dw, db):
    """``dx`` <- the input's gradient, row by row; ``dw``/``db`` (float64) += the weight's and
    bias's gradients of each row."""
    n = x.shape[1]
    inv_n = x.dtype.type(1) / x.dtype.type(n)
    for r in range(x.shape[0]):
        gr, xr, dxr = g[r], x[r], dx[r]
        mu, rs = mean[r], rstd[r]
        sa = x.dtype.type(0)
        sc = x.dtype.type(0)
        for j in range(n):
            xh = (xr[j] - mu) * rs
            gy = gr[j] * w[j]
            sa += gy
            sc += gy * xh
        a, c = sa * inv_n, sc * inv_n
        for j in range(n):
            xh = (xr[j] - mu) * rs
            dxr[j] = rs * (gr[j] * w[j] - a - xh * c)
        for j in range(n):
            dw[j] += gr[j] * ((xr[j] - mu) * rs)
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
    mean = np.empty(rows.shape[0], dtype=dt)
    rstd = np.empty(rows.shape[0], dtype=dt)
    layer_norm_rows(rows, w, b, dt.type(eps), out, mean, rstd)
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
