"""xg.nn.functional_call leaves the module as it was (its Variables' identity and values, the
containers holding them), also when the forward raises or threads call at once; it replaces
Variables wherever the layers hold them (a zoo of layers against a copy holding the values);
tied weights; and bad input, refused with an error naming the parameter."""
from __future__ import annotations

import collections
import copy
import sys
import threading

import numpy as np
import pytest

import xpgrad as xg

F64 = xg.float64
RNG = np.random.default_rng(11)
Pair = collections.namedtuple("Pair", "first second")


class Holders(xg.nn.Module):
    """Variables in a list, a tuple, a namedtuple, a nested dict and a private attribute."""

    def __init__(self):
        super().__init__(name="holders")
        v = lambda: xg.Variable(RNG.normal(size=2))      # noqa: E731
        self.listed, self.paired = [v(), v()], (v(), 3)
        self.named = Pair(v(), v())
        self.nested = {"a": [v()], "b": {"c": v()}}
        self._hidden = v()                               # not one of named_variables
        self.seen = None

    def forward(self, x):
        self.seen = self.listed                          # what forward found there
        return (x * self.listed[0] + self.listed[1] * self.paired[0] + self.named.first
                + self.named.second * self.nested["a"][0] + self.nested["b"]["c"] + self._hidden)


def _snapshot(module):
    """Every attribute of every module below ``module`` (the objects) and the Variables'
    values."""
    return ({id(m): dict(vars(m)) for m in (module, *module.submodules())},
            {k: v.numpy().copy() for k, v in module.named_variables().items()})


def _assert_unchanged(module, snapshot):
    attributes, values = snapshot
    for m in (module, *module.submodules()):
        now = vars(m)
        assert set(now) == set(attributes[id(m)])
        for key, value in attributes[id(m)].items():
            if key != "seen":
                assert now[key] is value, (type(m).__name__, key)
    for k, v in module.named_variables().items():
        np.testing.assert_array_equal(v.numpy(), values[k])


def _new_values(module):
    return {k: xg.asarray(RNG.uniform(0.5, 1.5, size=v.shape) if k.endswith("running_var")
                          else RNG.normal(size=v.shape))
            for k, v in module.named_variables().items() if v.dtype.is_floating}


def test_variables_in_lists_tuples_dicts_are_replaced_and_the_containers_kept():
    m = Holders()
    x = xg.asarray(RNG.normal(size=2))
    snapshot = _snapshot(m)
    listed, paired = m.listed, m.paired
    params = _new_values(m)
    assert len(params) == 7
    got = xg.nn.functional_call(m, params, (x,), strict=True)
    assert m.seen is not listed and m.listed is listed and m.paired is paired
    assert all(isinstance(v, xg.Variable) for v in listed)      # the list itself untouched
    clone = copy.deepcopy(m)
    for k, v in clone.named_variables().items():
        v.assign(params[k])
    np.testing.assert_allclose(got.numpy(), clone(x).numpy(), rtol=1e-12)
    _assert_unchanged(m, snapshot)


