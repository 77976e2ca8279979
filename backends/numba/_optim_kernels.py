"""Numba loops of the optimizer updates: in place, one pass over each variable (1-D arrays).

Same arithmetic, in the same order, as the generic ``Backend.*_update`` methods. Scalars arrive
already cast to the arrays' dtype, complements such as ``1 - rho`` computed in Python as the
generic code does. ``wd == 0`` skips the decay term entirely (as the generic
code does), so an infinite weight cannot turn into NaN through ``0 * inf``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._math import LOOP_FLAGS

_OPTS = dict(fastmath=LOOP_FLAGS, error_model="numpy", cache=True)


@njit(**_OPTS)
def sgd(p, g, lr, wd):
    if wd != 0:
        for i in range(p.shape[0]):
            p[i] -= lr * (g[i] + wd * p[i])
    else:
        for i in range(p.shape[0]):
            p[i] -= lr * g[i]


@njit(**_OPTS)
def sgd_momentum(p, g, vel, lr, mu, nesterov, wd):
    for i in range(p.shape[0]):
        gi = g[i] + wd * p[i] if wd != 0 else g[i]
        v = vel[i] * mu + gi
        vel[i] = v
        p[i] -= lr * (gi + mu * v if nesterov else v)


@njit(**_OPTS)
def adagrad(p, g, acc, lr, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        a = acc[i] + gi * gi
        acc[i] = a
        p[i] -= lr * gi / (np.sqrt(a) + eps)


@njit(**_OPTS)
def adadelta(p, g, acc_g, acc_dx, lr, rho, crho, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        ag = acc_g[i] * rho + crho * gi * gi
        acc_g[i] = ag
        delta = np.sqrt(acc_dx[i] + eps) / np.sqrt(ag + eps) * gi
        acc_dx[i] = acc_dx[i] * rho + crho * delta * delta
        p[i] -= lr * delta


@njit(**_OPTS)
def rmsprop(p, g, sq, lr, rho, crho, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        s = sq[i] * rho + crho * gi * gi
        sq[i] = s
        p[i] -= lr * (gi / (np.sqrt(s) + eps))


@njit(**_OPTS)
def rmsprop_momentum(p, g, sq, mom, lr, rho, crho, mu, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        s = sq[i] * rho + crho * gi * gi
        sq[i] = s
        b = mom[i] * mu + gi / (np.sqrt(s) + eps)
        mom[i] = b
        p[i] -= lr * b


@njit(**_OPTS)
def adam(p, g, m, v, step_size, b1, cb1, b2, cb2, eps, bc2, wd, decay):
    """``decay``: 0 none, 1 L2 (added to the gradient), 2 decoupled (``p *= wd``: AdamW)."""
    for i in range(p.shape[0]):
        pi = p[i]
        gi = g[i]
        if decay == 2:
            pi = pi * wd
        elif decay == 1:
            gi = gi + wd * pi
        mi = m[i] * b1 + cb1 * gi
        vi = v[i] * b2 + cb2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] = pi - step_size * mi / (np.sqrt(vi / bc2) + eps)


# -- all threads, fixed blocks -------------------------------------------------------------------
@njit(parallel=True, **_OPTS)
def sgd_par(p, g, lr, wd, block):
    for b in prange((p.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, p.shape[0])
        sgd(p[lo:hi], g[lo:hi], lr, wd)


@njit(parallel=True, **_OPTS)
def sgd_momentum_par(p, g, vel, lr, mu, nesterov, wd, block):
    for b in prange((p.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, p.shape[0])
        sgd_momentum(p[lo:hi], g[lo:hi], vel[lo:hi], lr, mu, nesterov, wd)


@njit(parallel=True, **_OPTS)
def adagrad_par(p, g, acc, lr, eps, block):
    for b in prange((p.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, p.shape[0])
        adagrad(p[lo:hi], g[lo:hi], acc[lo:hi], lr, eps)


@njit(parallel=True, **_OPTS)
def adadelta_par(p, g, acc_g, acc_dx, lr, rho, crho, eps, block):
    for b in prange((p.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, p.shape[0])
        adadelta(p[lo:hi], g[lo:hi], acc_g[lo:hi], acc_dx[lo:hi], lr, rho, crho, eps)


@njit(parallel=True, **_OPTS)
def rmsprop_par(p, g, sq, lr, rho, crho, eps, block):
    for b in prange((p.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, p.shape[0])
        rmsprop(p[lo:hi], g[lo:hi], sq[lo:hi], lr, rho, crho, eps)


@njit(parallel=True, **_OPTS)
def rmsprop_momentum_par(p, g, sq, mom, lr, rho, crho, mu, eps, block):
    for b in prange((p.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, p.shape[0])
        rmsprop_momentum(p[lo:hi], g[lo:hi], sq[lo:hi], mom[lo:hi], lr, rho, crho, mu, eps)


@njit(parallel=True, **_OPTS)
def adam_par(p, g, m, v, step_size, b1, cb1, b2, cb2, eps, bc2, wd, decay, block):
    for b in prange((p.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, p.shape[0])
        adam(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], step_size, b1,
             cb1, b2, cb2, eps, bc2, wd, decay)
