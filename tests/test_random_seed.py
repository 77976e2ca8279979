"""``xg.random.seed(n)``: the Generators made without a seed (layer inits, ``Dropout`` without
``rng=``, ``xg.random.default_rng()``) take their seeds from it, so a script repeats run after
run; ``seed(None)`` is fresh entropy again. It composes with ``xg.recompute_grad`` (which
replays the seeds its first run took) and ``xg.function`` (replays draw on), and the suite's
own per-test seeding (``tests/seeded_tests.py``) is checked here too."""
from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest

import xpgrad as xg
from seeded_tests import seed_of


def _draws():
    """Everything a script draws without naming a generator, as NumPy arrays."""
    x = xg.ones((4, 3, 5, 5))
    out = {
        "linear": xg.nn.Linear(3, 2).w,
        "lstm": xg.nn.LSTM(3, 4).state_dict()["lstm/cell0/w_hh"],
        "conv": xg.nn.Conv2d(3, 2, 3).weight,
        "dropout_layer": xg.nn.Dropout(0.5)(x),
        "dropout_function": xg.nn.dropout(x, 0.5),
        "normal": xg.random.default_rng().normal(size=6),
    }
    out["shuffle"] = np.concatenate(xg.data.batches(10, 3, xg.random.default_rng()))
    return {name: np.asarray(value) for name, value in out.items()}


def _seeded_draws(seed):
    xg.random.seed(seed)
    return _draws()


def test_the_same_seed_gives_the_same_inits_masks_and_shuffles():
    first, again = _seeded_draws(3), _seeded_draws(3)
    for name, value in first.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)


def test_different_seeds_and_later_generators_differ():
    first, other = _seeded_draws(3), _seeded_draws(4)
    for name, value in first.items():
        assert not np.array_equal(other[name], value), name
    xg.random.seed(3)
    a, b = xg.random.default_rng(), xg.random.default_rng()
    assert not np.array_equal(a.normal(size=8).numpy(), b.normal(size=8).numpy())


def test_seed_none_returns_to_fresh_entropy():
    xg.random.seed(3)
    xg.random.seed(None)
    assert xg.random.get_state() is None
    first, again = _draws(), _draws()
    for name in ("linear", "conv", "normal"):
        assert not np.array_equal(first[name], again[name]), name


def test_a_seeded_generator_ignores_the_global_seed():
    xg.random.seed(1)
    a = xg.random.default_rng(0).normal(size=4).numpy()
    xg.random.seed(2)
    np.testing.assert_array_equal(xg.random.default_rng(0).normal(size=4).numpy(), a)


@pytest.mark.parametrize("backend", [name for name, info in xg.available_backends().items()
                                     if info["available"] and info["device"] == "cpu"])
def test_every_backend_draws_numpys_numbers_for_the_seed(backend):
    xg.random.seed(11)
    ours = xg.random.default_rng(backend=backend).normal(size=5, dtype=xg.float64).numpy()
    xg.random.seed(11)
    numpy = xg.random.default_rng(backend="numpy").normal(size=5, dtype=xg.float64).numpy()
    np.testing.assert_array_equal(ours, numpy)
    state = np.random.SeedSequence(11).spawn(1)[0].generate_state(4)
    expected = np.random.default_rng(int.from_bytes(state.tobytes(), "little"))
    np.testing.assert_array_equal(ours, expected.standard_normal(5))


def _dropout_run(checkpointed):
    """A seeded run: a block that makes its own generator (Dropout without rng=), its
    gradient, and the next generator made without a seed."""
    xg.random.seed(5)
    w = xg.Variable(np.linspace(-1.0, 1.0, 12).reshape(3, 4))
    x = xg.asarray(np.arange(6.0).reshape(2, 3))

    def block(x):
        return xg.nn.Dropout(0.5)(xg.tanh(x @ w))

    wrapped = xg.recompute_grad(block) if checkpointed else block
    with xg.GradientTape() as tape:
        loss = xg.sum(wrapped(x) ** 2)
    grad = tape.gradient(loss, w)
    return loss.numpy(), grad.numpy(), xg.random.default_rng().normal(size=3).numpy()


