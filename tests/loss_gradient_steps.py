"""What the compiled loss-gradient tests share: a linear layer's Variables and an SGD step
of its softmax cross-entropy, on a backend (``test_function_loss_gradient.py`` on numba,
``test_function_numpy_loss_gradient.py`` on NumPy)."""
import numpy as np

import xpgrad as xg


def linear_model(backend, dtype="float64"):
    """``(w, b)``: a 5 -> 4 linear layer's Variables, the same numbers on every call."""
    rng = np.random.default_rng(0)
    w = xg.Variable(rng.normal(size=(5, 4)).astype(dtype), backend=backend)
    b = xg.Variable(rng.normal(size=4).astype(dtype), backend=backend)
    return w, b


def sce_training_step(backend, reduction="mean", zero_seed=False, dtype="float64",
                      returns_loss=True):
    """``(step, [w, b])``: an SGD step of the layer's softmax cross-entropy, its gradient
    seeded with zeros made in the call where ``zero_seed``; returns the loss, or None."""
    w, b = linear_model(backend, dtype)
    opt = xg.optim.SGD(0.1)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(xg.nn.linear(x, w, b), y,
                                                   reduction=reduction)
        seed = xg.zeros_like(loss) if zero_seed else None           # folded: a constant
        opt.apply_gradients(zip(tape.gradient(loss, [w, b], output_gradients=seed), [w, b]))
        return loss if returns_loss else None

    return step, [w, b]
