"""Layers used the way a PyTorch user writes them (layer classes where instances go, ...):
the PyTorch habit works, or fails with a clear error."""
import numpy as np
import pytest

import xpgrad as xg


def test_mlp_takes_an_activation_layer_class_like_torchvision():
    # the class was called on the tensor: ReLU(x) made a Module named x, and the next layer
    # failed with "the truth value of a tensor ... is ambiguous"
    x = xg.asarray(np.random.default_rng(0).standard_normal((4, 3)))
    by_class = xg.nn.MLP([3, 5, 2], activation=xg.nn.ReLU, rng=0, dtype="float64")
    by_name = xg.nn.MLP([3, 5, 2], activation="relu", rng=0, dtype="float64")
    np.testing.assert_array_equal(by_class(x).numpy(), by_name(x).numpy())


def test_sequential_refuses_a_layer_class_by_name():
    with pytest.raises(TypeError, match=r"got the class ReLU; make one: ReLU\(\)"):
        xg.nn.Sequential(xg.nn.Linear(3, 4, rng=0), xg.nn.ReLU)
