"""PyTorch habits that used to train the wrong thing silently: a model (or its variables) given
to an optimizer as the learning rate, a Variable attribute replaced by a tensor or an array
(it left trainable_variables and state_dict), a Linear whose forward was replaced on the
instance being fused away inside Sequential, freezing an embedding whose weight is tied into
a trainable output layer, a PyTorch state_dict given to load_state_dict, and in-place tensor
methods. Each now trains the right thing or says what to do instead."""
import numpy as np
import pytest

import xpgrad as xg


class Scaled(xg.nn.Module):
    def __init__(self, clip_in_forward=False):
        super().__init__()
        self.scale = xg.Variable([1.0, 1.0], name="scale")
        self.clip_in_forward = clip_in_forward

    def forward(self, x):
        if self.clip_in_forward:
            self.scale = xg.clip(self.scale, 0.0, 10.0)
        return self.scale * x


def test_an_optimizer_refuses_a_model_or_its_variables():
    model = xg.nn.MLP([2, 3, 1], rng=0)
    for args in ((model, 0.01), (model.trainable_variables,)):
        with pytest.raises(TypeError, match=r"takes no model or variables .*apply_gradients"):
            xg.optim.SGD(*args)


def test_replacing_a_variable_with_a_tensor_is_refused():
    with pytest.raises(TypeError, match=r"Scaled.scale holds the Variable 'scale'.*assign"):
        Scaled(clip_in_forward=True)(xg.ones(2))
    layer = xg.nn.Linear(2, 3, rng=0)
    with pytest.raises(TypeError, match="Linear.b holds the Variable 'linear/b'"):
        layer.b = np.ones(3, np.float32)
    layer.b = None                                    # dropping the bias stays allowed
    assert [v.name for v in layer.trainable_variables] == ["linear/w"]
    model = Scaled()
    model.scale = xg.Variable([2.0, 2.0], name="scale")   # another Variable: fine
    assert model(xg.ones(2)).tolist() == [2.0, 2.0]


def test_a_linear_with_a_replaced_forward_is_not_fused_in_sequential():
    layer = xg.nn.Linear(2, 2, rng=0)
    plain = layer.forward
    layer.forward = lambda x: plain(x) * 0
    x = xg.ones((1, 2))
    assert xg.nn.Sequential(layer, xg.nn.ReLU())(x).tolist() == [[0.0, 0.0]]
    relu = xg.nn.ReLU()
    relu.forward = lambda x: x * 10
    other = xg.nn.Linear(2, 2, rng=1)
    np.testing.assert_allclose(xg.nn.Sequential(other, relu)(x).numpy(), (other(x) * 10).numpy())


class Tied(xg.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = xg.nn.Embedding(10, 4, rng=0)
        self.out = xg.nn.Linear(4, 10, rng=1)
        self.out.weight = self.emb.weight


def test_freezing_a_tied_weight_freezes_it_everywhere():
    model = Tied()
    assert [v.name for v in model.trainable_variables] == ["tied/emb/weight", "tied/out/b"]
    model.emb.trainable = False
    assert [v.name for v in model.trainable_variables] == ["tied/out/b"]
    model.emb.trainable, model.out.trainable = True, False
    assert model.trainable_variables == []


def test_a_pytorch_state_dict_points_to_load_torch_state_dict():
    torch = pytest.importorskip("torch")
    layer = xg.nn.Linear(2, 3, rng=0)
    state = torch.nn.Linear(2, 3).state_dict()
    with pytest.raises(ValueError, match="its keys are PyTorch's: load it with "
                                         "load_torch_state_dict"):
        layer.load_state_dict(state)
    with pytest.warns(UserWarning, match="loaded nothing: the keys are PyTorch's"):
        layer.load_state_dict(state, strict=False)


def test_lerp_points_to_the_soft_update_xpgrad_spells():
    # copy_, mul_, add_, fill_, zero_ are methods now (tests/test_torch_inplace_methods.py)
    v = xg.Variable([1.0, 2.0])
    with pytest.raises(AttributeError, match=r"target.data.add_\(online - target, alpha=tau\)"):
        v.lerp_
