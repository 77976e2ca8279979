"""xg.function called from several threads at once: each call computes its own eager result.
On NumPy arrays a program writes its intermediates into buffers it allocates once; a replay
started while another is running gets a copy of the program with buffers of its own (and a
CUDA-graph replay, with one set of static buffers, waits for the running one). A trace, which
instruments process-wide state, runs alone: calls from other threads wait for it, and a thread
that waited for the trace of its own signature replays it."""
import gc
import threading
import time
import weakref

import numpy as np
import pytest

import xpgrad as xg

BACKENDS = ["numpy", "numba"]


class _MeetingSGD(xg.optim.SGD):
    """SGD whose update waits until ``barrier`` is passed: two replays meet there, both half
    done (their intermediates before the update written, those after not yet read)."""

    barrier = None

    def _update(self, be, param, grad, state, lr):
        if self.barrier is not None:
            self.barrier.wait(timeout=30)
        super()._update(be, param, grad, state, lr)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_threads_replaying_at_once_get_their_own_results(backend):
    v = xg.Variable([1.0], name="v", backend=backend)
    opt = _MeetingSGD(0.0)

    def step(x):
        a = xg.exp(x) * 2.0                 # an intermediate: written into a reused buffer
        with xg.GradientTape() as tape:
            loss = xg.sum(v * v)
        opt.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
        return xg.tanh(a) + a              # read after the update

    compiled = xg.function(step)
    xs = [xg.asarray(np.linspace(-1.0, 1.0, 50) * (k + 1), backend=backend) for k in range(2)]
    want = [step(x).numpy() for x in xs]
    for _ in range(3):
        compiled(xs[0])                     # eager, traced, replayed: single-threaded
    opt.barrier = threading.Barrier(2)
    got = [None, None]

    def call(k):
        got[k] = compiled(xs[k]).numpy()

    threads = [threading.Thread(target=call, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert compiled.trace_count == 1


class _Pause:
    """A point inside a traced function where the tracing thread waits (a Python side effect:
    it runs while tracing only, once armed), so that other threads call while it traces."""

    def __init__(self):
        self.armed = False
        self.reached = threading.Event()
        self.resume = threading.Event()

    def __call__(self):
        if self.armed:
            self.armed = False
            self.reached.set()
            assert self.resume.wait(timeout=30)


class _WatchedCondition(threading.Condition):
    """``TRACE_LOCK``'s condition, noting each thread that waits on it: a call that meets a
    running trace waits there, so the test knows when the other calls are blocked."""

    def __init__(self, lock):
        super().__init__(lock)
        self.waited = set()

    def wait(self, timeout=None):
        self.waited.add(threading.get_ident())
        return super().wait(timeout)


def _while_tracing(monkeypatch, pause, trace, others):
    """Run ``trace()`` in a thread; once it is paused inside its trace, start ``others``
    (callables) in threads and wait until each of them waits for the trace (on
    ``TRACE_LOCK``), then let the trace finish. Returns each callable's result, or the
    exception it raised."""
    from xpgrad.jit.lock import TRACE_LOCK

    watched = _WatchedCondition(TRACE_LOCK._mutex)
    monkeypatch.setattr(TRACE_LOCK, "_cond", watched)
    results = {}

    def run(key, call):
        try:
            results[key] = call()
        except Exception as e:          # noqa: BLE001 -- reported by the test's assertion
            results[key] = e

    pause.armed = True
    tracing = threading.Thread(target=run, args=("trace", trace))
    tracing.start()
    assert pause.reached.wait(timeout=30)
    threads = [threading.Thread(target=run, args=(k, c)) for k, c in enumerate(others)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while not {t.ident for t in threads} <= watched.waited and time.monotonic() < deadline:
        time.sleep(0.001)
    blocked = {t.ident for t in threads} <= watched.waited
    pause.resume.set()
    for t in [tracing, *threads]:
        t.join(timeout=60)
    assert blocked, "the other calls did not wait for the trace"
    return results


@pytest.mark.parametrize("backend", BACKENDS)
def test_replays_and_eager_calls_during_another_functions_trace_give_eager_results(
        backend, monkeypatch):
    rng = np.random.default_rng(0)
    w = xg.Variable(rng.normal(size=(4, 3)), name="w", backend=backend)
    opt = xg.optim.SGD(0.1, momentum=0.9)
    pause = _Pause()

    def loss_of(x):
        return xg.sum(xg.tanh(x @ w) ** 2)

    def train(x):
        pause()
        with xg.GradientTape() as tape:
            loss = loss_of(x)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss

    def predict(x):
        return xg.tanh(x @ w) * 2.0

    compiled_train, compiled_predict = xg.function(train), xg.function(predict)
    x = xg.asarray(rng.normal(size=(5, 4)), backend=backend)
    for _ in range(3):
        compiled_predict(x)                  # eager, traced, replayed
    compiled_train(x)                        # eager: the next call traces
    fresh = xg.function(predict)             # its first call runs eagerly
    before = w.numpy().copy()
    results = _while_tracing(monkeypatch, pause, lambda: compiled_train(x),
                             [lambda: compiled_predict(x), lambda: fresh(x)])
    want_loss = np.sum(np.tanh(x.numpy() @ before) ** 2)
    np.testing.assert_allclose(results["trace"].numpy(), want_loss, rtol=1e-12)
    # the trace's update is done before the other calls run: they see the updated weights
    want = np.tanh(x.numpy() @ w.numpy()) * 2.0
    for k in (0, 1):
        assert not isinstance(results[k], Exception), results[k]
        np.testing.assert_allclose(results[k].numpy(), want, rtol=1e-12)
    assert compiled_train.trace_count == 1 and compiled_predict.trace_count == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_call_while_the_same_signature_traces_waits_and_replays_that_trace(backend,
                                                                            monkeypatch):
    rng = np.random.default_rng(1)
    w = xg.Variable(rng.normal(size=(3,)), name="w", backend=backend)
    pause = _Pause()

    def f(x):
        pause()
        return xg.exp(x * w) + 1.0

    compiled = xg.function(f)
    xs = [xg.asarray(rng.normal(size=(6, 3)), backend=backend) for _ in range(3)]
    compiled(xs[0])                          # eager: the next call traces
    results = _while_tracing(monkeypatch, pause, lambda: compiled(xs[0]),
                             [lambda: compiled(xs[1]), lambda: compiled(xs[2])])
    for key, x in (("trace", xs[0]), (0, xs[1]), (1, xs[2])):
        assert not isinstance(results[key], Exception), results[key]
        np.testing.assert_allclose(results[key].numpy(), np.exp(x.numpy() * w.numpy()) + 1.0,
                                   rtol=1e-12)
    assert compiled.trace_count == 1         # traced once, by one thread; the others replayed


def _other_threads_training(values, backend):
    """Two eager SGD-with-momentum steps on a Variable made before (``values[0]``) and one
    made now (``values[1]`` plus a random draw): what another thread does while a trace runs.
    Their values, and weak references to the optimizer, the Variable and the generator."""
    before = xg.Variable(values[0], name="before", backend=backend)

    def train():
        generator = xg.random.default_rng(5, backend=backend)
        noise = generator.normal(size=3, dtype=xg.float64)
        made = xg.Variable(values[1] + noise.numpy(), name="made", backend=backend)
        opt = xg.optim.SGD(0.5, momentum=0.9)
        for _ in range(2):
            with xg.GradientTape() as tape:
                loss = xg.sum(xg.tanh(before * made) ** 2)
            opt.apply_gradients(zip(tape.gradient(loss, [before, made]), [before, made]))
        return (before.numpy().copy(), made.numpy().copy(),
                *map(weakref.ref, (opt, made, generator)))
    return train


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_eager_optimizer_step_of_another_thread_during_a_trace_is_not_the_traces(backend):
    rng = np.random.default_rng(2)
    values = rng.normal(size=(2, 3))
    want = _other_threads_training(values, backend)()
    w = xg.Variable(rng.normal(size=(3,)), name="w", backend=backend)
    opt = xg.optim.SGD(0.1)
    pause = _Pause()

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(w * x) ** 2
        pause()
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss

    x = xg.asarray(rng.normal(size=(3,)), backend=backend)
    other = _other_threads_training(values, backend)     # its Variable exists during the trace
    got = []
    compiled = xg.function(step, warmup=0)
    pause.armed = True
    tracing = threading.Thread(target=lambda: got.append(compiled(x)))
    tracing.start()
    assert pause.reached.wait(timeout=30)
    try:
        other_result = other()          # this thread, while the other one traces
    finally:
        pause.resume.set()
        tracing.join(timeout=60)
    np.testing.assert_array_equal(other_result[0], want[0])
    np.testing.assert_array_equal(other_result[1], want[1])
    gc.collect()
    # neither its update, its Variable nor its draw was recorded into the trace
    assert all(ref() is None for ref in other_result[2:])
    start = w.numpy().copy()
    replayed = compiled(x).numpy()
    eager_loss = np.sum(start * x.numpy()) ** 2
    np.testing.assert_allclose(replayed, eager_loss, rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), start - 0.1 * 2 * np.sum(start * x.numpy()) * x.numpy(),
                               rtol=1e-6)
    assert compiled.trace_count == 1 and opt.iterations == 2
