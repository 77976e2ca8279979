"""Registries behind ``xpgrad train --model`` and ``--optimizer``: small, and open to extension.

A model builder is ``builder(dataset, hidden, rng, backend) -> model`` where ``model`` maps a
``(batch, features)`` float Tensor to ``(batch, classes)`` logits and has
``trainable_variables``. ``dataset.image_shape`` tells a sequence model how to reshape the flat
features (e.g. rows of an image as time steps). Register a new one with::

    from xpgrad.models import register_model

    @register_model("lstm", help="LSTM over image rows")
    def build_lstm(dataset, hidden, rng, backend):
        ...

>>> import xpgrad as xg
>>> from xpgrad.data import load_digits
>>> model = MODELS["mlp"].build(load_digits(), [32], xg.random.default_rng(0), "numpy")
>>> model(xg.zeros((2, 64))).shape
(2, 10)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .model_sizes import cnn_sizes, mlp_sizes, recurrent_sizes


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable
    help: str = ""
    default_hidden: tuple = (128,)
    #: ``sizes(dataset, hidden, batch) -> (parameters, activations)`` (model_sizes.py), or None
    sizes: Callable | None = None


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, help: str = "", default_hidden=(128,), sizes=None):
    """Decorator: register ``builder(dataset, hidden, rng, backend)`` under ``name``;
    ``sizes`` estimates its memory before it is built (see ``model_sizes.py``)."""
    def deco(builder):
        MODELS[name] = ModelSpec(name, builder, help, tuple(default_hidden), sizes)
        return builder
    return deco


@register_model("mlp", help="ReLU multi-layer perceptron on flat inputs", default_hidden=(128,),
                sizes=mlp_sizes)
def build_mlp(dataset, hidden, rng, backend):
    from . import nn

    sizes = [dataset.n_features, *hidden, dataset.n_classes]
    return nn.MLP(sizes, activation="relu", rng=rng, backend=backend)


@register_model("lstm", help="LSTM reading the image one row per time step (last state -> "
                              "logits)", default_hidden=(64,), sizes=recurrent_sizes(4))
def build_lstm(dataset, hidden, rng, backend):
    from . import nn

    return nn.SequenceClassifier(dataset.image_shape[-1], hidden, dataset.n_classes, cell="lstm",
                                 rng=rng, backend=backend)


@register_model("gru", help="GRU reading the image one row per time step (last state -> "
                             "logits)", default_hidden=(64,), sizes=recurrent_sizes(3))
def build_gru(dataset, hidden, rng, backend):
    from . import nn

    return nn.SequenceClassifier(dataset.image_shape[-1], hidden, dataset.n_classes, cell="gru",
                                 rng=rng, backend=backend)


@register_model("cnn", help="convolutional network on the images: per --hidden size a 3x3 "
                             "Conv2d of that many channels, ReLU and 2x2 max pooling, then a "
                             "linear read-out", default_hidden=(16, 32), sizes=cnn_sizes)
def build_cnn(dataset, hidden, rng, backend):
    from . import nn

    height, width = dataset.image_shape[-2:]
    layers, channels = [nn.Unflatten(1, (1, height, width))], 1
    for size in hidden:
        layers += [nn.Conv2d(channels, size, 3, padding=1, rng=rng, backend=backend), nn.ReLU()]
        if min(height, width) >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = size
    layers += [nn.Flatten(), nn.Linear(channels * height * width, dataset.n_classes, rng=rng,
                                       backend=backend)]
    return nn.Sequential(layers)


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    build: Callable          # learning_rate -> optimizer
    default_learning_rate: float
    help: str = ""


def _optim():
    from . import optim
    return optim


OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec for spec in [
        OptimizerSpec("sgd", lambda lr: _optim().SGD(learning_rate=lr), 0.1,
                      "plain stochastic gradient descent"),
        OptimizerSpec("momentum", lambda lr: _optim().SGD(learning_rate=lr, momentum=0.9), 0.02,
                      "SGD with momentum 0.9"),
        OptimizerSpec("adam", lambda lr: _optim().Adam(learning_rate=lr), 1e-3, "Adam"),
        OptimizerSpec("adamw", lambda lr: _optim().AdamW(learning_rate=lr), 1e-3,
                      "Adam with decoupled weight decay"),
        OptimizerSpec("rmsprop", lambda lr: _optim().RMSprop(learning_rate=lr), 1e-3, "RMSprop"),
        OptimizerSpec("adagrad", lambda lr: _optim().Adagrad(learning_rate=lr), 0.05, "Adagrad"),
        OptimizerSpec("adadelta", lambda lr: _optim().Adadelta(learning_rate=lr), 1.0, "Adadelta"),
        OptimizerSpec("adamax", lambda lr: _optim().Adamax(learning_rate=lr), 2e-3,
                      "Adamax (Adam with the infinity norm)"),
        OptimizerSpec("nadam", lambda lr: _optim().NAdam(learning_rate=lr), 2e-3,
                      "NAdam (Adam with Nesterov momentum, PyTorch's)"),
        OptimizerSpec("radam", lambda lr: _optim().RAdam(learning_rate=lr), 1e-3,
                      "RAdam (rectified Adam)"),
        OptimizerSpec("lion", lambda lr: _optim().Lion(learning_rate=lr), 1e-4,
                      "Lion (sign momentum, Keras')"),
        # not xg.optim.LBFGS: the loop applies each mini-batch's gradients (accumulated,
        # all-reduced, clipped), while L-BFGS evaluates one fixed loss several times a step
    ]
}


def register_optimizer(name, build, default_learning_rate, help=""):
    """Make ``--optimizer name`` build ``build(learning_rate)``."""
    OPTIMIZERS[name] = OptimizerSpec(name, build, float(default_learning_rate), help)
