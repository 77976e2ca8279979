"""``load_torch_state_dict(state_dict, strict=False)`` against torch's ``load_state_dict``:
the same missing and unexpected keys, and the same weights after the load (float64), for the
layers that convert their weights (Linear, Conv2d, LSTM, Embedding, EmbeddingBag, LayerNorm,
RMSNorm, Sequential);
``strict=True`` keeps raising ValueError and returns the empty result."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
nn = torch.nn

CASES = {
    "Linear": (lambda: nn.Linear(3, 4), lambda: xg.nn.Linear(3, 4, dtype=xg.float64, rng=0),
               "bias"),
    "Conv2d": (lambda: nn.Conv2d(2, 3, (3, 2), padding=1),
               lambda: xg.nn.Conv2d(2, 3, (3, 2), padding=1, dtype=xg.float64, rng=0),
               "weight"),
    "LSTM": (lambda: nn.LSTM(3, 4, 2, bidirectional=True),
             lambda: xg.nn.LSTM(3, 4, 2, bidirectional=True, batch_first=True, dtype=xg.float64,
                                rng=0),
             "weight_hh_l1_reverse"),
    "Embedding": (lambda: nn.Embedding(5, 3), lambda: xg.nn.Embedding(5, 3, dtype=xg.float64,
                                                                         rng=0), None),
    "LayerNorm": (lambda: nn.LayerNorm(4), lambda: xg.nn.LayerNorm(4, dtype=xg.float64),
                  "weight"),
    "RMSNorm": (lambda: nn.RMSNorm(4), lambda: xg.nn.RMSNorm(4, dtype=xg.float64), None),
    "EmbeddingBag": (lambda: nn.EmbeddingBag(5, 3, mode="sum"),
                     lambda: xg.nn.EmbeddingBag(5, 3, mode="sum", dtype=xg.float64, rng=0),
                     None),
    "Sequential": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(),
                                         nn.Linear(8, 3)),
                   lambda: xg.nn.Sequential([
                       xg.nn.Conv2d(1, 2, 3, dtype=xg.float64, rng=0), xg.nn.ReLU(),
                       xg.nn.Flatten(), xg.nn.Linear(8, 3, dtype=xg.float64, rng=1)]),
                   "3.bias"),
    "custom Module": (lambda: _TorchNet(), lambda: _Net(), "head.weight"),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), lambda: xg.nn.BatchNorm2d(3, dtype=xg.float64),
                    "running_var"),
}


class _TorchNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        self.head = nn.Linear(4, 2)


class _Net(xg.nn.Module):                 # a custom module: Module's own loader
    def __init__(self):
        super().__init__()
        self.body = xg.nn.Sequential(xg.nn.Linear(3, 4, dtype=xg.float64, rng=0), xg.nn.Tanh())
        self.head = xg.nn.Linear(4, 2, dtype=xg.float64, rng=1)


def _arrays(state):
    return {k: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v)
            for k, v in state.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_strict_false_loads_what_fits_as_torch(case):
    make_torch, make_ours, dropped = CASES[case]
    torch.manual_seed(0)
    target, source = make_torch().double(), make_torch().double()
    ours = make_ours()
    ours.load_torch_state_dict(target.state_dict())
    state = dict(source.state_dict())
    if dropped is not None:
        del state[dropped]
    state["extra.weight"] = torch.ones(2, dtype=torch.float64)
    ref = target.load_state_dict(state, strict=False)
    got = ours.load_torch_state_dict(state, strict=False)
    assert (got.missing_keys, got.unexpected_keys) == (ref.missing_keys, ref.unexpected_keys)
    assert got == (ref.missing_keys, ref.unexpected_keys)
    want, have = _arrays(target.state_dict()), _arrays(ours.torch_state_dict())
    if case == "LSTM":      # xpgrad keeps bias_ih + bias_hh in one bias (docs/recurrent.md)
        for key in [k for k in want if k.startswith("bias_ih")]:
            other = key.replace("bias_ih", "bias_hh")
            want[key], want[other] = want[key] + want[other], want[other] * 0
    assert sorted(have) == sorted(want)
    for key in want:
        np.testing.assert_allclose(have[key], want[key], rtol=1e-12, atol=1e-12, err_msg=key)


def test_strict_true_returns_the_empty_result_and_still_refuses_what_does_not_fit():
    layer = xg.nn.Conv2d(2, 3, 3, rng=0)
    result = layer.load_torch_state_dict(nn.Conv2d(2, 3, 3).state_dict())
    assert result == ([], []) and repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    state = nn.Conv2d(2, 3, 3, bias=False).state_dict()
    before = layer.weight.numpy().copy()
    with pytest.raises(ValueError, match=r"missing keys \['bias'\]"):
        layer.load_torch_state_dict(state)
    np.testing.assert_array_equal(layer.weight.numpy(), before)


def test_strict_false_still_refuses_another_shape_as_torch():
    state = nn.Linear(3, 5).state_dict()
    with pytest.raises(RuntimeError):
        nn.Linear(3, 4).load_state_dict(state, strict=False)
    layer = xg.nn.Linear(3, 4, rng=0)
    before = layer.w.numpy().copy()
    with pytest.raises(ValueError, match="'weight' has shape"):
        layer.load_torch_state_dict(state, strict=False)
    np.testing.assert_array_equal(layer.w.numpy(), before)


@pytest.mark.parametrize("strict, error", [("no", TypeError), (None, TypeError)])
def test_strict_must_be_a_bool(strict, error):
    with pytest.raises(error, match="strict"):
        xg.nn.Linear(2, 2, rng=0).load_torch_state_dict({}, strict=strict)
