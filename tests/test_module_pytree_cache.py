"""Module pytrees without the bookkeeping (xpgrad/nn/module_walks.py, module_rebuild.py,
xpgrad/jit/module_key.py): a module's walk is cached and checked by identity, so every change
a walk could see (an attribute set, a layer appended, a list changed in place, eval(), a
frozen layer) gives the leaves an uncached walk gives (named_variables, walked on its own); a
copy shares no mutable attribute with its original and gets its walk and xg.function key at
once, and a change of the copy is seen; a model walked and dropped is freed; xg.function's
replay takes the tensors its signature found, in gather's order. Gradients after changes
against finite differences (float64)."""
from __future__ import annotations

import copy
import dataclasses
import gc
import weakref
from collections import namedtuple

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.arguments import gather
from xpgrad.nn import module_walks

F64 = xg.float64
RNG = np.random.default_rng(3)


def _leaves_match_named_variables(model):
    got = xg.tree_leaves(model)
    want = list(model.named_variables().values())
    assert len(got) == len(want) and all(a is b for a, b in zip(got, want))


def _mlp():
    return xg.nn.MLP([3, 4, 2], dtype=F64, rng=0)


def _append_layer(m):
    m.layers.append(xg.nn.Linear(2, 2, dtype=F64, rng=9))


def _replace_weight(m):
    m.layers[0].w = xg.Variable(np.ones((3, 4)), dtype=F64)


def _new_attribute(m):
    m.extra = xg.nn.Linear(2, 1, dtype=F64, rng=5)


def _drop_bias(m):
    m.layers[1].b = None


def _list_of_layers_in_a_dict(m):
    m.heads = {"a": xg.nn.Linear(2, 2, dtype=F64, rng=1)}
    xg.tree_leaves(m)
    m.heads["b"] = xg.nn.Linear(2, 2, dtype=F64, rng=2)        # in place, after a walk


@pytest.mark.parametrize("change", [_append_layer, _replace_weight, _new_attribute, _drop_bias,
                                    _list_of_layers_in_a_dict])
def test_a_change_after_a_cached_walk_is_seen(change):
    model = _mlp()
    _leaves_match_named_variables(model)
    assert module_walks.walked(model, None, module_walks.KINDS) is \
        module_walks.walked(model, None, module_walks.KINDS)          # cached, as it stands
    change(model)
    _leaves_match_named_variables(model)


def test_container_modules_changed_after_a_walk():
    blocks = xg.nn.ModuleList([xg.nn.Linear(2, 2, rng=0)])
    heads = xg.nn.ModuleDict({"a": xg.nn.Linear(2, 1, rng=1)})
    model = xg.nn.Sequential(xg.nn.Linear(2, 2, rng=2))
    model.blocks, model.heads = blocks, heads
    _leaves_match_named_variables(model)
    blocks.append(xg.nn.Linear(2, 2, rng=3))
    heads["b"] = xg.nn.Linear(2, 1, rng=4)
    _leaves_match_named_variables(model)
    del blocks[0]
    _leaves_match_named_variables(model)


def test_a_rebuilt_copy_changed_before_its_first_walk_is_walked_anew():
    new = xg.tree_map(lambda p: p * 2.0, _mlp())          # its walk comes with it
    new.layers.append(xg.nn.Linear(2, 2, dtype=F64, rng=9))
    assert len(xg.tree_leaves(new)) == 6
    assert xg.tree_leaves(new)[4] is new.layers[2].w


def test_a_copy_shares_only_what_deepcopy_shares_and_generators():
    layer = xg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, rng=0)
    for model in (layer, _mlp()):
        new = xg.tree_map(lambda p: p + 0.0, model)
        # what copy.deepcopy copies (lists, tensors; not numbers, strings, functions, dtypes,
        # backends) the copy has its own of; a random generator is the stream both draw from
        copied_by_deepcopy = {id(v) for m in (model, *model.submodules())
                              for v in vars(m).values()
                              if copy.deepcopy(v) is not v and not isinstance(
                                  v, xg.random.Generator)}
        held_by_copy = {id(v) for m in (new, *new.submodules()) for v in vars(m).values()}
        assert copied_by_deepcopy and not copied_by_deepcopy & held_by_copy
        assert [type(m) for m in new.submodules()] == [type(m) for m in model.submodules()]
    # one generator drives the layer's dropouts and attention: the copy draws from it too
    new = xg.tree_map(lambda p: p + 0.0, layer)
    assert new._rng is new.self_attn._rng and new._rng is layer._rng
    assert copy.deepcopy(layer)._rng is not layer._rng        # a deep copy has its own


