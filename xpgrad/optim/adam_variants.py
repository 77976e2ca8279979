"""Adam's relatives: Adamax, NAdam and RAdam, PyTorch's update formulas and defaults
(``torch.optim.Adamax`` / ``NAdam`` / ``RAdam``), Keras' argument names; and Lion (Keras').

>>> import xpgrad as xg
>>> w = xg.Variable([1.0, -2.0])
>>> _ = RAdam(0.1).apply_gradients([(xg.asarray([0.5, 0.5]), w)])
>>> [round(x, 4) for x in w.tolist()]       # step 1 is not rectified: w -= lr * m / (1 - b1)
[0.95, -2.05]
"""
from __future__ import annotations

import numpy as np

from ..ops.optim import adamax_update, lion_update, nadam_momenta, nadam_update, radam_update
from ..primitive import run
from ._checks import boolean, non_negative, positive, unit_interval
from .optimizer import Optimizer


class _MomentEstimator(Optimizer):
    """Shared by the three: ``beta_1``, ``beta_2``, ``epsilon``, ``maximize`` (as torch's: the
    gradient negated before the update, weight decay's term included) and a per-variable step
    count (as PyTorch's, a variable without a gradient in a step does not count it)."""

    _CHECKS = {**Optimizer._CHECKS, "beta_1": unit_interval, "beta_2": unit_interval,
               "epsilon": positive, "maximize": boolean}
    maximize = False          # an optimizer pickled before it existed reads this

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, weight_decay, maximize=False,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.maximize = maximize

    def _slot_names(self):
        return ("m", "v")

    def _extra_state(self, var):
        return {"step": 0}


class Adamax(_MomentEstimator):
    """Adamax, Adam with the infinity norm (Kingma & Ba 2015, section 7.1), PyTorch's form::

        m = b1 * m + (1 - b1) * g;  u = max(b2 * u, |g| + eps)
        w -= lr / (1 - b1**t) * m / u

    ``weight_decay`` is L2 added to the gradient. Keras' Adamax puts epsilon outside the
    maximum (``m / (u + eps)``, default 1e-7); this is PyTorch's (default 1e-8), which
    differs from it only where ``|g|`` is near epsilon.
    """

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.0, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, **kwargs)

    def _slot_names(self):
        return ("m", "u")

    def _update(self, be, param, grad, state, lr):
        state["step"] += 1
        if self.maximize:
            grad = -grad
        run(adamax_update, be, param, grad, state["m"], state["u"], lr=lr, beta1=self.beta_1,
            beta2=self.beta_2, eps=self.epsilon, step=state["step"],
            weight_decay=self.weight_decay)


