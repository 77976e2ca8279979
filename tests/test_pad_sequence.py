"""``xg.nn.utils.pad_sequence`` is ``torch.nn.utils.rnn.pad_sequence``: values, gradients
(against torch and finite differences, float64), both layouts and sides; a padded batch run
with ``lengths=`` equals torch's pack -> GRU -> unpack; bad input is named."""
import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.nn.utils.rnn import pad_sequence as torch_pad_sequence

import xpgrad as xg
from xpgrad.testing import check_grads

LENGTHS = (4, 1, 3)


def _raw(trailing, dtype=np.float64):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((n,) + trailing) * 10).astype(dtype) for n in LENGTHS]


@pytest.mark.parametrize("trailing", [(), (3,), (2, 2)])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_values_are_torchs(trailing, batch_first, side):
    raw = _raw(trailing)
    expected = torch_pad_sequence([torch.from_numpy(r) for r in raw], batch_first=batch_first,
                                  padding_value=-2.5, padding_side=side)
    got = xg.nn.utils.pad_sequence([xg.asarray(r) for r in raw], batch_first, -2.5, side)
    assert got.dtype == xg.float64
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_integer_ids_keep_their_dtype():
    raw = [np.array([3, 1, 4]), np.array([1]), np.array([5, 9])]
    got = xg.nn.utils.pad_sequence(raw, batch_first=True)
    expected = torch_pad_sequence([torch.from_numpy(r) for r in raw], batch_first=True)
    assert got.dtype == xg.int64
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_gradients_are_torchs_and_finite_differences(batch_first, side):
    raw = _raw((3,))
    weights = np.random.default_rng(1).standard_normal(
        (max(LENGTHS), len(LENGTHS), 3) if not batch_first else (len(LENGTHS), max(LENGTHS), 3))
    seqs = [torch.from_numpy(r).requires_grad_() for r in raw]
    (torch_pad_sequence(seqs, batch_first=batch_first, padding_side=side)
     * torch.from_numpy(weights)).sum().backward()

    def f(*xs):
        return xg.nn.utils.pad_sequence(list(xs), batch_first=batch_first, padding_side=side)

    xs = [xg.asarray(r) for r in raw]
    with xg.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        loss = xg.sum(f(*xs) * xg.asarray(weights))
    for g, s in zip(tape.gradient(loss, xs), seqs):
        np.testing.assert_allclose(g.numpy(), s.grad.numpy(), rtol=1e-15, atol=0)
    check_grads(f, xs)


def test_padded_batch_with_lengths_is_torchs_packed_gru():
    torch.manual_seed(0)
    t_gru = torch.nn.GRU(3, 5, batch_first=True).double()
    gru = xg.nn.GRU(3, 5, batch_first=True, dtype=xg.float64, rng=0)
    gru.load_torch_state_dict(t_gru.state_dict())
    raw = _raw((3,))
    t_x = torch_pad_sequence([torch.from_numpy(r) for r in raw], batch_first=True)
    packed = pack_padded_sequence(t_x, list(LENGTHS), batch_first=True, enforce_sorted=False)
    t_out, t_h = t_gru(packed)
    t_out, _ = pad_packed_sequence(t_out, batch_first=True)
    out, h = gru(xg.nn.utils.pad_sequence([xg.asarray(r) for r in raw], batch_first=True),
                 lengths=list(LENGTHS))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.numpy(), t_h.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("sequences, error, match", [
    ([], ValueError, "sequences is empty"),
    (xg.ones(3), ValueError,
     r"a tensor given as sequences holds one sequence a row, shape \(batch, L, \*\), got "
     r"shape \(3,\)"),
    (5, TypeError, "sequences must be a list of tensors, got a int"),
    ([xg.ones((2, 3)), xg.ones((2, 4))], ValueError, r"sequences\[1\] has shape \(2, 4\)"),
    ([xg.ones(2), xg.asarray(1.0)], ValueError, r"sequences\[1\] is 0-d"),
    ([xg.ones(2), xg.ones(2, dtype=xg.float64)], TypeError, r"sequences\[1\] is float64"),
])
def test_bad_sequences_are_named(sequences, error, match):
    with pytest.raises(error, match="pad_sequence: " + match):
        xg.nn.utils.pad_sequence(sequences)


def test_a_tensor_is_read_as_its_rows_as_torchs():
    raw = np.arange(24.0).reshape(2, 4, 3)
    expected = torch_pad_sequence(torch.from_numpy(raw))
    np.testing.assert_array_equal(xg.nn.utils.pad_sequence(xg.asarray(raw)).numpy(),
                                  expected.numpy())


def test_bad_padding_side_is_named():
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left', got 'top'"):
        xg.nn.utils.pad_sequence([xg.ones(2)], padding_side="top")


@pytest.mark.parametrize("name", ["pack_padded_sequence", "pad_packed_sequence", "rnn"])
def test_packed_sequence_names_point_at_lengths(name):
    with pytest.raises(AttributeError, match="lengths=lengths"):
        getattr(xg.nn.utils, name)
    assert name not in dir(xg.nn.utils)
