"""``rms_norm`` as a Numba kernel: each row scaled in one sweep forward (its sum of squares,
then the output) and one backward, instead of the generic rule's array passes.

Forward, per row of the last ``k`` axes flattened (``n`` entries): ``rstd = 1 / sqrt(mean(x **
2) + eps)``, ``y = x * rstd * w``; the rows' ``rstd`` are saved. Backward, per row, with ``xhat =
x * rstd`` and ``gy = g * w``: ``dx = rstd * (gy - xhat * mean(gy * xhat))``, and ``dw += g *
xhat`` summed over the rows in float64: the generic rule of ``xpgrad.ops.rms_norm``, which the
tests compare this with. A missing weight is ones here. Other dtypes than float32/float64 (one
for both arrays) or an empty input fall back to the generic rule.

>>> import numpy as np
>>> y, saved = KERNELS["rms_norm"].forward(np.array([[3.0, 4.0]]), k=1, eps=0.0)
>>> y.round(4).tolist()
[[0.8485, 1.1314]]
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from xpgrad.backend import Kernel

from ._losses import FLOATS
from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def rms_norm_rows(x, w, eps, out, rstd):
    """``out`` <- each row of ``x`` divided by its root mean square, scaled by ``w``;
    ``rstd`` <- the rows' 1 / sqrt(mean(x ** 2) + eps)."""
    n = x.shape[1]
    one = x.dtype.type(1)
    inv_n = one / x.dtype.type(n)
    for r in range(x.shape[0]):
        xr, yr = x[r], out[r]
        s = x.dtype.type(0)
        for j in range(n):
            s += xr[j] * xr[j]
        rs = one / np.sqrt(s * inv_n + eps)
        rstd[r] = rs
        for j in range(n):
            yr[j] = xr[j] * rs * w[j]


@njit(**LOOP_OPTIONS)
def rms_norm_rows_bwd(g, x, w, rstd, dx, dw, want_dw):
    """``dx`` <- the input's gradient, row by row; ``dw`` (float64) += the weight's gradient
    of each row when ``want_dw``."""
    n = x.shape[1]
    inv_n = x.dtype.type(1) / x.dtype.type(n)
    for r in range(x.shape[0]):
        gr, xr, dxr = g[r], x[r], dx[r]
        rs = rstd[r]
        sc = x.dtype.type(0)
        for j in range(n):
            sc += gr[j] * w[j] * xr[j]
        c = sc * rs * rs * inv_n            # mean(gy * xhat) / rstd
        for j in range(n):
            dxr[j] = rs * (gr[j] * w[j] - xr[j] * c)
        if want_dw:
            for j in range(n):
                dw[j] += gr[j] * (xr[j] * rs)


def _weight(arrays, n, dt):
    """The weight as a contiguous (n,) array: the given one, else ones."""
    return np.ascontiguousarray(arrays[0]).reshape(n) if arrays else np.ones(n, dt)


def rms_norm_forward(x, *weight, k, eps):
    dt = x.dtype
    if dt not in FLOATS or x.size == 0 or any(a.dtype != dt for a in weight):
        return None
    n = math.prod(x.shape[x.ndim - k:])
    rows = np.ascontiguousarray(x).reshape(-1, n)
    out = np.empty_like(rows)
    rstd = np.empty(rows.shape[0], dtype=dt)
    rms_norm_rows(rows, _weight(weight, n, dt), dt.type(eps), out, rstd)
    return out.reshape(x.shape), rstd


def rms_norm_vjp(g, rstd, needs, x, *weight, k, eps):
    dt = x.dtype
    n = math.prod(x.shape[x.ndim - k:])
    rows = np.ascontiguousarray(x).reshape(-1, n)
    g_rows = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt).reshape(-1, n)
    want_dw = bool(weight) and needs[1]
    dx = np.empty_like(rows)
    dw = np.zeros(n, dtype=np.float64)
    rms_norm_rows_bwd(g_rows, rows, _weight(weight, n, dt), rstd, dx, dw, want_dw)
    out = [dx.reshape(x.shape) if needs[0] else None]
    if weight:
        out.append(dw.astype(dt).reshape(x.shape[x.ndim - k:]) if want_dw else None)
    return tuple(out)


# the rule reads x and the weight
KERNELS = {"rms_norm": Kernel(rms_norm_forward, rms_norm_vjp, saves=(0, 1), needs=True)}
