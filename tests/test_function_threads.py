"""xg.function called from two threads at once: each replay computes its own call's result.
On NumPy arrays a program writes its intermediates into buffers it allocates once; a replay
started while another is running gets a copy of the program with buffers of its own (and a
CUDA-graph replay, with one set of static buffers, waits for the running one)."""
import threading

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
