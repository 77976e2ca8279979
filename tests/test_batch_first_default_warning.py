"""xpgrad's sequence layers default to batch_first=True, torch's to False: torch weights loaded
into a layer built without batch_first warn once (a literal port of time-major torch code would
otherwise run silently wrong); a layer given batch_first, either value, loads silently."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xpgrad as xg

E, H = 8, 2

LAYERS = {
    "GRU": (lambda **k: torch.nn.GRU(E, 4, **k), lambda **k: xg.nn.GRU(E, 4, rng=0, **k)),
    "LSTM": (lambda **k: torch.nn.LSTM(E, 4, **k), lambda **k: xg.nn.LSTM(E, 4, rng=0, **k)),
    "RNN": (lambda **k: torch.nn.RNN(E, 4, **k), lambda **k: xg.nn.RNN(E, 4, rng=0, **k)),
    "MultiheadAttention": (lambda **k: torch.nn.MultiheadAttention(E, H, **k),
                           lambda **k: xg.nn.MultiheadAttention(E, H, rng=0, **k)),
    "TransformerEncoderLayer": (
        lambda **k: torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, **k),
        lambda **k: xg.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, rng=0, **k)),
    "TransformerDecoderLayer": (
        lambda **k: torch.nn.TransformerDecoderLayer(E, H, 16, dropout=0.0, **k),
        lambda **k: xg.nn.TransformerDecoderLayer(E, H, 16, dropout=0.0, rng=0, **k)),
    "Transformer": (
        lambda **k: torch.nn.Transformer(E, H, 1, 1, 16, dropout=0.0, **k),
        lambda **k: xg.nn.Transformer(E, H, 1, 1, 16, dropout=0.0, rng=0, **k)),
}


def _layout_warnings(record):
    return [w for w in record if issubclass(w.category, UserWarning)
            and "built without batch_first" in str(w.message)]


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_loading_torch_weights_into_a_default_layout_layer_warns_once(kind):
    theirs, ours = LAYERS[kind]
    layer = ours()
    state = theirs().state_dict()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        layer.load_torch_state_dict(state)
        layer.load_torch_state_dict(state)                 # the layer was told once
    [warning] = _layout_warnings(record)
    message = str(warning.message)
    assert f"{kind} {layer.name!r}" in message
    assert "batch_first=True" in message and "torch's is False" in message
    assert "pass batch_first explicitly" in message
    assert warning.filename == __file__                  # points at the user's load call
    assert layer.batch_first is True                     # the default itself is unchanged


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_an_explicit_batch_first_loads_silently(kind, batch_first):
    theirs, ours = LAYERS[kind]
    layer, state = ours(batch_first=batch_first), theirs(batch_first=batch_first).state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.load_torch_state_dict(state)
    assert layer.batch_first is batch_first


def test_a_model_holding_default_layers_warns_once_naming_each():
    """A whole model's load (its layers' loads nested inside) says it once, at the user's
    line, naming every layer left at the default; layers inside xpgrad's own layers (the
    encoder layer's attention) are not the user's to set and are not named."""
    class Net(xg.nn.Module):
        def __init__(self, **k):
            super().__init__()
            self.rnn = xg.nn.GRU(E, 4, rng=0, **k)
            self.enc = xg.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, rng=0, **k)

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(E, 4)
            self.enc = torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        Net().load_torch_state_dict(TorchNet().state_dict())
    [warning] = _layout_warnings(record)
    assert "GRU 'gru'" in str(warning.message)
    assert "TransformerEncoderLayer 'transformer_encoder_layer'" in str(warning.message)
    assert "MultiheadAttention" not in str(warning.message)
    assert warning.filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Net(batch_first=False).load_torch_state_dict(TorchNet().state_dict())


def test_a_failed_load_does_not_use_up_the_warning():
    layer = xg.nn.GRU(E, 4, rng=0)
    with pytest.raises(ValueError, match="missing keys"):
        layer.load_torch_state_dict({})
    with pytest.warns(UserWarning, match="built without batch_first"):
        layer.load_torch_state_dict(torch.nn.GRU(E, 4).state_dict())


def test_what_the_warning_asks_for_fixes_the_literal_port():
    """The tester's port: time-major torch code on a default layer computes something else;
    batch_first=False, as the warning says, computes torch's numbers."""
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((5, 3, E))          # (sequence, batch, E)
    theirs = torch.nn.GRU(E, 4).double()
    with torch.no_grad():
        ref, ref_h = theirs(torch.from_numpy(x))
    literal = xg.nn.GRU(E, 4, dtype=xg.float64, rng=0)
    with pytest.warns(UserWarning, match="built without batch_first"):
        literal.load_torch_state_dict(theirs.state_dict())
    assert np.abs(literal(xg.asarray(x))[0].numpy() - ref.numpy()).max() > 1e-2
    port = xg.nn.GRU(E, 4, batch_first=False, dtype=xg.float64, rng=0)
    port.load_torch_state_dict(theirs.state_dict())
    out, h = port(xg.asarray(x))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), ref_h.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_first_still_refuses_what_is_not_a_flag():
    with pytest.raises(TypeError, match="batch_first must be True or False, got 'no'"):
        xg.nn.LSTM(2, 3, batch_first="no")
    with pytest.raises(TypeError, match="batch_first must be True or False, got 0"):
        xg.nn.MultiheadAttention(4, 2, batch_first=0)


def test_a_transformers_own_initialization_neither_warns_nor_uses_up_the_warning():
    # Transformer draws torch's initialization through its own torch state dict: custom
    # layers built without batch_first warned at construction, pointing into xpgrad, and the
    # user's later real torch load then stayed silent
    encoder_layer = xg.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, rng=0)
    encoder = xg.nn.TransformerEncoder(encoder_layer, 1, norm=xg.nn.LayerNorm(E))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model = xg.nn.Transformer(E, H, 1, 1, 16, dropout=0.0, rng=0, batch_first=True,
                                  custom_encoder=encoder)
    assert _layout_warnings(record) == []
    torch_model = torch.nn.Transformer(E, H, 1, 1, 16, dropout=0.0, batch_first=True)
    with pytest.warns(UserWarning, match="built without batch_first") as caught:
        model.load_torch_state_dict(torch_model.state_dict())
    assert caught[0].filename == __file__
