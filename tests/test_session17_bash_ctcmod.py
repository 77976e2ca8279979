"""Session 17 bug bash of xg.losses.ctc and the Module conveniences (ModuleList / ModuleDict,
torch state dicts, hints, Flatten, convert_sync_batchnorm): the test of each fix failed before
it; a few (refusals kept, apply with an init function) check what sits next to a fix."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("targets", [[], [[], []]], ids=["concatenated", "padded"])
def test_ctc_empty_python_lists_are_integers(backend, targets):
    # a batch whose targets are all empty, built from Python lists: [] is no labels, not a
    # float array (asarray's default), as PyTorch's lengths lists are
    lp = np.log(np.full((4, 2, 3), 1 / 3))
    x = xg.asarray(lp, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.ctc(x, targets, [4, 2], [0, 0], reduction="none")
        total = xg.sum(loss)
    grad = tape.gradient(total, x).numpy()
    xt = torch.tensor(lp, requires_grad=True)
    ref = F.ctc_loss(xt, torch.zeros((2, 0), dtype=torch.long), [4, 2], [0, 0],
                     reduction="none")
    np.testing.assert_allclose(loss.numpy(), ref.detach().numpy(), rtol=1e-12)
    # the true partial derivative: -1 on each blank of each sample's steps, 0 elsewhere
    expected = np.zeros_like(lp)
    expected[:4, 0, 0] = expected[:2, 1, 0] = -1.0
    np.testing.assert_allclose(grad, expected, atol=1e-12)


def test_ctc_empty_batch_from_lists():
    loss = xg.losses.ctc(xg.zeros((4, 0, 3), dtype=xg.float64), [], [], [], reduction="sum")
    assert loss.shape == () and loss.item() == 0.0


def test_ctc_float_values_still_refused():
    with pytest.raises(TypeError, match="target_lengths must be integers"):
        xg.losses.ctc(xg.zeros((4, 1, 3)), [[1]], [4], [1.0])
    with pytest.raises(TypeError, match="targets must be integer labels"):
        xg.losses.ctc(xg.zeros((4, 0, 3)), np.zeros(0), [], [])


def _linear(i=0):
    return xg.nn.Linear(2, 2, rng=i, dtype=xg.float64)


def test_module_list_plus_is_a_new_list():
    a, b = xg.nn.ModuleList([_linear(0)]), xg.nn.ModuleList([_linear(1), _linear(2)])
    both = a + b
    assert isinstance(both, xg.nn.ModuleList) and len(both) == 3 and len(a) == 1
    assert [m is n for m, n in zip(both, [*a, *b])] == [True] * 3
    assert list(both.torch_state_dict()) == list(
        torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)]).state_dict())
    assert len(a + [_linear(3)]) == 2                  # any iterable of modules, as torch's
    with pytest.raises(TypeError, match="must be a Module"):
        a + [3]


class _Heads(xg.nn.Module):
    def __init__(self):
        super().__init__(name="net")
        self.heads = xg.nn.ModuleDict({"cls": _linear(0)})
        self.heads.reg = _linear(1)                    # torch: adds the entry "reg"

    def forward(self, x):
        return self.heads.cls(x) + self.heads.reg(x)   # torch: attribute access


def test_module_dict_entries_as_attributes():
    net = _Heads()
    assert list(net.heads) == ["cls", "reg"] and net.heads.reg is net.heads["reg"]
    assert list(net.torch_state_dict()) == ["heads.cls.weight", "heads.cls.bias",
                                             "heads.reg.weight", "heads.reg.bias"]
    assert len(net.trainable_variables) == 4
    x = xg.ones((1, 2), dtype=xg.float64)
    np.testing.assert_allclose(net(x).numpy(), (net.heads["cls"](x) + net.heads["reg"](x)).numpy())
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        net.heads.nope
    net.heads.note = "plain values stay attributes"
    assert "note" not in net.heads and net.heads.note.startswith("plain")


def test_module_list_refuses_a_module_attribute():
    # it would be left out of the list's variables: untrained, unsaved, without a word
    layers = xg.nn.ModuleList([_linear()])
    with pytest.raises(TypeError, match="append or insert"):
        layers.extra = _linear(1)
    assert len(layers.trainable_variables) == 2


def test_linear_weight_names_the_xpgrad_variables():
    # what a PyTorch init function reads (def init(m): if isinstance(m, Linear): m.weight ...)
    layer = _linear()
    for name in ("weight", "bias"):
        with pytest.raises(AttributeError, match=r"Linear's are w \(in_features"):
            getattr(layer, name)
    assert not hasattr(layer, "weight")


def test_apply_with_a_pytorch_style_init_function():
    rng = xg.random.default_rng(0)

    def init(m):
        if isinstance(m, xg.nn.Linear):
            m.w.assign(xg.nn.init.xavier_uniform(rng, m.w.shape, m.w.dtype))
            m.b.assign(xg.zeros_like(m.b) + 0.01)

    class Net(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = xg.nn.ModuleList([_linear(i) for i in range(2)])
            self.heads = xg.nn.ModuleDict({"a": xg.nn.Sequential(_linear(5), xg.nn.ReLU())})

    net = Net()
    seen = []
    assert net.apply(init).apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Linear", "ModuleList", "Linear", "ReLU", "Sequential",
                    "ModuleDict", "Net"]
    assert all(np.all(v.numpy() == 0.01) for k, v in net.named_variables().items()
               if k.endswith("/b"))


class _Blocks(xg.nn.Module):
    def __init__(self):
        super().__init__(name="net")
        self.blocks = xg.nn.ModuleList([_linear(i) for i in range(3)])
        self.heads = xg.nn.ModuleDict({"out": _linear(7)})

    def forward(self, x):
        for block in self.blocks:
            x = xg.nn.relu(block(x))
        return self.heads["out"](x)


def test_function_retraces_after_a_container_changes():
    # torch.compile guards a ModuleList's modules; the replay of the old items' program was a
    # wrong number without a word
    net = _Blocks()
    x = xg.asarray(np.random.default_rng(0).standard_normal((5, 2)))
    compiled = xg.function(lambda x: xg.sum(net(x) ** 2), retrace_warning=None)
    changes = [lambda: net.blocks.__setitem__(1, _linear(10)),
               lambda: net.blocks.append(_linear(11)),
               lambda: net.blocks.__delitem__(0),
               lambda: net.blocks.insert(0, _linear(12)),
               lambda: net.blocks.pop(),
               lambda: net.heads.__setitem__("out", _linear(13)),
               lambda: net.heads.update({"out": _linear(14)})]
    for change in [lambda: None, *changes]:
        change()
        for _ in range(3):
            np.testing.assert_allclose(compiled(x).numpy(), xg.sum(net(x) ** 2).numpy(),
                                       rtol=1e-12)
    before = compiled.trace_count
    for _ in range(3):
        compiled(x)
    assert compiled.trace_count == before              # unchanged: replayed



@pytest.mark.skipif("numba" not in BACKENDS, reason="needs a second host backend")
@pytest.mark.parametrize("arg", ["targets", "input_lengths", "target_lengths"])
def test_ctc_tensor_on_another_backend_is_named(arg):
    # PyTorch users keep lengths on the host next to device log_probs: the error says which
    args = dict(targets=[[1, 2]], input_lengths=[4], target_lengths=[2])
    args[arg] = xg.asarray(args[arg], backend="numpy")
    lp = xg.zeros((4, 1, 3), backend="numba")
    with pytest.raises(xg.MixedBackendError, match=rf"ctc: {arg} is on backend 'numpy' and "
                                                    rf"log_probs on 'numba'.*{arg}\.to"):
        xg.losses.ctc(lp, **args)


def test_empty_prefix_gives_paths_without_a_leading_separator():
    # torch's named_modules(prefix="") / named_parameters(prefix=""): "blocks.0", no "."
    net = _Blocks()
    assert [p for p, _ in net.named_modules(prefix="")][:3] == ["", "blocks", "blocks/0"]
    assert list(net.named_variables(prefix=""))[:2] == ["blocks/0/w", "blocks/0/b"]
    assert list(net.named_variables())[:1] == ["net/blocks/0/w"]


@pytest.mark.parametrize("start, end", [(0, 0), (0, -1), (-1, -1), (1, -1), (0, 1), (-2, 0),
                                        (3, 3)])
def test_flatten_of_a_scalar_checks_its_axes_as_torch(start, end):
    x = np.asarray(2.0)
    try:
        expected = tuple(torch.nn.Flatten(start, end)(torch.tensor(x)).shape)
    except IndexError:
        with pytest.raises(ValueError, match="out of range for an input with 0 dimensions"):
            xg.nn.Flatten(start, end)(xg.asarray(x))
    else:
        assert xg.nn.Flatten(start, end)(xg.asarray(x)).shape == expected


def _padded_case(pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, 3))
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    lp[4:, 1] = pad                                    # past sample 1's input length 4
    return lp, np.array([[1, 2], [2, 2]]), [6, 4], [2, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_ctc_nan_padding_past_the_input_length_stays_out(backend):
    lp, targets, il, tl = _padded_case(np.nan)

    def loss(x):
        return xg.losses.ctc(x, targets, il, tl, reduction="sum")

    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no 'invalid value' from the padding
        x = xg.asarray(lp, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(x)
            value = loss(x)
        grad = tape.gradient(value, x).numpy()
        hess = xg.hessian(loss)(x).numpy().reshape(lp.size, lp.size)
    clean = xg.asarray(_padded_case(0.0)[0], backend=backend)
    np.testing.assert_allclose(value.numpy(), loss(clean).numpy(), rtol=1e-12)
    assert np.all(grad[4:, 1] == 0) and np.isfinite(grad).all()
    # second order: finite, and the zero-padded input's (the padding reaches nothing)
    np.testing.assert_allclose(hess, xg.hessian(loss)(clean).numpy().reshape(hess.shape),
                               rtol=1e-10, atol=1e-12)


def test_convert_sync_batchnorm_reaches_into_module_list_and_dict():
    # PyTorch's convert_sync_batchnorm replaces the BatchNorms of a ModuleList of blocks
    class Net(xg.nn.Module):
        def __init__(self):
            super().__init__(name="net")
            self.blocks = xg.nn.ModuleList([xg.nn.Sequential(xg.nn.Linear(3, 3, rng=0),
                                                             xg.nn.BatchNorm1d(3)),
                                            xg.nn.BatchNorm1d(3)])
            self.heads = xg.nn.ModuleDict({"bn": xg.nn.BatchNorm1d(3)})

    net = Net()
    weights = [net.blocks[1].weight, net.heads["bn"].running_mean]
    assert xg.nn.SyncBatchNorm.convert_sync_batchnorm(net) is net
    kinds = {p: type(m).__name__ for p, m in net.named_modules() if "BatchNorm" in
             type(m).__name__}
    assert kinds == {"net/blocks/0/batch_norm1": "SyncBatchNorm",
                     "net/blocks/1": "SyncBatchNorm", "net/heads/bn": "SyncBatchNorm"}
    assert net.blocks[1].weight is weights[0] and net.heads["bn"].running_mean is weights[1]


def test_function_replays_with_containers_made_inside():
    # a container the traced function makes (a slice, an empty one) is no guard: made in
    # every call, it would make every call trace again
    blocks = xg.nn.ModuleList([_linear(i) for i in range(3)])

    def f(x):
        for block in blocks[1:]:
            x = block(x)
        return xg.sum(x) + len(xg.nn.ModuleList()) + len(xg.nn.ModuleDict())

    compiled = xg.function(f)
    x = xg.ones((1, 2), dtype=xg.float64)
    for _ in range(5):
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy())
    assert compiled.trace_count == 1
