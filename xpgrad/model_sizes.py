"""Sizes of the ``xpgrad train`` models, known before they are built: ``(parameters,
activations)``, the number of weights and of the floats one training step keeps per batch of
``batch`` rows (layer outputs and their gradients). ``training/memory_check.py`` refuses a run
whose estimate exceeds the machine's memory, before anything is allocated.

>>> from types import SimpleNamespace
>>> digits = SimpleNamespace(n_features=64, n_classes=10, image_shape=(8, 8))
>>> mlp_sizes(digits, (128,), 32)     # (64*128 + 128) + (128*10 + 10); 32*202*3
(9610, 19392)
"""
from __future__ import annotations

#: floats kept per layer output in a step: the output, its gradient, and what the
#: activation or pooling saves for the backward pass
KEPT_PER_OUTPUT = 3


def mlp_sizes(dataset, hidden, batch):
    sizes = [dataset.n_features, *hidden, dataset.n_classes]
    parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    return parameters, batch * sum(sizes) * KEPT_PER_OUTPUT


def recurrent_sizes(gates):
    """The sizes of a stack of recurrent layers with ``gates`` gates (LSTM 4, GRU 3) reading
    the image one row per time step, then a linear read-out."""
    def sizes(dataset, hidden, batch):
        steps, n_in = dataset.image_shape[-2], dataset.image_shape[-1]
        parameters, floats = 0, 0
        for size in hidden:
            parameters += gates * size * (n_in + size + 1)
            floats += batch * steps * (gates + 2) * size * KEPT_PER_OUTPUT
            n_in = size
        return parameters + (n_in + 1) * dataset.n_classes, floats
    return sizes


def cnn_sizes(dataset, hidden, batch):
    height, width = dataset.image_shape[-2:]
    parameters, floats, channels = 0, 0, 1
    for size in hidden:
        parameters += 9 * channels * size + size
        # the convolution's output, ReLU's, their gradients and the pooling's choices, and
        # the unfolded 3x3 patches of its input (forward and backward)
        floats += batch * height * width * (2 * KEPT_PER_OUTPUT * size + 2 * 9 * channels)
        if min(height, width) >= 2:
            height, width = height // 2, width // 2
        channels = size
    return parameters + (channels * height * width + 1) * dataset.n_classes, floats