def test_tied_weights_stay_tied_through_cached_walks_and_copies():
    model = xg.nn.Sequential(xg.nn.Linear(3, 3, rng=0), xg.nn.Tanh(), xg.nn.Linear(3, 3, rng=1))
    model.layers[2].w = model.layers[0].w
    first = xg.tree_map(lambda p: p * 1.0, model)
    second = xg.tree_map(lambda p: p * 1.0, first)          # from first's cached walk
    for m in (first, second):
        assert m.layers[0].w is m.layers[2].w and len(xg.tree_leaves(m)) == 3


def test_a_frozen_layer_or_weight_set_after_a_cached_walk_gets_none():
    model = _mlp()
    x = xg.asarray(RNG.normal(size=(4, 3)))

    def loss(m, x):
        return xg.sum(m(x) ** 2)

    xg.grad(loss)(model, x)
    model.layers[0].trainable = False
    grads = xg.grad(loss)(model, x)
    assert grads.layers[0].w is None and grads.layers[0].b is None
    assert grads.layers[1].w is not None
    model.layers[0].trainable = True
    model.layers[1].b.trainable = False
    grads = xg.grad(loss)(model, x)
    assert grads.layers[0].w is not None and grads.layers[1].b is None


def test_the_gradient_after_a_change_matches_finite_differences():
    model = _mlp()
    x = xg.asarray(RNG.normal(size=(5, 3)))

    def loss(m, x):
        return xg.sum(xg.tanh(m(x)) ** 2)

    xg.grad(loss)(model, x)                       # walked and cached before the change
    _append_layer(model)
    grads = xg.grad(loss)(model, x)
    assert len(xg.tree_leaves(grads)) == 6
    eps = 1e-6
    for v, g in zip(model.variables, xg.tree_leaves(grads)):
        flat, want = v.numpy().ravel(), np.zeros(v.size)
        for k in range(v.size):
            for sign in (1, -1):
                bumped = flat.copy()
                bumped[k] += sign * eps
                v.assign(bumped.reshape(v.shape))
                want[k] += sign * loss(model, x).item() / (2 * eps)
            v.assign(flat.reshape(v.shape))
        np.testing.assert_allclose(g.numpy().ravel(), want, rtol=1e-6, atol=1e-8)


def test_a_module_holding_a_placeholder_is_refused_by_grad_naming_the_place():
    _, unravel = xg.ravel_pytree(xg.nn.Linear(2, 1, rng=0))
    skeleton = unravel._skeleton
    with pytest.raises(TypeError, match=r"argument 0\.w \(Placeholder"):
        xg.grad(lambda m: xg.sum(m.w))(skeleton)


class _Copies(xg.nn.Module):
    """A module that copies itself its own way: its copy resets ``calls``."""

    def __init__(self):
        super().__init__()
        self.w = xg.Variable([1.0, 2.0])
        self.calls = 0

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in vars(self).items():
            vars(new)[key] = copy.deepcopy(value, memo)
        vars(new)["calls"] = 0
        return new

    def forward(self, x):
        return self.w * x


def test_a_module_with_its_own_deepcopy_is_copied_by_it():
    m = _Copies()
    m.calls = 5
    outer = xg.nn.Sequential(m)
    new = xg.tree_map(lambda p: p * 3.0, outer)
    assert new.layers[0].calls == 0 and m.calls == 5
    assert new.layers[0].w.tolist() == [3.0, 6.0] and m.w.tolist() == [1.0, 2.0]
    _leaves_match_structure = xg.tree_leaves(new)
    assert len(_leaves_match_structure) == 1


