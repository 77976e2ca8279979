"""``xpgrad train --model cnn`` (xpgrad/models.py): a Conv2d -> ReLU -> MaxPool2d stack per
--hidden size on the digit images, then a linear read-out; it learns, its compiled numba run
follows the eager numpy one, and a --hidden list shapes it."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.data import load_digits
from xpgrad.models import MODELS
from xpgrad.training import TrainConfig, train


@pytest.mark.usefixtures("numpy_default")
def test_the_cnn_is_conv_relu_pool_per_hidden_size_then_a_read_out():
    model = MODELS["cnn"].build(load_digits(), [4, 6, 5], xg.random.default_rng(0), "numpy")
    convs = [m for m in model.layers if isinstance(m, xg.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 4), (4, 6), (6, 5)]
    pools = [m for m in model.layers if isinstance(m, xg.nn.MaxPool2d)]
    assert len(pools) == 3                     # 8x8 -> 4x4 -> 2x2 -> 1x1
    assert model.layers[-1].in_features == 5 and model.layers[-1].out_features == 10
    assert model(xg.zeros((3, 64))).shape == (3, 10)


@pytest.mark.parametrize("backend, compile", [("numpy", False), ("numba", True)])
def test_xpgrad_train_model_cnn(backend, compile):
    if not backend_report()[backend]["available"]:
        pytest.skip(f"{backend} is not available")
    runs = [train(TrainConfig(model="cnn", epochs=2, logdir=None, progress=False, seed=0,
                              **cfg), echo=None)
            for cfg in ({}, {"backend": backend, "compile": compile})]
    result = runs[1]
    assert result.history.train_loss[-1] < result.history.train_loss[0]
    assert result.test_accuracy > 0.8
    np.testing.assert_allclose(runs[1].history.train_loss, runs[0].history.train_loss,
                               rtol=1e-4)