def _zoo():
    """(module, input) pairs: the layers whose Variables the call must find."""
    e = xg.nn.Embedding(7, 4, dtype=F64, rng=0)
    tied = xg.nn.Linear(4, 7, dtype=F64, rng=1)
    tied.weight = e.weight
    batch_norm = xg.nn.BatchNorm2d(3, dtype=F64).eval()
    return {
        "linear": (xg.nn.Linear(3, 2, dtype=F64, rng=0), RNG.normal(size=(4, 3))),
        "conv1d": (xg.nn.Conv1d(2, 3, 3, dtype=F64, rng=0), RNG.normal(size=(2, 2, 8))),
        "conv_transpose2d": (xg.nn.ConvTranspose2d(2, 3, 3, dtype=F64, rng=0),
                             RNG.normal(size=(1, 2, 4, 4))),
        "batch_norm2d_eval": (batch_norm, RNG.normal(size=(2, 3, 4, 4))),
        "layer_norm": (xg.nn.LayerNorm(3, dtype=F64), RNG.normal(size=(2, 3))),
        "group_norm": (xg.nn.GroupNorm(2, 4, dtype=F64), RNG.normal(size=(2, 4, 3))),
        "gru": (xg.nn.GRU(3, 4, dtype=F64, rng=0), RNG.normal(size=(2, 5, 3))),
        "rnn_bidirectional": (xg.nn.RNN(3, 4, bidirectional=True, dtype=F64, rng=0),
                              RNG.normal(size=(2, 5, 3))),
        "multihead_attention": (xg.nn.MultiheadAttention(4, 2, dtype=F64, rng=0),
                                RNG.normal(size=(3, 2, 4))),
        "transformer_encoder": (xg.nn.TransformerEncoderLayer(4, 2, dim_feedforward=8,
                                                              dropout=0.0, dtype=F64,
                                                              rng=0).eval(),
                                RNG.normal(size=(3, 2, 4))),
        "tied_embedding_and_linear": (xg.nn.Sequential([e, tied]),
                                      RNG.integers(0, 7, size=(2, 3))),
    }


def _run(module, x):
    if isinstance(module, xg.nn.MultiheadAttention):
        return module(x, x, x)[0]
    out = module(x)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", list(_zoo()))
def test_each_layer_computes_what_a_copy_holding_the_values_does(name):
    module, x = _zoo()[name]
    x = xg.asarray(x)
    snapshot = _snapshot(module)
    params = _new_values(module)
    got = xg.nn.functional_call(module, params, (x, x, x)) if isinstance(
        module, xg.nn.MultiheadAttention) else xg.nn.functional_call(module, params, (x,))
    got = got[0] if isinstance(got, tuple) else got
    np.testing.assert_allclose(got.numpy(), _run(_assigned(module, params), x).numpy(),
                               rtol=1e-10, atol=1e-12)
    _assert_unchanged(module, snapshot)


def _assigned(module, params):
    clone = copy.deepcopy(module)
    own = clone.named_variables()
    for k, v in params.items():
        own[k].assign(v)
    return clone


def test_tied_weights_take_one_tensor_and_tie_weights_false_says_why_it_cannot():
    module, x = _zoo()["tied_embedding_and_linear"]
    assert list(module.named_variables()) == ["sequential/embedding0/weight",
                                              "sequential/linear1/b"]
    weight = xg.asarray(RNG.normal(size=(7, 4)))
    with pytest.raises(NotImplementedError, match="sequential/embedding0/weight"):
        xg.nn.functional_call(module, {"sequential/embedding0/weight": weight}, (x,),
                              tie_weights=False)
    # what is not tied runs as with tie_weights=True
    b = xg.asarray(RNG.normal(size=7))
    np.testing.assert_array_equal(
        xg.nn.functional_call(module, {"sequential/linear1/b": b}, (x,),
                              tie_weights=False).numpy(),
        xg.nn.functional_call(module, {"sequential/linear1/b": b}, (x,)).numpy())


def test_the_module_is_restored_when_the_forward_raises():
    model = xg.nn.MLP([3, 4, 2], rng=0)
    snapshot = _snapshot(model)
    params = {k: xg.asarray(v.numpy() + 1) for k, v in model.named_variables().items()}
    with pytest.raises(ValueError, match="in_features=3"):
        xg.nn.functional_call(model, params, (xg.ones((2, 5)),))
    _assert_unchanged(model, snapshot)


class SelfNesting(xg.nn.Module):
    """A forward that calls functional_call on itself (``inner``) or on its layer
    (``layer_values``), then reads its layer again."""

    def __init__(self):
        super().__init__(name="nest")
        self.linear = xg.nn.Linear(3, 2, dtype=F64, rng=0)

    def forward(self, x, inner=None, layer_values=None):
        out = self.linear(x)
        if inner is not None:
            out = out + xg.nn.functional_call(self, inner, (x,))
        if layer_values is not None:
            out = out + xg.nn.functional_call(self.linear, layer_values, (x,))
        return out * self.linear(x)


