"""``MLP`` with a 0 among its sizes, as ``Linear(n, 0)`` / ``Linear(0, n)`` (PyTorch's): the
same values and gradients as a ``torch.nn.Sequential`` of those ``Linear``s with the same
weights, in float64; a negative size is still refused."""
import warnings

import numpy as np
import pytest

import xpgrad as xg

from torch_compare import assert_matches_torch

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("sizes", [[4, 0, 2], [0, 3, 2], [4, 3, 0], [4, 0, 0, 2]],
                         ids=str)
def test_a_zero_size_matches_torch_sequential(sizes):
    ours = xg.nn.MLP(sizes, activation="tanh", rng=0, dtype="float64",
                     bias_init=xg.nn.init.uniform(-1.0, 1.0))
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # "Initializing zero-element tensors is a no-op"
            linear = torch.nn.Linear(a, b).double()
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(ours.layers[k].w.numpy().T))
            linear.bias.copy_(torch.as_tensor(ours.layers[k].b.numpy()))
        layers += [linear, torch.nn.Tanh()]
    theirs = torch.nn.Sequential(*layers[:-1])
    x = np.random.default_rng(0).standard_normal((3, sizes[0]))
    assert_matches_torch(ours, theirs, [x])
    assert ours(xg.asarray(x)).shape == (3, sizes[-1])


def test_a_negative_size_is_refused():
    with pytest.raises(ValueError, match=r"^MLP: sizes must be a list of non-negative integers, "
                                         r"got \[4, -1, 2\]"):
        xg.nn.MLP([4, -1, 2])
