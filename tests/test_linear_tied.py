"""``decoder.weight = encoder.weight``: PyTorch's weight tying (word_language_model's
``--tied``) on ``xg.nn.Linear``; the tied Variable gets the sum of both uses' gradients."""
import numpy as np
import pytest
import torch

import xpgrad as xg


def _pair(ntoken=7, dim=4):
    enc = xg.nn.Embedding(ntoken, dim, dtype=xg.float64, rng=0)
    dec = xg.nn.Linear(dim, ntoken, dtype=xg.float64, rng=1)
    return enc, dec


def test_assigning_weight_ties_the_linear_to_an_embedding():
    enc, dec = _pair()
    dec.weight = enc.weight
    assert dec.weight is enc.weight and dec.w is None
    x = np.random.default_rng(0).standard_normal((3, 4))
    expected = x @ enc.weight.numpy().T + dec.b.numpy()
    np.testing.assert_allclose(dec(xg.asarray(x)).numpy(), expected, rtol=1e-12)
    assert list(dec.named_variables()) == ["linear/b", "linear/weight"]


def test_tied_weight_gets_the_summed_gradient_as_in_torch():
    enc, dec = _pair()
    dec.weight = enc.weight
    t_enc, t_dec = torch.nn.Embedding(7, 4).double(), torch.nn.Linear(4, 7).double()
    with torch.no_grad():
        t_enc.weight.copy_(torch.from_numpy(enc.weight.numpy()))
        t_dec.bias.copy_(torch.from_numpy(dec.b.numpy()))
    t_dec.weight = t_enc.weight
    ids = np.array([[1, 2, 2], [6, 0, 1]])
    with xg.GradientTape() as tape:
        loss = xg.sum(xg.tanh(dec(enc(xg.asarray(ids)))) ** 2)
    g_w, g_b = tape.gradient(loss, [enc.weight, dec.b])
    t_loss = (torch.tanh(t_dec(t_enc(torch.from_numpy(ids)))) ** 2).sum()
    t_loss.backward()
    np.testing.assert_allclose(float(loss), t_loss.item(), rtol=1e-13)
    np.testing.assert_allclose(g_w.numpy(), t_enc.weight.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g_b.numpy(), t_dec.bias.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_tied_linear_keeps_torch_layout_in_state_dicts():
    enc, dec = _pair()
    dec.weight = enc.weight
    sd = dec.torch_state_dict()
    np.testing.assert_array_equal(sd["weight"], enc.weight.numpy())
    new = np.arange(28.0).reshape(7, 4)
    dec.load_torch_state_dict({"weight": new, "bias": np.zeros(7)})
    np.testing.assert_array_equal(enc.weight.numpy(), new)      # the one shared Variable


def test_weight_of_the_wrong_shape_or_kind_says_what_fits():
    enc, dec = _pair()
    with pytest.raises(ValueError, match=r"weight: .*torch's layout.*= \(7, 4\), got \(4, 7\)"):
        dec.weight = xg.Variable(np.zeros((4, 7)))
    with pytest.raises(TypeError, match="weight.*xg.Variable"):
        dec.weight = enc.weight.numpy()
    with pytest.raises(TypeError, match="weight.*float64.*float32"):
        dec.weight = xg.Variable(np.zeros((7, 4), dtype=np.float32))
    assert dec.w is not None


def test_reading_weight_of_an_untied_linear_still_points_to_w():
    _, dec = _pair()
    with pytest.raises(AttributeError, match="Linear's are w"):
        dec.weight
    assert not hasattr(dec, "weight")


def test_assigning_w_a_tensor_or_another_shape_is_refused():
    """``dec.w = enc.weight.T`` made w a constant Tensor: the layer trained only its bias and
    the embedding never got the read-out's gradient, silently."""
    enc, dec = _pair()
    with pytest.raises(TypeError, match=r"Linear.w: .*xg.Variable.*dec.weight = enc.weight"):
        dec.w = enc.weight.T
    with pytest.raises(ValueError, match=r"Linear.w: .*\(4, 7\).*got \(7, 4\)"):
        dec.w = enc.weight
    assert dec.w.shape == (4, 7) and [v.name for v in dec.trainable_variables] == [
        "linear/w", "linear/b"]
    new = xg.Variable(np.ones((4, 7)), name="new")
    dec.w = new                                     # a Variable that fits: kept, trained
    assert dec.w is new and dec.trainable_variables[0] is new
