"""Numba loops of the optimizer updates: in place, one pass over each variable (1-D arrays).

Same arithmetic, in the same order, as the generic ``Backend.*_update`` methods. Scalars arrive
already cast to the arrays' dtype, complements such as ``1 - rho`` computed in Python as the
generic code does. ``wd == 0`` skips the decay term entirely (as the generic
code does), so an infinite weight cannot turn into NaN through ``0 * inf``. Below each loop,
its threaded version ``*_par(..., block)`` (``_templates.parallel_blocks``) runs it on blocks of
``block`` entries on all threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._math import LOOP_OPTIONS
from ._templates import parallel_blocks


@njit(**LOOP_OPTIONS)
def sgd(p, g, lr, wd):
    if wd != 0:
        for i in range(p.shape[0]):
            p[i] -= lr * (g[i] + wd * p[i])
    else:
        for i in range(p.shape[0]):
            p[i] -= lr * g[i]


sgd_par = parallel_blocks(sgd, arrays=2)


@njit(**LOOP_OPTIONS)
def sgd_momentum(p, g, vel, lr, mu, nesterov, wd):
    for i in range(p.shape[0]):
        gi = g[i] + wd * p[i] if wd != 0 else g[i]
        v = vel[i] * mu + gi
        vel[i] = v
        p[i] -= lr * (gi + mu * v if nesterov else v)


sgd_momentum_par = parallel_blocks(sgd_momentum, arrays=3)


@njit(**LOOP_OPTIONS)
def adagrad(p, g, acc, lr, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        a = acc[i] + gi * gi
        acc[i] = a
        p[i] -= lr * gi / (np.sqrt(a) + eps)


adagrad_par = parallel_blocks(adagrad, arrays=3)


@njit(**LOOP_OPTIONS)
def adadelta(p, g, acc_g, acc_dx, lr, rho, crho, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        ag = acc_g[i] * rho + crho * gi * gi
        acc_g[i] = ag
        delta = np.sqrt(acc_dx[i] + eps) / np.sqrt(ag + eps) * gi
        acc_dx[i] = acc_dx[i] * rho + crho * delta * delta
        p[i] -= lr * delta


adadelta_par = parallel_blocks(adadelta, arrays=4)


@njit(**LOOP_OPTIONS)
def rmsprop(p, g, sq, lr, rho, crho, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        s = sq[i] * rho + crho * gi * gi
        sq[i] = s
        p[i] -= lr * (gi / (np.sqrt(s) + eps))


rmsprop_par = parallel_blocks(rmsprop, arrays=3)


@njit(**LOOP_OPTIONS)
def rmsprop_momentum(p, g, sq, mom, lr, rho, crho, mu, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        s = sq[i] * rho + crho * gi * gi
        sq[i] = s
        b = mom[i] * mu + gi / (np.sqrt(s) + eps)
        mom[i] = b
        p[i] -= lr * b


rmsprop_momentum_par = parallel_blocks(rmsprop_momentum, arrays=4)


@njit(**LOOP_OPTIONS)
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


adam_par = parallel_blocks(adam, arrays=4)
