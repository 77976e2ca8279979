"""A fast replay checks its guards as one generated expression (jit/guard_check.py): True only
where every guarded attribute is, by identity, the value keyed; anything else (a changed or
equal-but-new value, a dead object, a missing or raising attribute, a name no expression can
spell) leaves the decision to the guards' own loop, so no guard is weaker."""
import weakref

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.guard_check import identity_check

pytestmark = pytest.mark.usefixtures("numpy_default")


class Settings:
    def __init__(self):
        self.rate = 0.5
        self.mode = "train"

    @property
    def failing(self):
        raise RuntimeError("read")


def _guards(obj, **values):
    return tuple(((weakref.ref(obj), name), value) for name, value in values.items())


def test_holds_where_every_attribute_is_the_value_keyed():
    settings = Settings()
    assert identity_check(_guards(settings, rate=settings.rate, mode=settings.mode))()


def test_fails_for_a_changed_value_and_an_equal_new_object():
    settings = Settings()
    holds = identity_check(_guards(settings, rate=settings.rate, mode=settings.mode))
    settings.mode = "".join(["tr", "ain"])       # equal, another object: the loop decides
    assert settings.mode == "train" and not holds()
    settings.mode, settings.rate = "train", 0.25
    assert not identity_check(_guards(settings, rate=0.5))()


def test_fails_for_a_dead_object_a_missing_or_raising_attribute():
    settings = Settings()
    holds = identity_check(_guards(settings, rate=settings.rate))
    assert not identity_check(_guards(settings, absent=1))()
    assert not identity_check(_guards(settings, failing=1))()
    del settings
    assert not holds()


def test_a_name_no_expression_spells_leaves_it_to_the_loop():
    settings = Settings()
    setattr(settings, "not a name", 1)
    assert not identity_check(((((weakref.ref(settings)), "not a name"), 1),))()
    assert not identity_check(((((weakref.ref(settings)), "class"), 1),))()


def test_no_guards_hold():
    assert identity_check(())()


def test_a_compiled_step_retraces_when_a_guarded_flag_changes_and_replays_after():
    model = xg.nn.MLP([3, 4, 2], rng=0)
    compiled = xg.function(lambda x: model(x))
    x = xg.asarray(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    for _ in range(3):
        compiled(x)
    assert compiled._fast is not None and compiled._fast.guards_hold()
    traces = compiled.trace_count
    model.layers[0].w.trainable = False
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled.trace_count == traces + 1
    assert compiled._fast is not None and compiled._fast.guards_hold()
