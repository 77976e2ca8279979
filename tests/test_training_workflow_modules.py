"""The model and data code of PyTorch and Keras users' training scripts, run with xpgrad:
fine-tuning from a torch ``nn.Sequential``, layers in nested lists and dicts, ``repr``, the
data helpers, and the errors (with pointers to xpgrad's names) such scripts meet."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


@pytest.mark.parametrize("module, name", [("data", "batches"), ("training", "TrainConfig")])
def test_the_data_helpers_and_the_training_loop_are_reached_from_import_xpgrad(module, name):
    code = f"import xpgrad as xg; print(callable(xg.{module}.{name}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_a_missing_attribute_of_xpgrad_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        xg.no_such_thing


def _torch_body():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Dropout(0.1),
                               torch.nn.Linear(8, 4), torch.nn.Tanh(),
                               torch.nn.Sequential(torch.nn.Linear(4, 3))).double().eval()


def _xg_body(backend, seed=1):
    rng = xg.random.default_rng(seed, backend=backend)
    return xg.nn.Sequential(
        xg.nn.Linear(5, 8, rng=rng, dtype=xg.float64), xg.nn.Tanh(),
        xg.nn.Linear(8, 4, rng=rng, dtype=xg.float64), xg.nn.Tanh(),
        xg.nn.Sequential(xg.nn.Linear(4, 3, rng=rng, dtype=xg.float64)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_torch_sequential_loads_into_a_sequential_layer_by_layer(backend):
    import torch

    body = _torch_body()
    model = _xg_body(backend)
    model.load_torch_state_dict(body.state_dict())
    x = np.random.default_rng(2).normal(size=(6, 5))
    np.testing.assert_allclose(model(x).numpy(), body(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    back = _torch_body()
    for p in back.parameters():
        torch.nn.init.zeros_(p)
    back.load_state_dict({k: torch.from_numpy(v) for k, v in _renumbered(
        model.torch_state_dict(), back).items()})
    np.testing.assert_array_equal(back(torch.from_numpy(x)).detach().numpy(),
                                  body(torch.from_numpy(x)).detach().numpy())


def _renumbered(state, torch_model):
    """``state`` (keys by the xpgrad Sequential's indices) under the torch model's keys, in
    order: the two differ where torch has layers without weights that xpgrad leaves out."""
    assert len(state) == len(torch_model.state_dict())
    return dict(zip(torch_model.state_dict(), state.values()))


def test_a_sequential_state_dict_uses_its_own_layer_indices():
    model = _xg_body("numpy")
    assert list(model.torch_state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                              "4.0.weight", "4.0.bias"]


def test_an_mlp_loads_a_torch_sequential_of_linear_and_activation_layers():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    mlp = xg.nn.MLP([4, 6, 3], rng=1)
    mlp.load_torch_state_dict(net.state_dict())
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(mlp(x).numpy(), net(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert list(mlp.torch_state_dict()) == list(net.state_dict())


@pytest.mark.parametrize("change, match", [
    (lambda sd: sd.pop("3.bias"), "missing keys"),
    (lambda sd: sd.update({"6.weight": sd["0.weight"]}), "6"),
    (lambda sd: sd.update({"3.weight": sd["0.weight"]}), "shape"),
    (lambda sd: sd.update({"head.weight": sd["0.weight"]}), "head"),
])
def test_a_torch_state_dict_that_does_not_fit_changes_nothing(change, match):
    state = dict(_torch_body().state_dict())
    change(state)
    model = _xg_body("numpy")
    before = model.state_dict()
    with pytest.raises(ValueError, match=match):
        model.load_torch_state_dict(state)
    after = model.state_dict()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])


def test_a_custom_layer_with_weights_reads_them_by_attribute_name_and_is_named_when_not():
    class Scale(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.k = xg.Variable(2.0)

        def forward(self, x):
            return self.k * x

    model = xg.nn.Sequential(Scale(), xg.nn.Linear(2, 2, rng=0))
    model.load_torch_state_dict({"0.k": np.ones(()), "1.weight": np.ones((2, 2)),
                                 "1.bias": np.ones(2)})
    assert model[0].k.item() == 1.0
    # the keys named in full, as torch's Sequential names them ("0.k", not "k")
    with pytest.raises(ValueError, match=r"(?s)Sequential.load_torch_state_dict: .*"
                                         r"missing keys \['0.k'\].*unexpected keys \['0.q'\]"):
        model.load_torch_state_dict({"0.q": np.ones(()), "1.weight": np.ones((2, 2)),
                                     "1.bias": np.ones(2)})
    assert model[0].k.item() == 1.0


def test_a_nested_sequential_without_weights_is_skipped_like_an_activation():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    model = xg.nn.Sequential(xg.nn.Sequential(xg.nn.ReLU()), xg.nn.Linear(3, 2, rng=0))
    model.load_torch_state_dict(net.state_dict())
    np.testing.assert_array_equal(model.layers[1].w.numpy(), net[0].weight.detach().numpy().T)


class _Stages(xg.nn.Module):
    """Layers in nested containers: a list of stages (lists), a dict of lists, tuples."""

    def __init__(self):
        super().__init__()
        self.stages = [[xg.nn.Linear(3, 3, rng=0), xg.nn.Linear(3, 3, rng=1)],
                       [xg.nn.Linear(3, 3, rng=2)]]
        self.heads = {"a": [xg.nn.Linear(3, 1, rng=3)], "b": {"c": xg.nn.Linear(3, 2, rng=4)}}
        self.scales = ((xg.Variable(1.0, name="s0"),), xg.Variable(2.0, name="s1"))

    def forward(self, x):
        for stage in self.stages:
            for layer in stage:
                x = xg.tanh(layer(x))
        x = x * self.scales[0][0] * self.scales[1]
        return xg.sum(self.heads["a"][0](x)) + xg.sum(self.heads["b"]["c"](x))


def test_variables_in_nested_lists_and_dicts_are_found_and_trained():
    model = _Stages()
    assert list(model.named_variables()) == [
        "_stages/stages0/0/w", "_stages/stages0/0/b", "_stages/stages0/1/w",
        "_stages/stages0/1/b", "_stages/stages1/0/w", "_stages/stages1/0/b",
        "_stages/heads/a/0/w", "_stages/heads/a/0/b", "_stages/heads/b/c/w",
        "_stages/heads/b/c/b", "_stages/scales0/0", "_stages/scales1"]
    x = np.ones((2, 3), np.float32)
    with xg.GradientTape() as tape:
        loss = model(x)
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)
    assert len(model.submodules()) == 5
    model.stages[0][1].trainable = False
    assert len(model.trainable_variables) == 10


def test_a_list_holding_itself_is_walked_once():
    model = _Stages()
    model.stages.append(model.stages)
    assert len(model.named_variables()) == 12


def test_a_module_whose_init_skipped_super_init_says_so():
    class Forgot(xg.nn.Module):
        def __init__(self):
            self.fc = xg.nn.Linear(2, 2, rng=0)

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgot().trainable_variables
    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        repr(Forgot())


def test_a_sequential_repr_shows_every_layer_functions_included():
    model = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0), xg.relu, xg.nn.Linear(3, 1, rng=0),
                             lambda x: x * 2)
    lines = repr(model).splitlines()
    assert len(lines) == 5, repr(model)
    assert lines[2].strip().startswith("1:") and "relu" in lines[2]
    assert lines[4].strip().startswith("3:") and "lambda" in lines[4]
    mlp = repr(xg.nn.MLP([2, 3, 1], activation="tanh", rng=0))
    assert "activation=tanh" in mlp.splitlines()[0], mlp


def test_float_class_indices_are_refused_naming_their_own_dtype():
    logits = xg.asarray(np.zeros((4, 3), np.float32))
    with pytest.raises(TypeError, match="have dtype float64"):
        xg.losses.softmax_cross_entropy(logits, np.array([0.0, 1.0, 2.0, 1.0]))


def test_batches_given_the_array_instead_of_its_length_says_so_briefly():
    x = np.zeros((1000, 20))
    with pytest.raises(TypeError, match=r"len\(x\)") as info:
        xg.data.batches(x, 32)
    assert len(str(info.value)) < 300


def test_counting_parameters_the_torch_way_points_at_size():
    model = xg.nn.MLP([4, 8, 3], rng=0)
    with pytest.raises(AttributeError, match=r"\.size"):
        sum(v.numel() for v in model.trainable_variables)
    assert sum(v.size for v in model.trainable_variables) == 4 * 8 + 8 + 8 * 3 + 3


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((0, 3)), np.zeros(0, np.int64), "y is empty"),
    (np.zeros((10, 3)), np.eye(2)[np.arange(10) % 2], r"y must be 1-d.*\(10, 2\).*argmax"),
])
def test_split_of_empty_or_one_hot_labels_names_y(x, y, match):
    with pytest.raises(ValueError, match=match):
        xg.data.split(x, y, 0.2, seed=0)


def test_standardizing_an_empty_training_split_names_it():
    ds = xg.data.Dataset("empty", np.zeros((0, 3), np.float32), np.zeros(0, np.int64),
                         np.zeros((2, 3), np.float32), np.zeros(2, np.int64), (1, 3), 2)
    with pytest.raises(ValueError, match="x_train is empty"):
        xg.data.normalized(ds)


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.skipif("numba" not in BACKENDS, reason="needs two backends")
def test_a_layer_left_on_the_default_backend_is_named_in_the_mixed_backend_error():
    rng = xg.random.default_rng(0, backend="numba")
    model = xg.nn.Sequential(xg.nn.Linear(4, 8, rng=rng), xg.nn.LayerNorm(8),   # numpy
                             xg.nn.Linear(8, 2, rng=rng))
    with pytest.raises(xg.MixedBackendError) as info:
        model(np.ones((3, 4), np.float32))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "LayerNorm 'layer_norm'" in notes and "numpy" in notes, notes
    assert notes.count("\n") == 0, notes                 # the innermost layer, once


@pytest.mark.parametrize("name, pointer", [
    ("get_weights", "state_dict()"),
    ("set_weights", "load_state_dict"), ("save_weights", "save_checkpoint"),
    ("load_weights", "load_checkpoint"), ("num_parameters", "count_params()"),
    ("add_module", "setattr(self, name, module)"), ("register_module", "ModuleList"),
    ("register_parameter", "xg.Variable(value"),
    ("flatten_parameters", "nothing to flatten"), ("double", "dtype=xg.float64"),
])
def test_torch_and_keras_module_names_point_at_xpgrads(name, pointer):
    with pytest.raises(AttributeError, match=re.escape(pointer)):
        getattr(xg.nn.MLP([2, 3, 1], rng=0), name)


def test_eval_reaches_a_dropout_in_a_nested_list():
    class Blocks(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = [[xg.nn.Linear(4, 4, rng=0), xg.nn.Dropout(0.5, rng=1)]]

        def forward(self, x):
            for linear, dropout in self.blocks:
                x = dropout(linear(x))
            return x

    model = Blocks().eval()
    x = np.ones((8, 4), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    assert not model.blocks[0][1].training


def test_keras_training_argument_points_at_train_and_eval():
    model = xg.nn.Sequential(xg.nn.Linear(2, 2, rng=0), xg.nn.Dropout(0.5, rng=0))
    with pytest.raises(TypeError, match=r"model\.eval\(\)"):
        model(np.ones((1, 2), np.float32), training=False)

    class Custom(xg.nn.Module):                 # a forward that takes it is left alone
        def forward(self, x, training=True):
            return x if training else -x

    assert Custom()(xg.asarray(1.0), training=False).item() == -1.0


def test_batches_take_an_xpgrad_generator_as_its_numpy_generator():
    ours = xg.data.batches(10, 3, xg.random.default_rng(4))
    numpy = xg.data.batches(10, 3, np.random.default_rng(4))
    assert [b.tolist() for b in ours] == [b.tolist() for b in numpy]


@pytest.mark.parametrize("name, pointer", [
    ("ParameterList", "plain list"),
    ("ParameterDict", "plain dict"), ("Parameter", "xg.Variable"),
])
def test_torch_container_names_in_xg_nn_point_at_plain_lists_and_variables(name, pointer):
    with pytest.raises(AttributeError, match=re.escape(pointer)):
        getattr(xg.nn, name)
    with pytest.raises(AttributeError, match="no_such_layer"):
        xg.nn.no_such_layer
