"""``Module.named_modules`` / ``modules`` / ``named_children`` / ``children`` / ``apply`` in
PyTorch's order (checked against the same model built in torch), ``count_params`` as Keras'
(every Variable, buffers too: torch's parameters plus buffers) and ``summary``. Before, these
names raised AttributeError pointing at ``submodules()``."""
from __future__ import annotations

import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")


class Inner(xg.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = xg.nn.Linear(4, 4, rng=0)
        self.norm = xg.nn.BatchNorm1d(4)

    def forward(self, x):
        return self.norm(self.fc(x))


class Net(xg.nn.Module):
    def __init__(self):
        super().__init__(name="net")
        self.fc1 = xg.nn.Linear(3, 4, rng=0)
        self.act = xg.nn.ReLU()
        self.inner = Inner()
        self.head = xg.nn.Linear(4, 2, rng=1)

    def forward(self, x):
        return self.head(self.inner(self.act(self.fc1(x))))


class TorchInner(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.norm = torch.nn.BatchNorm1d(4)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.act = torch.nn.ReLU()
        self.inner = TorchInner()
        self.head = torch.nn.Linear(4, 2)


def _kinds(modules):
    names = {"TorchNet": "Net", "TorchInner": "Inner"}
    return [names.get(type(m).__name__, type(m).__name__) for m in modules]


def test_named_modules_are_torchs_in_order_with_the_variables_paths():
    ours, theirs = Net(), TorchNet()
    named = list(ours.named_modules())
    expected = [("net/" + p.replace(".", "/")) if p else "net"
                for p, _ in theirs.named_modules()]
    assert [p for p, _ in named] == expected
    assert _kinds(m for _, m in named) == _kinds(theirs.modules())
    assert _kinds(ours.modules()) == _kinds(theirs.modules())
    # a variable's path starts with the path of the module holding it
    paths = dict(named)
    for path, variable in ours.named_variables().items():
        owner = paths[path.rsplit("/", 1)[0]]
        assert any(v is variable for v in vars(owner).values())
    # torch's default prefix "": the paths start with the first child, no separator before
    assert [p for p, _ in ours.named_modules(prefix="")] == \
        [p.replace(".", "/") for p, _ in theirs.named_modules(prefix="")]


def test_children_are_torchs():
    ours, theirs = Net(), TorchNet()
    assert [k for k, _ in ours.named_children()] == [k for k, _ in theirs.named_children()]
    assert _kinds(ours.children()) == _kinds(theirs.children())
    assert list(xg.nn.Linear(2, 2, rng=0).children()) == []


def test_apply_is_post_order_as_torch_and_returns_the_module():
    ours, theirs = Net(), TorchNet()
    seen_ours, seen_theirs = [], []
    assert ours.apply(seen_ours.append) is ours
    theirs.apply(seen_theirs.append)
    assert _kinds(seen_ours) == _kinds(seen_theirs)
    assert seen_ours[-1] is ours


def test_apply_reinitializes_the_linear_layers_as_a_torch_init_function_does():
    model = Net()

    def init(m):
        if isinstance(m, xg.nn.Linear):
            m.b.assign(xg.ones(m.b.shape))

    model.apply(init)
    biases = [m.b.numpy().tolist() for m in model.modules() if isinstance(m, xg.nn.Linear)]
    assert biases == [[1.0] * 4, [1.0] * 4, [1.0] * 2]
    assert model.inner.norm.bias.numpy().tolist() == [0.0] * 4


def test_a_shared_module_is_listed_and_applied_once():
    class Tied(xg.nn.Module):
        def __init__(self):
            super().__init__(name="tied")
            self.encoder = xg.nn.Linear(3, 3, rng=0)
            self.blocks = [xg.nn.ReLU(), self.encoder]

    model, calls = Tied(), []
    assert [p for p, _ in model.named_modules()] == ["tied", "tied/encoder", "tied/blocks0"]
    model.apply(calls.append)
    assert len(calls) == 3 and sum(m is model.encoder for m in calls) == 1


def test_a_back_reference_to_the_parent_ends_the_walk():
    model = Net()
    model.inner.parent = model
    assert len(list(model.modules())) == 7
    assert len(model.apply(lambda m: None).submodules()) == 6


def test_count_params_counts_torchs_parameters_and_buffers():
    ours, theirs = Net(), TorchNet()
    assert ours.count_params() == sum(t.numel() for t in theirs.state_dict().values())
    assert ours.count_params(trainable_only=True) == \
        sum(p.numel() for p in theirs.parameters())
    ours.inner.trainable = False
    assert ours.count_params(trainable_only=True) == 3 * 4 + 4 + 4 * 2 + 2
    assert ours.count_params() == sum(t.numel() for t in theirs.state_dict().values())


def test_count_params_counts_a_shared_variable_once():
    model = Net()
    model.tied = model.fc1.w
    assert model.count_params() == Net().count_params()


def test_summary_lists_every_module_and_the_totals():
    model = Net()
    model.inner.trainable = False
    out = []
    assert model.summary(print_fn=out.append) is None
    lines = out[0].splitlines()
    assert lines[0] == "Model: 'net' (Net)"
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:11]}
    assert rows == {"net": ["Net", "63", "26"], "net/fc1": ["Linear", "16", "16"],
                    "net/act": ["ReLU", "0", "0"], "net/inner": ["Inner", "37", "0"],
                    "net/inner/fc": ["Linear", "20", "0"],
                    "net/inner/norm": ["BatchNorm1d", "17", "0"],
                    "net/head": ["Linear", "10", "10"]}
    assert lines[-3:] == ["Total params: 63", "Trainable params: 26",
                          "Non-trainable params: 37"]


def test_summary_prints(capsys):
    xg.nn.Linear(2, 2, rng=0).summary()
    assert "Total params: 6" in capsys.readouterr().out


@pytest.mark.parametrize("call, text", [
    (lambda m: m.apply(3), "apply: fn must be a callable taking a module, got int"),
    (lambda m: m.summary(print_fn="stdout"), "summary: print_fn must be a callable"),
    (lambda m: m.count_params(trainable_only=1), "count_params: trainable_only must be True or "
                                                 "False"),
])
def test_bad_arguments_name_the_argument(call, text):
    with pytest.raises(TypeError, match=text):
        call(Net())


def test_the_walks_make_no_reference_cycles():
    from gc_counts import cyclic_garbage

    model = Net()
    model.blocks = xg.nn.ModuleList([xg.nn.Linear(2, 2, rng=0)])
    model.heads = xg.nn.ModuleDict({"a": xg.nn.Linear(2, 2, rng=0)})
    for walk in (lambda: list(model.named_modules()), lambda: model.apply(lambda m: None),
                 lambda: model.count_params(), lambda: model.trainable_variables):
        assert cyclic_garbage(walk, repeat=3) == 0
