"""Editing a ``Sequential`` (``insert``, ``pop``, ``s[i] = m``, ``del s[i]`` / ``del s[i:j]``,
``append``, ``extend``, ``+=``, ``+``) and a ``ModuleList`` as in PyTorch: after the same edits the
torch state-dict keys are torch's (a removal or insertion renumbers the layers after it, as
torch does), the weights load into the torch model and give its outputs, and under
``xg.function`` an edit traces anew (before, ``Sequential.append`` after a trace was ignored by
the replay)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")

BACKENDS = ["numpy"] + (["numba"] if backend_report()["numba"]["available"] else [])


class Pair:
    """An xpgrad layer factory and the torch layer of the same kind, applied side by side."""

    def __init__(self, backend):
        self.backend = backend
        self.seed = 0

    def linear(self, n_in, n_out):
        self.seed += 1
        return (xg.nn.Linear(n_in, n_out, rng=self.seed, dtype=xg.float64, backend=self.backend),
                torch.nn.Linear(n_in, n_out, dtype=torch.float64))

    @staticmethod
    def relu():
        return xg.nn.ReLU(), torch.nn.ReLU()

    @staticmethod
    def tanh():
        return xg.nn.Tanh(), torch.nn.Tanh()


def _edits(p):
    """(name, edit(container, which)) pairs: ``which`` 0 takes xpgrad's layer, 1 torch's."""
    new = {k: f() for k, f in {"ins": lambda: p.linear(4, 4), "set": lambda: p.linear(4, 4),
                               "ext": lambda: p.linear(4, 4), "app": p.tanh,
                               "add": lambda: p.linear(4, 4), "neg": p.relu}.items()}
    return [
        ("del 1", lambda s, k: s.__delitem__(1)),
        ("insert 1", lambda s, k: s.insert(1, new["ins"][k])),
        ("pop 0", lambda s, k: s.pop(0)),
        ("setitem -1", lambda s, k: s.__setitem__(-1, new["set"][k])),
        ("extend", lambda s, k: s.extend([new["ext"][k], new["app"][k]])),
        ("insert -1", lambda s, k: s.insert(-1, new["neg"][k])),
        ("del 1:3", lambda s, k: s.__delitem__(slice(1, 3))),
        ("append", lambda s, k: s.append(new["add"][k])),
    ]


def _start(p):
    layers = [p.linear(4, 4), p.relu(), p.linear(4, 4), p.tanh(), p.linear(4, 4)]
    return [a for a, _ in layers], [b for _, b in layers]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sequential_edits_give_torchs_keys_and_outputs(backend):
    p = Pair(backend)
    ours, theirs = _start(p)
    model, tmodel = xg.nn.Sequential(ours), torch.nn.Sequential(*theirs)
    x = np.random.default_rng(0).standard_normal((5, 4))
    for name, edit in _edits(p):
        edit(model, 0)
        edit(tmodel, 1)
        keys = list(model.torch_state_dict())
        assert keys == list(tmodel.state_dict()), name
        assert [type(m).__name__ for m in model] == [type(m).__name__ for m in tmodel], name
        # named_variables follow the same renumbering: layer i's variables under <name>i
        assert list(model.named_variables()) == [
            f"sequential/linear{k.split('.')[0]}/{'w' if k.endswith('weight') else 'b'}"
            for k in keys], name
        tmodel.load_state_dict({k: torch.from_numpy(v)
                                for k, v in model.torch_state_dict().items()})
        got = model(xg.asarray(x, backend=backend))
        assert got.backend.name == backend
        np.testing.assert_allclose(got.numpy(), tmodel(torch.from_numpy(x)).detach().numpy(),
                                   rtol=1e-12, err_msg=name)


def test_pop_returns_the_layer_and_a_slice_a_sequential_as_torch():
    p = Pair("numpy")
    ours, theirs = _start(p)
    model, tmodel = xg.nn.Sequential(ours), torch.nn.Sequential(*theirs)
    assert model.pop(1) is ours[1] and type(tmodel.pop(1)).__name__ == "ReLU"
    assert model.pop() is ours[-1]                      # torch's pop needs an index
    tmodel.pop(-1)
    front = model.pop(slice(0, 2))
    assert isinstance(front, xg.nn.Sequential) and list(front) == [ours[0], ours[2]]
    assert isinstance(tmodel.pop(slice(0, 2)), torch.nn.Sequential)
    assert list(model) == [ours[3]] and len(tmodel) == 1


def test_insert_at_the_end_and_plus_as_torch():
    a, b, c = xg.nn.ReLU(), xg.nn.Tanh(), xg.nn.Sigmoid()
    model = xg.nn.Sequential(a)
    assert model.insert(1, b) is model and list(model) == [a, b]     # index == len appends
    model += xg.nn.Sequential(c)
    assert list(model) == [a, b, c]
    both = model + xg.nn.Sequential(a)
    assert list(both) == [a, b, c, a] and list(model) == [a, b, c]
    assert isinstance(both, xg.nn.Sequential)


@pytest.mark.parametrize("edit, error, words", [
    (lambda s: s.insert(4, xg.nn.ReLU()), IndexError, r"Sequential.insert: index 4 is out of "
                                                       r"range \(2 layers\)"),
    (lambda s: s.insert(-3, xg.nn.ReLU()), IndexError, "index -3 is out of range"),
    (lambda s: s.insert(1.0, xg.nn.ReLU()), TypeError, "Sequential.insert: the index must be "
                                                      "an int, got float"),
    (lambda s: s.insert(True, xg.nn.ReLU()), TypeError, "must be an int, got bool"),
    (lambda s: s.insert(0, xg.nn.ReLU), TypeError, "got the class ReLU; make one: ReLU()"),
    (lambda s: s.insert(0, 3), TypeError, "Sequential takes callables"),
    (lambda s: s.pop(2), IndexError, r"Sequential.pop: index 2 is out of range"),
    (lambda s: s.__setitem__(2, xg.nn.ReLU()), IndexError, "index 2 is out of range"),
    (lambda s: s.__setitem__(slice(0, 1), xg.nn.ReLU()), TypeError, "takes an int index"),
    (lambda s: s.__setitem__(0, "relu"), TypeError, "Sequential takes callables"),
    (lambda s: s.__delitem__(-3), IndexError, "index -3 is out of range"),
    (lambda s: s.__delitem__("0"), TypeError, "must be an int, got str"),
    (lambda s: s.extend(xg.nn.ReLU()), TypeError, "Sequential.extend: layers must be an "
                                                  "iterable of layers, got ReLU"),
    (lambda s: s.extend([xg.nn.ReLU(), 3]), TypeError, "Sequential takes callables"),
    (lambda s: s.extend("ab"), TypeError, "got str"),
])
def test_bad_edits_are_refused_and_change_nothing(edit, error, words):
    a, b = xg.nn.Linear(2, 2, rng=0), xg.nn.ReLU()
    model = xg.nn.Sequential(a, b)
    with pytest.raises(error, match=words):
        edit(model)
    assert list(model) == [a, b]


@pytest.mark.filterwarnings("ignore::xpgrad.jit.RetracingWarning")    # each edit: a trace
@pytest.mark.parametrize("backend", BACKENDS)
def test_edits_after_tracing_trace_anew(backend):
    p = Pair(backend)
    model = xg.nn.Sequential([a for a, _ in (p.linear(4, 4), p.relu(), p.linear(4, 4))])
    x = xg.asarray(np.random.default_rng(1).standard_normal((5, 4)), backend=backend)
    step = xg.function(lambda x: model(x))
    for name, edit in [("none", lambda s, k: None)] + _edits(p):
        edit(model, 0)
        want = model(x).numpy()
        for _ in range(2):
            np.testing.assert_allclose(step(x).numpy(), want, rtol=1e-12, err_msg=name)
    model.append(lambda t: t * 0.0)                    # a plain function as a layer
    np.testing.assert_array_equal(step(x).numpy(), 0.0)
    model.layers = model.layers[:-1]                   # assigning layers: seen too
    np.testing.assert_allclose(step(x).numpy(), model(x).numpy(), rtol=1e-12)


class Blocks(xg.nn.Module):
    def __init__(self, layers):
        super().__init__(name="net")
        self.blocks = xg.nn.ModuleList(layers)


class TorchBlocks(torch.nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.blocks = torch.nn.ModuleList(layers)


def test_module_list_edits_give_torchs_keys():
    p = Pair("numpy")
    ours, theirs = _start(p)
    model, tmodel = Blocks(ours), TorchBlocks(theirs)
    for name, edit in _edits(p):
        if name == "insert -1":        # torch's ModuleList.insert takes no negative index
            continue
        edit(model.blocks, 0)
        edit(tmodel.blocks, 1)
        assert list(model.torch_state_dict()) == list(tmodel.state_dict()), name
        tmodel.load_state_dict({k: torch.from_numpy(v)
                                for k, v in model.torch_state_dict().items()})
        for a, b in zip(model.blocks, tmodel.blocks):
            if isinstance(a, xg.nn.Linear):
                np.testing.assert_array_equal(a.w.numpy().T, b.weight.detach().numpy())
    removed = model.blocks.pop(slice(0, 2))
    assert isinstance(removed, xg.nn.ModuleList) and len(removed) == 2
    assert isinstance(tmodel.blocks.pop(slice(0, 2)), torch.nn.ModuleList)
    assert list(model.torch_state_dict()) == list(tmodel.state_dict())
