"""``load_torch_state_dict`` checks every key as torch's ``load_state_dict`` does, under a
layer that converts its own weights too: a key the layer does not read (``"0.junk"`` under a
Linear was accepted even with ``strict=True``) or one it lacks is reported with its full key,
for each layer kind with its own conversion, on its own, in a Sequential and in a custom
module; ``strict=True`` raises ValueError naming it and changes nothing, ``strict=False``
returns torch's ``(missing_keys, unexpected_keys)`` and loads the weights torch loads."""
import re

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
nn = torch.nn
F64 = xg.float64


def _weight_norm():
    return (nn.utils.parametrizations.weight_norm(nn.Linear(3, 2)),
            xg.nn.utils.weight_norm(xg.nn.Linear(3, 2, dtype=F64, rng=0)))


def _spectral_norm():
    return (nn.utils.parametrizations.spectral_norm(nn.Linear(3, 2)),
            xg.nn.utils.spectral_norm(xg.nn.Linear(3, 2, dtype=F64, rng=0), rng=0))


#: (torch layer, xpgrad layer) of every kind converting its own weights
LAYERS = {
    "Linear": lambda: (nn.Linear(3, 2), xg.nn.Linear(3, 2, dtype=F64, rng=0)),
    "Linear(bias=False)": lambda: (nn.Linear(3, 2, bias=False),
                                   xg.nn.Linear(3, 2, bias=False, dtype=F64, rng=0)),
    "Conv1d": lambda: (nn.Conv1d(2, 3, 3), xg.nn.Conv1d(2, 3, 3, dtype=F64, rng=0)),
    "Conv2d": lambda: (nn.Conv2d(2, 3, 3), xg.nn.Conv2d(2, 3, 3, dtype=F64, rng=0)),
    "ConvTranspose2d": lambda: (nn.ConvTranspose2d(2, 3, 3),
                                xg.nn.ConvTranspose2d(2, 3, 3, dtype=F64, rng=0)),
    "BatchNorm1d": lambda: (nn.BatchNorm1d(3), xg.nn.BatchNorm1d(3, dtype=F64)),
    "BatchNorm2d": lambda: (nn.BatchNorm2d(3), xg.nn.BatchNorm2d(3, dtype=F64)),
    "LayerNorm": lambda: (nn.LayerNorm(4), xg.nn.LayerNorm(4, dtype=F64)),
    "RMSNorm": lambda: (nn.RMSNorm(4), xg.nn.RMSNorm(4, dtype=F64)),
    "GroupNorm": lambda: (nn.GroupNorm(2, 4), xg.nn.GroupNorm(2, 4, dtype=F64)),
    "InstanceNorm1d": lambda: (nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                               xg.nn.InstanceNorm1d(3, affine=True, track_running_stats=True,
                                                    dtype=F64)),
    "Embedding": lambda: (nn.Embedding(5, 3), xg.nn.Embedding(5, 3, dtype=F64, rng=0)),
    "EmbeddingBag": lambda: (nn.EmbeddingBag(5, 3),
                             xg.nn.EmbeddingBag(5, 3, dtype=F64, rng=0)),
    "LSTM": lambda: (nn.LSTM(2, 3, 2, bidirectional=True),
                     xg.nn.LSTM(2, 3, 2, bidirectional=True, batch_first=False, dtype=F64,
                                rng=0)),
    "GRU": lambda: (nn.GRU(2, 3), xg.nn.GRU(2, 3, batch_first=False, dtype=F64, rng=0)),
    "RNN": lambda: (nn.RNN(2, 3, bias=False),
                    xg.nn.RNN(2, 3, bias=False, batch_first=False, dtype=F64, rng=0)),
    "LSTMCell": lambda: (nn.LSTMCell(2, 3), xg.nn.LSTMCell(2, 3, dtype=F64, rng=0)),
    "GRUCell": lambda: (nn.GRUCell(2, 3), xg.nn.GRUCell(2, 3, dtype=F64, rng=0)),
    "MultiheadAttention": lambda: (nn.MultiheadAttention(4, 2),
                                   xg.nn.MultiheadAttention(4, 2, batch_first=False, dtype=F64,
                                                            rng=0)),
    "MultiheadAttention(kdim)": lambda: (
        nn.MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True),
        xg.nn.MultiheadAttention(4, 2, kdim=3, vdim=5, add_bias_kv=True, batch_first=False,
                                 dtype=F64, rng=0)),
    "TransformerEncoderLayer": lambda: (
        nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0),
        xg.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=False, dtype=F64, rng=0)),
    "weight_norm": _weight_norm,
    "spectral_norm": _spectral_norm,
    "MLP": lambda: (nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)),
                    xg.nn.MLP([2, 3, 1], dtype=F64, rng=0)),
}


