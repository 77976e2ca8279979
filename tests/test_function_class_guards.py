"""A Python number, string or flag a traced function reads from a class of the user's --
``Config.flag`` of a global ``class Config``, or ``self.scale`` where ``scale`` is the class's
attribute -- is guarded like an instance's (jit/name_guards.py): set anew, the next call
traces for it. Before 2026-12-07 a class was never walked, and replays kept the traced value
silently (``Config.mode = "a"`` again gave the "b" trace's result). Each compiled call
equals the same call made eagerly."""
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import SideEffectWarning

pytestmark = pytest.mark.usefixtures("numpy_default")


class Config:
    """Settings kept on the class itself, as scripts often do."""
    mode = "a"
    scale = 2.0


class Scaler:
    scale = 2.0                   # the class's: instances read it through self

    def apply(self, x):
        return x * self.scale


SCALER = Scaler()


def _by_mode(x):
    return x * (2.0 if Config.mode == "a" else 3.0) + Config.scale


def _by_method(x):
    return SCALER.apply(x) - 1.0


def _run_both(compiled, eager, change, steps=8):
    x = xg.asarray(np.array([1.0, -2.0]))
    for k in range(steps):
        change(k)
        np.testing.assert_array_equal(compiled(x).numpy(), eager(x).numpy())


@pytest.fixture
def restore_classes():
    saved = Config.mode, Config.scale, Scaler.scale
    yield
    Config.mode, Config.scale, Scaler.scale = saved


@pytest.mark.usefixtures("restore_classes")
def test_a_class_attribute_flag_set_anew_is_read_on_the_next_call():
    def change(k):
        Config.mode = "ab"[k % 2]
        Config.scale = 1.0 + (k >= 4)
    compiled = xg.function(_by_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        _run_both(compiled, _by_mode, change)
    assert compiled.trace_count >= 2          # a program per mode (warm-ups run eagerly)


@pytest.mark.usefixtures("restore_classes")
def test_a_class_attribute_read_through_self_is_guarded_too():
    def change(k):
        Scaler.scale = [2.0, 5.0][k % 2]
    compiled = xg.function(_by_method)
    _run_both(compiled, _by_method, change)


@pytest.mark.usefixtures("restore_classes")
def test_an_unchanged_class_setting_replays_one_trace():
    compiled = xg.function(_by_mode)
    _run_both(compiled, _by_mode, lambda k: None)
    assert compiled.trace_count == 1


def test_a_counter_on_a_class_set_while_tracing_warns():
    class Counter:
        calls = 0

    def step(x):
        Counter.calls += 1
        return x * 2.0

    compiled = xg.function(step)
    with pytest.warns(SideEffectWarning, match="the function set 'calls'"):
        for _ in range(3):
            compiled(xg.asarray(np.ones(2)))


@pytest.mark.usefixtures("restore_classes")
def test_the_churn_warning_names_the_class_attribute():
    compiled = xg.function(_by_mode, retrace_warning=2)
    x = xg.asarray(np.array([1.0, -2.0]))
    with pytest.warns(xg.jit.RetracingWarning) as seen:
        for k in range(12):
            Config.scale = 0.25 * k               # a new value on every call
            np.testing.assert_array_equal(compiled(x).numpy(), _by_mode(x).numpy())
    assert "Config.scale (" in str(seen[0].message), str(seen[0].message)
