"""Gradients ``clip_global_norm`` returned inside an ``xg.function`` keep their mark in every
call, traced or replayed (``DistributedOptimizer`` warns of per-rank clipping by it: the
replays' results had lost it, so a compiled step trained apart silently)."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.clip_marks import clipped_by_global_norm

pytestmark = pytest.mark.usefixtures("numpy_default")


def test_a_compiled_step_s_clipped_gradients_are_marked_in_every_call():
    model = xg.nn.MLP([3, 5, 2], rng=0, dtype=xg.float64)

    @xg.function
    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(x), y)
        grads = tape.gradient(loss, model.trainable_variables)
        clipped, norm = xg.optim.clip_global_norm(grads, 0.05)
        return clipped, grads, norm

    x, y = xg.asarray(np.ones((4, 3))), xg.asarray(np.zeros((4, 2)))
    for _ in range(4):           # a warm-up call, the trace, then replays
        clipped, grads, norm = step(x, y)
        assert [clipped_by_global_norm(g) for g in clipped] == [True] * 4
        assert not any(clipped_by_global_norm(g) for g in [*grads, norm])
    assert step.trace_count == 1
