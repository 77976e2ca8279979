"""Fused optimizer updates for the Numba backend: the Kernels of the update primitives
(``xpgrad/ops/optim.py``). Each updates in place and returns ``(param, None)``, or declines
(None) when it cannot run -- a dtype other than float32/float64, mixed dtypes, a parameter that
is not C-contiguous -- and the generic update runs instead.

>>> import numpy as np
>>> p = np.ones(3, np.float32)
>>> kern = KERNELS["sgd_update"]
>>> _ = kern.forward(p, np.ones(3, np.float32), None, lr=0.5, momentum=0.0, nesterov=False,
...                  weight_decay=0.0)
>>> p.tolist()
[0.5, 0.5, 0.5]
>>> kern.forward(np.ones(3, np.int64), np.ones(3, np.int64), None, lr=0.5, momentum=0.0,
...              nesterov=False, weight_decay=0.0) is None
True
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops.optim import nadam_coefficients, radam_step_size

from . import _optim_kernels as loops
from . import _config
from ._config import run_by_size
from ._losses import FLOATS


def _views(param, *arrays):
    """1-D views of ``param`` and the (state) arrays, or None if a fused kernel cannot update
    them in place. ``arrays[0]`` is the gradient, which may be any layout (it is only read)."""
    dt = param.dtype
    if dt not in FLOATS or not param.flags.c_contiguous or not param.flags.writeable:
        return None
    out = [param.reshape(-1)]
    for i, a in enumerate(arrays):
        if a is None:
            out.append(None)
            continue
        if a.dtype != dt or a.shape != param.shape:
            return None
        if not a.flags.c_contiguous:
            if i:                        # state arrays are written: must be updated in place
                return None
            a = np.ascontiguousarray(a)
        out.append(a.reshape(-1))
    return out


#: sgd's last (dtype, lr, weight_decay) and the two numbers in that dtype (by identity: a
#: float object never changes, and -0.0 stays apart from 0.0)
_last_typed = [(None, None, None, None, None)]


def sgd(param, grad, velocity, *, lr, momentum, nesterov, weight_decay):
    dt = param.dtype
    if velocity is None and grad.dtype is dt and grad.shape == param.shape \
            and param.size < _config.PAR_MIN and dt in FLOATS and param.flags.c_contiguous \
            and grad.flags.c_contiguous and param.flags.writeable:
        # a plain update of a contiguous variable (every step of an MLP's four): what _views
        # and run_by_size would do, spelled out (2.9 -> 1.6 us for a bias)
        typed = _last_typed[0]          # one tuple, read once: safe across threads
        if typed[0] is not dt or typed[1] is not lr or typed[2] is not weight_decay:
            # the same objects step after step: their typed copies are made once
            t = dt.type
            typed = _last_typed[0] = (dt, lr, weight_decay, t(lr), t(weight_decay))
        if param.ndim == 1:
            loops.sgd(param, grad, typed[3], typed[4])
        else:
            loops.sgd(param.reshape(-1), grad.reshape(-1), typed[3], typed[4])
        return param, None
    v = _views(param, grad, velocity)
    if v is None:
        return None
    p, g, vel = v
    t = p.dtype.type
    if vel is None:
        run_by_size(loops.sgd, loops.sgd_par, p.size, p, g, t(lr), t(weight_decay))
    else:
        run_by_size(loops.sgd_momentum, loops.sgd_momentum_par, p.size, p, g, vel, t(lr),
                    t(momentum), bool(nesterov), t(weight_decay))
    return param, None


def adagrad(param, grad, accum, *, lr, eps):
    v = _views(param, grad, accum)
    if v is None:
        return None
    p, g, acc = v
    t = p.dtype.type
    run_by_size(loops.adagrad, loops.adagrad_par, p.size, p, g, acc, t(lr), t(eps))
    return param, None


def adadelta(param, grad, accum_g, accum_dx, *, lr, rho, eps):
    v = _views(param, grad, accum_g, accum_dx)
    if v is None:
        return None
    p, g, ag, adx = v
    t = p.dtype.type
    run_by_size(loops.adadelta, loops.adadelta_par, p.size, p, g, ag, adx, t(lr), t(rho),
                t(1 - rho), t(eps))
    return param, None


def rmsprop(param, grad, sq, mom, *, lr, rho, momentum, eps):
    v = _views(param, grad, sq, mom)
    if v is None:
        return None
    p, g, s, b = v
    t = p.dtype.type
    if b is None:
        run_by_size(loops.rmsprop, loops.rmsprop_par, p.size, p, g, s, t(lr), t(rho), t(1 - rho),
                    t(eps))
    else:
        run_by_size(loops.rmsprop_momentum, loops.rmsprop_momentum_par, p.size, p, g, s, b, t(lr),
                    t(rho), t(1 - rho), t(momentum), t(eps))
    return param, None


def rmsprop_centered(param, grad, sq, grad_avg, mom, *, lr, rho, momentum, eps):
    if grad_avg is None:
        return rmsprop(param, grad, sq, mom, lr=lr, rho=rho, momentum=momentum, eps=eps)
    v = _views(param, grad, sq, grad_avg, mom)
    if v is None:
        return None
    p, g, s, a, b = v
    t = p.dtype.type
    if b is None:
        run_by_size(loops.rmsprop_centered, loops.rmsprop_centered_par, p.size, p, g, s, a,
                    t(lr), t(rho), t(1 - rho), t(eps))
    else:
        run_by_size(loops.rmsprop_centered_momentum, loops.rmsprop_centered_momentum_par,
                    p.size, p, g, s, a, b, t(lr), t(rho), t(1 - rho), t(momentum), t(eps))
    return param, None


def _weight_decay(lr, weight_decay, decoupled) -> tuple:
    """``(decay, wd)`` of the Adam family's loops: 0 none, 1 L2 (``wd`` the coefficient), 2
    decoupled (``wd`` the factor ``1 - lr * weight_decay``)."""
    if weight_decay and decoupled:
        return 2, 1 - lr * weight_decay
    if weight_decay:
        return 1, weight_decay
    return 0, 0.0


def _adam_scalars(t, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """The scalars after the arrays of ``loops.adam`` / ``loops.amsgrad``, cast by ``t``."""
    decay, wd = _weight_decay(lr, weight_decay, decoupled)
    bc1 = 1 - beta1**step
    root_bc2 = math.sqrt(1 - beta2**step)
    return (t(lr / bc1), t(beta1), t(1 - beta1), t(beta2), t(1 - beta2), t(eps), t(root_bc2),
            t(wd), decay)


def adam(param, grad, m, v, *, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    views = _views(param, grad, m, v)
    if views is None:
        return None
    p = views[0]
    run_by_size(loops.adam, loops.adam_par, p.size, *views,
                *_adam_scalars(p.dtype.type, lr, beta1, beta2, eps, step, weight_decay,
                               decoupled))
    return param, None


def amsgrad(param, grad, m, v, v_max, *, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    options = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
                   weight_decay=weight_decay, decoupled=decoupled)
    if v_max is None:
        return adam(param, grad, m, v, **options)
    views = _views(param, grad, m, v, v_max)
    if views is None:
        return None
    p = views[0]
    run_by_size(loops.amsgrad, loops.amsgrad_par, p.size, *views,
                *_adam_scalars(p.dtype.type, **options))
    return param, None


def adamax(param, grad, m, u, *, lr, beta1, beta2, eps, step, weight_decay):
    views = _views(param, grad, m, u)
    if views is None:
        return None
    t = views[0].dtype.type
    run_by_size(loops.adamax, loops.adamax_par, views[0].size, *views,
                t(lr / (1 - beta1**step)), t(beta1), t(1 - beta1), t(beta2), t(eps),
                t(weight_decay))
    return param, None


def nadam(param, grad, m, v, *, lr, beta1, beta2, eps, step, momentum_decay, mu_product,
          weight_decay, decoupled):
    views = _views(param, grad, m, v)
    if views is None:
        return None
    t = views[0].dtype.type
    c_grad, c_m = nadam_coefficients(lr, beta1, momentum_decay, step, mu_product)
    decay, wd = _weight_decay(lr, weight_decay, decoupled)
    run_by_size(loops.nadam, loops.nadam_par, views[0].size, *views, t(beta1), t(1 - beta1),
                t(beta2), t(1 - beta2), t(1 - beta2**step), t(eps), t(c_grad), t(c_m), t(wd),
                decay)
    return param, None


def radam(param, grad, m, v, *, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    views = _views(param, grad, m, v)
    if views is None:
        return None
    t = views[0].dtype.type
    factor, rectified = radam_step_size(lr, beta1, beta2, step)
    decay, wd = _weight_decay(lr, weight_decay, decoupled)
    run_by_size(loops.radam, loops.radam_par, views[0].size, *views, t(factor), t(beta1),
                t(1 - beta1), t(beta2), t(1 - beta2), t(eps), t(wd), decay, rectified)
    return param, None


def lion(param, grad, m, *, lr, beta1, beta2, weight_decay):
    views = _views(param, grad, m)
    if views is None:
        return None
    t = views[0].dtype.type
    run_by_size(loops.lion, loops.lion_par, views[0].size, *views, t(lr), t(beta1),
                t(1 - beta1), t(beta2), t(1 - beta2), t(1 - lr * weight_decay))
    return param, None


KERNELS = {"sgd_update": Kernel(sgd), "adagrad_update": Kernel(adagrad),
           "adadelta_update": Kernel(adadelta), "rmsprop_update": Kernel(rmsprop),
           "adam_update": Kernel(adam), "rmsprop_centered_update": Kernel(rmsprop_centered),
           "amsgrad_update": Kernel(amsgrad), "adamax_update": Kernel(adamax),
           "nadam_update": Kernel(nadam), "radam_update": Kernel(radam),
           "lion_update": Kernel(lion)}
