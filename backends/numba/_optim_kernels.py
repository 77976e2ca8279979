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

from ._math import LOOP_OPTIONS, MATH_FLAGS
from ._templates import parallel_blocks


# Overflow-sensitive steps live in helpers compiled without ``reassoc`` (inlined, they keep
# their own flags; see ``_loss_kernels``): in a loop with ``reassoc`` LLVM may compute
# ``crho * g * g`` as ``crho * (g * g)``, which overflows float32 from |g| = 1.8e19 where the
# generic rule's ``(crho * g) * g`` (PyTorch's order) does not, and may rearrange Adadelta's
# step into inf / inf: the numba update left a weight unchanged or made it NaN where NumPy's
# moved it.
@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _square_average(a, rho, crho, g):
    """``a * rho + (crho * g) * g``, in this order."""
    return a * rho + (crho * g) * g


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _adadelta_step(acc_dx, ag, eps, g):
    """``sqrt(acc_dx + eps) / sqrt(ag + eps) * g``, in this order."""
    return np.sqrt(acc_dx + eps) / np.sqrt(ag + eps) * g


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
        ag = _square_average(acc_g[i], rho, crho, gi)
        acc_g[i] = ag
        delta = _adadelta_step(acc_dx[i], ag, eps, gi)
        acc_dx[i] = _square_average(acc_dx[i], rho, crho, delta)
        p[i] -= lr * delta


adadelta_par = parallel_blocks(adadelta, arrays=4)


