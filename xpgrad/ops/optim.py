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


def _decay_and_moments(param, grad, m, v, *, lr, beta1, beta2, weight_decay, decoupled):
    """The Adam family's weight decay (decoupled: ``param`` shrinks in place; else L2 added to
    the gradient, which is returned) and moment updates ``m``, ``v`` (in place)."""
    if weight_decay and decoupled:
        param *= 1 - lr * weight_decay
    elif weight_decay:
        grad = grad + weight_decay * param
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    return grad


def _amsgrad(xp, param, grad, m, v, v_max, *, lr, beta1, beta2, eps, step, weight_decay,
             decoupled):
    """Adam, or with ``v_max`` (not None) AMSGrad: the largest ``v`` so far (kept in
    ``v_max``) in the denominator (PyTorch's ``amsgrad=True``)."""
    _decay_and_moments(param, grad, m, v, lr=lr, beta1=beta1, beta2=beta2,
                       weight_decay=weight_decay, decoupled=decoupled)
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


def _adamax(xp, param, grad, m, u, *, lr, beta1, beta2, eps, step, weight_decay):
    """Adamax (Kingma & Ba 2015, section 7.1), PyTorch's form: epsilon inside the maximum,
    ``u = max(beta2 * u, |g| + eps)``, and ``w -= lr / (1 - beta1**t) * m / u``."""
    if weight_decay:
        grad = grad + weight_decay * param
    m *= beta1
    m += (1 - beta1) * grad
    u[...] = xp.maximum(u * beta2, xp.abs(grad) + eps)     # NaN if either is, as torch's
    param -= (lr / (1 - beta1**step)) * m / u
    return param


def nadam_momenta(beta1, momentum_decay, step) -> tuple:
    """NAdam's momentum schedule at ``step``: ``(mu_t, mu_{t+1})`` with
    ``mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))`` (Dozat 2016; PyTorch's)."""
    return (beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay))),
            beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay))))


def nadam_coefficients(lr, beta1, momentum_decay, step, mu_product) -> tuple:
    """The factors of ``g / denom`` and ``m / denom`` in NAdam's step, PyTorch's:
    ``lr * (1 - mu_t) / (1 - prod mu_1..t)`` and ``lr * mu_{t+1} / (1 - prod mu_1..t+1)``;
    ``mu_product`` is ``prod mu_1..t``."""
    mu, mu_next = nadam_momenta(beta1, momentum_decay, step)
    return lr * (1.0 - mu) / (1.0 - mu_product), lr * mu_next / (1.0 - mu_product * mu_next)


def _nadam(xp, param, grad, m, v, *, lr, beta1, beta2, eps, step, momentum_decay, mu_product,
           weight_decay, decoupled):
    """NAdam (Dozat 2016), PyTorch's form: Nesterov momentum through the ``mu`` schedule
    (``nadam_momenta``), ``denom = sqrt(v / (1 - beta2**t)) + eps``, and
    ``w -= c_g * g / denom + c_m * m / denom`` (``nadam_coefficients``)."""
    grad = _decay_and_moments(param, grad, m, v, lr=lr, beta1=beta1, beta2=beta2,
                              weight_decay=weight_decay, decoupled=decoupled)
    c_grad, c_m = nadam_coefficients(lr, beta1, momentum_decay, step, mu_product)
    denom = xp.sqrt(v / (1 - beta2**step)) + eps
    param -= c_grad * (grad / denom)
    param -= c_m * (m / denom)
    return param


def radam_rectification(beta2, step):
    """RAdam's variance rectification ``r_t`` at ``step`` (Liu et al. 2020), or None while the
    approximated SMA length ``rho_t`` is <= 5 (the variance is intractable: plain momentum)."""
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / (1 - beta2**step)
    if not rho_t > 5.0:
        return None
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


def radam_step_size(lr, beta1, beta2, step) -> tuple:
    """``(factor, rectified)`` of RAdam's step: ``w -= factor * m / (sqrt(v) + eps)`` when
    rectified, with ``factor = lr * r_t * sqrt(1 - beta2**t) / (1 - beta1**t)``; else
    ``w -= factor * m``, ``factor = lr / (1 - beta1**t)``."""
    rect = radam_rectification(beta2, step)
    bc1 = 1 - beta1**step
    if rect is None:
        return lr / bc1, False
    return lr * rect * math.sqrt(1 - beta2**step) / bc1, True


def _radam(xp, param, grad, m, v, *, lr, beta1, beta2, eps, step, weight_decay, decoupled):
    """RAdam (Liu et al. 2020), PyTorch's form (``decoupled``: its
    ``decoupled_weight_decay=True``); see ``radam_step_size``."""
    _decay_and_moments(param, grad, m, v, lr=lr, beta1=beta1, beta2=beta2,
                       weight_decay=weight_decay, decoupled=decoupled)
    factor, rectified = radam_step_size(lr, beta1, beta2, step)
    if rectified:
        param -= factor * m / (xp.sqrt(v) + eps)
    else:
        param -= factor * m
    return param


def _lion(xp, param, grad, m, *, lr, beta1, beta2, weight_decay):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), Keras' form:
    decoupled weight decay ``param *= 1 - lr * weight_decay``, then
    ``param -= lr * sign(beta1 * m + (1 - beta1) * g)`` and ``m = beta2 * m + (1 - beta2) * g``."""
    if weight_decay:
        param *= 1 - lr * weight_decay
    param -= lr * xp.sign(m * beta1 + (1 - beta1) * grad)
    m *= beta2
    m += (1 - beta2) * grad
    return param


sgd_update = Primitive("sgd_update", _sgd)
adagrad_update = Primitive("adagrad_update", _adagrad)
adadelta_update = Primitive("adadelta_update", _adadelta)
rmsprop_update = Primitive("rmsprop_update", _rmsprop)
adam_update = Primitive("adam_update", _adam)
rmsprop_centered_update = Primitive("rmsprop_centered_update", _rmsprop_centered)
amsgrad_update = Primitive("amsgrad_update", _amsgrad)
adamax_update = Primitive("adamax_update", _adamax)
nadam_update = Primitive("nadam_update", _nadam)
radam_update = Primitive("radam_update", _radam)
lion_update = Primitive("lion_update", _lion)

UPDATES = (sgd_update, adagrad_update, adadelta_update, rmsprop_update, adam_update,
           rmsprop_centered_update, amsgrad_update, adamax_update, nadam_update, radam_update,
           lion_update)

__all__: list = []   # not namespace functions: reach them as xpgrad.ops.optim.*
