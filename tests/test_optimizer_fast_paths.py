"""``apply_gradients``' short ways for the usual case keep the general one's behaviour: a float
learning rate is read without the schedule's per-step checks only when it is still a valid
float and the class has not replaced ``learning_rate``; ``iterations`` is set without
``__setattr__`` only when the class has not replaced it."""
import numpy as np
import pytest

import xpgrad as xg


def _step(opt, value=1.0):
    w = xg.Variable(np.array([value, value], np.float32))
    opt.apply_gradients([(xg.asarray(np.ones(2, np.float32)), w)])
    return w.numpy()


def test_a_subclass_learning_rate_property_is_used():
    class Halved(xg.optim.SGD):
        @property
        def learning_rate(self):
            return 0.5 * xg.optim.SGD.learning_rate.fget(self)

        @learning_rate.setter
        def learning_rate(self, value):
            xg.optim.SGD.learning_rate.fset(self, value)

    np.testing.assert_allclose(_step(Halved(0.2)), [0.9, 0.9])
    np.testing.assert_allclose(_step(xg.optim.SGD(0.2)), [0.8, 0.8])


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1.0])
def test_a_constant_rate_changed_behind_the_optimizers_back_is_still_refused(bad):
    opt = xg.optim.SGD(0.1)
    opt._schedule.learning_rate = bad             # not through the checked setter
    with pytest.raises(ValueError, match="learning rate must be a finite number >= 0"):
        _step(opt)


def test_a_rate_past_float32_still_names_the_variable():
    opt = xg.optim.SGD(1e39)
    with pytest.raises(ValueError, match="larger than float32 can hold"):
        _step(opt)


def test_a_subclass_setattr_sees_each_iteration():
    seen = []

    class Watched(xg.optim.SGD):
        def __setattr__(self, name, value):
            if name == "iterations":
                seen.append(value)
            super().__setattr__(name, value)

    opt = Watched(0.1)
    _step(opt)
    _step(opt)
    assert seen[-2:] == [1, 2] and opt.iterations == 2
    plain = xg.optim.SGD(0.1)
    for _ in range(3):
        _step(plain)
    assert plain.iterations == 3