class NAdam(_MomentEstimator):
    """Adam with Nesterov momentum (Dozat 2016), PyTorch's ``torch.optim.NAdam``: momentum
    ``mu_t = b1 * (1 - 0.5 * 0.96**(t * momentum_decay))``, and with ``P_t = mu_1 ... mu_t``::

        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g**2
        d = sqrt(v / (1 - b2**t)) + eps
        w -= lr * (1 - mu_t) / (1 - P_t) * g / d + lr * mu_{t+1} / (1 - P_{t+1}) * m / d

    ``weight_decay`` is L2 added to the gradient, or with ``decoupled_weight_decay=True``
    ``w *= 1 - lr * weight_decay`` first (PyTorch's NAdamW). Keras' ``Nadam`` is a different
    rule (its ``m`` and ``v`` corrections, no ``momentum_decay`` argument): this one follows
    PyTorch. ``P_t`` is computed from the step count with the current ``beta_1`` and
    ``momentum_decay`` (changing them mid-run recomputes it as if they had been constant),
    multiplied in float32 for a float32 variable and in float64 for a float64 one: what
    PyTorch's float32 state holds under its default dtype, and its float64 state under
    ``torch.set_default_dtype(torch.float64)``.
    """

    _CHECKS = {**_MomentEstimator._CHECKS, "momentum_decay": non_negative,
               "decoupled_weight_decay": boolean}

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.0, momentum_decay=4e-3, decoupled_weight_decay=False,
                 **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, **kwargs)
        self.momentum_decay = momentum_decay
        self.decoupled_weight_decay = decoupled_weight_decay
        self._mu_products = {}    # (beta_1, momentum_decay, float type) -> (step t, P_t)

    def _mu_product(self, step, single) -> float:
        """``mu_1 * ... * mu_step``, multiplied in step order as PyTorch's, in float32 if
        ``single``; extended from the last one asked for (every variable usually asks for the
        same or the next step)."""
        kind = np.float32 if single else float
        key = (self.beta_1, self.momentum_decay, kind)
        t, product = self._mu_products.get(key, (0, 1.0))
        if t > step:
            t, product = 0, 1.0
        while t < step:
            t += 1
            product = float(kind(product) * kind(nadam_momenta(self.beta_1,
                                                               self.momentum_decay, t)[0]))
        if len(self._mu_products) > 8:     # beta_1 changed again and again
            self._mu_products.clear()
        self._mu_products[key] = (t, product)
        return product

    def _update(self, be, param, grad, state, lr):
        step = state["step"] = state["step"] + 1
        if self.maximize:
            grad = -grad
        mu_product = self._mu_product(step, str(param.dtype) == "float32")
        run(nadam_update, be, param, grad, state["m"], state["v"], lr=lr, beta1=self.beta_1,
            beta2=self.beta_2, eps=self.epsilon, step=step, momentum_decay=self.momentum_decay,
            mu_product=mu_product, weight_decay=self.weight_decay,
            decoupled=self.decoupled_weight_decay)


class RAdam(_MomentEstimator):
    """Rectified Adam (Liu et al. 2020), PyTorch's ``torch.optim.RAdam``: with
    ``rho_inf = 2 / (1 - b2) - 1`` and ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)``::

        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g**2
        rho_t > 5:  w -= lr * r_t * sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps)
        otherwise:  w -= lr / (1 - b1**t) * m        (SGD with momentum: the first steps)

    with ``r_t = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))``.

    ``weight_decay`` is L2 added to the gradient, or with ``decoupled_weight_decay=True``
    ``w *= 1 - lr * weight_decay`` first (as AdamW; PyTorch's option of that name).
    """

    _CHECKS = {**_MomentEstimator._CHECKS, "decoupled_weight_decay": boolean}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.0, decoupled_weight_decay=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, **kwargs)
        self.decoupled_weight_decay = decoupled_weight_decay

    def _update(self, be, param, grad, state, lr):
        state["step"] += 1
        if self.maximize:
            grad = -grad
        run(radam_update, be, param, grad, state["m"], state["v"], lr=lr, beta1=self.beta_1,
            beta2=self.beta_2, eps=self.epsilon, step=state["step"],
            weight_decay=self.weight_decay, decoupled=self.decoupled_weight_decay)


class Lion(Optimizer):
    """Lion, evolved sign momentum (Chen et al. 2023), Keras' ``keras.optimizers.Lion`` (not in
    PyTorch)::

        w *= 1 - lr * weight_decay                 (decoupled, as AdamW; default 0)
        w -= lr * sign(b1 * m + (1 - b1) * g)
        m = b2 * m + (1 - b2) * g

    Every entry moves by ``lr`` (or 0), so the paper suggests a learning rate 3-10x smaller
    than AdamW's and a weight decay 3-10x larger.
    """

    _CHECKS = {**Optimizer._CHECKS, "beta_1": unit_interval, "beta_2": unit_interval}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=0.0,
                 **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def _slot_names(self):
        return ("m",)

    def _update(self, be, param, grad, state, lr):
        run(lion_update, be, param, grad, state["m"], lr=lr, beta1=self.beta_1,
            beta2=self.beta_2, weight_decay=self.weight_decay)
