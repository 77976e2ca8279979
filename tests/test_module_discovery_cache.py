"""``trainable_variables``, ``variables``, ``non_trainable_variables``, ``named_variables()``
and ``submodules()`` are kept with the module (nn/module_cache.py) and walked again only after
something they depend on changed. Each case changes a model one way and compares every
cached answer with a fresh walk of the tree (module_tree's functions, which the cache calls)
and with the Variables the case expects by identity."""
from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn import module_discovery, module_tree
from xpgrad.nn.module_cache import changed


def _fresh(model):
    """What the walks give without any cache."""
    trainable = module_tree.found_trainable(model)
    named = module_tree.named_found(model)
    return {"trainable_variables": list(trainable), "variables": list(named.values()),
            "non_trainable_variables": [v for v in named.values()
                                        if all(v is not t for t in trainable)],
            "named_variables": named, "submodules": list(module_tree.found_modules(model))}


def _read(model):
    return {"trainable_variables": model.trainable_variables, "variables": model.variables,
            "non_trainable_variables": model.non_trainable_variables,
            "named_variables": model.named_variables(), "submodules": model.submodules()}


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return list(a) == list(b) and _same(list(a.values()), list(b.values()))
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _has(found, variable) -> bool:
    return any(v is variable for v in found)


def _check(model):
    """Every answer, read twice (the second from the cache), is the fresh walk's."""
    for _ in range(3):
        read, fresh = _read(model), _fresh(model)
        for kind in fresh:
            assert _same(read[kind], fresh[kind]), kind
    return read


@pytest.fixture
def walks(monkeypatch):
    """How many times each cached kind was walked."""
    counts = {}

    def counting(kind, fn):
        def walk(module, *args):
            counts[kind] = counts.get(kind, 0) + 1
            return fn(module, *args)
        return walk

    for name in ("found_trainable", "found_variables", "found_modules", "named_found"):
        monkeypatch.setattr(module_discovery, name, counting(name, getattr(module_tree, name)))
    return counts


class Net(xg.nn.Module):
    def __init__(self):
        super().__init__(name="net")
        self.blocks = [xg.nn.Linear(3, 3, rng=0), xg.nn.Linear(3, 3, rng=1)]
        self.heads = {"a": xg.nn.Linear(3, 2, rng=2)}
        self.scale = xg.Variable(np.float64(2.0), name="scale")

    def forward(self, x):
        for block in self.blocks:
            x = xg.tanh(block(x))
        return self.heads["a"](x) * self.scale


def test_a_repeated_read_walks_once_and_returns_a_new_list(walks):
    model = xg.nn.MLP([4, 5, 3], rng=0)
    first = model.trainable_variables
    lists = [model.trainable_variables for _ in range(5)]
    # the first read after a change walks; the second keeps the walk; then none
    assert walks["found_trainable"] == 2
    assert all(_same(one, first) for one in lists)
    assert len({id(one) for one in lists}) == len(lists)       # each a new list
    lists[0].clear()
    lists[1].append("not a variable")
    named = model.named_variables()
    named.pop("mlp/linear0/w")
    model.submodules().clear()
    _check(model)
    assert walks["found_trainable"] == 2


