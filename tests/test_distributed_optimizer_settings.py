"""Settings changed on a ``DistributedOptimizer`` reach the optimizer it wraps (before, the
wrapper took the attribute and the updates kept the old learning rate, silently)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg


def _step(opt, w):
    with xg.GradientTape() as tape:
        loss = xg.sum(w * w)
    opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))


def test_a_new_learning_rate_is_used_by_the_next_update():
    w = xg.Variable(np.array([1.0, -2.0]))
    inner = xg.optim.SGD(learning_rate=0.1)
    opt = xg.distributed.DistributedOptimizer(inner)
    _step(opt, w)
    opt.learning_rate = 0.0
    assert inner.learning_rate == 0.0 and opt.learning_rate == 0.0
    before = w.numpy()
    _step(opt, w)
    np.testing.assert_array_equal(w.numpy(), before)


def test_the_wrapper_s_own_settings_stay_on_the_wrapper():
    inner = xg.optim.Adam(learning_rate=0.01)
    opt = xg.distributed.DistributedOptimizer(inner, op="sum")
    opt.op = "mean"
    assert opt.op == "mean" and not hasattr(inner, "op")
    with pytest.raises(AttributeError, match="opt.learning_rate"):
        opt.lr = 0.5
