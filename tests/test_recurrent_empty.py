"""RNN, LSTM and GRU at an empty batch or an empty sequence, as PyTorch: a batch of 0 gives
empty outputs and states and PyTorch's (zero) gradients, with or without a given state,
time-major or batch first, two layers, both directions; a sequence of 0 steps is refused (as
PyTorch refuses it) by a ValueError naming the layer and ``x``, on the current backend (the
suite's numba run covers the kernels) and on array-api-strict (the generic rules). The scan
primitives under the layers: a batch of 0 through the kernels and the generic rules (zero weight
gradients), an empty time axis refused by name."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import projected_scans, recurrent

from strict_checks import strict  # noqa: F401 (a fixture)
from torch_compare import (assert_matches_torch, torch_values_and_grads,
                           xpgrad_values_and_grads)

torch = pytest.importorskip("torch")

CONFIGS = {"one layer": dict(batch_first=False),
           "batch first": dict(batch_first=True),
           "two layers both directions": dict(batch_first=False, num_layers=2,
                                              bidirectional=True)}
I, H, T = 3, 4, 5


def _layers(name, config):
    """(xpgrad's layer in float64, PyTorch's with the same weights)."""
    ours = getattr(xg.nn, name)(I, H, rng=0, dtype="float64", **config)
    theirs = getattr(torch.nn, name)(I, H, **config).double()
    theirs.load_state_dict({k: torch.as_tensor(np.asarray(v))
                            for k, v in ours.torch_state_dict().items()})
    return ours, theirs


def _call(layer, name, x, h0):
    """The layer's outputs and final states, the state given (an LSTM's c0 = h0 / 2)."""
    out, state = layer(x, (h0, h0 * 0.5) if name == "LSTM" else h0)
    return (out, *state) if name == "LSTM" else (out, state)


def _input(config, B, T):
    shape = (B, T, I) if config.get("batch_first") else (T, B, I)
    states = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    rng = np.random.default_rng(0)
    return rng.standard_normal(shape), rng.standard_normal((states, B, H))


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_an_empty_batch_matches_torch(name, config):
    ours, theirs = _layers(name, config)
    x, h0 = _input(config, 0, T)
    assert_matches_torch(lambda *a: _call(ours, name, *a), lambda *a: _call(theirs, name, *a),
                         [x, h0])


@pytest.mark.parametrize("batch", [2, 0])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS)
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_an_empty_sequence_is_refused_naming_the_layer(name, config, batch):
    ours, theirs = _layers(name, config)
    x, h0 = _input(config, batch, 0)
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        _call(theirs, name, torch.as_tensor(x), torch.as_tensor(h0))
    with pytest.raises(ValueError, match=rf"^{name}: x has no time steps \(shape"):
        _call(ours, name, xg.asarray(x), xg.asarray(h0))
    with pytest.raises(ValueError, match=rf"^{name}: x has no time steps .*\(time, input_size\)"):
        ours(xg.zeros((0, I), dtype="float64"))     # unbatched


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_empty_batch_and_sequence_on_strict(name, strict):  # noqa: F811 (the fixture)
    config = CONFIGS["two layers both directions"]
    x, h0 = _input(config, 0, T)
    with xg.use_backend(strict):
        ours, theirs = _layers(name, config)
        got = xpgrad_values_and_grads(lambda *a: _call(ours, name, *a), [x, h0], backend=strict)
        with pytest.raises(ValueError, match=rf"^{name}: x has no time steps"):
            ours(xg.asarray(_input(config, 2, 0)[0], dtype="float64"))
    want = torch_values_and_grads(lambda *a: _call(theirs, name, *a), [x, h0])
    for ours_part, torch_part in zip(got[0] + got[1], want[0] + want[1], strict=True):
        assert ours_part.shape == torch_part.shape


SCANS = {"lstm_scan": (recurrent.lstm_scan, 4, False), "rnn_scan": (recurrent.rnn_scan, 1, False),
         "gru_scan": (recurrent.gru_scan, 3, False),
         "lstm_layer": (recurrent.lstm_layer, 4, True),
         "rnn_layer": (projected_scans.rnn_layer, 1, True),
         "gru_layer": (projected_scans.gru_layer, 3, True)}


def _scan_arguments(name, B, T):
    _, gates, layer = SCANS[name]
    shapes = [(B, T, I if layer else gates * H), (B, H)] + [(B, H)] * (gates == 4)
    shapes += [(I, gates * H)] * layer + [(H, gates * H)] + [(gates * H,)] * layer
    shapes += [(H,)] * (gates == 3)
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape) for shape in shapes]


@pytest.mark.parametrize("rule", ["kernel", "generic"])
@pytest.mark.parametrize("name", SCANS)
def test_scans_take_an_empty_batch(name, rule, monkeypatch):
    backend = xg.asarray(0.0).backend
    if rule == "generic":
        monkeypatch.setattr(backend, "kernels", {})
    arrays = _scan_arguments(name, 0, T)
    values, grads = xpgrad_values_and_grads(SCANS[name][0], arrays)
    assert values[0].shape == (0, T, 2 * H if name.startswith("lstm") else H)
    for grad, array in zip(grads, arrays, strict=True):
        np.testing.assert_array_equal(grad, np.zeros(array.shape))


@pytest.mark.parametrize("name", SCANS)
def test_scans_refuse_an_empty_sequence_by_name(name):
    arrays = [xg.asarray(a) for a in _scan_arguments(name, 2, 0)]
    with pytest.raises(ValueError, match=rf"^{name}: the sequence is empty"):
        SCANS[name][0](*arrays)