def _torch_self_nesting(module, torch):
    class TorchNesting(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 2, dtype=torch.float64)

        def forward(self, x, inner=None, layer_values=None):
            out = self.linear(x)
            if inner is not None:
                out = out + torch.func.functional_call(self, inner, (x,))
            if layer_values is not None:
                out = out + torch.func.functional_call(self.linear, layer_values, (x,))
            return out * self.linear(x)

    twin = TorchNesting()
    with torch.no_grad():
        twin.linear.weight.copy_(torch.tensor(module.linear.w.numpy().T))
        twin.linear.bias.copy_(torch.tensor(module.linear.b.numpy()))
    return twin


def test_a_call_nested_in_the_modules_own_forward_matches_torch_func():
    """Inside an outer call's forward the module's paths held plain tensors, so a nested call
    on the module (or its layer) found no Variables: 'are no Variables of this ...'."""
    torch = pytest.importorskip("torch")
    module = SelfNesting()
    twin = _torch_self_nesting(module, torch)
    snapshot = _snapshot(module)
    x = RNG.normal(size=(4, 3))
    outer = {"nest/linear/w": RNG.normal(size=(3, 2)), "nest/linear/b": RNG.normal(size=2)}
    inner = {"nest/linear/w": RNG.normal(size=(3, 2))}         # b: the outer call's
    layer = {"linear/b": RNG.normal(size=2)}                     # w: the outer call's
    torch_names = {"nest/linear/w": "linear.weight", "nest/linear/b": "linear.bias",
                   "linear/b": "bias"}

    def torch_dict(values):
        return {torch_names[k]: torch.tensor(v.T if k.endswith("/w") else v,
                                             requires_grad=True) for k, v in values.items()}

    t_outer, t_inner, t_layer = torch_dict(outer), torch_dict(inner), torch_dict(layer)
    t_out = torch.func.functional_call(twin, t_outer, (torch.tensor(x),),
                                       {"inner": t_inner, "layer_values": t_layer})
    t_out.sum().backward()
    trees = [{k: xg.asarray(v) for k, v in values.items()} for values in (outer, inner, layer)]
    with xg.GradientTape() as tape:
        tape.watch(trees)
        out = xg.nn.functional_call(module, trees[0], (xg.asarray(x),),
                                    {"inner": trees[1], "layer_values": trees[2]})
        total = xg.sum(out)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-13)
    grads = tape.gradient(total, trees)
    for got, want in zip(grads, (t_outer, t_inner, t_layer)):
        for k, g in got.items():
            expected = want[torch_names[k]].grad.numpy()
            np.testing.assert_allclose(g.numpy(), expected.T if k.endswith("/w") else expected,
                                       rtol=1e-12)
    _assert_unchanged(module, snapshot)
    with pytest.raises(ValueError, match=r"parameters\['nest/linear/w'\] has shape \(2, 2\)"):
        xg.nn.functional_call(module, trees[0], (xg.asarray(x),),
                              {"inner": {"nest/linear/w": xg.ones((2, 2), dtype=F64)}})
    _assert_unchanged(module, snapshot)
    assert xg.nn.functional_call(module, trees[0], (xg.asarray(x),)).shape == (4, 2)


def test_threads_calling_at_once_each_get_their_own_values_and_leave_the_module():
    model = xg.nn.MLP([3, 8, 2], dtype=F64, rng=0)
    x = xg.asarray(RNG.normal(size=(4, 3)))
    snapshot = _snapshot(model)
    sets = [_new_values(model) for _ in range(4)]
    wants = [_assigned(model, p)(x).numpy() for p in sets]
    failures = []

    def work(i):
        try:
            for _ in range(150):
                got = xg.nn.functional_call(model, sets[i], (x,)).numpy()
                if not np.allclose(got, wants[i], rtol=1e-12):
                    failures.append(i)
        except Exception as e:          # noqa: BLE001 (a thread's error fails the test)
            failures.append(repr(e))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)          # switch threads often: mid-swap too
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    _assert_unchanged(model, snapshot)


