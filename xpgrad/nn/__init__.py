"""Neural-network building blocks: activations (and, on top of them, layers)."""
from ..ops.activations import leaky_relu, log_softmax, relu, sigmoid, softmax, softplus
from ..ops.elementwise import tanh

__all__ = ["sigmoid", "relu", "leaky_relu", "softplus", "softmax", "log_softmax", "tanh"]
