"""What a trace costs and leaves behind: programs with the same source share their compiled code
(a retrace at another batch size compiles nothing), a kernel that declines on a replay stops
it with a clear error (the one-line form of a kernel's step), and the oldest GC generation is
left alone while a function traces, its thresholds restored after, a failed trace too."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import TraceError
from xpgrad.jit.capture import capture
from xpgrad.jit.declines import KernelDeclined
from xpgrad.jit.program import Program
from xpgrad.jit.tracer import Tracer
from xpgrad.tensor import _wrap

# the programs' source and the tracer's GC handling, shown on the NumPy backend's kernels (a
# numba default compiles its own fused kernels into other steps)
pytestmark = pytest.mark.usefixtures("numpy_default")


def _model_and_step(seed=0):
    rng = np.random.default_rng(seed)
    w = xg.Variable(rng.normal(size=(3, 2)), name="w")
    b = xg.Variable(np.zeros(2), name="b")
    opt = xg.optim.SGD(0.1)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.mean((xg.tanh(x @ w + b) - y) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        return loss
    return (w, b), step


def test_a_retrace_at_another_batch_size_reuses_the_compiled_code_and_replays_as_eager():
    traced_vars, traced_step = _model_and_step()
    eager_vars, eager_step = _model_and_step()
    traced_step = xg.function(traced_step)
    rng = np.random.default_rng(1)
    for batch in (4, 4, 4, 8, 8, 8, 4):
        x, y = rng.normal(size=(batch, 3)), rng.normal(size=(batch, 2))
        got = traced_step(xg.asarray(x), xg.asarray(y))
        want = eager_step(xg.asarray(x), xg.asarray(y))
        assert abs(float(got) - float(want)) <= 1e-12
        for t, e in zip(traced_vars, eager_vars):
            np.testing.assert_allclose(t.numpy(), e.numpy(), rtol=0, atol=1e-12)
    first, second = traced_step.programs()
    assert traced_step.trace_count == 2
    assert first.source == second.source         # slots named in the order the source names them
    assert first._code is second._code           # compiled once


def test_programs_with_other_sources_get_their_own_code():
    double = xg.function(lambda x: x * 2.0)
    triple = xg.function(lambda x: x * 3.0)
    x = xg.asarray([1.0, 2.0])
    for _ in range(3):
        assert double(x).tolist() == [2.0, 4.0]
        assert triple(x).tolist() == [3.0, 6.0]
    (d,), (t,) = double.programs(), triple.programs()
    assert d.source != t.source and d._code is not t._code


class _DecliningKernel:
    """A kernel that runs when traced and declines (returns None) from its next call on."""

    def __init__(self, result):
        self.result, self.calls = result, 0

    def __call__(self, a):
        self.calls += 1
        return self.result(a) if self.calls == 1 else None


@pytest.mark.parametrize("result", [lambda a: (a * 2.0, a + 1.0), lambda a: a * 2.0],
                         ids=["tuple", "array"])
def test_a_kernel_declining_on_replay_stops_it_for_an_eager_call(result):
    # KernelDeclined is a GuardFailed: the Function runs the call eagerly
    # (tests/test_function_declines.py: the values)
    be = xg.get_backend("numpy")
    tracer = Tracer(be)
    x = tracer.input(np.ones(2))
    out = tracer.call(_DecliningKernel(result), (x,), {}, kind="kernel")
    first = out[0] if isinstance(out, tuple) else out
    tracer.finish()
    program = Program(tracer, _wrap(first, be), {})
    assert "_declined(1)" in program.source
    with pytest.raises(KernelDeclined) as stopped:
        program.run_arrays([np.ones(2)])
    assert "_DecliningKernel" in repr(stopped.value.guard)


def test_a_kernel_step_unpacks_its_result_in_one_line():
    x = xg.asarray([0.5, -0.25])
    f = xg.function(lambda x: xg.grad(lambda x: xg.sum(xg.tanh(x)))(x))
    for _ in range(3):
        np.testing.assert_allclose(f(x).numpy(), 1 - np.tanh(x.numpy()) ** 2, rtol=1e-15)
    source = f.programs()[0].source
    assert "or _declined(" in source and "_r[0]" not in source


def test_the_oldest_generation_waits_while_a_function_traces_and_thresholds_come_back():
    before = gc.get_threshold()
    seen = []

    def body(x):
        seen.append(gc.get_threshold())
        return x + 1.0

    be = xg.get_backend("numpy")
    capture(body, (xg.asarray([1.0]),), {}, be)
    assert seen[0][:2] == before[:2] and seen[0][2] > 10 ** 6
    assert gc.get_threshold() == before

    def refused(x):
        seen.append(gc.get_threshold())
        return float(xg.sum(x))          # a value read in Python: the trace fails

    with pytest.raises(TraceError):
        capture(refused, (xg.asarray([1.0]),), {}, be)
    assert seen[-1][2] > 10 ** 6 and gc.get_threshold() == before


def test_cyclic_garbage_made_while_tracing_is_still_collected_young():
    class Node:
        pass

    alive = []

    def body(x):
        refs = []
        for _ in range(5000):     # many allocations: young collections run meanwhile
            a, b = Node(), Node()
            a.other, b.other = b, a
            refs.append(weakref.ref(a))
        alive.append(sum(r() is not None for r in refs))
        return x * 2.0

    capture(body, (xg.asarray([1.0]),), {}, xg.get_backend("numpy"))
    assert alive[0] < 1000, f"{alive[0]} of 5000 garbage cycles still alive inside the trace"
