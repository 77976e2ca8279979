"""The compiled copy of a module with a cached walk (xpgrad/nn/module_copy_plan.py) makes what
module_rebuild.copied makes: the same classes, atoms and random generators shared, leaves from
the memo, every other mutable object copied once (tied modules stay tied), the same objects
left to copy.deepcopy, the same records of the copy; a change the walk sees makes a new plan; gradients through the planned
copies match finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn.module_cache import Holder
from xpgrad.nn.module_copy_plan import compiled, plan_of
from xpgrad.nn.module_rebuild import _ATOMS, copied
from xpgrad.nn.module_walks import KINDS, walked
from xpgrad.snapshots import ITEMS, MAPPING, STATE, copies_recorded, recorded, unchanged

F64 = xg.float64


class _Holder(xg.nn.Module):
    """Private containers (not walked), a back-reference, a tuple and an array."""

    def __init__(self):
        super().__init__()
        self.inner = xg.nn.Linear(2, 2, rng=0)
        self.blocks = [self.inner, {"again": self.inner, "n": 3}]
        self._cache = [1, [2]]
        self._parent_of_inner = self
        self.pair = (self.inner, 4)
        self.table = np.arange(3.0)
        self.gen = xg.random.default_rng(0)


def _models():
    tied = xg.nn.Sequential(xg.nn.Linear(3, 3, rng=0), xg.nn.Tanh(), xg.nn.Linear(3, 3, rng=1))
    tied.layers[2].w = tied.layers[0].w
    return {
        "mlp": xg.nn.MLP([3, 5, 2], rng=0),
        "batch_norm": xg.nn.Sequential(xg.nn.Linear(3, 4, rng=0), xg.nn.BatchNorm1d(4)),
        "lstm": xg.nn.LSTM(3, 4, num_layers=2, rng=0),
        "attention": xg.nn.MultiheadAttention(4, 2, rng=0),
        "transformer": xg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, rng=0),
        "module_dict": xg.nn.ModuleDict({"a": xg.nn.Linear(2, 2, rng=0),
                                         "b": xg.nn.LayerNorm(2)}),
        "weight_norm": xg.nn.utils.weight_norm(xg.nn.Linear(3, 2, rng=0)),
        "tied": tied,
        "holder": _Holder(),
    }


def _reachable(obj, found):
    """The ids of the objects ``obj`` holds (through attributes, lists, tuples, dicts)."""
    if id(obj) in found or type(obj) in _ATOMS:
        return found
    found[id(obj)] = obj
    attributes = None if isinstance(obj, type) else getattr(obj, "__dict__", None)
    # (a real dict only: llvmlite's library wrapper, reached through the numba backend,
    # answers any attribute name, __dict__ too, with a function wrapper)
    items = (attributes.values() if isinstance(attributes, dict)
             else obj.values() if isinstance(obj, dict)
             else obj if isinstance(obj, (list, tuple)) else ())
    for item in items:
        _reachable(item, found)
    return found


def _same_copy(a, b, originals, leaves, pairs):
    """Whether copies ``a`` (the plan's) and ``b`` (copied's) are alike: the same atoms,
    leaves and shared objects (``originals``: the ids of what the original holds), new objects
    where copied made new ones, met in the same pattern (``pairs``: the objects paired)."""
    if type(a) is not type(b):
        return False
    if id(a) in pairs or id(b) in pairs.values():
        return pairs.get(id(a)) == id(b)
    pairs[id(a)] = id(b)
    if a is b:                      # shared by both: an atom, a leaf, a generator
        return True
    if id(a) in leaves or id(b) in leaves or id(a) in originals or id(b) in originals:
        return False
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_copy(x, y, originals, leaves, pairs)
                                        for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_copy(a[k], b[k], originals, leaves, pairs)
                                          for k in a)
    if isinstance(a, Holder):       # a copy's cached walks: its own, empty
        return a.entry is None and b.entry is None
    if hasattr(a, "__dict__"):
        return list(vars(a)) == list(vars(b)) and all(
            _same_copy(vars(a)[k], vars(b)[k], originals, leaves, pairs) for k in vars(a))
    return type(a) in _ATOMS


@pytest.mark.parametrize("name", list(_models()))
def test_the_plan_makes_what_copied_makes(name):
    model = _models()[name]
    children = walked(model, None, KINDS)
    new = [xg.asarray(np.ones(c.shape)) for _, c in children]
    memo_plan = {id(c): v for (_, c), v in zip(children, new)}
    memo_copied = dict(memo_plan)
    made_plan, made_copied = [], []
    by_plan = compiled(model, children)(memo_plan, made_plan)
    by_copied = copied(model, memo_copied, made_copied)
    originals = _reachable(model, {})
    assert _same_copy(by_plan, by_copied, originals, {id(v) for v in new}, {})
    assert [type(m) for m in made_plan] == [type(m) for m in made_copied]
    assert len(memo_plan) == len(memo_copied)


def test_a_walk_gets_its_plan_at_the_second_rebuild_and_a_changed_model_a_new_one():
    model = xg.nn.MLP([3, 4, 2], dtype=F64, rng=0)
    kind = xg.pytree._kind(model)
    first = xg.tree_map(lambda p: p * 2.0, model)
    children = kind.children(model, None)
    assert children.plan is None
    second = xg.tree_map(lambda p: p * 2.0, model)
    assert children.plan and children.plan is plan_of(model, children)
    for a, b in zip(xg.tree_leaves(first), xg.tree_leaves(second)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    model.layers.append(xg.nn.Linear(2, 2, dtype=F64, rng=9))      # the walk sees it
    for _ in range(2):
        third = xg.tree_map(lambda p: p * 2.0, model)
    assert kind.children(model, None) is not children
    assert len(third.layers) == 3 and third.layers[2] is not model.layers[2]
    assert len(xg.tree_leaves(third)) == 6


def test_gradients_through_planned_copies_match_finite_differences():
    model = xg.nn.Sequential(xg.nn.Linear(3, 4, dtype=F64, rng=0), xg.nn.Tanh(),
                             xg.nn.Linear(4, 1, dtype=F64, rng=1))
    x = xg.asarray(np.random.default_rng(0).normal(size=(5, 3)))

    def loss(m):
        return xg.sum(m(x) ** 2)

    for _ in range(3):                  # the later calls copy by the plan
        grads = xg.grad(loss)(model)
    assert xg.nn.module_walks.walked(model, None, KINDS).plan
    got = xg.ravel_pytree(grads)[0].numpy()
    flat, unravel = xg.ravel_pytree(model)
    v, eps = flat.numpy(), 1e-6
    want = np.array([(loss(unravel(xg.asarray(v + eps * e))).item()
                      - loss(unravel(xg.asarray(v - eps * e))).item()) / (2 * eps)
                     for e in np.eye(v.size)])
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", list(_models()))
def test_the_plans_records_of_the_copy_are_copies_recordeds(name):
    model = _models()[name]
    children = walked(model, None, KINDS)
    memo = {id(c): xg.asarray(np.ones(c.shape)) for _, c in children}
    plan = compiled(model, children)
    plan(memo, [])
    got, want = plan.record(memo), copies_recorded(children.checks, memo)
    assert len(got) == len(want) == len(children.checks)
    for g, w in zip(got, want):
        assert recorded(g) is recorded(w) and g[1] is w[1]
        if g[1] is ITEMS:                   # (key, item) pairs, made anew by each record
            assert [(k, id(v)) for k, v in g[2]] == [(k, id(v)) for k, v in w[2]]
            continue
        flat = [g[2]] if g[1] is not STATE and g[1] is not MAPPING else list(g[2])
        other = [w[2]] if w[1] is not STATE and w[1] is not MAPPING else list(w[2])
        assert all(len(a) == len(b) and all(x is y for x, y in zip(a, b))
                   for a, b in zip(flat, other))
    assert unchanged(got)


def test_a_copys_walk_gets_no_plan_so_a_model_in_model_out_loop_compiles_nothing():
    model = xg.nn.MLP([3, 4, 2], dtype=F64, rng=0)
    x = xg.ones((2, 3), dtype=F64)
    for step in range(3):               # each step rebuilds its model three times
        grads = xg.grad(lambda m: xg.sum(m(x) ** 2))(model)
        new = xg.tree_map(lambda p, g: p - 0.1 * g, model, grads)
        # the user's model (walked, kept) gets one; the copies do not
        assert bool(walked(model, None, KINDS).plan) == (step == 0)
        model = new


def test_a_model_whose_walk_keeps_changing_stops_getting_plans():
    model = xg.nn.MLP([3, 4, 2], dtype=F64, rng=0)
    plans = []
    for step in range(5):
        model.tag = f"step {step}"              # an attribute set each step: a new walk
        for _ in range(2):
            xg.tree_map(lambda p: p * 1.0, model)
        plans.append(bool(walked(model, None, KINDS).plan))
    assert plans == [True, True, False, False, False]
