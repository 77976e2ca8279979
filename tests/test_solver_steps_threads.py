"""Solver steps inside xg.function replayed from several threads at once
(xpgrad/jit/solver_steps.py): a step whose callables close over no tensor of the trace runs in
both threads at the same time (they meet inside the loop's body), one that does runs one
thread at a time (its closed-over tensors hold each run's arrays); every thread gets the
eager call's value and gradient."""
from __future__ import annotations

import threading
import time

import numpy as np

import xpgrad as xg


def as64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def run_in_threads(fn, inputs):
    """``fn(x)`` for each of ``inputs``, each in its own thread, started together; the results
    and the errors raised, by input."""
    results, errors = [None] * len(inputs), [None] * len(inputs)

    def call(i):
        try:
            results[i] = fn(inputs[i])
        except Exception as e:         # reported by the test, not lost in the thread
            errors[i] = e

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def test_replays_of_a_step_without_closed_over_tensors_run_at_once_with_eager_results():
    meeting = threading.local()
    barrier = None

    def body(c):
        if barrier is not None and not getattr(meeting, "met", False):
            meeting.met = True
            barrier.wait(timeout=20)        # both replays inside the step at the same time
        return c * 0.5 + 0.01 * c ** 2

    def loss(x):
        c = xg.while_loop(lambda c: xg.sum(c ** 2) > 0.25, body, x)
        return xg.sum(c ** 3)

    step = xg.function(xg.value_and_grad(loss))
    inputs = [as64([1.8, -2.4]), as64([-3.0, 0.5])]
    want = [xg.value_and_grad(loss)(x) for x in inputs]
    for _ in range(3):
        step(inputs[0])                     # eager, traced, replayed: one thread
    barrier = threading.Barrier(2)
    results, errors = run_in_threads(step, inputs)
    assert errors == [None, None]
    for (value, grad), (want_value, want_grad) in zip(results, want):
        assert float(value) == float(want_value)
        np.testing.assert_array_equal(grad.numpy(), want_grad.numpy())
    assert step.trace_count == 1


def test_replays_of_a_step_with_a_closed_over_tensor_take_turns_with_eager_results():
    def loss(b):
        scale = xg.sum(b) * 0.1 + 0.3       # computed in the trace, closed over by f

        def f(z, b):
            time.sleep(0.001)               # a wide window for another thread's run
            return xg.tanh(scale * z + b)

        return xg.sum(xg.fixed_point(f, xg.zeros_like(b), b) ** 2)

    step = xg.function(xg.value_and_grad(loss))
    inputs = [as64([0.5, -1.0]), as64([1.5, 0.7])]
    want = [xg.value_and_grad(loss)(b) for b in inputs]
    for _ in range(3):
        step(inputs[0])

    def repeated(b):
        return [step(b) for _ in range(5)]

    results, errors = run_in_threads(repeated, inputs)
    assert errors == [None, None]
    for calls, (want_value, want_grad) in zip(results, want):
        for value, grad in calls:
            assert float(value) == float(want_value)
            np.testing.assert_array_equal(grad.numpy(), want_grad.numpy())
    assert step.trace_count == 1