def test_a_model_walked_rebuilt_and_dropped_is_freed():
    before = len(module_walks._ENTRIES)
    model = _mlp()
    ref = weakref.ref(model)
    copies = [xg.tree_map(lambda p: p * 1.0, model) for _ in range(3)]
    copy_refs = [weakref.ref(c) for c in copies]
    xg.grad(lambda m: xg.sum(m(xg.ones((1, 3), dtype=F64))))(model)
    del model, copies
    gc.collect()
    assert ref() is None and all(r() is None for r in copy_refs)
    assert len(module_walks._ENTRIES) <= before


@dataclasses.dataclass
class _Config:
    scale: float


class _Scaled(xg.nn.Module):
    def __init__(self, scale, config=None):
        super().__init__()
        self.lin = xg.nn.Linear(2, 2, dtype=F64, rng=0)
        self.scale, self.config = scale, config

    def forward(self, x):
        factor = self.scale if self.config is None else self.config.scale
        return self.lin(x) * factor


@pytest.mark.parametrize("with_config", [False, True], ids=["attribute", "dataclass"])
def test_a_replayed_model_changed_in_place_is_keyed_anew(with_config):
    x = xg.asarray(RNG.normal(size=(3, 2)))
    runs = []

    def step(m, x):
        runs.append(1)
        return xg.tree_map(lambda p: p * 1.0, m), m(x)

    traced = xg.function(step)
    model = xg.tree_map(lambda p: p * 1.0,
                        _Scaled(2.0, _Config(2.0) if with_config else None))
    for _ in range(3):
        model, out = traced(model, x)
    traces = len(runs)
    np.testing.assert_allclose(out.numpy(), step(model, x)[1].numpy(), rtol=1e-12)
    if with_config:
        model.config.scale = 5.0            # in place: keyed by value, not kept
    else:
        model.scale = 5.0
    model, out = traced(model, x)
    assert len(runs) > traces + 1           # traced anew (and the eager check above)
    np.testing.assert_allclose(out.numpy(), model.lin(x).numpy() * 5.0, rtol=1e-12)


def test_a_replayed_model_with_submodules_of_many_kinds_replays_and_matches_eager():
    model = xg.nn.Sequential(xg.nn.Linear(3, 4, dtype=F64, rng=0), xg.nn.Dropout(0.5),
                             xg.nn.LayerNorm(4, dtype=F64), xg.nn.Linear(4, 1, dtype=F64, rng=1))
    x = xg.asarray(RNG.normal(size=(5, 3)))
    runs = []

    def step(m, x):
        runs.append(1)
        value, grads = xg.value_and_grad(lambda m, x: xg.sum(m(x) ** 2))(m, x)
        return value, xg.tree_map(lambda p, g: p - 0.01 * g, m, grads)

    traced = xg.function(step)
    m_traced = m_eager = xg.tree_map(lambda p: p * 1.0, model.eval())
    for _ in range(5):
        v_traced, m_traced = traced(m_traced, x)
        v_eager, m_eager = step(m_eager, x)
        np.testing.assert_allclose(v_traced.item(), v_eager.item(), rtol=1e-12)
    assert len(runs) - 5 <= 2           # one structure: replayed, not traced each call
    for a, b in zip(xg.tree_leaves(m_traced), xg.tree_leaves(m_eager)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_the_signature_finds_the_tensors_a_replay_gathers_in_its_order():
    Pair = namedtuple("Pair", "a b")
    model = xg.tree_map(lambda p: p * 1.0, xg.nn.MLP([2, 3, 1], rng=0))
    t = [xg.asarray(RNG.normal(size=(2,))) for _ in range(4)]
    args = (model, {"k": t[0], "v": xg.Variable([1.0])}, Pair(t[1], [t[2], 3.0]), t[3])
    fn = xg.function(lambda *a, **k: a[0])
    _, _, tensors = fn._key_and_tensors(args, {"kw": t[0]})
    gathered = []
    gather(args, gathered)
    gather({"kw": t[0]}, gathered)
    assert len(tensors) == len(gathered) == 4 + 4 + 1
    assert all(a._data is b for a, b in zip(tensors, gathered))
