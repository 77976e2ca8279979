"""The Variables of ``model.trainable_variables`` carry distinct names: a module that takes a
layer in names the layer's Variables after their paths (the ``named_variables`` and
``state_dict`` keys, which do not change). Before, every Linear's were ``linear/w`` and
``linear/b``, so that only state_dict told them apart and a checkpoint or optimizer state saved
from the list of Variables was refused ('two variables are named ...')."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg


def _names(model):
    return [v.name for v in model.variables]


def _two_linears():
    return xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0), xg.nn.ReLU(), xg.nn.Linear(3, 1, rng=1))


def test_a_sequentials_linears_are_named_after_their_distinct_paths():
    model = _two_linears()
    assert _names(model) == ["sequential/linear0/w", "sequential/linear0/b",
                             "sequential/linear2/w", "sequential/linear2/b"]
    assert list(model.state_dict()) == _names(model)       # the keys, as before
    lone = xg.nn.Linear(2, 3, rng=0)
    assert _names(lone) == ["linear/w", "linear/b"]          # a lone layer keeps its own


class Block(xg.nn.Module):
    def __init__(self):
        super().__init__(name="block")
        self.fc1, self.fc2 = xg.nn.Linear(2, 2, rng=0), xg.nn.Linear(2, 2, rng=1)
        self.temperature = xg.Variable(1.0, name="temperature")
        self.scale = xg.Variable(2.0, name="block/scale")

    def forward(self, x):
        return self.fc2(self.fc1(x)) * self.scale / self.temperature


class Net(xg.nn.Module):
    def __init__(self):
        super().__init__(name="net")
        self.blocks = [Block(), Block()]
        self.heads = xg.nn.ModuleDict({"a": xg.nn.Linear(2, 1, rng=2)})

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["a"](x)


def test_nested_modules_name_variables_by_their_full_path_and_keep_users_names():
    net = Net()
    names, paths = _names(net), list(net.named_variables())
    assert len(names) == 14 and len(set(names)) == 13     # alike: the user's two temperatures
    renamed = [(n, p) for n, p in zip(names, paths) if n != p]
    # the user's own names stay; the layers' own (and a module's f"{name}/{attr}") follow paths
    assert renamed == [("temperature", "net/blocks0/temperature"),
                       ("temperature", "net/blocks1/temperature")]
    assert "net/blocks1/fc2/w" in names and "net/blocks0/scale" in names
    assert "net/heads/a/w" in names
    assert net(xg.ones((1, 2))).shape == (1, 1)


def test_a_name_the_user_changes_is_kept_by_later_changes_of_the_model():
    model = _two_linears()
    model.layers[0].w.name = "encoder_weight"
    model.append(xg.nn.Linear(1, 1, rng=3))
    assert _names(model)[0] == "encoder_weight"
    assert _names(model)[1:] == list(model.named_variables())[1:]


@pytest.mark.parametrize("edit", [
    lambda m: m.insert(0, xg.nn.Linear(2, 2, rng=4)), lambda m: m.pop(0),
    lambda m: m.__delitem__(1), lambda m: m.__setitem__(2, xg.nn.Linear(3, 2, rng=5)),
    lambda m: m.extend([xg.nn.Tanh(), xg.nn.Linear(1, 2, rng=6)]),
], ids=["insert", "pop", "del", "setitem", "extend"])
def test_editing_a_sequential_renames_after_the_new_paths(edit):
    model = _two_linears()
    edit(model)
    assert _names(model) == list(model.named_variables())


def test_module_list_items_are_named_after_their_paths():
    holder = xg.nn.ModuleList([xg.nn.Linear(2, 2, rng=0)], name="stack")
    holder.append(xg.nn.Linear(2, 2, rng=1))
    assert _names(holder) == ["stack/0/w", "stack/0/b", "stack/1/w", "stack/1/b"]


def test_a_list_of_the_models_variables_saves_and_loads_as_the_model(tmp_path):
    """The checkpoint of ``model.trainable_variables`` has the model's own keys: it loads into
    a fresh model, and the model's checkpoints are as before. It was refused: 'two variables
    are named linear/w'."""
    model, fresh = _two_linears(), _two_linears()
    for v in fresh.variables:
        v.assign(xg.zeros(v.shape))
    opt = xg.optim.Adam(learning_rate=0.1)
    with xg.GradientTape() as tape:
        loss = xg.sum(model(xg.ones((4, 2))) ** 2)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))
    from_list, from_model = str(tmp_path / "list.npz"), str(tmp_path / "model.npz")
    xg.save_checkpoint(from_list, model.trainable_variables, opt)
    xg.save_checkpoint(from_model, model, opt)
    with np.load(from_list) as a, np.load(from_model) as b:
        assert sorted(k for k in a.files if k.startswith(("model/", "optimizer/"))) == \
            sorted(k for k in b.files if k.startswith(("model/", "optimizer/")))
        assert "model/sequential/linear2/w" in a.files
    xg.load_checkpoint(from_list, fresh)
    for a, b in zip(fresh.variables, model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


class _Scaled(xg.nn.Module):
    """A custom module holding Variables of its own, as a torch module's nn.Parameter."""

    def __init__(self):
        super().__init__()
        self.scale = xg.Variable(xg.ones(3))
        self.shift = xg.Variable(xg.zeros(3))
        self.named = xg.Variable(xg.zeros(3), name="mine")
        self.lin = xg.nn.Linear(3, 1, rng=0)

    def forward(self, x):
        return xg.sum(self.lin(x * self.scale + self.shift + self.named))


def test_a_custom_modules_own_variables_are_named_after_their_paths():
    """``self.scale = xg.Variable(...)`` was named 'Variable' in trainable_variables, so two of
    them made ``opt.state_dict(model.trainable_variables)`` refuse the list ('two variables
    are named Variable'). Now they carry their paths, as torch's named_parameters(); a name the
    user gave is kept, inside containers too."""
    model = _Scaled()
    assert _names(model) == ["_scaled/scale", "_scaled/shift", "mine", "_scaled/lin/w",
                             "_scaled/lin/b"]
    holder = xg.nn.ModuleList([_Scaled(), _Scaled()], name="stack")
    assert [v.name for v in holder.trainable_variables if v.name != "mine"] == \
        [p for p in holder.named_variables() if not p.endswith("/named")]
    opt = xg.optim.Adam(learning_rate=0.1)
    opt.minimize(lambda: model(xg.ones((2, 3))), model.trainable_variables)
    assert sorted(opt.state_dict(model.trainable_variables)) == \
        sorted(k.replace("_scaled/named", "mine") for k in opt.state_dict(model))


class _OneScale(xg.nn.Module):
    """A custom module with one unnamed Variable of its own: before 2026-12-07 its name was
    'Variable' (one such Variable did not clash, so its list of Variables saved)."""

    def __init__(self):
        super().__init__()
        self.scale = xg.Variable(xg.ones(3))
        self.lin = xg.nn.Linear(3, 1, rng=0)

    def forward(self, x):
        return xg.sum(self.lin(x * self.scale))


def _trained_one_scale():
    model, opt = _OneScale(), xg.optim.Adam(learning_rate=0.1)
    for _ in range(2):
        opt.minimize(lambda: model(xg.ones((2, 3))), model.trainable_variables)
    # the names the list of Variables was saved under before: 'Variable' for scale
    before = {"Variable" if v is model.scale else v.name: v for v in model.trainable_variables}
    return model, opt, before


def test_a_checkpoint_of_the_list_saved_under_the_old_name_loads(tmp_path):
    """A checkpoint of ``model.trainable_variables`` saved when ``self.scale`` was
    'Variable' (checked with the code of 2b34762b, whose file holds 'model/Variable' and
    'optimizer/Variable/m'): it was a CheckpointError (missing 'model/_onescale/scale',
    unexpected 'model/Variable'); the sole Variable named after its attribute since takes it."""
    model, opt, before = _trained_one_scale()
    path = str(tmp_path / "old.npz")
    xg.save_checkpoint(path, before, opt)
    fresh, fresh_opt = _OneScale(), xg.optim.Adam(learning_rate=0.1)
    assert fresh.scale.name == "_onescale/scale"
    xg.load_checkpoint(path, fresh.trainable_variables, fresh_opt)
    for a, b in zip(fresh.trainable_variables, model.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    want = opt.state_dict(model.trainable_variables)
    got = fresh_opt.state_dict(fresh.trainable_variables)
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(want[k]))


def test_an_optimizer_state_saved_under_the_old_name_loads():
    model, opt, before = _trained_one_scale()
    saved = opt.state_dict(before)
    assert "Variable/m" in saved
    fresh, fresh_opt = _OneScale(), xg.optim.Adam(learning_rate=0.1)
    fresh_opt.load_state_dict(saved, fresh.trainable_variables)
    got = fresh_opt.state_dict(fresh.trainable_variables)
    np.testing.assert_array_equal(got["_onescale/scale/m"].numpy(), saved["Variable/m"].numpy())
    assert sorted(got) == sorted(opt.state_dict(model.trainable_variables))


def test_the_old_name_is_not_taken_for_a_variable_the_user_named():
    model, opt, before = _trained_one_scale()
    saved = opt.state_dict(before)
    fresh = _OneScale()
    fresh.scale.name = "mine"
    with pytest.raises(ValueError, match="Variable/m"):
        xg.optim.Adam(learning_rate=0.1).load_state_dict(saved, fresh.trainable_variables)
