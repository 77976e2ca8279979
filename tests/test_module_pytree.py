"""Modules as pytree nodes (xpgrad/nn/module_pytree.py): the leaves are the module's tensors
in named_variables() order, each once; rebuilding gives a new module of the same class that
shares nothing mutable with the original, which stays as it was; structure mismatches are
errors naming the place. Gradients, optimizers, vmap and xg.function over a model:
test_module_pytree_training.py."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.pytree import leaves_with_paths

F64 = xg.float64


def _models():
    tied = xg.nn.Sequential(xg.nn.Linear(3, 3, rng=0), xg.nn.Tanh(), xg.nn.Linear(3, 3, rng=1))
    tied.layers[2].w = tied.layers[0].w                    # one Variable in two places
    return {
        "sequential": xg.nn.Sequential(xg.nn.Linear(3, 4, rng=0), xg.nn.Linear(4, 1, rng=1)),
        "mlp": xg.nn.MLP([3, 5, 2], rng=0),
        "batch_norm": xg.nn.Sequential(xg.nn.Linear(3, 4, rng=0), xg.nn.BatchNorm1d(4)),
        "conv": xg.nn.Sequential(xg.nn.Conv2d(2, 3, 3, rng=0), xg.nn.Flatten()),
        "lstm": xg.nn.LSTM(3, 4, num_layers=2, rng=0),
        "attention": xg.nn.MultiheadAttention(4, 2, rng=0),
        "module_list": xg.nn.ModuleList([xg.nn.Linear(2, 2, rng=i) for i in range(3)]),
        "module_dict": xg.nn.ModuleDict({"a": xg.nn.Linear(2, 2, rng=0),
                                         "b": xg.nn.LayerNorm(2)}),
        "weight_norm": xg.nn.utils.weight_norm(xg.nn.Linear(3, 2, rng=0)),
        "spectral_norm": xg.nn.utils.spectral_norm(xg.nn.Linear(3, 2, rng=0)),
        "embedding": xg.nn.Embedding(5, 3, rng=0),
        "tied": tied,
    }


@pytest.mark.parametrize("name", list(_models()))
def test_the_leaves_are_the_named_variables_in_their_order(name):
    model = _models()[name]
    leaves = xg.tree_leaves(model)
    want = list(model.named_variables().values())
    assert len(leaves) == len(want) > 0
    assert all(a is b for a, b in zip(leaves, want))


def test_the_brief_example_has_four_leaves_and_paths_say_where():
    model = xg.nn.Sequential(xg.nn.Linear(3, 4), xg.nn.Linear(4, 1))
    assert len(xg.tree_leaves(model)) == 4
    assert [p for p, _ in leaves_with_paths({"model": model})][:2] == [
        "['model'].layers[0].w", "['model'].layers[0].b"]


@pytest.mark.parametrize("name", list(_models()))
def test_a_rebuilt_module_shares_nothing_mutable_and_leaves_the_original_alone(name):
    model = _models()[name]
    before = [v.numpy().copy() for v in model.variables]
    new = xg.tree_map(lambda p: p + 1, model)
    assert type(new) is type(model) and new is not model
    originals = {id(m) for m in (model, *model.submodules())}
    assert not originals & {id(m) for m in (new, *new.submodules())}
    assert not {id(v) for v in model.variables} & {id(t) for t in xg.tree_leaves(new)}
    for old, got in zip(model.variables, xg.tree_leaves(new)):
        assert got.shape == old.shape and got.dtype == old.dtype
        np.testing.assert_array_equal(got.numpy(), old.numpy() + 1)
    new.eval()                                                  # a change of the copy ...
    assert model.training and all(m.training for m in model.submodules())
    for v, b in zip(model.variables, before):                   # ... and of nothing else
        np.testing.assert_array_equal(v.numpy(), b)
    assert [type(v) for v in model.variables] == [xg.Variable] * len(before)


def test_a_rebuilt_module_computes_with_its_new_tensors():
    model = xg.nn.MLP([3, 4, 2], rng=0, dtype=F64)
    x = xg.asarray(np.random.default_rng(0).normal(size=(5, 3)))
    doubled = xg.tree_map(lambda p: 2.0 * p, model)
    want = x @ (2 * model.layers[0].w) + 2 * model.layers[0].b
    want = xg.relu(want) @ (2 * model.layers[1].w) + 2 * model.layers[1].b
    np.testing.assert_allclose(doubled(x).numpy(), want.numpy(), rtol=1e-12)
    assert doubled.named_variables() == {}         # plain tensors: a value, as equinox's


def test_tied_weights_stay_tied_in_the_rebuilt_module():
    model = _models()["tied"]
    new = xg.tree_map(lambda p: p * 3.0, model)
    assert new.layers[0].w is new.layers[2].w
    assert len(xg.tree_leaves(new)) == len(xg.tree_leaves(model)) == 3


def test_tree_map_over_a_model_and_a_like_one_pairs_leaves_by_place():
    a, b = xg.nn.MLP([2, 3, 1], rng=0), xg.nn.MLP([2, 3, 1], rng=1)
    mean = xg.tree_map(lambda p, q: (p + q) / 2, a, b)
    for got, p, q in zip(xg.tree_leaves(mean), a.variables, b.variables):
        np.testing.assert_allclose(got.numpy(), (p.numpy() + q.numpy()) / 2, rtol=1e-6)


def test_is_leaf_can_stop_at_submodules():
    model = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0), xg.nn.Linear(3, 1, rng=1))
    layers = xg.tree_leaves(model, is_leaf=lambda t: isinstance(t, xg.nn.Linear))
    assert layers == list(model.layers)
    swapped = xg.tree_map(lambda m: xg.nn.Identity() if m.in_features == 3 else m, model,
                          is_leaf=lambda t: isinstance(t, xg.nn.Linear))
    assert isinstance(swapped.layers[1], xg.nn.Identity) and swapped(xg.ones((1, 2))).shape \
        == (1, 3)


def test_structure_mismatches_name_the_place():
    model = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0), xg.nn.Linear(3, 1, rng=1))
    with pytest.raises(ValueError, match=r"rest\[0\] is a dict .* where tree is a Sequential "
                                         r"module"):
        xg.tree_map(lambda p, q: p, model, {"w": 1})
    with pytest.raises(ValueError, match=r"rest\[0\] is a MLP module where tree is a "
                                         r"Sequential module"):
        xg.tree_map(lambda p, q: p, model, xg.nn.MLP([2, 3, 1], rng=0))
    shorter = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0))
    with pytest.raises(ValueError, match=r"rest\[0\]\.layers\[1\]\.w is missing where "
                                         r"tree\.layers\[1\]\.w is a leaf \(Variable\)"):
        xg.tree_map(lambda p, q: p, model, shorter)


def test_ravel_pytree_of_a_model_round_trips_and_its_unravel_pickles():
    model = xg.nn.Sequential(xg.nn.Linear(3, 4, rng=0), xg.nn.BatchNorm1d(4))
    flat, unravel = xg.ravel_pytree(model)
    assert flat.shape == (sum(v.size for v in model.variables),)
    back = pickle.loads(pickle.dumps(unravel))(flat)
    assert type(back) is xg.nn.Sequential
    for got, v in zip(xg.tree_leaves(back), model.variables):
        assert got.dtype == v.dtype
        np.testing.assert_array_equal(got.numpy(), v.numpy())
    with pytest.raises(ValueError, match=f"1-D vector of {flat.shape[0]} entries"):
        unravel(xg.zeros(3))


def test_an_empty_module_has_no_leaves_and_rebuilds():
    relu = xg.nn.ReLU()
    assert xg.tree_leaves(relu) == []
    assert type(xg.tree_map(lambda p: p, relu)) is xg.nn.ReLU


def test_tensors_in_private_attributes_are_no_leaves_and_are_kept():
    class Scaled(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = xg.Variable([1.0, 2.0])
            self._cache = xg.asarray([5.0])       # private: not a leaf, as named_variables

        def forward(self, x):
            return self.w * x

    m = Scaled()
    assert xg.tree_leaves(m) == [m.w]
    new = xg.tree_map(lambda p: p * 0, m)
    assert new._cache.tolist() == [5.0] and new.w.tolist() == [0.0, 0.0]


def test_state_dicts_and_checkpoints_refuse_a_rebuilt_module_rather_than_save_nothing(tmp_path):
    model = xg.nn.MLP([2, 3, 1], rng=0)
    new = xg.tree_map(lambda p: p * 2.0, model)
    for call in (new.state_dict, lambda: xg.save_checkpoint(tmp_path / "ckpt", new),
                 lambda: xg.optim.Adam().state_dict(new)):
        with pytest.raises(TypeError, match=r"holds a plain Tensor at \.layers\[0\]\.w"):
            call()
    assert not list(tmp_path.iterdir())
    xg.tree_map(lambda v, t: v.assign(t), model, new)          # the way back it names
    xg.save_checkpoint(tmp_path / "ckpt", model)
    fresh = xg.nn.MLP([2, 3, 1], rng=5)
    xg.load_checkpoint(tmp_path / "ckpt", fresh)
    for got, want in zip(fresh.variables, xg.tree_leaves(new)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_a_module_of_the_users_own_holding_a_plain_tensor_still_saves(tmp_path):
    # a constant the user keeps as a plain Tensor (a Transformer's positional code) is not a
    # rebuilt module's leaf: state dicts and checkpoints save the Variables, as before
    class Encoded(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = xg.Variable([1.0, 2.0], name="w")
            self.pe = xg.asarray([0.5, 0.25])

    model = Encoded()
    assert list(model.state_dict()) == ["encoded/w"]
    xg.save_checkpoint(tmp_path / "ckpt", model)
    assert list(xg.optim.Adam().state_dict(model)) != []
    with pytest.raises(TypeError, match=r"holds a plain Tensor at \.w"):
        xg.tree_map(lambda p: p * 2.0, model).state_dict()


def test_torch_state_dict_refuses_a_rebuilt_module_rather_than_leave_it_out():
    mlp = xg.tree_map(lambda p: p * 2.0, xg.nn.MLP([2, 3, 1], rng=0))
    with pytest.raises(TypeError, match=r"MLP\.torch_state_dict: this MLP holds a plain "
                                         r"Tensor at \.layers\[0\]\.w"):
        mlp.torch_state_dict()

    class Scale(xg.nn.Module):                 # the generic walk
        def __init__(self):
            super().__init__()
            self.k = xg.Variable([1.0])

    with pytest.raises(TypeError, match=r"Scale\.torch_state_dict: this Scale holds a plain "
                                         r"Tensor at \.k"):
        xg.tree_map(lambda p: p + 1.0, Scale()).torch_state_dict()
