"""xg.function leaves no reference cycles behind a trace: the traced program, the tracer and
its recorded steps are freed by reference counting when the program is dropped, so a retrace
does not leave work for the cyclic garbage collector (its pauses grow with what it must scan)."""
import itertools

import numpy as np
import pytest
from gc_counts import cyclic_garbage

import xpgrad as xg
from xpgrad.jit import TraceError


def _training_step(backend):
    rng = np.random.default_rng(0)
    model = xg.nn.Sequential([xg.nn.Linear(4, 8, backend=backend), xg.nn.Dropout(0.25),
                              xg.nn.Linear(8, 3, backend=backend)])
    for v in model.trainable_variables:
        v.assign(rng.normal(size=v.shape).astype(np.float32))
    opt = xg.optim.Adam(0.01)
    variables = model.trainable_variables

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return step


def _batch(backend, size):
    rng = np.random.default_rng(size)
    return (xg.asarray(rng.normal(size=(size, 4)).astype(np.float32), backend=backend),
            xg.asarray(np.arange(size) % 3, backend=backend))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_retrace_leaves_no_cyclic_garbage(backend):
    compiled = xg.function(_training_step(backend), warmup=0, retrace_warning=None)
    for size in (2, 3):
        compiled(*_batch(backend, size))         # the backend's kernels compiled, slots made
    sizes = itertools.count(5)
    calls = []

    def retrace():                               # a new batch size each call
        calls.append(1)
        compiled(*_batch(backend, next(sizes)))

    assert cyclic_garbage(retrace, repeat=2, warmups=0) == 0
    # every call retraced (cyclic_garbage's rounds stop after the first that counts 0)
    assert len(calls) >= 2 and compiled.trace_count == 2 + len(calls)


def test_a_failed_trace_leaves_no_cyclic_garbage():
    compiled = xg.function(lambda x: xg.sum(x).item(), warmup=0, retrace_warning=None)

    def failing_trace():
        with pytest.raises(TraceError):
            compiled(xg.ones(3))

    assert cyclic_garbage(failing_trace) == 0
