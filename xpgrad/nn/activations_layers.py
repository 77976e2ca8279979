"""Activations as layers, for use in Sequential.

>>> import xpgrad as xg
>>> xg.nn.ReLU()(xg.asarray([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""
from __future__ import annotations

from ..ops import activations
from ..ops.activations import leaky_relu, log_softmax, relu, sigmoid, softmax, softplus
from ..ops.elementwise import tanh
from . import _checks
from .module import Module


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
    """``log(1 + exp(x))``."""

    def forward(self, x):
        return softplus(x)


class LeakyReLU(Module):
    """``x`` for x >= 0, ``negative_slope * x`` below."""

    def __init__(self, negative_slope: float = 0.01, name=None):
        super().__init__(name)
        self.negative_slope = _checks.finite("negative_slope", negative_slope, "LeakyReLU")

    def forward(self, x):
        return leaky_relu(x, negative_slope=self.negative_slope)


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


# every function of the activation table by its name (a new one there is usable here at once)
_FUNCTIONS = {**{name: getattr(activations, name) for name in activations.__all__},
              "tanh": tanh, "linear": None, "identity": None, None: None}


def get_activation(activation):
    """A function from an activation's name (those of ``xpgrad/ops/activations.py`` and
    ``"tanh"``) or a callable; None, ``"linear"`` and ``"identity"`` mean no activation. A
    layer class (``xg.nn.ReLU``, as torchvision's ``activation_layer=``) is instantiated.

    >>> get_activation("relu").__name__, get_activation(None)
    ('relu', None)
    """
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation()
    if callable(activation):
        return activation
    try:
        return _FUNCTIONS[activation]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {activation!r}; expected a callable or one of "
                         f"{sorted(k for k in _FUNCTIONS if k)}") from None
