"""np.compress, np.extract, np.flatnonzero and np.argwhere on Tensors run as xpgrad ops
(nonzero's positions, then take): Tensors as NumPy's values, gradients for the values that
compress and extract pick (checked against finite differences and PyTorch), under a tape and
under xg.function (a replay with other values gives their answer); bad conditions refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.testing import check_grads

DATA = np.array([[0.5, 0.0, -2.0, 3.0], [0.0, 1.5, 0.0, -1.0], [4.0, 0.0, 2.5, 0.0]])


@pytest.mark.parametrize("condition, axis", [
    ([True, False, True], 0), ([0, 1, 1, 0], 1), ([1, 0, 1], None), ([0, 1], 1),
    ([0, 0, 0], 0), ([1, 0, 0, 1], -1),
])
def test_compress_matches_numpy(condition, axis):
    ours = np.compress(condition, xg.asarray(DATA), axis=axis)
    assert isinstance(ours, xg.Tensor)
    np.testing.assert_array_equal(ours.numpy(), np.compress(condition, DATA, axis=axis))


@pytest.mark.parametrize("condition", [DATA > 0, (DATA > 0).ravel()[:5], DATA])
def test_extract_matches_numpy(condition):
    ours = np.extract(xg.asarray(condition), xg.asarray(DATA))
    np.testing.assert_array_equal(ours.numpy(), np.extract(condition, DATA))


@pytest.mark.parametrize("data", [DATA, DATA[0], np.zeros((2, 3)), np.array(2.0),
                                  np.array(0.0)])
def test_flatnonzero_and_argwhere_match_numpy(data):
    for fn in (np.flatnonzero, np.argwhere):
        ours = fn(xg.asarray(data))
        assert isinstance(ours, xg.Tensor) and ours.dtype == xg.int64
        expected = fn(data)
        assert ours.shape == expected.shape
        np.testing.assert_array_equal(ours.numpy(), expected)


def test_compress_and_extract_gradients_match_finite_differences():
    x = xg.asarray(DATA, dtype=xg.float64)
    check_grads(lambda t: np.compress([True, False, True], t, axis=0) ** 2, [x])
    check_grads(lambda t: np.compress([0, 1, 1], t) * 3.0, [x])
    check_grads(lambda t: xg.sin(np.extract(DATA > 0, t)), [x])


def test_compress_and_extract_gradients_match_torch():
    rows, mask = [0, 2], DATA > 0
    v = xg.Variable(DATA)
    with xg.GradientTape() as tape:
        loss = xg.sum(np.compress([True, False, True], v, axis=0) ** 3) \
            + xg.sum(xg.exp(np.extract(mask, v)))
    ours = tape.gradient(loss, v)
    t = torch.tensor(DATA, requires_grad=True)
    (torch.index_select(t, 0, torch.tensor(rows)).pow(3).sum()
     + torch.masked_select(t, torch.tensor(mask)).exp().sum()).backward()
    np.testing.assert_allclose(ours.numpy(), t.grad.numpy(), rtol=1e-14)


def test_under_a_tape_flatnonzero_and_argwhere_give_tensors():
    v = xg.Variable(DATA)
    with xg.GradientTape():
        indices = np.argwhere(v)
        flat = np.flatnonzero(v)
    np.testing.assert_array_equal(indices.numpy(), np.argwhere(DATA))
    np.testing.assert_array_equal(flat.numpy(), np.flatnonzero(DATA))


def test_xg_function_replays_with_each_calls_values():
    traced = xg.function(lambda x: (np.compress(x[:, 0] > 0, x, axis=0), np.extract(x > 1, x),
                                    np.flatnonzero(x), np.argwhere(x)))
    for data in (DATA, -DATA, np.abs(DATA)):
        got = traced(xg.asarray(data))
        expected = (np.compress(data[:, 0] > 0, data, axis=0), np.extract(data > 1, data),
                    np.flatnonzero(data), np.argwhere(data))
        for mine, theirs in zip(got, expected):
            np.testing.assert_array_equal(mine.numpy(), theirs.astype(mine.numpy().dtype))


def test_bad_conditions_are_refused():
    x = xg.asarray(DATA)
    with pytest.raises(ValueError, match="np.compress: condition must be 1-d, got shape"):
        np.compress([[True, False, True]], x, axis=0)
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 of size 3"):
        np.compress([0, 0, 0, 1], x, axis=0)
    with pytest.raises(IndexError, match="index 12 is out of bounds"):
        np.extract(np.arange(13) == 12, x)
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        np.compress([1, 0], x, axis=2)
