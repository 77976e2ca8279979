"""A Variable rebound inside an ``xg.function`` before an optimizer update (a running statistic,
as a BatchNorm keeps) is written on every replay, in order: the update, and anything after it,
read the new value, as in the eager call. It was written only while tracing (the update reads
every Variable anew, and the write before it was dropped)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


def _trainer(backend, compiled):
    rng = np.random.default_rng(0)
    w = xg.Variable(rng.normal(size=(4, 3)).astype(np.float32), name="w", backend=backend)
    running = xg.Variable(np.zeros(3, np.float32), trainable=False, name="running",
                          backend=backend)
    count = xg.Variable(np.zeros((), np.int64), trainable=False, name="count", backend=backend)
    opt = xg.optim.Adam(0.05)

    def step(x, labels):
        with xg.GradientTape() as tape:
            h = x @ w
            running.assign(running * 0.9 + xg.mean(h, axis=0) * 0.1)
            count.assign_add(1)
            loss = xg.losses.softmax_cross_entropy(h - running, labels)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss + xg.sum(running) * xg.astype(count, xg.float32)   # read after the update

    return (xg.function(step) if compiled else step), (w, running, count, opt)


@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_before_the_update_replay_as_eager(backend):
    rng = np.random.default_rng(1)
    batches = [(xg.asarray(rng.normal(size=(5, 4)).astype(np.float32), backend=backend),
                xg.asarray(rng.integers(0, 3, 5), backend=backend)) for _ in range(6)]
    eager, eager_state = _trainer(backend, False)
    compiled, state = _trainer(backend, True)
    for x, labels in batches:
        expected, got = eager(x, labels), compiled(x, labels)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
    assert compiled.trace_count == 1
    for a, b in zip(state[:3], eager_state[:3]):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert state[2].item() == 6 and state[3].iterations == 6


def _guarded(compiled):
    w = xg.Variable(np.eye(3, dtype=np.float32), name="w")
    count = xg.Variable(np.zeros((), np.int64), trainable=False, name="count")
    opt = xg.optim.SGD(0.1)

    def step(x, shift):
        with xg.GradientTape() as tape:
            count.assign_add(1)
            loss = xg.sum(x @ w)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        index = xg.reshape(count + shift, (1,))      # computed from the written Variable
        return xg.take(xg.reshape(w, (-1,)), index)

    return (xg.function(step) if compiled else step), w, count


def test_a_failing_guard_after_the_write_leaves_the_statistic_as_eager():
    """The index guard cannot move before the write (its input is the written Variable), and
    it fails on most calls (each index is new): the replay's write is undone and the eager
    call writes once."""
    x = xg.asarray(np.ones((2, 3), np.float32))
    compiled, w, count = _guarded(True)
    eager, w_eager, count_eager = _guarded(False)
    for shift in (0, 0, 0, 1, -2, 0):
        shift = xg.asarray(shift)
        np.testing.assert_allclose(compiled(x, shift).numpy(), eager(x, shift).numpy(),
                                   rtol=1e-6)
    assert count.item() == count_eager.item() == 6
    np.testing.assert_allclose(w.numpy(), w_eager.numpy(), rtol=1e-6)