def test_a_training_step_leaves_the_cache_as_it_is(walks):
    models = [xg.nn.MLP([4, 5, 3], rng=0),
              xg.nn.Sequential(xg.nn.Linear(4, 6, rng=0), xg.nn.BatchNorm1d(6),
                               xg.nn.Dropout(0.5), xg.nn.ReLU(), xg.nn.Linear(6, 3, rng=1)),
              Net()]
    x = xg.asarray(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    for model in models:
        model.train()
        opt = xg.optim.Adam(1e-3)
        inputs = x[:, :3] if isinstance(model, Net) else x
        for step in range(4):          # Keras' step: the list read twice
            with xg.GradientTape() as tape:
                loss = xg.sum(model(inputs) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            if step == 0:
                after_first = dict(walks)
        assert walks == after_first, type(model).__name__      # no walk after the first step
        _check(model)


def test_a_layer_appended_to_a_list_or_replaced_in_it_is_seen():
    # layers made first: making a module is a change the version sees (its name is set)
    model, extra, other = (xg.nn.MLP([4, 5, 3], rng=0), xg.nn.Linear(3, 2, rng=3),
                           xg.nn.Linear(4, 5, rng=4))
    _check(model)
    model.layers.append(extra)
    read = _check(model)
    assert _same(read["trainable_variables"][-2:], [extra.w, extra.b])
    model.layers[0] = other                      # same length, another layer
    read = _check(model)
    assert _same(read["trainable_variables"][:2], [other.w, other.b])
    model.layers.pop()
    assert len(_check(model)["trainable_variables"]) == 4


def test_containers_in_containers_and_dicts_changed_in_place_are_seen():
    model = Net()
    b, a, deep, deeper = [xg.nn.Linear(3, 3, rng=i) for i in range(4)]
    _check(model)
    model.heads["b"] = b
    assert "net/heads/b/w" in _check(model)["named_variables"]
    model.heads["a"] = a                                # same key, another layer
    assert _check(model)["named_variables"]["net/heads/a/w"] is a.w
    model.nested = ([{"deep": [deep]}],)
    _check(model)
    model.nested[0][0]["deep"].append(deeper)           # inside a tuple, a list
    assert len(_check(model)["submodules"]) == 6


def test_an_attribute_set_replaced_or_deleted_is_seen():
    model = Net()
    _check(model)
    model.extra = xg.nn.Linear(3, 3, rng=9)
    assert _check(model)["submodules"][-1] is model.extra
    model.scale = xg.Variable(np.float64(3.0), name="scale")
    assert _has(_check(model)["trainable_variables"], model.scale)
    del model.extra
    assert all(m is not model for m in _check(model)["submodules"])
    assert len(_check(model)["submodules"]) == 3
    model.blocks[0].b = None                    # a layer below: the parent sees it
    assert len(_check(model)["trainable_variables"]) == 6      # 2 + 1 + 2 + 1


@pytest.mark.parametrize("freeze", ["variable", "layer", "model"])
def test_freezing_and_unfreezing_is_seen(freeze):
    model = xg.nn.MLP([4, 5, 3], rng=0)
    _check(model)
    target = {"variable": model.layers[1].b, "layer": model.layers[1], "model": model}[freeze]
    target.trainable = False
    read = _check(model)
    expected = {"variable": 3, "layer": 2, "model": 0}[freeze]
    assert len(read["trainable_variables"]) == expected
    assert len(read["non_trainable_variables"]) == 4 - expected
    target.trainable = True
    assert len(_check(model)["trainable_variables"]) == 4


def test_module_containers_and_sequential_edits_are_seen():
    model = xg.nn.Sequential(xg.nn.Linear(2, 3, rng=0), xg.nn.ReLU())
    holder = Net()
    holder.stack = xg.nn.ModuleList([model])
    holder.table = xg.nn.ModuleDict({"x": xg.nn.Linear(2, 2, rng=1)})
    new = [xg.nn.Linear(2, 2, rng=i) for i in range(4)]
    _check(holder)
    model.append(new[0])
    _check(holder)
    model.insert(0, new[1])
    _check(holder)
    del model[1]
    _check(holder)
    holder.stack.append(new[2])
    _check(holder)
    holder.table["y"] = new[3]
    assert "net/table/y/w" in _check(holder)["named_variables"]
    holder.table.pop("x")
    _check(holder)


def test_a_module_shared_by_two_parents_changes_both():
    shared = xg.nn.Linear(3, 3, rng=0)
    first = xg.nn.Sequential(shared, xg.nn.Linear(3, 1, rng=1))
    second = Net()
    second.blocks[1] = shared
    _check(first), _check(second)
    shared.trainable = False
    assert not _has(_check(first)["trainable_variables"], shared.w)
    assert not _has(_check(second)["trainable_variables"], shared.w)
    shared.trainable = True
    shared.extra = xg.Variable(np.ones(2), name="extra")
    assert _has(_check(first)["variables"], shared.extra)
    assert _has(_check(second)["variables"], shared.extra)


def test_a_state_dict_loaded_keeps_the_variables_and_their_new_values():
    model = xg.nn.MLP([4, 5, 3], rng=0)
    before = _check(model)["trainable_variables"]
    source = xg.nn.MLP([4, 5, 3], rng=1)
    model.load_state_dict(source.state_dict())
    after = _check(model)["trainable_variables"]
    assert _same(before, after)                  # assigned in place: the same Variables
    for mine, theirs in zip(after, source.trainable_variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


@pytest.mark.parametrize("how", ["deepcopy", "copy", "pickle", "tree_map"])
def test_a_copy_answers_with_its_own_variables(how):
    model = Net()
    _check(model)
    made = {"deepcopy": copy.deepcopy, "copy": copy.copy,
            "pickle": lambda m: pickle.loads(pickle.dumps(m)),
            "tree_map": lambda m: xg.tree_map(lambda p: xg.Variable(p, name=p.name), m)}[how](model)
    for _ in range(2):                           # read alternately: neither takes the other's
        mine, theirs = _check(model), _check(made)
    if how == "copy":                            # a shallow copy holds the same tree
        assert _same(mine["variables"], theirs["variables"])
        return
    assert not set(map(id, mine["variables"])) & set(map(id, theirs["variables"]))
    assert [v.name for v in mine["variables"]] == [v.name for v in theirs["variables"]]
    another = xg.nn.Linear(3, 3, rng=9)
    _check(made)
    made.blocks.append(another)
    assert len(_check(made)["submodules"]) == len(_check(model)["submodules"]) + 1


def test_functional_call_stand_ins_are_seen_inside_the_forward_and_gone_after():
    model = Net()
    _check(model)
    seen = []

    class Probe(xg.nn.Module):
        def forward(self, x):
            seen.append((model.trainable_variables, _fresh(model)["trainable_variables"]))
            return x

    model.blocks.append(Probe())
    x = xg.asarray(np.ones((2, 3), np.float32))
    xg.nn.functional_call(model, {"net/scale": xg.asarray(np.float64(5.0))}, (x,))
    inside, fresh = seen[0]
    assert _same(inside, fresh) and all(v is not model.scale for v in inside)
    assert _has(_check(model)["trainable_variables"], model.scale)


def test_a_parametrization_added_and_removed_is_seen():
    model = xg.nn.Sequential(xg.nn.Linear(3, 2, rng=0))
    _check(model)
    xg.nn.utils.weight_norm(model[0])
    names = list(_check(model)["named_variables"])
    assert any("original0" in n for n in names) and any("original1" in n for n in names)
    xg.nn.utils.remove_weight_norm(model[0])
    assert sorted(_check(model)["named_variables"]) == ["sequential/linear0/b",
                                                       "sequential/linear0/w"]


def test_a_write_around_setattr_is_seen_after_changed():
    model = xg.nn.Linear(2, 2, rng=0)
    _check(model)
    extra = xg.Variable(np.ones(2), name="extra")
    vars(model)["extra"] = extra
    assert not _has(model.trainable_variables, extra)         # as documented: not seen ...
    changed()
    assert _has(_check(model)["trainable_variables"], extra)  # ... until changed()


def test_a_module_without_a_holder_is_walked_each_time():
    class Bare(xg.nn.Module):
        def __init__(self):            # no super().__init__(): the name set by hand
            self.name = "bare"
            self.lin = xg.nn.Linear(2, 2, rng=0)

    model = Bare()
    _check(model)
    model.lin.b.trainable = False
    assert len(_check(model)["trainable_variables"]) == 1


def test_under_xg_function_a_frozen_layer_retraces():
    model = xg.nn.MLP([3, 4, 1], rng=0)
    x = xg.asarray(np.ones((2, 3), np.float32))
    model.trainable_variables
    traces = []

    @xg.function
    def count(x):
        traces.append(1)
        return xg.asarray(float(len(model.trainable_variables))) + 0.0 * xg.sum(model(x))

    assert [count(x).item() for _ in range(3)] == [4.0] * 3
    traced = len(traces)
    assert count(x).item() == 4.0 and len(traces) == traced        # replayed
    model.layers[0].trainable = False
    assert [count(x).item() for _ in range(3)] == [2.0] * 3
    assert len(traces) > traced                                     # traced anew


def test_threads_reading_while_one_edits_end_with_the_right_lists():
    model = xg.nn.MLP([3, 4, 4, 1], rng=0)
    stop = threading.Event()
    errors = []

    def read():
        try:
            while not stop.is_set():
                found = model.trainable_variables
                # a layer's pair is never split: a list is one state of the tree
                assert len(found) % 2 == 0, found
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for i in range(200):
            if i % 2:
                model.layers.append(xg.nn.Linear(1, 1, rng=i))
            else:
                model.layers[1].trainable = not model.layers[1].trainable
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    _check(model)


def test_bad_reads_name_what_was_read():
    class Forgot(xg.nn.Module):
        def __init__(self):
            self.lin = xg.nn.Linear(2, 2, rng=0)      # no super().__init__()

    with pytest.raises(AttributeError, match="non_trainable_variables"):
        Forgot().non_trainable_variables
    with pytest.raises(TypeError, match="trainable must be True or False"):
        xg.nn.Linear(2, 2, rng=0).w.trainable = "no"
