"""``xg.nn.ModuleList`` / ``ModuleDict`` as PyTorch's, and ``Module.torch_state_dict`` /
``load_torch_state_dict`` for any model: a model built with the same attribute names as a torch
model has torch's state-dict keys (in torch's order), loads its weights and gives its outputs and
gradients in float64. Before, ``xg.nn.ModuleList`` raised AttributeError, and only Sequential,
MLP and single layers read torch state dicts."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
F64 = xg.float64


class Net(xg.nn.Module):
    def __init__(self, backend=None, dtype=F64):
        super().__init__(name="net")
        kw = dict(dtype=dtype, backend=backend)
        self.layers = xg.nn.ModuleList([xg.nn.Linear(4, 8, rng=0, **kw),
                                        xg.nn.Linear(8, 8, rng=1, **kw)])
        self.norms = xg.nn.ModuleList([xg.nn.LayerNorm(8, **kw) for _ in range(2)])
        self.heads = xg.nn.ModuleDict({"a": xg.nn.Linear(8, 2, rng=2, **kw),
                                       "b": xg.nn.Linear(8, 3, rng=3, **kw)})
        self.bn = xg.nn.BatchNorm1d(8, **kw)
        self.scale = xg.Variable(xg.ones(8, **kw), name="scale")

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = xg.nn.relu(norm(layer(x)))
        x = self.bn(x * self.scale)
        return xg.concat([self.heads[k](x) for k in self.heads], axis=-1)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(4, 8), torch.nn.Linear(8, 8)])
        self.norms = torch.nn.ModuleList([torch.nn.LayerNorm(8) for _ in range(2)])
        self.heads = torch.nn.ModuleDict({"a": torch.nn.Linear(8, 2), "b": torch.nn.Linear(8, 3)})
        self.bn = torch.nn.BatchNorm1d(8)
        self.scale = torch.nn.Parameter(torch.ones(8))

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = torch.relu(norm(layer(x)))
        x = self.bn(x * self.scale)
        return torch.cat([self.heads[k](x) for k in self.heads], dim=-1)


def _torch_net(seed=0):
    torch.manual_seed(seed)
    model = TorchNet().double()
    with torch.no_grad():                      # not the defaults: a load that skips one shows
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        model.bn.running_mean.normal_()
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.num_batches_tracked.fill_(7)
    return model


def _x(backend="numpy"):
    return np.random.default_rng(5).normal(size=(6, 4))


def test_state_dict_keys_are_torchs_in_torchs_order():
    assert list(Net().torch_state_dict()) == list(TorchNet().state_dict())
    names = list(Net().named_variables())
    assert names[:2] == ["net/layers/0/w", "net/layers/0/b"]
    assert "net/heads/b/w" in names and "net/scale" in names


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_torch_weights_give_torchs_outputs_and_gradients(backend, mode):
    theirs, ours = _torch_net(), Net(backend)
    ours.load_torch_state_dict(theirs.state_dict())
    getattr(theirs, mode)(), getattr(ours, mode)()
    x = _x()
    tx = torch.from_numpy(x)
    expected = theirs(tx)
    (expected ** 2).sum().backward()
    with xg.GradientTape() as tape:
        out = ours(xg.asarray(x, backend=backend))
        loss = xg.sum(out ** 2)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    grads = tape.gradient(loss, [ours.layers[0].w, ours.heads["b"].b, ours.scale])
    for g, t in zip(grads, [theirs.layers[0].weight.grad.T, theirs.heads["b"].bias.grad,
                            theirs.scale.grad]):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.bn.running_mean.numpy(), theirs.bn.running_mean.numpy(),
                               rtol=1e-12)


def test_our_weights_load_into_torch_and_give_our_outputs():
    ours = Net()
    ours.load_torch_state_dict(_torch_net(seed=3).state_dict())
    theirs = TorchNet().double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.torch_state_dict().items()})
    ours.eval(), theirs.eval()
    x = _x()
    np.testing.assert_allclose(ours(xg.asarray(x)).numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("change, text", [
    (lambda sd: sd.pop("layers.1.bias"), r"layers\.1"),
    (lambda sd: sd.pop("scale"), r"missing keys \['scale'\]"),
    (lambda sd: sd.update({"layers.2.weight": np.ones((8, 8))}),
     r"unexpected keys \['layers\.2\.weight'\]"),
    (lambda sd: sd.update({"scale": np.ones(9)}), r"shape of 'scale': state \(9,\), model \(8,\)"),
    (lambda sd: sd.update({"heads.a.weight": np.ones((3, 8))}), r"'heads\.a' \(Linear\).*"
                                                                r"shape \(3, 8\)"),
    (lambda sd: sd.update({"bn.running_mean": np.array(["a"] * 8)}), r"'bn' \(BatchNorm1d\)"),
])
def test_a_state_dict_that_does_not_fit_changes_nothing_and_names_the_key(change, text):
    ours = Net()
    state = {k: v.detach().numpy() for k, v in _torch_net().state_dict().items()}
    change(state)
    before = ours.state_dict()
    with pytest.raises(ValueError, match=text):
        ours.load_torch_state_dict(state)
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(TypeError, match="state_dict must be a dict"):
        ours.load_torch_state_dict([1, 2])


def test_a_sequential_holding_a_custom_module_reads_torchs_sequential():
    class Scale(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = xg.Variable(np.ones(3))

        def forward(self, x):
            return x * self.weight

    class TorchScale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.arange(3.0, dtype=torch.float64))

    ours = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0, dtype=F64), xg.nn.ReLU(), Scale())
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3).double(), torch.nn.ReLU(), TorchScale())
    ours.load_torch_state_dict(theirs.state_dict())
    assert ours[2].weight.numpy().tolist() == [0.0, 1.0, 2.0]
    assert list(ours.torch_state_dict()) == list(theirs.state_dict())


def test_module_list_operations_as_torchs():
    a, b, c, d = (xg.nn.Linear(2, 2, rng=i) for i in range(4))
    layers = xg.nn.ModuleList([a])
    assert layers.append(b) is layers and layers.extend([c]) is layers
    layers.insert(0, d)
    assert list(layers) == [d, a, b, c] and len(layers) == 4
    assert layers[-1] is c and layers[1] is a
    sliced = layers[1:3]
    assert isinstance(sliced, xg.nn.ModuleList) and list(sliced) == [a, b]
    layers[0] = b
    assert layers.pop() is c and layers.pop(0) is b
    del layers[0]
    layers += [d]
    assert list(layers) == [b, d]
    assert [k for k, _ in layers.named_children()] == ["0", "1"]
    assert list(xg.nn.ModuleList(layers)) == [b, d]            # from another one, as torch
    assert list(xg.nn.ModuleList().extend(xg.nn.Sequential(a, c))) == [a, c]
    assert "(name='module_list')\n  0: Linear" in repr(layers)


def test_module_dict_operations_as_torchs():
    a, b, c = (xg.nn.Linear(2, 2, rng=i) for i in range(3))
    heads = xg.nn.ModuleDict([("x", a), ("y", b)])
    heads["z"] = c
    assert list(heads) == ["x", "y", "z"] and list(heads.keys()) == ["x", "y", "z"]
    assert list(heads.values()) == [a, b, c] and dict(heads.items())["y"] is b
    assert "x" in heads and "w" not in heads and len(heads) == 3
    assert list(xg.nn.ModuleDict(heads).items()) == list(heads.items())
    heads.update({"x": c})
    assert heads["x"] is c and heads.pop("y") is b
    del heads["z"]
    assert list(heads) == ["x"]
    heads.clear()
    assert len(heads) == 0 and heads.variables == []


def test_containers_reach_train_eval_trainable_and_modules():
    model = Net()
    model.eval()
    assert not model.layers[1].training and not model.heads["a"].training
    assert [p for p, _ in model.named_modules()][:4] == \
        ["net", "net/layers", "net/layers/0", "net/layers/1"]
    assert len(model.trainable_variables) == len(list(TorchNet().parameters()))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_frozen_list_item_and_dict_entry_are_not_trained(backend, compiled):
    model = Net(backend, dtype=xg.float32)
    model.layers[0].trainable = False
    model.heads["b"].trainable = False
    frozen = {k: v for k, v in model.state_dict().items()
              if k.startswith(("net/layers/0/", "net/heads/b/"))}
    trained = model.layers[1].w.numpy()
    opt = xg.optim.Adam(0.01)

    def step(x):
        params = model.trainable_variables
        with xg.GradientTape() as tape:
            loss = xg.sum(model(x) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    fn = xg.function(step) if compiled else step
    x = xg.asarray(_x().astype(np.float32), backend=backend)
    for _ in range(3):
        fn(x)
    for k, v in model.state_dict().items():
        if k in frozen:
            np.testing.assert_array_equal(v, frozen[k])
    assert not np.array_equal(model.layers[1].w.numpy(), trained)
    assert len(model.trainable_variables) == len(list(TorchNet().parameters())) - 4


@pytest.mark.parametrize("call, error, text", [
    (lambda: xg.nn.ModuleList([xg.nn.ReLU(), 3]), TypeError, r"modules\[1\] must be a Module"),
    (lambda: xg.nn.ModuleList([xg.nn.ReLU]), TypeError, r"the class ReLU; make one: ReLU\(\)"),
    (lambda: xg.nn.ModuleList(xg.nn.ReLU()), TypeError, "modules must be an iterable"),
    (lambda: xg.nn.ModuleList().append(lambda x: x), TypeError, "appended must be a Module"),
    (lambda: xg.nn.ModuleList([xg.nn.ReLU()])["0"], TypeError, "indices must be integers"),
    (lambda: xg.nn.ModuleList([xg.nn.ReLU()])[1], IndexError, r"index 1 is out of range \(1 "),
    (lambda: xg.nn.ModuleList().insert(0.5, xg.nn.ReLU()), TypeError, "index must be an int"),
    (lambda: xg.nn.ModuleList()(xg.ones(2)), NotImplementedError, "has no forward"),
    (lambda: xg.nn.ModuleDict({1: xg.nn.ReLU()}), TypeError, "keys must be strings"),
    (lambda: xg.nn.ModuleDict({"a.b": xg.nn.ReLU()}), ValueError, "without '.' or '/'"),
    (lambda: xg.nn.ModuleDict({"": xg.nn.ReLU()}), ValueError, "non-empty"),
    (lambda: xg.nn.ModuleDict({"a": "relu"}), TypeError, "module for 'a' must be a Module"),
    (lambda: xg.nn.ModuleDict([("a",)]), TypeError, r"\(key, module\) pairs"),
    (lambda: xg.nn.ModuleDict({"a": xg.nn.ReLU()})["b"], KeyError, r"no key 'b' \(its keys: "
                                                                    r"\['a'\]\)"),
])
def test_bad_input_is_a_clear_error(call, error, text):
    with pytest.raises(error, match=text):
        call()


def test_parameter_list_still_points_at_a_plain_list():
    with pytest.raises(AttributeError, match="plain list"):
        xg.nn.ParameterList