@njit(**LOOP_OPTIONS)
def rmsprop(p, g, sq, lr, rho, crho, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        s = _square_average(sq[i], rho, crho, gi)
        sq[i] = s
        p[i] -= lr * (gi / (np.sqrt(s) + eps))


rmsprop_par = parallel_blocks(rmsprop, arrays=3)


@njit(**LOOP_OPTIONS)
def rmsprop_momentum(p, g, sq, mom, lr, rho, crho, mu, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        s = _square_average(sq[i], rho, crho, gi)
        sq[i] = s
        b = mom[i] * mu + gi / (np.sqrt(s) + eps)
        mom[i] = b
        p[i] -= lr * b


rmsprop_momentum_par = parallel_blocks(rmsprop_momentum, arrays=4)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _adam_moments(pi, gi, mi, vi, b1, cb1, b2, cb2, wd, decay):
    """Adam's weight decay (``decay`` as ``adam``'s) and moments for one element: the decayed
    ``p``, the new ``m`` and ``v``."""
    if decay == 2:
        pi = pi * wd
    elif decay == 1:
        gi = gi + wd * pi
    return pi, mi * b1 + cb1 * gi, _square_average(vi, b2, cb2, gi)


@njit(**LOOP_OPTIONS)
def adam(p, g, m, v, step_size, b1, cb1, b2, cb2, eps, root_bc2, wd, decay):
    """``decay``: 0 none, 1 L2 (added to the gradient), 2 decoupled (``p *= wd``: AdamW);
    ``root_bc2`` is ``sqrt(1 - beta2**t)``: ``sqrt(v) / root_bc2``, as the generic rule."""
    for i in range(p.shape[0]):
        pi, mi, vi = _adam_moments(p[i], g[i], m[i], v[i], b1, cb1, b2, cb2, wd, decay)
        m[i] = mi
        v[i] = vi
        p[i] = pi - step_size * mi / (np.sqrt(vi) / root_bc2 + eps)


adam_par = parallel_blocks(adam, arrays=4)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _largest(a, b):
    """``np.maximum(a, b)``: NaN if either is NaN."""
    return b if b > a or b != b else a


@njit(**LOOP_OPTIONS)
def amsgrad(p, g, m, v, v_max, step_size, b1, cb1, b2, cb2, eps, root_bc2, wd, decay):
    """``adam`` with the largest ``v`` so far (kept in ``v_max``) in the denominator."""
    for i in range(p.shape[0]):
        pi, mi, vi = _adam_moments(p[i], g[i], m[i], v[i], b1, cb1, b2, cb2, wd, decay)
        top = _largest(v_max[i], vi)
        m[i] = mi
        v[i] = vi
        v_max[i] = top
        p[i] = pi - step_size * mi / (np.sqrt(top) / root_bc2 + eps)


amsgrad_par = parallel_blocks(amsgrad, arrays=5)


# no contraction either: as one fma, ``s - a * a`` is ``inf`` where NumPy's is ``inf - inf``
# (NaN: |g| > 1e19 in float32), and rounds otherwise where the variance is a small difference
# of large numbers. ``fastmath=False`` spelled out: left unset, Numba takes the calling loop's.
@njit(fastmath=False, error_model="numpy", cache=True)
def _centered_step(s, a, eps, g):
    """``g / (sqrt(s - a * a) + eps)``, in this order."""
    return g / (np.sqrt(s - a * a) + eps)


@njit(fastmath=MATH_FLAGS, error_model="numpy", cache=True)
def _centered_averages(sqi, avgi, rho, crho, gi):
    """Centered RMSprop's running averages of ``g**2`` and ``g`` for one element."""
    return _square_average(sqi, rho, crho, gi), avgi * rho + crho * gi


@njit(**LOOP_OPTIONS)
def rmsprop_centered(p, g, sq, avg, lr, rho, crho, eps):
    """``rmsprop`` dividing by the root of the variance ``sq - avg**2`` (``avg``: the running
    mean of the gradient)."""
    for i in range(p.shape[0]):
        gi = g[i]
        s, a = _centered_averages(sq[i], avg[i], rho, crho, gi)
        sq[i] = s
        avg[i] = a
        p[i] -= lr * _centered_step(s, a, eps, gi)


rmsprop_centered_par = parallel_blocks(rmsprop_centered, arrays=4)


@njit(**LOOP_OPTIONS)
def rmsprop_centered_momentum(p, g, sq, avg, mom, lr, rho, crho, mu, eps):
    for i in range(p.shape[0]):
        gi = g[i]
        s, a = _centered_averages(sq[i], avg[i], rho, crho, gi)
        sq[i] = s
        avg[i] = a
        b = mom[i] * mu + _centered_step(s, a, eps, gi)
        mom[i] = b
        p[i] -= lr * b


rmsprop_centered_momentum_par = parallel_blocks(rmsprop_centered_momentum, arrays=5)


@njit(fastmath=False, error_model="numpy", cache=True)
def _product(a, b):
    """``a * b`` rounded on its own: in ``p - a * b`` a loop's contraction makes one fma of
    it, which leaves a residue where the generic rule (and PyTorch) subtract to exactly 0."""
    return a * b


@njit(fastmath=False, error_model="numpy", cache=True)
def _nadam_step(p, c_grad, g, c_m, m, d):
    """``(p - c_grad * (g / d)) - c_m * (m / d)``, each operation rounded (no fma, true
    divisions): the two terms nearly cancel ``p`` where the learning rate is tiny."""
    return (p - c_grad * (g / d)) - c_m * (m / d)


@njit(**LOOP_OPTIONS)
def adamax(p, g, m, u, step_size, b1, cb1, b2, eps, wd):
    """``u = max(b2 * u, |g| + eps)`` (NaN if either is); ``wd`` is L2 (0: none)."""
    for i in range(p.shape[0]):
        pi = p[i]
        gi = g[i] + wd * pi if wd != 0 else g[i]
        mi = m[i] * b1 + cb1 * gi
        ui = _largest(u[i] * b2, np.abs(gi) + eps)
        m[i] = mi
        u[i] = ui
        p[i] = pi - step_size * mi / ui


adamax_par = parallel_blocks(adamax, arrays=4)


@njit(**LOOP_OPTIONS)
def nadam(p, g, m, v, b1, cb1, b2, cb2, bc2, eps, c_grad, c_m, wd, decay):
    """``decay`` and ``wd`` as ``adam``'s; ``d = sqrt(v / bc2) + eps``,
    ``p -= c_grad * (g / d)``, then ``p -= c_m * (m / d)`` (PyTorch's two steps)."""
    for i in range(p.shape[0]):
        gi = g[i]
        if decay == 1:
            gi = gi + wd * p[i]
        pi, mi, vi = _adam_moments(p[i], g[i], m[i], v[i], b1, cb1, b2, cb2, wd, decay)
        m[i] = mi
        v[i] = vi
        d = np.sqrt(vi / bc2) + eps
        p[i] = _nadam_step(pi, c_grad, gi, c_m, mi, d)


nadam_par = parallel_blocks(nadam, arrays=4)


@njit(**LOOP_OPTIONS)
def radam(p, g, m, v, factor, b1, cb1, b2, cb2, eps, wd, decay, rectified):
    """``p -= factor * m / (sqrt(v) + eps)`` when ``rectified``, else ``p -= factor * m``."""
    for i in range(p.shape[0]):
        pi, mi, vi = _adam_moments(p[i], g[i], m[i], v[i], b1, cb1, b2, cb2, wd, decay)
        m[i] = mi
        v[i] = vi
        if rectified:
            p[i] = pi - factor * mi / (np.sqrt(vi) + eps)
        else:
            p[i] = pi - _product(factor, mi)


radam_par = parallel_blocks(radam, arrays=4)


@njit(**LOOP_OPTIONS)
def lion(p, g, m, lr, b1, cb1, b2, cb2, wd):
    """``wd``: the decoupled factor ``1 - lr * weight_decay`` (1: none, skipped)."""
    for i in range(p.shape[0]):
        gi = g[i]
        mi = m[i]
        pi = p[i] * wd if wd != 1 else p[i]
        p[i] = pi - lr * np.sign(mi * b1 + cb1 * gi)
        m[i] = mi * b2 + cb2 * gi


lion_par = parallel_blocks(lion, arrays=3)
