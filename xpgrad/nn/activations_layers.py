"""Activations as layers, for use in Sequential.

>>> import xpgrad as xg
>>> xg.nn.ReLU()(xg.asarray([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""
from __future__ import annotations

from ..ops import activations
from ..ops.activations import (celu, elu, gelu, glu, hardsigmoid, hardswish, hardtanh,
                               leaky_relu, log_sigmoid, log_softmax, mish, relu, relu6, selu,
                               sigmoid, silu, softmax, softplus, softsign)
from ..ops.elementwise import tanh
from . import _checks
from .module import Module

_PROBE = 0.0       # the layers check their arguments by calling their function on it once


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x):
        return relu(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``."""

    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x):
        return tanh(x)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``; ``x`` above ``threshold`` (None: never), as
    ``softplus``."""

    def __init__(self, beta: float = 1.0, threshold=None, name=None):
        super().__init__(name)
        softplus(_PROBE, beta=beta, threshold=threshold)      # the function's own checks
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return softplus(x, beta=self.beta, threshold=self.threshold)


class LeakyReLU(Module):
    """``x`` for x >= 0, ``negative_slope * x`` below."""

    def __init__(self, negative_slope: float = 0.01, name=None):
        super().__init__(name)
        self.negative_slope = _checks.finite("negative_slope", negative_slope, "LeakyReLU")

    def forward(self, x):
        return leaky_relu(x, negative_slope=self.negative_slope)


class _Elementwise(Module):
    """A layer applying ``function`` with no parameters (subclasses set it)."""

    function = None

    def forward(self, x):
        return type(self).function(x)


class SELU(_Elementwise):
    """Scaled ELU (``selu``)."""

    function = staticmethod(selu)


class SiLU(_Elementwise):
    """``x * sigmoid(x)`` (swish)."""

    function = staticmethod(silu)


class Mish(_Elementwise):
    """``x * tanh(softplus(x))``."""

    function = staticmethod(mish)


class Softsign(_Elementwise):
    """``x / (1 + |x|)``."""

    function = staticmethod(softsign)


class LogSigmoid(_Elementwise):
    """``log(sigmoid(x))``."""

    function = staticmethod(log_sigmoid)


class ReLU6(_Elementwise):
    """``min(max(x, 0), 6)``."""

    function = staticmethod(relu6)


class Hardsigmoid(_Elementwise):
    """``relu6(x + 3) / 6``."""

    function = staticmethod(hardsigmoid)


class Hardswish(_Elementwise):
    """``x * relu6(x + 3) / 6``."""

    function = staticmethod(hardswish)


class ELU(Module):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` below."""

    def __init__(self, alpha: float = 1.0, name=None):
        super().__init__(name)
        self.alpha = _checks.finite("alpha", alpha, type(self).__name__)

    def forward(self, x):
        return elu(x, alpha=self.alpha)


class CELU(ELU):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    def __init__(self, alpha: float = 1.0, name=None):
        super().__init__(alpha, name)
        if self.alpha == 0.0:
            raise ValueError("CELU: alpha must not be 0 (x / alpha), got 0.0")

    def forward(self, x):
        return celu(x, alpha=self.alpha)


class GELU(Module):
    """``x * Phi(x)``; ``approximate="tanh"`` for the tanh form, as ``torch.nn.GELU``."""

    def __init__(self, approximate: str = "none", name=None):
        super().__init__(name)
        gelu(_PROBE, approximate=approximate)                 # the function's own check
        self.approximate = approximate

    def forward(self, x):
        return gelu(x, approximate=self.approximate)


class Hardtanh(Module):
    """``x`` clipped to ``[min_val, max_val]``."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, name=None):
        super().__init__(name)
        hardtanh(_PROBE, min_val=min_val, max_val=max_val)    # the function's own checks
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return hardtanh(x, min_val=self.min_val, max_val=self.max_val)


class Softmax(Module):
    """Softmax along ``axis``."""

    def __init__(self, axis: int = -1, name=None):
        super().__init__(name)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{type(self).__name__}: axis must be an int, got {axis!r}")
        self.axis = axis

    def forward(self, x):
        return softmax(x, axis=self.axis)


class LogSoftmax(Softmax):
    """Log-softmax along ``axis``."""

    def forward(self, x):
        return log_softmax(x, axis=self.axis)


class GLU(Softmax):
    """Gated linear unit along ``axis`` (``glu``): first half times sigmoid(second half)."""

    def forward(self, x):
        return glu(x, axis=self.axis)


# every function of the activation table by its name (a new one there is usable here at once)
_FUNCTIONS = {**{name: getattr(activations, name) for name in activations.__all__},
              "tanh": tanh, "swish": silu, "linear": None, "identity": None, None: None}


def get_activation(activation, name="activation", owner="get_activation"):
    """A function from an activation's name (those of ``xpgrad/ops/activations.py``'s
    ``__all__``, ``"tanh"`` and ``"swish"`` for silu) or a callable; None, ``"linear"`` and ``"identity"``
    mean no activation. A layer class (``xg.nn.ReLU``, as torchvision's ``activation_layer=``)
    is instantiated. PyTorch's callables (``torch.tanh``) are a TypeError naming ``name`` and
    ``owner``.

    >>> get_activation("relu").__name__, get_activation(None)
    ('relu', None)
    """
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation()
    if callable(activation):
        return _checks.not_torch(activation, name, owner)
    try:
        return _FUNCTIONS[activation]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {activation!r}; expected a callable or one of "
                         f"{sorted(k for k in _FUNCTIONS if k)}") from None
