"""A Python number in a traced step's result that comes from state changing on every call
(``opt.iterations``, ``len(history)``, a counter on an object) is the trace's value on every
replay. Before 2026-12-07 a step returning ``{"loss": loss, "step": opt.iterations}`` gave
steps 1, 2, 2, 2 silently; the eager warm-up call and the trace now differ there, so the trace
warns (``SideEffectWarning``) naming the result's path and the fix. Numbers that are the same
on both calls (a class count, a flag) do not warn."""
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import SideEffectWarning

pytestmark = pytest.mark.usefixtures("numpy_default")


def _adam_step():
    w = xg.Variable([[0.5], [-0.5]], name="w")
    opt = xg.optim.Adam(0.02)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.mean((x @ w - y) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return {"loss": loss, "step": opt.iterations, "classes": 5, "flag": True}
    return step, opt


def _batch():
    return xg.asarray([[1.0, 2.0]]), xg.asarray([[1.0]])


def test_a_step_count_in_the_result_warns_naming_its_path_and_the_fix():
    step, opt = _adam_step()
    compiled = xg.function(step)
    with pytest.warns(SideEffectWarning) as seen:
        steps = [compiled(*_batch())["step"] for _ in range(4)]
    assert steps == [1, 2, 2, 2] and opt.iterations == 4      # the staleness warned about
    told = [str(w.message) for w in seen if "result['step']" in str(w.message)]
    assert len(told) == 1, [str(w.message) for w in seen]
    assert "(1 -> 2)" in told[0] and "xg.Variable" in told[0]
    assert "'classes'" not in told[0] and "'flag'" not in told[0]


def test_numbers_the_same_on_every_call_do_not_warn():
    w = xg.Variable([1.0, 2.0], name="w")

    def step(x):
        return w * x, 10, "mode", 0.5, float("nan")

    compiled = xg.function(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        results = [compiled(xg.asarray([1.0, 1.0])) for _ in range(3)]
    assert compiled.trace_count == 1 and results[-1][1:4] == (10, "mode", 0.5)


def test_a_length_in_a_nested_result_names_its_place():
    history = []

    class Logger:
        count = 0

    logger = Logger()

    def step(x):
        logger.count = logger.count + 1
        return [x * 2.0, {"seen": logger.count}]

    compiled = xg.function(step)
    with pytest.warns(SideEffectWarning) as seen:
        for _ in range(3):
            history.append(compiled(xg.asarray(np.ones(2)))[1]["seen"])
    assert any("result[1]['seen']" in str(w.message) for w in seen)


def test_a_counter_kept_in_a_variable_and_returned_replays_fresh_and_does_not_warn():
    # the fix the warning gives
    steps = xg.Variable(0, dtype=xg.int64, name="steps")

    def step(x):
        steps.assign_add(1)
        return {"out": x * 2.0, "step": xg.asarray(steps, copy=True)}

    compiled = xg.function(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        seen = [int(compiled(xg.asarray(np.ones(2)))["step"].item()) for _ in range(4)]
    assert seen == [1, 2, 3, 4] and compiled.trace_count == 1


HP = {"scale": 2.0}


class Mode:
    name = "a"


def _reads_settings(x):
    return x * HP["scale"], HP["scale"], Mode.name


def test_a_guarded_setting_changed_between_warm_up_and_trace_does_not_warn():
    # HP["scale"] and Mode.name are guards: a replay runs only while they hold the traced
    # values, so the result's copies of them are never stale (it warned 2.0 -> 3.0 before)
    compiled = xg.function(_reads_settings)
    x = xg.asarray(np.array([1.0, -1.0]))
    saved = HP["scale"], Mode.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SideEffectWarning)
            for k in range(6):
                HP["scale"], Mode.name = 2.0 + k, "ab"[k % 2]
                got, want = compiled(x), _reads_settings(x)
                assert got[1:] == want[1:]
                np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
    finally:
        HP["scale"], Mode.name = saved


def test_a_counter_in_a_dict_the_function_sets_still_warns():
    state = {"n": 0}

    def step(x):
        state["n"] += 1
        return x * 2.0, state["n"]

    compiled = xg.function(step)
    with pytest.warns(SideEffectWarning) as seen:
        for _ in range(3):
            compiled(xg.asarray(np.ones(2)))
    assert any("result[1] (1 -> 2)" in str(w.message) for w in seen)
