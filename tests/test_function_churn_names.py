"""The RetracingWarning of a Function meeting a new signature on nearly every call names the
Python number argument whose value changes and the fix (before 2026-12-07 it named neither: a
learning rate from a schedule passed as a float ran every call eagerly)."""
import re

import numpy as np
import pytest

import xpgrad as xg


def _ones():
    return xg.asarray(np.ones(3))


def test_the_churn_warning_names_the_argument_whose_value_changes():
    # a learning rate passed as a Python float from a schedule: a new signature every call
    def step(x, lr):
        return x * lr

    compiled = xg.function(step, retrace_warning=2)
    with pytest.warns(xg.jit.RetracingWarning) as seen:
        for k in range(10):
            compiled(_ones(), 0.1 * 0.9 ** k)
    message = str(seen[0].message)
    assert "'lr'" in message and f"{0.1 * 0.9 ** 6!r} -> {0.1 * 0.9 ** 7!r}" in message
    assert "xg.asarray" in message


def test_the_churn_warning_names_a_guarded_value_not_an_argument():
    # a hyperparameter read from a dict the step reaches, changed before every call: each
    # value is a program of its own, though no argument changed
    hp = {"scale": 0.1}

    def step(x):
        return x * hp["scale"]

    compiled = xg.function(step, retrace_warning=2)
    with pytest.warns(xg.jit.RetracingWarning) as seen:
        for k in range(12):
            hp["scale"] = 0.1 * 0.9 ** k
            compiled(_ones())
    message = str(seen[0].message)
    assert "argument signatures" not in message
    assert "not in its arguments" in message
    assert re.search(r"hp\['scale'\] \(0\.0\d+ -> 0\.0\d+\)", message), message
    assert "xg.Variable" in message


def test_the_churn_warning_names_an_attribute_flag_the_step_reads():
    class Config:
        flag = 0

    config = Config()

    def step(x):
        return x * 2.0 + config.flag

    compiled = xg.function(step, retrace_warning=2)
    with pytest.warns(xg.jit.RetracingWarning) as seen:
        for k in range(12):
            config.flag = k
            compiled(_ones())
    message = str(seen[0].message)
    assert "not in its arguments" in message and re.search(r"Config\.flag \((\d+) -> (\d+)\)", message)


def test_a_list_of_lengths_names_the_argument_and_its_items():
    # a GRU step given lengths=[...] as a Python list: each distinct list is a signature
    def step(x, lengths):
        return x * 2.0

    rng = np.random.default_rng(0)
    compiled = xg.function(step, retrace_warning=2)
    with pytest.warns(xg.jit.RetracingWarning) as seen:
        for _ in range(12):
            compiled(_ones(), [int(v) for v in rng.integers(1, 1000, 4)])
    message = str(seen[0].message)
    assert "'lengths[" in message and "xg.asarray(lengths)" in message


@pytest.mark.usefixtures("numpy_default")
def test_a_gru_step_given_lengths_as_lists_is_told_to_pass_a_tensor_which_traces_once():
    rng = np.random.default_rng(4)
    model = xg.nn.SequenceClassifier(4, [8], 3, cell="gru", rng=0)
    opt = xg.optim.SGD(1e-2)

    def step(x, y, lengths):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x, lengths=lengths), y)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
        return loss

    def batch():
        return (rng.standard_normal((8, 6, 4), dtype=np.float32), rng.integers(0, 3, 8),
                [int(n) for n in rng.integers(1, 7, 8)])

    as_lists = xg.function(step, retrace_warning=2)
    with pytest.warns(xg.jit.RetracingWarning, match=r"'lengths\[\d\]'.*xg\.asarray\(lengths\)"):
        for _ in range(10):
            as_lists(*batch())
    as_tensors = xg.function(step, retrace_warning=2)
    for _ in range(4):
        x, y, lengths = batch()
        as_tensors(x, y, xg.asarray(lengths))
    assert as_lists.trace_count == 0 and as_tensors.trace_count == 1


def test_a_number_in_a_dict_argument_is_named_with_its_key_in_the_fix():
    # the fix said xg.asarray(cfg) for cfg={"lr": 0.1, "name": "a"}, which asarray refuses;
    # the item is what becomes a tensor, and then one trace serves every value
    def step(x, cfg):
        return x * cfg["lr"]

    compiled = xg.function(step, retrace_warning=2)
    with pytest.warns(xg.jit.RetracingWarning) as seen:
        for k in range(10):
            compiled(_ones(), {"lr": 0.1 * 0.9 ** k, "name": "a"})
    message = str(seen[0].message)
    assert "xg.asarray(cfg['lr'])" in message, message
    fixed = xg.function(step, retrace_warning=2)
    for k in range(10):
        cfg = {"lr": xg.asarray(0.1 * 0.9 ** k), "name": "a"}
        np.testing.assert_allclose(fixed(_ones(), cfg).numpy(), step(_ones(), cfg).numpy())
    assert fixed.trace_count == 1
