"""State as a PyTorch user moves it: ``Module.load_state_dict`` with bad values (nothing may
change, the error names the key), complex values for real weights, any mapping; an
optimizer's ``clipvalue`` on complex gradients; recurrent states of the wrong dtype."""
from __future__ import annotations

import types

import numpy as np
import pytest

import xpgrad as xg


class _Net(xg.nn.Module):
    def __init__(self):
        super().__init__("net")
        self.emb = xg.nn.Embedding(5, 3, rng=0)
        self.norm = xg.nn.LayerNorm(3)


def _values(module):
    return {k: v.copy() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("bad, message", [
    (np.array(["a", "b", "c"]), r"dtype of 'net/norm/bias': state <U1 \(not numbers\)"),
    (None, r"dtype of 'net/norm/bias': state object \(not numbers\)"),
    (np.array([1 + 2j, 0, 0]), r"dtype of 'net/norm/bias': state complex128 \(complex numbers "
                               r"for a real variable\)"),
])
def test_load_state_dict_refuses_bad_values_before_changing_anything(bad, message):
    """A string array raised NumPy's "could not convert string to float" after the earlier
    variables were already assigned; complex values lost their imaginary part silently."""
    model = _Net()
    before = _values(model)
    state = {k: v + 1.0 for k, v in before.items()}
    state["net/norm/bias"] = bad
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    for k, v in _values(model).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_takes_any_mapping_and_torch_tensors():
    torch = pytest.importorskip("torch")
    model, source = _Net(), _Net()
    source.norm.bias.assign([1.0, 2.0, 3.0])
    state = {k: torch.tensor(v) for k, v in source.state_dict().items()}
    assert model.load_state_dict(types.MappingProxyType(state)) == ([], [])
    assert model.norm.bias.tolist() == [1.0, 2.0, 3.0]


def test_load_state_dict_non_strict_reports_and_loads_the_rest():
    model = _Net()
    state = _values(model)
    state.pop("net/norm/bias")
    state["net/norm/weight"] = np.full(3, 2.0)
    state["head/w"] = np.ones(2)
    assert model.load_state_dict(state, strict=False) == (["net/norm/bias"], ["head/w"])
    assert model.norm.weight.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match=r"shape of 'net/norm/weight': state \(4,\)"):
        model.load_state_dict({"net/norm/weight": np.ones(4)}, strict=False)


def test_load_state_dict_accepts_complex_values_for_complex_variables():
    class Holder(xg.nn.Module):
        def __init__(self):
            super().__init__("holder")
            self.z = xg.Variable(xg.asarray([0j, 0j]), name="z")

    holder = Holder()
    holder.load_state_dict({"holder/z": np.array([1 + 2j, 3.0])})
    assert holder.z.tolist() == [1 + 2j, 3 + 0j]


def test_clipvalue_refuses_complex_gradients():
    """clipvalue clipped 3+4j to 0.5+0j: the imaginary part of the update was lost."""
    w = xg.Variable(xg.asarray([1.0 + 1.0j]), name="w")
    opt = xg.optim.SGD(0.1, clipvalue=0.5)
    with pytest.raises(TypeError, match="clipvalue clips real numbers, but the gradient of "
                                        "'w' is complex64"):
        opt.apply_gradients([(xg.asarray([3.0 + 4.0j]), w)])
    assert w.tolist() == [1.0 + 1.0j]
    xg.optim.SGD(0.1, clipnorm=0.5).apply_gradients([(xg.asarray([3.0 + 4.0j]), w)])
    np.testing.assert_allclose(w.numpy(), [1.0 + 1.0j - 0.1 * (0.3 + 0.4j)], rtol=1e-6)


@pytest.mark.parametrize("make, call, what", [
    (lambda: xg.nn.GRU(2, 3, dtype=xg.float64),
     lambda m: m(xg.zeros((1, 4, 2), dtype=xg.float64), xg.zeros((1, 1, 3))), "h0"),
    (lambda: xg.nn.GRUCell(2, 3, dtype=xg.float64),
     lambda m: m(xg.zeros((1, 2), dtype=xg.float64), xg.zeros((1, 3))), "h"),
    (lambda: xg.nn.LSTM(2, 3, dtype=xg.float64),
     lambda m: m(xg.zeros((1, 4, 2), dtype=xg.float64),
                 (xg.zeros((1, 1, 3), dtype=xg.float64), xg.zeros((1, 1, 3)))), "c"),
    (lambda: xg.nn.RNN(2, 3),
     lambda m: m(xg.zeros((1, 4, 2)), xg.zeros((1, 1, 3), dtype=xg.int64)), "h0"),
])
def test_recurrent_state_of_another_dtype_names_the_state(make, call, what):
    """It raised "gru_scan: inputs must share one floating dtype", naming no argument."""
    model = make()
    with pytest.raises(TypeError, match=f"weights but {what} is "):
        call(model)


@pytest.mark.parametrize("make, state, message", [
    (lambda: xg.nn.Embedding(2, 2), {"weight": np.full((2, 2), "a")},
     r"'weight' holds <U1 values \(not numbers\)"),
    (lambda: xg.nn.Embedding(2, 2), {"weight": np.ones((2, 2)) * (1 + 1j)},
     r"'weight' holds complex128 values \(complex numbers\)"),
    (lambda: xg.nn.LayerNorm(3, bias=False), {"weight": np.ones(3), "bias": np.ones(3)},
     r"unexpected keys \['bias'\]: this LayerNorm has no such weights"),
    (lambda: xg.nn.LayerNorm(3, elementwise_affine=False),
     {"weight": np.ones(3), "bias": np.ones(3)}, r"unexpected keys \['weight', 'bias'\]"),
    (lambda: xg.nn.GRU(1, 1),
     {k: np.ones(s) * 1j for k, s in [("weight_ih_l0", (3, 1)), ("weight_hh_l0", (3, 1)),
                                       ("bias_ih_l0", (3,)), ("bias_hh_l0", (3,))]},
     r"'weight_ih_l0' holds complex128 values"),
])
def test_load_torch_state_dict_refuses_values_it_would_mangle(make, state, message):
    """Complex weights lost their imaginary part, string arrays raised NumPy's "could not
    convert string to float", and a LayerNorm without bias dropped the state's bias: each
    silently or without naming the key."""
    layer = make()
    before = {k: v.copy() for k, v in layer.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        layer.load_torch_state_dict(state)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_torch_state_dict_of_a_whole_model_points_to_the_submodule():
    """A whole PyTorch model's state dict ("rnn.weight_ih_l0", ...) got "missing keys
    ['weight_ih_l0', ...]" with no word of where they were."""
    torch = pytest.importorskip("torch")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3)
            self.norm = torch.nn.LayerNorm(3)
            self.rnn = torch.nn.GRU(3, 4)

    state = Model().state_dict()
    for layer, prefix in [(xg.nn.Embedding(5, 3), "emb"), (xg.nn.LayerNorm(3), "norm"),
                          (xg.nn.GRU(3, 4), "rnn")]:
        with pytest.raises(ValueError, match=rf"under the prefixes \[[^]]*'{prefix}'[^]]*\]: "
                                             rf"pass the submodule's own, e.g. "
                                             rf"torch_model.{prefix}"):
            layer.load_torch_state_dict(state)
