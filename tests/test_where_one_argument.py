"""xg.where(condition) alone is nonzero(condition), as np.where(condition) and
torch.where(condition): a tuple of int64 index tensors, one per axis; x1 without x2 is a
TypeError naming x2."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg


@pytest.mark.parametrize("data", [
    np.array([0.0, 1.5, 0.0, -2.0]),
    np.array([[True, False, True], [False, False, True]]),
    np.arange(24).reshape(2, 3, 4) % 3,
    np.zeros((2, 0)),
])
def test_condition_alone_gives_numpy_and_torch_indices(data):
    ours = xg.where(xg.asarray(data))
    assert isinstance(ours, tuple) and len(ours) == data.ndim
    assert all(i.dtype == xg.int64 for i in ours)
    for mine, numpys, torchs in zip(ours, np.where(data), torch.where(torch.as_tensor(data))):
        np.testing.assert_array_equal(mine.numpy(), numpys)
        np.testing.assert_array_equal(mine.numpy(), torchs.numpy())


def test_indices_select_the_nonzero_entries():
    x = xg.asarray([[0.0, 3.0], [4.0, 0.0]])
    assert x[xg.where(x)].tolist() == [3.0, 4.0]


def test_x1_without_x2_is_a_type_error_naming_x2():
    with pytest.raises(TypeError, match="where: x2 is missing"):
        xg.where(xg.asarray([True, False]), xg.asarray([1.0, 2.0]))


def test_three_arguments_unchanged():
    out = xg.where(xg.asarray([True, False]), 1.0, xg.asarray([5.0, 6.0]))
    assert out.tolist() == [1.0, 6.0]


def test_zero_d_condition_alone_is_refused_as_nonzero_refuses_it():
    with pytest.raises(ValueError, match="nonzero needs a tensor with at least one dimension"):
        xg.where(xg.asarray(True))