class _TorchHolder(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.block = layer


class _Holder(xg.nn.Module):              # a custom module: Module's own (tree) loader
    def __init__(self, layer):
        super().__init__()
        self.block = layer


#: how the layer is held: on its own, in a Sequential, in a custom module's attribute
WRAPS = {
    "alone": (lambda t: t, lambda x: x),
    "Sequential": (lambda t: nn.Sequential(t, nn.ReLU()),
                   lambda x: xg.nn.Sequential(x, xg.nn.ReLU())),
    "custom": (_TorchHolder, _Holder),
}

CASES = [(kind, wrap) for kind in LAYERS for wrap in WRAPS]


def _pair(kind, wrap):
    torch.manual_seed(0)
    theirs, ours = LAYERS[kind]()
    wrap_torch, wrap_ours = WRAPS[wrap]
    return wrap_torch(theirs.double()), wrap_ours(ours)


def _source(kind, wrap):
    """Another torch model of the same kind (other weights), its state dict (float64)."""
    torch.manual_seed(1)
    theirs = WRAPS[wrap][0](LAYERS[kind]()[0].double())
    with torch.no_grad():
        for value in theirs.state_dict().values():
            if value.is_floating_point():
                value.add_(torch.rand_like(value))     # norms' ones and zeros made distinct
    return dict(theirs.state_dict())


def _arrays(state):
    """NumPy copies, PyTorch's two recurrent biases summed into ``bias_ih`` (xpgrad holds one
    bias: its ``bias_hh`` is zeros, docs/recurrent.md)."""
    out = {k: np.array(v.detach().numpy() if hasattr(v, "detach") else v)
           for k, v in state.items()}
    for key in [k for k in out if "bias_ih" in k]:
        other = key.replace("bias_ih", "bias_hh")
        out[key], out[other] = out[key] + out[other], out[other] * 0
    return out


def _assert_same(ours, theirs):
    want, have = _arrays(theirs.state_dict()), _arrays(ours.torch_state_dict())
    assert list(have) == list(want)
    for key in want:
        np.testing.assert_allclose(have[key], want[key], rtol=1e-12, atol=1e-12, err_msg=key)


#: the prefix of the layer's keys in each wrap
PREFIX = {"alone": "", "Sequential": "0.", "custom": "block."}


def _junk_keys(kind, wrap):
    """A key of no weight of the layer (``"0.junk"``) and, where the layer has parts
    (``out_proj.weight``, ``parametrizations.weight.original0``), one beside those: in
    torch's order, the layer's before its part's."""
    torch.manual_seed(0)
    dotted = [k for k in LAYERS[kind]()[0].state_dict() if "." in k]
    parts = [dotted[0].rpartition(".")[0] + "."] if dotted else []
    return [f"{PREFIX[wrap]}{part}junk" for part in ["", *parts]]


def _sync(theirs, ours):
    """Give the torch model our weights, so that what neither loads stays the same."""
    theirs.load_state_dict({k: torch.as_tensor(v) for k, v in ours.torch_state_dict().items()})


@pytest.mark.parametrize("kind, wrap", CASES)
def test_a_real_state_dict_loads_as_torch(kind, wrap):
    theirs, ours = _pair(kind, wrap)
    state = _source(kind, wrap)
    theirs.load_state_dict(state)
    result = ours.load_torch_state_dict(state)
    assert result == ([], []) and repr(result) == "<All keys matched successfully>"
    _assert_same(ours, theirs)


@pytest.mark.parametrize("kind, wrap", CASES)
def test_an_unexpected_key_under_the_layer_is_reported_as_torch(kind, wrap):
    theirs, ours = _pair(kind, wrap)
    _sync(theirs, ours)
    state = _source(kind, wrap)
    junk = _junk_keys(kind, wrap)
    state.update((k, torch.zeros(2, dtype=torch.float64)) for k in junk)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        theirs.load_state_dict(state)
    before = ours.state_dict()
    with pytest.raises(ValueError, match=re.escape(f"unexpected keys {junk}")):
        ours.load_torch_state_dict(state)
    for key, value in ours.state_dict().items():          # nothing loaded
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    ref = theirs.load_state_dict(state, strict=False)
    got = ours.load_torch_state_dict(state, strict=False)
    assert ref.unexpected_keys == junk
    assert (got.missing_keys, got.unexpected_keys) == (ref.missing_keys, ref.unexpected_keys)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("kind, wrap", CASES)
def test_a_missing_key_of_the_layer_is_reported_as_torch(kind, wrap):
    theirs, ours = _pair(kind, wrap)
    _sync(theirs, ours)
    state = _source(kind, wrap)
    dropped = [k for k in state if not k.endswith("num_batches_tracked")][-1]
    del state[dropped]
    with pytest.raises(RuntimeError, match="Missing key"):
        theirs.load_state_dict(state)
    before = ours.state_dict()
    with pytest.raises(ValueError, match=re.escape(f"missing keys {[dropped]}")):
        ours.load_torch_state_dict(state)
    for key, value in ours.state_dict().items():          # nothing loaded
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    ref = theirs.load_state_dict(state, strict=False)
    got = ours.load_torch_state_dict(state, strict=False)
    assert ref.missing_keys == [dropped]
    assert (got.missing_keys, got.unexpected_keys) == (ref.missing_keys, ref.unexpected_keys)
    _assert_same(ours, theirs)           # the missing key's weight kept on both sides


@pytest.mark.parametrize("kind", ["BatchNorm1d", "BatchNorm2d", "InstanceNorm1d"])
@pytest.mark.parametrize("wrap", list(WRAPS))
@pytest.mark.parametrize("versioned", [False, True])
def test_a_state_dict_without_num_batches_tracked_is_read_as_torch_reads_it(kind, wrap,
                                                                            versioned):
    # torch fills the counter in with the layer's own for a state dict that does not say it
    # is of version 2 (a plain dict, one saved before the counter existed): then it is not
    # missing, strict or not; a state_dict() of version 2 (its _metadata) lacking it misses it
    theirs, ours = _pair(kind, wrap)
    with torch.no_grad():
        for key, value in theirs.state_dict().items():
            if key.endswith("num_batches_tracked"):
                value.fill_(7)
    ours.load_torch_state_dict(theirs.state_dict())
    torch.manual_seed(1)
    source = WRAPS[wrap][0](LAYERS[kind]()[0].double()).state_dict()      # an OrderedDict
    counter = PREFIX[wrap] + "num_batches_tracked"
    if versioned:
        del source[counter]                                      # keeps torch's _metadata
        assert source._metadata[PREFIX[wrap][:-1]]["version"] == 2
    else:
        source = {k: v for k, v in source.items() if k != counter}
    ref = theirs.load_state_dict(source, strict=False)
    assert ref == (([counter], []) if versioned else ([], []))
    assert ours.load_torch_state_dict(source, strict=False) == ref
    _assert_same(ours, theirs)
    if versioned:
        with pytest.raises(RuntimeError, match=f"Missing key.*{counter}"):
            theirs.load_state_dict(source)
        with pytest.raises(ValueError, match=re.escape(f"missing keys {[counter]}")):
            ours.load_torch_state_dict(source)
    else:
        assert theirs.load_state_dict(source) == ([], [])
        assert ours.load_torch_state_dict(source) == ([], [])
    _assert_same(ours, theirs)
    assert int(ours.torch_state_dict()[counter]) == 7


def test_unexpected_keys_come_in_torch_order_across_modules():
    class TorchNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))

    class Net(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = xg.nn.Linear(2, 2, dtype=F64, rng=0)
            self.b = xg.nn.Sequential(xg.nn.Linear(2, 2, dtype=F64, rng=1),
                                      xg.nn.LayerNorm(2, dtype=F64))

    theirs, ours = TorchNet().double(), Net()
    state = dict(theirs.state_dict())
    junk = ["b.1.junk", "a.junk", "zzz", "b.junk.x", "b.0.junk", "a.x.y"]
    state.update((k, torch.zeros(1, dtype=torch.float64)) for k in junk)
    del state["b.0.bias"]
    ref = theirs.load_state_dict(state, strict=False)
    got = ours.load_torch_state_dict(state, strict=False)
    assert sorted(ref.unexpected_keys) == sorted(junk)
    assert (got.missing_keys, got.unexpected_keys) == (ref.missing_keys, ref.unexpected_keys)
    with pytest.raises(ValueError, match=re.escape("missing keys ['b.0.bias']") + r".*\n.*"
                                         + re.escape(f"unexpected keys {ref.unexpected_keys}")):
        ours.load_torch_state_dict(state)


def test_a_sequential_matching_other_layer_indices_still_checks_each_layer():
    # torch's Sequential(Linear, ReLU, Linear) into Sequential(Linear, Linear): its layers
    # with weights in order, and a key under one of them still unexpected, named as given
    theirs = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    ours = xg.nn.Sequential(xg.nn.Linear(2, 3, dtype=F64, rng=0),
                            xg.nn.Linear(3, 1, dtype=F64, rng=1))
    state = dict(theirs.state_dict())
    assert ours.load_torch_state_dict(state) == ([], [])
    np.testing.assert_array_equal(ours[1].w.numpy(), theirs[2].weight.detach().numpy().T)
    before = ours.state_dict()
    with pytest.raises(ValueError, match=r"unexpected keys \['2\.junk'\]"):
        ours.load_torch_state_dict({**state, "2.junk": np.zeros(1)})
    with pytest.raises(ValueError, match=r"missing keys \['2\.bias'\]"):
        ours.load_torch_state_dict({k: v for k, v in state.items() if k != "2.bias"})
    for key, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    assert ours.load_torch_state_dict({**state, "2.junk": np.zeros(1)}, strict=False) == (
        [], ["2.junk"])


def test_a_layer_without_weights_has_no_keys_to_take():
    theirs = nn.Sequential(nn.Linear(2, 2), nn.InstanceNorm1d(2)).double()
    ours = _Holder(xg.nn.InstanceNorm1d(2, dtype=F64))
    with pytest.raises(RuntimeError, match="Unexpected key.*1.weight"):
        theirs.load_state_dict({**theirs.state_dict(), "1.weight": torch.ones(2)})
    with pytest.raises(ValueError, match=r"unexpected keys \['block\.weight'\]"):
        ours.load_torch_state_dict({"block.weight": np.ones(2)})
    assert ours.load_torch_state_dict({"block.weight": np.ones(2)}, strict=False) == (
        [], ["block.weight"])
    assert ours.load_torch_state_dict({}) == ([], [])


@pytest.mark.parametrize("bad", ["a list", None, 3])
def test_the_state_dict_must_be_a_mapping(bad):
    for layer in (xg.nn.Linear(2, 2, rng=0), _Holder(xg.nn.Linear(2, 2, rng=0)),
                  xg.nn.Sequential(xg.nn.Linear(2, 2, rng=0))):
        for strict in (True, False):
            with pytest.raises(TypeError, match="state_dict must be a dict"):
                layer.load_torch_state_dict(bad, strict=strict)
