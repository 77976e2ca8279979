"""``group_norm`` (GroupNorm, and InstanceNorm: one channel a group) as a Numba kernel for
float32/float64 input (N, C, *), read as (N, C, S): each group of each sample (``cg = C / G``
channels of ``S`` entries, ``m = cg * S``, consecutive in memory) is normalized in one sweep
that sums and one that writes forward, and in one that sums and one that writes backward,
instead of the generic rule's dozen array passes. Groups run on all threads (``prange``) from
``_config.ROW_PAR_MIN`` entries on.

Forward, per group: the sums of ``d = x - x[0]`` and ``d * d`` in float64 (shifted by the
group's first entry, so a mean thousands of standard deviations from 0 does not cancel) give
``mean`` and ``rstd = 1 / sqrt(var + eps)``, saved in float64; then ``y = (x - mean) * (rstd *
w[c]) + b[c]`` with ``mean`` split into the input's dtype as ``hi + lo`` and ``x - mean``
taken as ``(x - hi) - lo`` (a float32 ``x - mean`` alone rounds the mean by up to half an ulp
of it: with a mean of 1e4, 5e-4 standard deviations). Backward, per channel of each group in
float64: ``sg = sum(g)`` and ``sgx = sum(g * (x - mean))``; per group ``sa = sum_c w[c] *
sg[c]`` and ``sc = sum_c w[c] * sgx[c]``; then ``dx = rstd * w[c] * g - rstd * sa / m - (x -
mean) * rstd**3 * sc / m``, which is ``rstd * (gy - mean(gy) - xhat * mean(gy * xhat))``;
``dw[c] = sum_n rstd * sgx``, ``db[c] = sum_n sg`` (summed over the samples after the loops,
so threads share no accumulator). The generic rule of ``xpgrad.ops.group_norm`` computes the
same; the tests compare the two. Missing weight/bias are ones/zeros here. Other dtypes, mixed
dtypes or an empty input decline to the generic rule.

>>> import numpy as np
>>> y, saved = KERNELS["group_norm"].forward(np.array([[[1.0, 3.0], [5.0, 9.0]]]), groups=2,
...                                          eps=0.0, affine=(False, False))
>>> y.tolist()
[[[-1.0, 1.0], [-1.0, 1.0]]]
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from xpgrad.backend import Kernel

from . import _config
from ._losses import FLOATS
from ._math import LOOP_OPTIONS

#: ``(x - hi) - lo`` must stay two subtractions: without ``reassoc`` LLVM may not fold them
#: into ``x - (hi + lo)`` (which rounds the mean again)
_EXACT = {"fastmath": {"nsz", "arcp", "contract"}, "error_model": "numpy", "cache": True}


@njit(**_EXACT)
def _centred(x, hi, lo):
    return (x - hi) - lo


@njit(**LOOP_OPTIONS)
def _forward_group(x, w, b, eps, out, mean, rstd, n, g):
    """Group ``g`` of sample ``n``: its ``mean`` and ``rstd`` (float64), and ``out``."""
    cg, s = x.shape[1] // mean.shape[1], x.shape[2]
    dt = x.dtype.type
    c0 = g * cg
    x0 = np.float64(x[n, c0, 0])
    acc = acc2 = 0.0
    for c in range(c0, c0 + cg):
        xr = x[n, c]
        for k in range(s):
            d = np.float64(xr[k]) - x0
            acc += d
            acc2 += d * d
    m = cg * s
    shift = acc / m
    var = max(acc2 / m - shift * shift, 0.0)
    mu = x0 + shift
    rs = 1.0 / np.sqrt(var + eps)
    mean[n, g] = mu
    rstd[n, g] = rs
    hi = dt(mu)                                     # mu = hi + lo in x's dtype
    lo = dt(mu - np.float64(hi))
    for c in range(c0, c0 + cg):
        xr, yr = x[n, c], out[n, c]
        scale, shift_c = dt(rs * np.float64(w[c])), b[c]
        for k in range(s):
            yr[k] = _centred(xr[k], hi, lo) * scale + shift_c


@njit(**LOOP_OPTIONS)
def group_norm_fwd(x, w, b, eps, out, mean, rstd):
    """``out`` <- ``x`` (N, C, S) normalized per group (``mean``/``rstd`` (N, G) float64
    filled), scaled by ``w`` and shifted by ``b`` per channel; one group after another."""
    groups = mean.shape[1]
    for r in range(x.shape[0] * groups):
        _forward_group(x, w, b, eps, out, mean, rstd, r // groups, r % groups)


@njit(parallel=True, **LOOP_OPTIONS)
def group_norm_fwd_threaded(x, w, b, eps, out, mean, rstd):
    """``group_norm_fwd`` with the groups on all threads."""
    groups = mean.shape[1]
    for r in prange(x.shape[0] * groups):
        _forward_group(x, w, b, eps, out, mean, rstd, r // groups, r % groups)


@njit(**LOOP_OPTIONS)
def _backward_group(g, x, w, mean, rstd, sg, sgx, dx, want_dx, n, gi):
    """Group ``gi`` of sample ``n``: ``sg``/``sgx`` (float64, (N, C)) of its channels, and
    its ``dx`` when ``want_dx``."""
    cg, s = x.shape[1] // mean.shape[1], x.shape[2]
    dt = x.dtype.type
    c0 = gi * cg
    hi = dt(mean[n, gi])
    lo = dt(mean[n, gi] - np.float64(hi))
    sa = sc = 0.0
    for c in range(c0, c0 + cg):
        gr, xr = g[n, c], x[n, c]
        acc_g = acc_gx = 0.0
        for k in range(s):
            gk = np.float64(gr[k])
            acc_g += gk
            acc_gx += gk * np.float64(_centred(xr[k], hi, lo))
        sg[n, c] = acc_g
        sgx[n, c] = acc_gx
        sa += np.float64(w[c]) * acc_g
        sc += np.float64(w[c]) * acc_gx
    if not want_dx:
        return
    rs = rstd[n, gi]
    inv_m = 1.0 / (cg * s)
    shift = dt(-rs * sa * inv_m)
    slope = dt(-rs * rs * rs * sc * inv_m)
    for c in range(c0, c0 + cg):
        gr, xr, dxr = g[n, c], x[n, c], dx[n, c]
        a = dt(rs * np.float64(w[c]))
        for k in range(s):
            dxr[k] = a * gr[k] + _centred(xr[k], hi, lo) * slope + shift


@njit(**LOOP_OPTIONS)
def group_norm_bwd(g, x, w, mean, rstd, sg, sgx, dx, want_dx):
    """The sums ``sg``/``sgx`` per channel of each sample and ``dx`` (when ``want_dx``), one
    group after another."""
    groups = mean.shape[1]
    for r in range(x.shape[0] * groups):
        _backward_group(g, x, w, mean, rstd, sg, sgx, dx, want_dx, r // groups, r % groups)


@njit(parallel=True, **LOOP_OPTIONS)
def group_norm_bwd_threaded(g, x, w, mean, rstd, sg, sgx, dx, want_dx):
    """``group_norm_bwd`` with the groups on all threads."""
    groups = mean.shape[1]
    for r in prange(x.shape[0] * groups):
        _backward_group(g, x, w, mean, rstd, sg, sgx, dx, want_dx, r // groups, r % groups)


def _run(serial, threaded, rows, entries, *args):
    """``threaded(*args)`` on all threads from ``ROW_PAR_MIN`` ``entries`` on (and more than
    one group, ``rows``), else ``serial(*args)``."""
    if rows > 1 and entries >= _config.ROW_PAR_MIN:
        _config.run_parallel(threaded, *args)
    else:
        serial(*args)


def _three(a):
    """(N, C, ...) as a C-contiguous (N, C, S) array (S = 1 for (N, C))."""
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


def _vector(arrays, present, index, c, dt, fill):
    """Weight or bias as a contiguous (C,) array: the given one, else ``fill``."""
    return np.ascontiguousarray(arrays[index]).reshape(c) if present else np.full(c, fill, dt)


def group_norm_forward(x, *affine_arrays, groups, eps, affine):
    dt = x.dtype
    if dt not in FLOATS or x.size == 0 or any(a.dtype != dt for a in affine_arrays):
        return None
    x3 = _three(x)
    c = x3.shape[1]
    w = _vector(affine_arrays, affine[0], 0, c, dt, 1)
    b = _vector(affine_arrays, affine[1], -1, c, dt, 0)
    out = np.empty(x3.shape, dt)
    mean = np.empty((x3.shape[0], groups), np.float64)
    rstd = np.empty((x3.shape[0], groups), np.float64)
    _run(group_norm_fwd, group_norm_fwd_threaded, x3.shape[0] * groups, x3.size,
         x3, w, b, float(eps), out, mean, rstd)
    return out.reshape(x.shape), (mean, rstd)


def group_norm_vjp(g, saved, needs, x, *affine_arrays, groups, eps, affine):
    mean, rstd = saved
    dt = x.dtype
    x3 = _three(x)
    n, c = x3.shape[:2]
    g3 = np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt).reshape(x3.shape)
    w = _vector(affine_arrays, affine[0], 0, c, dt, 1)   # the bias is a stand-in: not read
    sg = np.empty((n, c), np.float64)
    sgx = np.empty((n, c), np.float64)
    dx = np.empty(x3.shape, dt) if needs[0] else np.empty((1, 1, 1), dt)
    _run(group_norm_bwd, group_norm_bwd_threaded, n * groups, x3.size,
         g3, x3, w, mean, rstd, sg, sgx, dx, bool(needs[0]))
    out = [dx.reshape(x.shape) if needs[0] else None]
    if affine[0]:
        per_channel = np.repeat(rstd, c // groups, axis=1)         # (N, C)
        out.append(np.einsum("nc,nc->c", per_channel, sgx).astype(dt) if needs[1] else None)
    if affine[1]:
        out.append(sg.sum(axis=0).astype(dt) if needs[len(out)] else None)
    return tuple(out)


# the rule reads x and the weight (position 1 when there is one; a bias there is small); the
# groups' mean and rstd travel in ``saved``
KERNELS = {"group_norm": Kernel(group_norm_forward, group_norm_vjp, saves=(0, 1), needs=True)}
