"""Small models built twice, in xpgrad (float64) and in PyTorch (converted to float64), with an
input drawn from the caller's generator: ``(ours, theirs, x)``. The test loads torch's weights
into ours (``load_torch_state_dict``) where it compares them. Shared by test_functional_call.py
and test_module_pytree_training.py."""
from __future__ import annotations

import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

F64 = xg.float64


def mlp_twins(rng):
    ours = xg.nn.Sequential([xg.nn.Linear(3, 5, dtype=F64, rng=0), xg.nn.Tanh(),
                             xg.nn.Linear(5, 2, dtype=F64, rng=1)])
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    return ours, theirs.double(), rng.normal(size=(4, 3))


def conv_twins(rng):
    ours = xg.nn.Sequential([xg.nn.Conv2d(2, 3, 3, dtype=F64, rng=0), xg.nn.ReLU(),
                             xg.nn.Flatten(), xg.nn.Linear(3 * 4 * 4, 2, dtype=F64, rng=1)])
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(3 * 4 * 4, 2))
    return ours, theirs.double(), rng.normal(size=(2, 2, 6, 6))


def lstm_twins(rng):
    ours = xg.nn.LSTM(3, 4, num_layers=2, batch_first=True, dtype=F64, rng=0)
    theirs = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    return ours, theirs.double(), rng.normal(size=(2, 5, 3))


def first_output(out):
    """The output compared: an LSTM's outputs (not its states)."""
    return out[0] if isinstance(out, tuple) else out
