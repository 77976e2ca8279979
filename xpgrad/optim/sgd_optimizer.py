"""SGD with optional (Nesterov) momentum, dampening, L2 weight decay and ``maximize``
(PyTorch's update)."""
from __future__ import annotations

from numpy import ndarray

from .._args import flag
from ..ops.optim import sgd_update
from ._checks import boolean, unit_interval
from .optimizer import Optimizer
from .update_modes import plain_settings


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation::

        g = (-grad if maximize else grad) + weight_decay * w
        v = momentum * v + (1 - dampening) * g    (v_1 = g_1, undamped, as torch's)
        w -= lr * (g + momentum * v if nesterov else v)     (w -= lr * g without momentum)

    ``maximize=True`` ascends (torch's ``maximize``); ``dampening`` in [0, 1) scales each new
    gradient into the velocity after the first (torch's; Nesterov needs it 0, as there).

    >>> import xpgrad as xg
    >>> w = xg.Variable([1.0])
    >>> opt = SGD(learning_rate=0.1, momentum=0.9)
    >>> for _ in range(2): _ = opt.apply_gradients([(xg.asarray([1.0]), w)])
    >>> round(w.item(), 4)     # 1 - 0.1 * (1 + 1.9)
    0.71
    >>> w, opt = xg.Variable([1.0]), SGD(0.1, momentum=0.9, dampening=0.5, maximize=True)
    >>> for _ in range(2): _ = opt.apply_gradients([(xg.asarray([1.0]), w)])
    >>> round(w.item(), 4)     # 1 + 0.1 * (1 + 1.4)
    1.24
    """

    _CHECKS = {**Optimizer._CHECKS, "momentum": unit_interval, "nesterov": boolean,
               "dampening": unit_interval, "maximize": boolean}
    _dtype_kinds = "fc"       # the update is linear in the gradient: complex variables work
    dampening, maximize = 0.0, False    # an optimizer pickled before they existed reads these

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 dampening=0.0, maximize=False, **kwargs):
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)
        self.momentum = momentum
        nesterov = flag(nesterov, "nesterov", "SGD")
        if nesterov and self.momentum <= 0:
            raise ValueError(f"SGD: nesterov=True needs momentum > 0, got momentum="
                             f"{self.momentum}")
        self.nesterov = nesterov
        self.dampening = dampening
        if nesterov and self.dampening:
            raise ValueError(f"SGD: nesterov=True needs dampening=0 (as torch's), got "
                             f"dampening={self.dampening}")
        self.maximize = maximize

    def _slot_names(self):
        return ("velocity",) if self.momentum else ()

    def _extra_state(self, var):
        # dampening spares the first step (v_1 = g_1): each variable counts its own
        return {"step": 0} if self.dampening else {}

    def _folds(self):
        return type(self)._update is SGD._update and plain_settings(self)

    def _fold(self, param, product, lr):
        if product is None or product.computed():
            return False
        return _gemm_update(param, product.a, product.b, -lr)

    def _update(self, be, param, grad, state, lr):
        velocity = state.get("velocity")
        momentum = self.momentum
        if velocity is None and momentum:
            velocity = self._optional_slot(be, state, "velocity", param)
        if self.maximize:
            grad = -grad
        if self.dampening and velocity is not None:
            _damped(param, grad, velocity, state, lr, momentum, 1.0 - self.dampening,
                    self.weight_decay)
            return
        # run()'s kernel lookup inline (per variable per step)
        kernel = be.kernels.get("sgd_update") if be.kernels else None
        if kernel is not None and param.nbytes <= kernel.declines_upto:
            kernel = None
        if kernel is None or kernel.forward(param, grad, velocity, lr=lr, momentum=momentum,
                                            nesterov=self.nesterov,
                                            weight_decay=self.weight_decay) is None:
            if velocity is None and not self.weight_decay:
                # the generic rule's plain update, without its keywords: by -lr as a 0-d
                # array of param's dtype (NumPy's Python-scalar path: 2.2 -> 1.3 us at 256);
                # host arrays only: a device's cached rate could sit on another device
                if lr.__class__ is float and param.__class__ is ndarray:
                    param += grad * _negated(be.xp, lr, param.dtype)
                else:
                    param -= lr * grad
            else:
                sgd_update.forward(be.xp, param, grad, velocity, lr=lr, momentum=momentum,
                                   nesterov=self.nesterov, weight_decay=self.weight_decay)


def _damped(param, grad, velocity, state, lr, momentum, kept, weight_decay):
    """torch's SGD step with dampening (``kept = 1 - dampening``), in place; ``state["step"]``
    counts the variable's updates (the first takes the gradient undamped)."""
    if weight_decay:
        grad = grad + weight_decay * param
    step = state.get("step", 1)
    velocity *= momentum
    velocity += grad if step == 0 else kept * grad
    state["step"] = step + 1
    param -= lr * velocity


def _negated(xp, lr, dtype):
    """``-lr`` as a 0-d ``xp`` array of ``dtype``, kept for the rates and dtypes met.

    >>> import numpy as np
    >>> _negated(np, 0.5, np.dtype(np.float32)).tolist()
    -0.5
    """
    key = (lr, dtype, xp)
    rate = _RATES.get(key)
    if rate is None:
        if len(_RATES) >= 64:       # a schedule's rates: kept only while few
            _RATES.clear()
        rate = _RATES[key] = xp.asarray(-lr, dtype=dtype)
    return rate


_RATES: dict = {}


def _gemm_update(param, a, b, alpha):
    """``jit.sgd_gemm.gemm_update``, imported on first use (xpgrad.jit imports the optimizers)
    and then called directly: an import statement per call cost a microsecond per step."""
    global _gemm_update
    from ..jit.sgd_gemm import gemm_update

    _gemm_update = gemm_update
    return gemm_update(param, a, b, alpha)
