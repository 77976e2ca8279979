"""A Python number the traced step changes inside a dict or list it reaches (``state["k"] +=
1``, the counter of gradient accumulation across calls written as users write it): replays
run no Python, so the counter stops and a branch on it is baked in (the accumulated gradient
never applied again). Before 2026-12-07 the trace said nothing and the weights parted from the
eager run's silently; now it warns once (``SideEffectWarning``) naming the item and its line,
as it does for a counter in a variable or an attribute."""
import inspect
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import SideEffectWarning


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


def _ones():
    return xg.asarray(np.ones(3))


def test_a_counter_in_a_dict_the_step_sets_warns_naming_it_and_its_line():
    state = {"k": 0}

    def step(x):
        state["k"] += 1
        return x * 2.0

    compiled = xg.function(step)
    with pytest.warns(SideEffectWarning, match=r"set 'state\['k'\]' \(1 -> 2\)") as seen:
        for _ in range(4):
            compiled(_ones())
    assert state["k"] == 2                  # the warm-up call and the trace: not the replays
    assert len(seen) == 1
    assert f"at {__file__}:{_line_of(step, 'state[')}" in str(seen[0].message)


def test_a_counter_in_a_list_held_by_an_object_warns():
    class Trainer:
        def __init__(self):
            self.counts = [0, 0]

        def step(self, x):
            self.counts[1] += 1
            return x * 2.0

    trainer = Trainer()
    with pytest.warns(SideEffectWarning, match=r"set 'counts\[1\]' \(0 -> 1\)"):
        xg.function(trainer.step, warmup=0)(_ones())


def test_gradient_accumulation_gated_by_a_dict_counter_warns_at_the_trace():
    w = xg.Variable(np.ones(3))
    accumulated = xg.Variable(np.zeros(3), trainable=False)
    opt = xg.optim.SGD(0.1)
    state = {"micro": 0}

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum((w * x) ** 2)
        accumulated.assign_add(tape.gradient(loss, w))
        state["micro"] += 1
        if state["micro"] % 2 == 0:
            opt.apply_gradients([(accumulated * 1.0, w)])
            accumulated.assign(xg.zeros_like(accumulated))
        return loss

    with pytest.warns(SideEffectWarning, match=r"'state\['micro'\]'"):
        compiled = xg.function(step)
        compiled(_ones()), compiled(_ones())


def test_numbers_in_a_dict_read_and_not_changed_do_not_warn():
    settings = {"scale": 2.0, "mode": "train", "steps": [1, 2]}

    def step(x):
        return x * settings["scale"]

    compiled = xg.function(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        for _ in range(3):
            compiled(_ones())


def test_a_hyperparameter_in_a_dict_changed_between_calls_traces_anew():
    # before 2026-12-07 the replays went on with the learning rate the trace read
    hyper = {"lr": 0.1, "unread": 1}
    w = xg.Variable(np.ones(3))

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum((w * x) ** 2)
        w.assign_sub(hyper["lr"] * tape.gradient(loss, w))
        return loss

    compiled = xg.function(step)
    eager_w = np.ones(3)
    for k in range(8):
        hyper["lr"] = 0.1 if k < 4 else 0.01
        hyper["unread"] = k
        compiled(_ones())
        eager_w = eager_w - hyper["lr"] * 2 * eager_w
    np.testing.assert_allclose(w.numpy(), eager_w, rtol=1e-12)
    assert compiled.trace_count == 2        # one per rate read; the unread item is no guard

