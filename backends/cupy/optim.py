"""Fused in-place optimizer updates: one launch per parameter per step.

``FusedUpdates`` overrides the Backend update methods (same signatures) for any backend with a
``_launcher``. ``update(L, rule, param, grad, s1, s2, scalars, flags)`` returns False, touching
nothing, when the arrays are not all contiguous float32/float64 of one dtype and size or a scalar
is not a plain number (a device array, say); the method then runs the generic update. The scalar
meanings per rule are listed in ``cuda/optim.cu``.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _sources as S
from ._launch import elementwise_grid

HAS_S1, HAS_S2, NESTEROV, WEIGHT_DECAY, DECOUPLED = 1, 2, 4, 8, 16   # as in optim.cu


def _same(a, like) -> bool:
    return (hasattr(a, "dtype") and a.dtype == like.dtype and a.size == like.size
            and a.flags.c_contiguous)


def update(L, rule: str, param, grad, s1, s2, scalars, flags: int) -> bool:
    if not (hasattr(param, "dtype") and param.dtype.name in ("float32", "float64")
            and param.flags.c_contiguous and param.size > 0):
        return False
    if not _same(grad, param):
        return False
    for s in (s1, s2):
        if s is not None and not _same(s, param):
            return False
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in scalars):
        return False
    flags |= (HAS_S1 if s1 is not None else 0) | (HAS_S2 if s2 is not None else 0)
    h = [param.dtype.type(v) for v in scalars] + [param.dtype.type(0)] * (8 - len(scalars))
    n = param.size
    grid = elementwise_grid(n, param.itemsize, S.OPTIM_THREADS, L.sm_count)
    name = S.expr("optim_update", S.CTYPE[param.dtype.name], S.OPTIMIZERS[rule])
    L.kernel("optim", name)(
        grid, S.OPTIM_THREADS,
        (param, grad, param if s1 is None else s1, param if s2 is None else s2, np.int64(n), *h,
         np.int32(flags)))
    return True


class FusedUpdates:
    """Backend mixin: the optimizer updates as fused kernels, generic where they do not apply."""

    _launcher = None

    def sgd_update(self, param, grad, velocity, lr, momentum, nesterov, weight_decay):
        flags = ((NESTEROV if nesterov and velocity is not None else 0)
                 | (WEIGHT_DECAY if weight_decay else 0))
        if not update(self._launcher, "sgd", param, grad, velocity, None,
                      (lr, momentum, weight_decay), flags):
            super().sgd_update(param, grad, velocity, lr, momentum, nesterov, weight_decay)

    def adagrad_update(self, param, grad, accum, lr, eps):
        if not update(self._launcher, "adagrad", param, grad, accum, None, (lr, eps), 0):
            super().adagrad_update(param, grad, accum, lr, eps)

    def adadelta_update(self, param, grad, accum_g, accum_dx, lr, rho, eps):
        if not update(self._launcher, "adadelta", param, grad, accum_g, accum_dx,
                      (lr, rho, 1 - rho, eps), 0):
            super().adadelta_update(param, grad, accum_g, accum_dx, lr, rho, eps)

    def rmsprop_update(self, param, grad, sq, mom, lr, rho, momentum, eps):
        if not update(self._launcher, "rmsprop", param, grad, sq, mom,
                      (lr, rho, 1 - rho, momentum, eps), 0):
            super().rmsprop_update(param, grad, sq, mom, lr, rho, momentum, eps)

    def adam_update(self, param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay, decoupled):
        wd = weight_decay or 0.0
        flags = DECOUPLED if wd and decoupled else WEIGHT_DECAY if wd else 0
        scalars = (lr / (1 - beta1**step), beta1, 1 - beta1, beta2, 1 - beta2,
                   1 - beta2**step, eps, 1 - lr * wd if decoupled else wd)
        if not update(self._launcher, "adam", param, grad, m, v, scalars, flags):
            super().adam_update(param, grad, m, v, lr, beta1, beta2, eps, step, weight_decay,
                                decoupled)