def test_a_plain_tensor_for_a_buffer_the_forward_updates_is_refused_by_name():
    bn = xg.nn.BatchNorm1d(3, dtype=F64)            # training mode updates running_mean
    snapshot = _snapshot(bn)
    with pytest.raises(TypeError, match="'batch_norm/running_mean'.*xg.Variable"):
        xg.nn.functional_call(bn, {"batch_norm/running_mean": xg.zeros(3, dtype=F64)},
                              (xg.asarray(RNG.normal(size=(4, 3))),))
    _assert_unchanged(bn, snapshot)


MODEL_PATHS = "mlp/linear0/w"


@pytest.mark.parametrize("parameters, kwargs, error, match", [
    ({"mlp/linear9/w": xg.zeros((3, 4))}, {}, ValueError, r"\['mlp/linear9/w'\] are no"),
    ({"0.weight": xg.zeros((4, 3))}, {}, ValueError, "PyTorch's keys"),
    ({MODEL_PATHS: xg.zeros((4, 3))}, {}, ValueError,
     r"parameters\['mlp/linear0/w'\] has shape \(4, 3\), the module's Variable \(3, 4\)"),
    ({MODEL_PATHS: xg.zeros((3, 4), dtype=F64)}, {}, TypeError,
     r"parameters\['mlp/linear0/w'\] is float64"),
    ({MODEL_PATHS: "weights"}, {}, TypeError, r"parameters\['mlp/linear0/w'\] must be a tensor"),
    ({MODEL_PATHS: xg.zeros((3, 4))}, {"strict": True}, ValueError,
     r"strict=True and parameters lack \['mlp/linear0/b'"),
    (({MODEL_PATHS: xg.zeros((3, 4))}, {MODEL_PATHS: xg.zeros((3, 4))}), {}, ValueError,
     "more than one dict"),
    ([("mlp/linear0/w", xg.zeros((3, 4)))], {}, TypeError, "parameters must be a dict"),
    ({}, {"strict": "yes"}, TypeError, "strict"),
    ({}, {"kwargs": [1]}, TypeError, "kwargs must be a dict"),
], ids=["unknown", "torch-keys", "shape", "dtype", "not-a-tensor", "strict", "twice",
        "pairs", "strict-flag", "kwargs"])
def test_bad_input_is_refused_naming_it_and_changes_nothing(parameters, kwargs, error, match):
    model = xg.nn.MLP([3, 4, 2], rng=0)
    snapshot = _snapshot(model)
    with pytest.raises(error, match=match):
        xg.nn.functional_call(model, parameters, (xg.ones((2, 3)),), **kwargs)
    _assert_unchanged(model, snapshot)


def test_not_a_module_is_refused():
    with pytest.raises(TypeError, match="module must be an xg.nn.Module, got function"):
        xg.nn.functional_call(lambda x: x, {}, (xg.ones(2),))


@pytest.mark.parametrize("modules, error, match", [
    ([], ValueError, "modules is empty"),
    (xg.nn.Linear(2, 3, rng=0), TypeError, "must be a list"),
    ([xg.nn.Linear(2, 3, rng=0), xg.nn.ReLU()], TypeError, r"modules\[1\] is a ReLU"),
    ([xg.nn.Linear(2, 3, rng=0), xg.nn.Linear(2, 4, rng=0)], ValueError,
     r"'linear/w' of modules\[1\] is float32 \(2, 4\)"),
    ([xg.nn.Linear(2, 3, rng=0), xg.nn.Linear(2, 3, rng=0, name="other")], ValueError,
     "the same paths"),
    ([xg.nn.Linear(2, 3, rng=0), 3], TypeError, r"modules\[1\] is a int"),
], ids=["empty", "one-module", "classes", "shapes", "names", "not-a-module"])
def test_stack_module_state_refuses_unlike_modules(modules, error, match):
    with pytest.raises(error, match=match):
        xg.nn.stack_module_state(modules)
