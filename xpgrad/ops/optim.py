"""Optimizer updates as primitives: each updates ``param`` and its state arrays in place.

They have no gradient and are never recorded; ``xg.optim``'s optimizers call them through
``primitive.run`` on raw arrays, so a backend speeds one up the way it speeds up any primitive:
a ``Kernel`` registered under the update's name (Numba and CUDA fuse each into one pass). The
generic forwards below are the reference those kernels are tested against. Positional arguments
are arrays (a state array the optimizer does not use is None); scalars are keywords.

>>> import numpy as np, xpgrad as xg
>>> from xpgrad.primitive import run
>>> p = np.ones(2)
>>> _ = run(sgd_update, xg.get_backend("numpy"), p, np.ones(2), None, lr=0.5, momentum=0.0,
...         nesterov=False, weight_decay=0.0)
>>> p.tolist()
[0.5, 0.5]
"""
from __future__ import annotations

import math

from ..primitive import Primitive


def _sgd(xp, param, grad, velocity, *, lr, momentum, nesterov, weight_decay):
    if weight_decay:
        grad = grad + weight_decay * param
    if velocity is None:
        param -= lr * grad
        return param
    velocity *= momentum
    velocity += grad
    param -= lr * (grad + momentum * velocity if nesterov else velocity)
    return param


def _adagrad(xp, param, grad, accum, *, lr, eps):
    accum += grad * grad
    param -= lr * grad / (xp.sqrt(accum) + eps)
    return param


def _adadelta(xp, param, grad, accum_g, accum_dx, *, lr, rho, eps):
    accum_g *= rho
    accum_g += (1 - rho) * grad * grad
    delta = xp.sqrt(accum_dx + eps) / xp.sqrt(accum_g + eps) * grad
    accum_dx *= rho
    accum_dx += (1 - rho) * delta * delta
    param -= lr * delta
    return param


def _rmsprop_centered(xp, param, grad, sq, grad_avg, mom, *, lr, rho, momentum, eps):
    """RMSprop, or with ``grad_avg`` (not None) its centered form: the root of the variance
    ``sq - grad_avg**2`` instead of the second moment (PyTorch's ``centered=True``)."""
    sq *= rho
    sq += (1 - rho) * grad * grad
    if grad_avg is None:
        root = xp.sqrt(sq)
    else:
        grad_avg *= rho
        grad_avg += (1 - rho) * grad
        root = xp.sqrt(sq - grad_avg * grad_avg)
    step = grad / (root + eps)
    if mom is None:
        param -= lr * step
    else:   # PyTorch's form: lr outside the buffer, so a changing lr acts at once
        mom *= momentum
        mom += step
        param -= lr * mom
    return param


def _rmsprop(xp, param, grad, sq, mom, *, lr, rho, momentum, eps):
    return _rmsprop_centered(xp, param, grad, sq, None, mom, lr=lr, rho=rho, momentum=momentum,
                             eps=eps)


def _amsgrad(xp, param, grad, m, v, v_max, *, lr, beta1, beta2, eps, step, weight_decay,
             decoupled):
    """Adam, or with ``v_max`` (not None) AMSGrad: the largest ``v`` so far (kept in
    ``v_max``) in the denominator (PyTorch's ``amsgrad=True``)."""
    if weight_decay and decoupled:
        param *= 1 - lr * weight_decay
    elif weight_decay:
        grad = grad + weight_decay * param
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    if v_max is not None:
        v_max[...] = xp.maximum(v_max, v)
        v = v_max
    bc1 = 1 - beta1**step
    # sqrt(v) / sqrt(1 - beta2**t), PyTorch's order: v / (1 - beta2**t) is g * g on the first
    # step, which overflows float32 from |g| = 1.8e19 (v itself only from 5.8e20): the weight
    # stood still where PyTorch's moves by lr
    param -= (lr / bc1) * m / (xp.sqrt(v) / math.sqrt(1 - beta2**step) + eps)
    return param


def _adam(xp, param, grad, m, v, *, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    return _amsgrad(xp, param, grad, m, v, None, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                    step=step, weight_decay=weight_decay, decoupled=decoupled)


sgd_update = Primitive("sgd_update", _sgd)
adagrad_update = Primitive("adagrad_update", _adagrad)
adadelta_update = Primitive("adadelta_update", _adadelta)
rmsprop_update = Primitive("rmsprop_update", _rmsprop)
adam_update = Primitive("adam_update", _adam)
rmsprop_centered_update = Primitive("rmsprop_centered_update", _rmsprop_centered)
amsgrad_update = Primitive("amsgrad_update", _amsgrad)

UPDATES = (sgd_update, adagrad_update, adadelta_update, rmsprop_update, adam_update,
           rmsprop_centered_update, amsgrad_update)

__all__: list = []   # not namespace functions: reach them as xpgrad.ops.optim.*
