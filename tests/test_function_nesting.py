"""xg.function calling xg.functions: a nested call is traced inline into the outer trace (as
tf.function does), a recursion whose depth Python arguments decide is traced inline level by
level, and a function that calls itself without end raises a TraceError saying so (not Python's
RecursionError from deep inside the tracer), leaving the backend and the lock as they were."""
import threading

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import TraceError
from side_effects_on_purpose import ON_PURPOSE

BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_recursion_with_a_python_base_case_is_traced_inline(backend):
    @xg.function
    def power(x, n):
        if n == 0:
            return xg.ones_like(x)
        return x * power(x, n - 1)

    for k in range(4):
        x = xg.asarray([1.5, -2.0, 0.25 * k], backend=backend)
        np.testing.assert_allclose(power(x, 3).numpy(), x.numpy() ** 3, rtol=1e-12)
    # the outer call traced once; the inner calls ran eagerly once (power(x, 2) in the
    # first outer call), then inline
    assert power.trace_count == 1 and len(power.programs()) == 1


@pytest.mark.parametrize("warmup", [0, 1])
def test_a_function_calling_itself_without_end_raises_a_trace_error(warmup):
    w = xg.Variable([1.0, 2.0], name="w")

    @xg.function(warmup=warmup)
    def endless(x):
        return endless(x + w)

    be = xg.get_backend("numpy")
    for _ in range(2):
        with pytest.raises(TraceError, match=r"'endless' called itself \d+ levels deep"):
            endless(xg.asarray([1.0, 1.0]))
    # the trace was undone: Variables hold arrays, the namespace is the backend's own
    assert type(w._data) is np.ndarray and "xp" not in vars(be)
    # the lock was released: a function traces, from another thread too
    square = xg.function(lambda x: x * w)
    got = []
    thread = threading.Thread(target=lambda: got.extend(square(xg.ones(2)) for _ in range(3)))
    thread.start()
    thread.join(timeout=60)
    assert [g.tolist() for g in got] == [[1.0, 2.0]] * 3 and square.trace_count == 1


def test_mutual_recursion_without_end_raises_a_trace_error():
    @xg.function
    def ping(x):
        return pong(x + 1.0)

    @xg.function
    def pong(x):
        return ping(x * 0.5)

    with pytest.raises(TraceError, match=r"called itself \d+ levels deep"):
        ping(xg.ones(2))


def test_a_recursion_error_of_the_users_own_code_is_left_alone():
    def deep(n):
        return deep(n + 1)

    f = xg.function(lambda x: x * deep(0))
    with pytest.raises(RecursionError):
        f(xg.ones(2))


def test_what_a_recorded_call_does_inside_is_part_of_its_step():
    from xpgrad.jit.tracer import Tracer

    tracer = Tracer(xg.get_backend("numpy"))
    x = tracer.input(np.array([0.0, 1.0]))

    def through_the_namespace(a):       # a function that calls the traced namespace itself
        return tracer.xp.exp(a) * 2.0

    y = tracer.call(through_the_namespace, (x,), {})
    assert [s.kind for s in tracer.steps] == ["input", "call"]
    assert tracer.steps[-1].fn is through_the_namespace
    np.testing.assert_allclose(y._real, np.exp([0.0, 1.0]) * 2.0, rtol=1e-15)


def test_an_optimizer_step_reading_a_traced_value_is_refused_not_endless():
    # the update is replayed as Python: a schedule reading a tensor of the trace would read a
    # stale stand-in on replay (before: endless recursion through the paused tracer)
    w = xg.Variable([1.0, 2.0], name="w")
    held = {}
    opt = xg.optim.SGD(lambda step: 0.1 * held["scale"])

    def step(x):
        held["scale"] = xg.mean(x)
        with xg.GradientTape() as tape:
            loss = xg.sum(w * x)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss

    with pytest.raises(TraceError, match="computed inside the traced function reached"):
        xg.function(step, warmup=0)(xg.asarray([1.0, 3.0]))
    assert type(w._data) is np.ndarray


def test_a_recursion_error_below_nested_functions_that_do_not_recurse_is_left_alone():
    def deep(n):
        return deep(n + 1)

    inner = xg.function(lambda x: x * deep(0))
    outer = xg.function(lambda x: inner(x) + 1.0)
    with pytest.raises(RecursionError):
        outer(xg.ones(2))


@ON_PURPOSE
def test_a_function_of_a_function_is_its_own_function_with_its_own_options():
    """xg.function(xg.function(f)) works as tf.function(tf.function(f)): the outer traces
    once with the inner inlined; each keeps its own programs, counts and options (the
    outer used to take over the inner's cache and options with its __dict__)."""
    runs = []

    def affine(x):
        runs.append(x.shape)
        return x * 2.0 + 1.0

    inner = xg.function(affine, max_traces=8)
    outer = xg.function(inner, max_traces=1)
    assert outer.__wrapped__ is inner and outer.__name__ == "affine"
    assert (outer.max_traces, inner.max_traces) == (1, 8)
    for k in range(3):
        x = xg.asarray([float(k), -1.5], dtype=xg.float64)
        np.testing.assert_allclose(outer(x).numpy(), x.numpy() * 2.0 + 1.0, rtol=1e-15)
    assert (outer.trace_count, inner.trace_count) == (1, 0)
    assert len(runs) == 2               # one eager warm-up call and one trace, as one function
    for k in range(2):                  # a new shape, traced on its second call: the old dropped
        outer(xg.asarray([1.0, 2.0, float(k)], dtype=xg.float64))
    assert len(outer.programs()) == 1
    for k in range(2):
        np.testing.assert_allclose(inner(xg.asarray([4.0], dtype=xg.float64)).numpy(), [9.0])
    assert (outer.trace_count, inner.trace_count) == (2, 1)
    assert len(inner.programs()) == 1


def test_stacked_function_decorators_trace_once():
    @xg.function(warmup=0)
    @xg.function
    def square(x):
        return x * x

    for k in range(3):
        x = xg.asarray([float(k)], dtype=xg.float64)
        np.testing.assert_allclose(square(x).numpy(), [k * k])
    inner = square.__wrapped__
    assert square.trace_count == 1 and inner.trace_count == 0
    for k in range(2):
        np.testing.assert_allclose(inner(xg.asarray([3.0], dtype=xg.float64)).numpy(), [9.0])
    assert inner.trace_count == 1 and square.trace_count == 1    # its own cache: traced anew
