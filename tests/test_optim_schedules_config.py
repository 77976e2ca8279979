"""Keras' config protocol on every ``xg.optim`` schedule: ``get_config()`` through JSON and
``from_config`` (and ``schedules.serialize``/``deserialize``) give a schedule with the same
arguments and the same rate at every step; what a config cannot hold is a clear error."""
import json

import pytest

import xpgrad as xg
from xpgrad.optim import schedules

S = xg.optim
CASES = [
    S.Constant(0.3),
    S.ExponentialDecay(0.1, decay_steps=7, decay_rate=0.5, staircase=True),
    S.StepDecay(0.2, step_size=3, gamma=0.25),
    S.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=True),
    S.PolynomialDecay(0.1, decay_steps=9, end_learning_rate=0.01, power=2.0, cycle=True),
    S.PiecewiseConstant(boundaries=[3, 8], values=[0.1, 0.05, 0.01]),
    S.CosineDecay(0.0, decay_steps=10, alpha=0.1, warmup_target=0.4, warmup_steps=3),
    S.CosineDecayRestarts(0.1, first_decay_steps=5, t_mul=1.5, m_mul=0.8, alpha=0.05),
    S.OneCycle(0.5, total_steps=30, pct_start=0.25, anneal_strategy="linear", div_factor=10.0,
               final_div_factor=100.0, three_phase=True),
    S.LinearWarmup(S.OneCycle(0.5, total_steps=20), warmup_steps=4, start_value=0.01),
    S.LinearWarmup(0.2, warmup_steps=3),          # a number inside: a Constant
]
STEPS = range(45)


@pytest.mark.parametrize("schedule", CASES, ids=lambda s: type(s).__name__)
def test_get_config_through_json_and_from_config_make_the_same_schedule(schedule):
    config = schedule.get_config()
    again = type(schedule).from_config(json.loads(json.dumps(config)))
    assert type(again) is type(schedule) and repr(again) == repr(schedule)
    assert again.get_config() == config
    assert [again(k) for k in STEPS] == [schedule(k) for k in STEPS]
    # every constructor argument is in the config, by its name
    assert list(config) == [k for k in vars(schedule) if not k.startswith("_")]


@pytest.mark.parametrize("schedule", CASES, ids=lambda s: type(s).__name__)
def test_serialize_and_deserialize_through_json(schedule):
    text = json.dumps(schedules.serialize(schedule))
    again = schedules.deserialize(json.loads(text))
    assert repr(again) == repr(schedule)
    assert [again(k) for k in STEPS] == [schedule(k) for k in STEPS]


def test_a_nested_schedule_is_written_by_class_name():
    config = S.LinearWarmup(S.StepDecay(0.1, 2), warmup_steps=3).get_config()
    assert config == {"schedule": {"class_name": "StepDecay", "config": {
        "initial_learning_rate": 0.1, "step_size": 2, "gamma": 0.1}}, "warmup_steps": 3,
        "start_value": 0.0}


def test_what_a_config_cannot_hold_is_a_clear_error():
    with pytest.raises(TypeError, match="LinearWarmup.get_config: its schedule is function"):
        S.LinearWarmup(lambda step: 0.1, warmup_steps=2).get_config()
    with pytest.raises(TypeError, match="serialize takes an xg.optim schedule"):
        schedules.serialize(0.1)
    with pytest.raises(ValueError, match="unknown schedule 'Mine'"):
        schedules.deserialize({"class_name": "Mine", "config": {}})
    with pytest.raises(TypeError, match="deserialize takes serialize's dict"):
        schedules.deserialize({"config": {}})
    with pytest.raises(TypeError, match="StepDecay.from_config takes a dict"):
        S.StepDecay.from_config([0.1, 2])
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        S.StepDecay.from_config({"initial_learning_rate": 0.1, "step_size": 0})


def test_a_users_schedule_deserializes_through_custom_objects():
    class Halving(schedules.Schedule):
        def __init__(self, learning_rate):
            self.learning_rate = learning_rate

        def __call__(self, step):
            return self.learning_rate / 2 ** step

    warm = S.LinearWarmup(Halving(1.0), warmup_steps=2)
    text = json.dumps(schedules.serialize(warm))
    with pytest.raises(ValueError, match="pass custom_objects"):
        schedules.deserialize(json.loads(text))
    again = schedules.deserialize(json.loads(text), custom_objects={"Halving": Halving})
    assert [again(k) for k in range(5)] == [0.0, 0.5, 1.0, 0.5, 0.25]


@pytest.mark.parametrize("schedule", CASES[:-2], ids=lambda s: type(s).__name__)
def test_keras_name_is_taken_and_kept_in_the_config(schedule):
    # Keras' schedules all take name= (ExponentialDecay(0.1, 1000, 0.96, name="lr")); it was
    # "does not have this option"
    config = schedule.get_config()
    named = type(schedule)(**config, name="lr")
    assert named.name == "lr" and named.get_config() == {**config, "name": "lr"}
    assert type(schedule).from_config(json.loads(json.dumps(named.get_config()))).name == "lr"
    assert [named(k) for k in STEPS] == [schedule(k) for k in STEPS]
    assert "name" not in config and getattr(schedule, "name", None) is None
    with pytest.raises(TypeError, match=f"{type(schedule).__name__}: name must be a string"):
        type(schedule)(**config, name=3)
