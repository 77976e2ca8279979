"""Models built with the initializer arguments train (the loss falls) and a compiled
``xg.function`` step replays the eager one (same losses, same weights), on numpy and numba."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn import init

BACKENDS = ("numpy", "numba")


class _Model(xg.nn.Module):
    """A recurrent layer with Keras' initializers and a PyTorch-initialized Linear head
    reading its last step."""

    def __init__(self, kind, backend):
        super().__init__("model")
        rng = xg.random.default_rng(0, backend=backend)
        if kind == "lstm":
            self.rnn = xg.nn.LSTM(3, 8, bidirectional=True, kernel_init="glorot_uniform",
                                  recurrent_init="orthogonal", bias_init="zeros", rng=rng)
        else:
            self.rnn = xg.nn.GRU(3, 8, num_layers=2, kernel_init="lecun_normal",
                                 recurrent_init=init.blockwise("orthogonal", 3),
                                 bias_init="torch_linear_default", rng=rng)
        width = 2 * 8 if kind == "lstm" else 8
        self.head = xg.nn.Linear(width, 1, init="torch_linear_default",
                                 bias_init="torch_linear_default", rng=rng)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def _data(backend):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 6, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1, keepdims=True) * 0.3).astype(np.float32)  # a learnable sum
    return xg.asarray(x, backend=backend), xg.asarray(y, backend=backend)


def _train(kind, backend, compiled, steps):
    model = _Model(kind, backend)
    opt = xg.optim.Adam(0.02)
    x, y = _data(backend)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(x), y)
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    step = xg.function(step) if compiled else step
    losses = [float(step(x, y)) for _ in range(steps)]
    return losses, [v.numpy() for v in model.trainable_variables]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_trains_and_function_equals_eager(kind, backend):
    eager, eager_w = _train(kind, backend, compiled=False, steps=40)
    assert all(np.isfinite(eager))
    assert np.mean(eager[-5:]) < 0.5 * np.mean(eager[:5]), eager
    replayed, replayed_w = _train(kind, backend, compiled=True, steps=40)
    np.testing.assert_allclose(replayed, eager, rtol=1e-4, atol=1e-6)
    for a, b in zip(replayed_w, eager_w, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