def test_recompute_grad_replays_the_seeds_it_took_and_takes_no_more():
    plain, remat = _dropout_run(False), _dropout_run(True)
    for a, b in zip(plain, remat):
        np.testing.assert_array_equal(b, a)


def test_function_replays_draw_on_and_repeat_under_the_seed():
    def run():
        xg.random.seed(8)
        drop = xg.nn.Dropout(0.5)
        step = xg.function(lambda x: drop(x))
        return [step(xg.ones(16)).numpy() for _ in range(3)]

    first, again = run(), run()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(b, a)
    assert not np.array_equal(first[1], first[2])     # each replay draws fresh numbers


def test_get_state_and_set_state_resume_the_seed():
    xg.random.seed(9)
    xg.random.default_rng()
    state = json.loads(json.dumps(xg.random.get_state()))
    after = [xg.nn.Linear(3, 3).w.numpy() for _ in range(2)]
    xg.random.seed(1)
    xg.random.set_state(state)
    np.testing.assert_array_equal(xg.nn.Linear(3, 3).w.numpy(), after[0])
    xg.random.set_state(None)
    assert xg.random.get_state() is None


@pytest.mark.parametrize("bad, error", [("seed", TypeError), ({"entropy": 1}, ValueError),
                                        ({"entropy": -1, "spawn_key": [], "children": 0},
                                         ValueError)])
def test_set_state_refuses_what_get_state_did_not_give(bad, error):
    xg.random.seed(2)
    with pytest.raises(error, match="set_state: state"):
        xg.random.set_state(bad)
    assert xg.random.get_state()["entropy"] == 2          # left as it was


@pytest.mark.parametrize("bad, error", [("0", TypeError), (1.0, TypeError), (True, TypeError),
                                        (-1, ValueError)])
def test_a_bad_seed_is_refused_naming_it(bad, error):
    with pytest.raises(error, match=r"xg\.random\.seed: seed must be"):
        xg.random.seed(bad)


def test_threads_making_generators_at_once_get_distinct_children():
    xg.random.seed(6)
    expected = {xg.random.default_rng().integers(0, 2**62).item() for _ in range(16)}
    xg.random.seed(6)
    drawn, start = [], threading.Barrier(16)

    def make():
        start.wait()
        drawn.append(xg.random.default_rng().integers(0, 2**62).item())

    threads = [threading.Thread(target=make) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(drawn) == sorted(expected)


@pytest.mark.parametrize("namespace, name", [(xg, "manual_seed"), (xg, "seed"),
                                             (xg, "set_random_seed"),
                                             (xg.random, "set_seed"), (xg.random, "manual_seed")])
def test_other_libraries_names_point_at_seed(namespace, name):
    with pytest.raises(AttributeError, match=r"xg\.random\.seed\(n\)"):
        getattr(namespace, name)


def test_the_suite_seeds_each_test_from_its_id(request):
    seed = seed_of(request.node.nodeid)
    assert xg.random.get_state() == {"entropy": seed, "spawn_key": [], "children": 0}
    assert np.random.random() == np.random.RandomState(seed).random()
    assert random.random() == random.Random(seed).random()


def test_twin_models_built_under_one_seed_draw_the_same_masks_whenever_each_runs():
    """A Dropout made without rng= takes its seed when made, as a layer's init does: two
    models built one after the other under the same seed are twins, even though the first
    one runs only after the second was built (before 2026-12-07 the generator was taken on
    the first forward, from wherever the global sequence had got to by then)."""
    def build():
        xg.random.seed(5)
        return xg.nn.Sequential(xg.nn.Linear(4, 8), xg.nn.Dropout(0.5), xg.nn.Linear(8, 2))

    first, second = build(), build()
    x = xg.ones((16, 4))
    xg.random.default_rng().normal(size=3)      # a draw between building and running
    a, b = first(x).numpy(), second(x).numpy()
    np.testing.assert_array_equal(b, a)
    assert not np.array_equal(first(x).numpy(), a)      # each forward draws a new mask
