"""Fused in-place optimizer updates: one launch per parameter per step.

``kernels(L)`` gives the Kernels for the update primitives of ``xpgrad/ops/optim.py``.
``update(L, rule, param, grad, s1, s2, scalars, flags, s3=None)`` returns False, touching
nothing, when the arrays are not all contiguous float32/float64 of one dtype and size or a
scalar is not a plain number (a device array, say); the kernel then declines (None) and the
generic update runs. The scalar meanings per rule are listed in ``cuda/optim.cu``; AMSGrad is
the "adam" rule with ``v_max`` as ``s3``, centered RMSprop the "rmsprop" rule with the gradient's
running mean as ``s3``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.dtypes import FLOAT_NAMES
from xpgrad.ops.optim import nadam_coefficients, radam_step_size

from . import _sources as S
from ._launch import elementwise_grid

# as in optim.cu
HAS_S1, HAS_S2, NESTEROV, WEIGHT_DECAY, DECOUPLED, HAS_S3, RECTIFIED = 1, 2, 4, 8, 16, 32, 64
N_SCALARS = 9       # h0..h8


def _same(a, like) -> bool:
    return (hasattr(a, "dtype") and a.dtype == like.dtype and a.size == like.size
            and a.flags.c_contiguous)


def update(L, rule: str, param, grad, s1, s2, scalars, flags: int, s3=None) -> bool:
    if not (hasattr(param, "dtype") and param.dtype.name in FLOAT_NAMES
            and param.flags.c_contiguous and param.size > 0):
        return False
    if not _same(grad, param):
        return False
    for s in (s1, s2, s3):
        if s is not None and not _same(s, param):
            return False
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in scalars):
        return False
    for state, flag in ((s1, HAS_S1), (s2, HAS_S2), (s3, HAS_S3)):
        flags |= flag if state is not None else 0
    h = [param.dtype.type(v) for v in scalars] + [param.dtype.type(0)] * (N_SCALARS - len(scalars))
    n = param.size
    grid = elementwise_grid(n, param.itemsize, S.OPTIM_THREADS, L.sm_count)
    name = S.expr("optim_update", S.CTYPE[param.dtype.name], S.OPTIMIZERS[rule])
    L.kernel("optim", name)(
        grid, S.OPTIM_THREADS,
        (param, grad, *(param if s is None else s for s in (s1, s2, s3)), np.int64(n), *h,
         np.int32(flags)))
    return True


def kernels(L) -> dict:
    """The update kernels for launcher ``L``, keyed by primitive name."""
    def done(param, ok):
        return (param, None) if ok else None

    def sgd(param, grad, velocity, *, lr, momentum, nesterov, weight_decay):
        flags = ((NESTEROV if nesterov and velocity is not None else 0)
                 | (WEIGHT_DECAY if weight_decay else 0))
        return done(param, update(L, "sgd", param, grad, velocity, None,
                                  (lr, momentum, weight_decay), flags))

    def adagrad(param, grad, accum, *, lr, eps):
        return done(param, update(L, "adagrad", param, grad, accum, None, (lr, eps), 0))

    def adadelta(param, grad, accum_g, accum_dx, *, lr, rho, eps):
        return done(param, update(L, "adadelta", param, grad, accum_g, accum_dx,
                                  (lr, rho, 1 - rho, eps), 0))

    def rmsprop_centered(param, grad, sq, grad_avg, mom, *, lr, rho, momentum, eps):
        return done(param, update(L, "rmsprop", param, grad, sq, mom,
                                  (lr, rho, 1 - rho, momentum, eps), 0, grad_avg))

    def rmsprop(param, grad, sq, mom, *, lr, rho, momentum, eps):
        return rmsprop_centered(param, grad, sq, None, mom, lr=lr, rho=rho, momentum=momentum,
                                eps=eps)

    def amsgrad(param, grad, m, v, v_max, *, lr, beta1, beta2, eps, step, weight_decay,
                decoupled):
        flags, wd = _weight_decay(lr, weight_decay, decoupled)
        scalars = (lr / (1 - beta1**step), beta1, 1 - beta1, beta2, 1 - beta2,
                   math.sqrt(1 - beta2**step), eps, wd)
        return done(param, update(L, "adam", param, grad, m, v, scalars, flags, v_max))

    def adamax(param, grad, m, u, *, lr, beta1, beta2, eps, step, weight_decay):
        flags, wd = _weight_decay(lr, weight_decay, False)
        scalars = (lr / (1 - beta1**step), beta1, 1 - beta1, beta2, eps, wd)
        return done(param, update(L, "adamax", param, grad, m, u, scalars, flags))

    def nadam(param, grad, m, v, *, lr, beta1, beta2, eps, step, momentum_decay, mu_product,
              weight_decay, decoupled):
        flags, wd = _weight_decay(lr, weight_decay, decoupled)
        c_grad, c_m = nadam_coefficients(lr, beta1, momentum_decay, step, mu_product)
        scalars = (beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta2**step, eps, c_grad, c_m, wd)
        return done(param, update(L, "nadam", param, grad, m, v, scalars, flags))

    def radam(param, grad, m, v, *, lr, beta1, beta2, eps, step, weight_decay, decoupled):
        flags, wd = _weight_decay(lr, weight_decay, decoupled)
        factor, rectified = radam_step_size(lr, beta1, beta2, step)
        scalars = (factor, beta1, 1 - beta1, beta2, 1 - beta2, eps, wd)
        return done(param, update(L, "radam", param, grad, m, v, scalars,
                                  flags | (RECTIFIED if rectified else 0)))

    def adam(param, grad, m, v, *, lr, beta1, beta2, eps, step, weight_decay, decoupled):
        return amsgrad(param, grad, m, v, None, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                       step=step, weight_decay=weight_decay, decoupled=decoupled)

    def lion(param, grad, m, *, lr, beta1, beta2, weight_decay):
        flags, wd = _weight_decay(lr, weight_decay, True)
        scalars = (lr, beta1, 1 - beta1, beta2, 1 - beta2, wd)
        return done(param, update(L, "lion", param, grad, m, None, scalars, flags))

    return {"sgd_update": Kernel(sgd), "adagrad_update": Kernel(adagrad),
            "adadelta_update": Kernel(adadelta), "rmsprop_update": Kernel(rmsprop),
            "adam_update": Kernel(adam), "rmsprop_centered_update": Kernel(rmsprop_centered),
            "amsgrad_update": Kernel(amsgrad), "adamax_update": Kernel(adamax),
            "nadam_update": Kernel(nadam), "radam_update": Kernel(radam),
            "lion_update": Kernel(lion)}


def _weight_decay(lr, weight_decay, decoupled) -> tuple:
    """``(flag, scalar)`` of the Adam family's weight decay: DECOUPLED with the factor
    ``1 - lr * weight_decay``, WEIGHT_DECAY (L2) with the coefficient, or none."""
    if weight_decay and decoupled:
        return DECOUPLED, 1 - lr * weight_decay
    if weight_decay:
        return WEIGHT_DECAY, weight_decay
    return 0, 0.0
