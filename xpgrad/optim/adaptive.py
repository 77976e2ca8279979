"""Adaptive-rate optimizers: Adagrad, Adadelta, RMSprop, Adam, AdamW.

Hyperparameter defaults and epsilon placement follow PyTorch (``torch.optim``), so results match
it step for step; names follow Keras (``learning_rate``, ``rho``, ``beta_1``, ``epsilon``).
``maximize=True`` ascends, as torch's: the gradient is negated before the update.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0])
>>> _ = Adam(0.1, maximize=True).apply_gradients([(xg.asarray([2.0]), w)])
>>> round(w.item(), 4)      # the first Adam step moves lr along the gradient's sign
1.1
"""
from __future__ import annotations

from ..ops.optim import (adadelta_update, adagrad_update, adam_update, amsgrad_update,
                         rmsprop_centered_update, rmsprop_update)
from ..primitive import run
from ._checks import boolean, non_negative, positive, unit_interval
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """``a += g**2; w -= lr * g / (sqrt(a) + epsilon)`` (Duchi et al. 2011; PyTorch's form:
    epsilon outside the root, accumulator starting at ``initial_accumulator_value``).

    >>> import xpgrad as xg
    >>> w = xg.Variable([1.0]); _ = Adagrad(0.5).apply_gradients([(xg.asarray([2.0]), w)])
    >>> round(w.item(), 4)
    0.5
    """

    _CHECKS = {**Optimizer._CHECKS, "initial_accumulator_value": non_negative,
               "epsilon": positive, "maximize": boolean}
    maximize = False          # an optimizer pickled before it existed reads this

    def __init__(self, learning_rate=0.01, initial_accumulator_value=0.0, epsilon=1e-10,
                 weight_decay=0.0, maximize=False, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self.maximize = maximize

    def _slot_names(self):
        return ("accumulator",)

    def _new_state(self, be, data, var):
        state = super()._new_state(be, data, var)
        if self.initial_accumulator_value:
            # a complex variable's real and imaginary parts each start there (PyTorch's)
            both = 1 + 1j if var.dtype.kind == "c" else 1
            state["accumulator"] += self.initial_accumulator_value * both
        return state

    def _update(self, be, param, grad, state, lr):
        if self.maximize:
            grad = -grad
        run(adagrad_update, be, param, self._l2(be, param, grad), state["accumulator"], lr=lr,
            eps=self.epsilon)


class Adadelta(Optimizer):
    """Zeiler's Adadelta (PyTorch's form, with a learning rate, default 1.0)::

        Eg = rho * Eg + (1 - rho) * g**2
        d = sqrt(Edx + eps) / sqrt(Eg + eps) * g
        Edx = rho * Edx + (1 - rho) * d**2
        w -= lr * d
    """

    _CHECKS = {**Optimizer._CHECKS, "rho": unit_interval, "epsilon": positive,
               "maximize": boolean}
    maximize = False          # an optimizer pickled before it existed reads this

    def __init__(self, learning_rate=1.0, rho=0.9, epsilon=1e-6, weight_decay=0.0,
                 maximize=False, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rho = rho
        self.epsilon = epsilon
        self.maximize = maximize

    def _slot_names(self):
        return ("accum_grad", "accum_update")

    def _update(self, be, param, grad, state, lr):
        if self.maximize:
            grad = -grad
        run(adadelta_update, be, param, self._l2(be, param, grad), state["accum_grad"],
            state["accum_update"], lr=lr, rho=self.rho, eps=self.epsilon)


class RMSprop(Optimizer):
    """RMSprop (PyTorch's form: epsilon outside the root, lr outside the momentum buffer)::

        s = rho * s + (1 - rho) * g**2
        w -= lr * g / (sqrt(s) + eps)                       (momentum 0)
        b = momentum * b + g / (sqrt(s) + eps); w -= lr * b (momentum > 0)

    ``centered=True`` divides by the root of the variance instead, ``sqrt(s - a**2) + eps``,
    with ``a = rho * a + (1 - rho) * g`` (Graves 2013; PyTorch's and Keras' ``centered``).
    """

    _CHECKS = {**Optimizer._CHECKS, "rho": unit_interval, "momentum": unit_interval,
               "epsilon": positive, "centered": boolean, "maximize": boolean}
    maximize = False          # an optimizer pickled before it existed reads this

    def __init__(self, learning_rate=0.01, rho=0.99, momentum=0.0, epsilon=1e-8,
                 weight_decay=0.0, centered=False, maximize=False, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        self.maximize = maximize

    def _slot_names(self):
        return (("square_avg",) + (("momentum_buffer",) if self.momentum else ())
                + (("grad_avg",) if self.centered else ()))

    def _update(self, be, param, grad, state, lr):
        grad = self._l2(be, param, -grad if self.maximize else grad)
        buffer = (self._optional_slot(be, state, "momentum_buffer", param) if self.momentum
                  else None)
        if self.centered:
            run(rmsprop_centered_update, be, param, grad, state["square_avg"],
                self._optional_slot(be, state, "grad_avg", param), buffer, lr=lr, rho=self.rho,
                momentum=self.momentum, eps=self.epsilon)
        else:
            run(rmsprop_update, be, param, grad, state["square_avg"], buffer, lr=lr,
                rho=self.rho, momentum=self.momentum, eps=self.epsilon)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), PyTorch's form; ``weight_decay`` is L2 added to the gradient::

        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g**2
        w -= lr / (1 - b1**t) * m / (sqrt(v / (1 - b2**t)) + eps)

    ``t`` counts this variable's updates (kept per variable, like PyTorch). ``amsgrad=True``
    puts the largest ``v`` so far in the denominator (Reddi et al. 2018; PyTorch's form).
    """

    _decoupled = False
    _CHECKS = {**Optimizer._CHECKS, "beta_1": unit_interval, "beta_2": unit_interval,
               "epsilon": positive, "amsgrad": boolean, "maximize": boolean}
    maximize = False          # an optimizer pickled before it existed reads this

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.0, amsgrad=False, maximize=False, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.maximize = maximize

    def _slot_names(self):
        return ("m", "v", "v_max") if self.amsgrad else ("m", "v")

    def _extra_state(self, var):
        return {"step": 0}

    def _update(self, be, param, grad, state, lr):
        state["step"] += 1
        if self.maximize:
            grad = -grad
        if self.amsgrad:
            v_max = self._optional_slot(be, state, "v_max", param)
            run(amsgrad_update, be, param, grad, state["m"], state["v"], v_max,
                **self._options(lr, state["step"]))
        else:   # keywords spelled out: a call with ** took 0.5 us more per variable
            run(adam_update, be, param, grad, state["m"], state["v"], lr=lr, beta1=self.beta_1,
                beta2=self.beta_2, eps=self.epsilon, step=state["step"],
                weight_decay=self.weight_decay, decoupled=self._decoupled)

    def _options(self, lr, step) -> dict:
        return dict(lr=lr, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, step=step,
                    weight_decay=self.weight_decay, decoupled=self._decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), PyTorch's form: before the
    Adam step, ``w *= 1 - lr * weight_decay`` (default weight_decay 0.01)."""

    _decoupled = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.01, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, amsgrad,
                         **kwargs)
