"""Models and the changes of their structure that an ``xg.function`` must see, shared by the
tests of a model given as an argument (test_function_model_arguments.py) and read from the
function's closure (test_function_closure_models.py)."""
from __future__ import annotations

import numpy as np

import xpgrad as xg


class Stack(xg.nn.Module):
    """Layers of one width in a plain list, applied in its order; no guard of its own."""

    def __init__(self, width, depth, rng):
        super().__init__("stack")
        self.blocks = [xg.nn.Linear(width, width, rng=rng) for _ in range(depth)]

    def forward(self, x):
        for block in self.blocks:
            x = xg.tanh(block(x))
        return x


class Scaled(xg.nn.Module):
    """A module reading its own Variable straight from its attribute."""

    def __init__(self):
        super().__init__("scaled")
        self.scale = xg.Variable(np.full((3, 3), 0.5, np.float32))

    def forward(self, x):
        return x @ self.scale


def scaled(seed):
    """A ``Scaled`` of random values drawn from ``seed``."""
    layer = Scaled()
    layer.scale = xg.Variable(np.random.default_rng(seed).normal(size=(3, 3)).astype(np.float32))
    return layer


def random_x():
    """A batch of two rows of width 3."""
    return xg.asarray(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))


def agree(compiled, eager, x, times=3):
    """Check that ``times`` calls of ``compiled(x)`` equal ``eager(x)``'s."""
    for _ in range(times):
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-6)


class TwinModels:
    """A model an ``xg.function`` steps (``traced_model``) and its twin stepped eagerly
    (``eager_model``), both made by ``make``."""

    def __init__(self, make):
        self.traced_model, self.eager_model = make(), make()

    def agree(self, traced, eager):
        """Check that the twins' losses (``traced``, ``eager``) and Variables agree."""
        np.testing.assert_allclose(traced.numpy(), eager.numpy(), rtol=1e-5, atol=1e-6)
        for a, b in zip(self.traced_model.variables, self.eager_model.variables, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)

    def both(self, change):
        change(self.traced_model)
        change(self.eager_model)


def mlp():
    return xg.nn.MLP([3, 5, 2], rng=xg.random.default_rng(0))


def _linear(seed):
    return xg.nn.Linear(3, 3, rng=xg.random.default_rng(seed))


def _swap_second_block(model):
    """A new layer in the second block's place, the old one kept alive (held privately: no
    part of the model), as a user keeping it for later does."""
    model._swapped_out = model.blocks[1]
    model.blocks[1] = _linear(5)


#: {what changes: (a model of width 3, the change)}; a change made to two twins makes them
#: twins again (a new layer from the same seed)
CHANGES = {
    "a layer appended to a list":
        (mlp, lambda m: m.layers.append(xg.nn.Linear(2, 2, rng=xg.random.default_rng(1)))),
    "layers reordered in a list":
        (lambda: Stack(3, 3, xg.random.default_rng(0)), lambda m: m.blocks.reverse()),
    "a Variable set in another's place":
        (Scaled, lambda m: setattr(m, "scale", xg.Variable(np.eye(3, dtype=np.float32)))),
    "a layer set in another's place":
        (lambda: Stack(3, 2, xg.random.default_rng(0)),
         _swap_second_block),
}
