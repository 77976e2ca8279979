"""``Optimizer.load_state_dict`` called directly (as a PyTorch user calls
``opt.load_state_dict(sd)``): a state that does not fit the optimizer and the variables -- a
missing or unexpected key, another shape, a step count that is not a count -- is a ValueError
naming the key, and changes nothing (``xg.load_checkpoint`` checked this; a direct call took
anything: a wrong shape failed at the next step, or broadcast silently). And Keras'
``from_config``, which rebuilds an optimizer from ``get_config()``."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg


def _trained(opt, steps=2):
    w = xg.Variable(np.arange(4.0).reshape(2, 2), name="w")
    for _ in range(steps):
        opt.apply_gradients([(xg.asarray(np.full((2, 2), 0.5)), w)])
    return w, {k: v.numpy().copy() for k, v in opt.state_dict([w]).items()}


def _state_of(opt, w):
    return opt.iterations, {k: np.array(v) for k, v in opt._state[id(w)][1].items()}


def _assert_refused(opt, w, state, *words):
    before = _state_of(opt, w)
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(state, [w])
    for word in words:
        assert word in str(info.value)
    after = _state_of(opt, w)
    assert after[0] == before[0]
    for k in before[1]:
        np.testing.assert_array_equal(after[1][k], before[1][k])


def test_a_slot_of_another_shape_is_refused_naming_it():
    w, state = _trained(xg.optim.Adam(0.1))
    opt = xg.optim.Adam(0.1)
    opt.apply_gradients([(xg.asarray(np.ones((2, 2))), w)])
    _assert_refused(opt, w, {**state, "w/m": np.ones((1, 2))}, "'w/m'", "(1, 2)", "(2, 2)")


def test_a_missing_slot_is_refused_naming_it():
    w, state = _trained(xg.optim.Adam(0.1))
    opt = xg.optim.SGD(0.1, momentum=0.9)        # another optimizer's state: no velocity
    opt.apply_gradients([(xg.asarray(np.ones((2, 2))), w)])
    _assert_refused(opt, w, state, "'w/velocity'")


def test_missing_iterations_and_unexpected_keys_are_refused_naming_them():
    w, state = _trained(xg.optim.Adam(0.1))
    opt = xg.optim.Adam(0.1)
    opt.apply_gradients([(xg.asarray(np.ones((2, 2))), w)])
    _assert_refused(opt, w, {k: v for k, v in state.items() if k != "iterations"},
                    "'iterations'")
    _assert_refused(opt, w, {**state, "w/velocity": state["w/m"]}, "'w/velocity'")
    _assert_refused(opt, w, {**state, "u/m": state["w/m"]}, "'u/m'")


@pytest.mark.parametrize("bad", [1.5, -1, np.inf, np.ones(2), "3"])
def test_a_step_count_must_be_a_non_negative_integer(bad):
    w, state = _trained(xg.optim.Adam(0.1))
    opt = xg.optim.Adam(0.1)
    opt.apply_gradients([(xg.asarray(np.ones((2, 2))), w)])
    _assert_refused(opt, w, {**state, "w/step": bad}, "'w/step'")
    _assert_refused(opt, w, {**state, "iterations": bad}, "'iterations'")


def test_complex_slots_for_a_real_variable_are_refused():
    w, state = _trained(xg.optim.SGD(0.1, momentum=0.9))
    opt = xg.optim.SGD(0.1, momentum=0.9)
    opt.apply_gradients([(xg.asarray(np.ones((2, 2))), w)])
    _assert_refused(opt, w, {**state, "w/velocity": state["w/velocity"] + 1j}, "'w/velocity'")


def test_the_state_must_be_a_mapping():
    w, state = _trained(xg.optim.Adam(0.1))
    with pytest.raises(TypeError, match="state"):
        xg.optim.Adam(0.1).load_state_dict(list(state.values()), [w])


def test_a_good_state_still_loads_and_a_variable_without_entries_starts_fresh():
    w, state = _trained(xg.optim.Adam(0.1), steps=3)
    u = xg.Variable(np.ones(3), name="u")
    opt = xg.optim.Adam(0.1)
    opt.load_state_dict({**state, "w/m": xg.asarray(state["w/m"])}, [w, u])
    assert opt.iterations == 3
    assert opt._state[id(w)][1]["step"] == 3
    np.testing.assert_array_equal(opt._state[id(w)][1]["m"], state["w/m"])
    assert id(u) not in opt._state


@pytest.mark.parametrize("make", [
    lambda: xg.optim.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01, clipnorm=1.0),
    lambda: xg.optim.Adagrad(0.2, initial_accumulator_value=0.1, epsilon=1e-6),
    lambda: xg.optim.Adadelta(0.5, rho=0.8, global_clipnorm=2.0),
    lambda: xg.optim.RMSprop(xg.optim.ExponentialDecay(0.01, 10, 0.5), rho=0.9, momentum=0.5),
    lambda: xg.optim.AdamW(0.01, beta_1=0.8, weight_decay=0.1, clipvalue=0.5, name="mine"),
], ids=["SGD", "Adagrad", "Adadelta", "RMSprop", "AdamW"])
def test_from_config_makes_the_same_optimizer_as_keras(make):
    """Keras' ``type(opt).from_config(opt.get_config())``: the same hyperparameters (the
    schedule object too); ``iterations`` is state (``state_dict``), the new one starts at 0."""
    opt = make()
    opt.apply_gradients([(xg.asarray(np.ones(2)), xg.Variable(np.zeros(2)))])
    copy = type(opt).from_config(opt.get_config())
    assert type(copy) is type(opt)
    assert copy.get_config() == {**opt.get_config(), "iterations": 0}
