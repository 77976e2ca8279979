"""xg.profiler around xg.function: a range per call and per trace, one event per replayed
program step (named and kinded), and traces that never keep a profiling wrapper."""
from __future__ import annotations

import re

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit.replay_steps import HostOptimizerStep
from xpgrad.jit.solver_steps import SolverStep
from xpgrad.profiler.function_hooks import step_kind
from xpgrad.profiler.recorder import timed

_WRAPPER_CODE = timed(len, "len", "forward", "generic").__code__
KINDS = {"kernel", "fused kernel", "solver step", "optimizer", "host", "call"}


def _train_step():
    w = xg.Variable(np.linspace(-0.5, 0.5, 12).reshape(4, 3), name="w")
    opt = xg.optim.SGD(0.05)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(x @ w) ** 2)
        grads = tape.gradient(loss, [w])
        opt.apply_gradients(zip(grads, [w]))
        return loss
    return step, w


def _warm(f, x):
    for _ in range(3):
        f(x)
    assert f.programs(), "the function was traced"


def _renumbered(source):
    """The source with its slots numbered by first appearance (traces number them apart)."""
    names = {}
    return re.sub(r"\bs\d+\b", lambda m: names.setdefault(m.group(), f"s{len(names)}"),
                  source)


def _steps(program):
    """The program's constants by name order (``c3``, ``c4``...)."""
    ns = program._namespace
    return [ns[k] for k in sorted((k for k in ns if re.fullmatch(r"c\d+", k)),
                                  key=lambda k: int(k[1:]))]


def test_each_replay_is_one_range_holding_its_steps():
    step, w = _train_step()
    f = xg.function(step)
    x = xg.asarray(np.ones((5, 4)))
    _warm(f, x)
    with xg.profiler.profile() as prof:
        for _ in range(3):
            f(x)
    events = prof.events()
    rows = {(r.key, r.phase): r for r in prof.key_averages()}
    assert rows[("xg.function step", "function")].count == 3
    assert rows[("program replay", "replay")].count == 3
    assert not any(phase == "trace" for _, phase in rows)
    steps = [e for e in events if e.phase == "replay" and e.name != "program replay"]
    assert steps and {e.impl for e in steps} <= KINDS
    # every step runs once per replay, inside its replay's range
    for r in prof.key_averages():
        if r.phase == "replay" and r.key != "program replay":
            assert r.count % 3 == 0, r
    replays = [e for e in events if e.name == "program replay"]
    for e in steps:
        assert any(r.start_ns <= e.start_ns and e.start_ns + e.dur_ns <= r.start_ns + r.dur_ns
                   for r in replays)
    # the replay is the work: self times add up to the calls' totals
    calls = [e for e in events if e.depth == 0]
    assert {e.name for e in calls} == {"xg.function step"}
    assert sum(e.self_ns for e in events) == sum(e.dur_ns for e in calls)


def test_a_trace_inside_a_profile_builds_the_program_an_unprofiled_trace_builds():
    x = xg.asarray(np.ones((5, 4)))
    step_a, w_a = _train_step()
    step_b, w_b = _train_step()
    plain = xg.function(step_a)
    _warm(plain, x)
    profiled = xg.function(step_b)
    with xg.profiler.profile() as prof:
        _warm(profiled, x)
    assert [r.count for r in prof.key_averages() if r.phase == "trace"] == [1]
    (p1,), (p2,) = plain.programs(), profiled.programs()
    assert _renumbered(p1.source) == _renumbered(p2.source)
    steps1, steps2 = _steps(p1), _steps(p2)
    assert [type(v) for v in steps1] == [type(v) for v in steps2]
    for v1, v2 in zip(steps1, steps2):      # a kernel or NumPy function: the same object
        if callable(v1) and hasattr(v1, "__name__") and not hasattr(v1, "__self__"):
            if v1.__qualname__.startswith("<fused kernel"):   # numba: made per program
                assert v1.__qualname__ == v2.__qualname__
            else:
                assert v1 is v2
    for program in (p1, p2):
        for value in program._namespace.values():
            assert getattr(value, "__code__", None) is not _WRAPPER_CODE
    # and after the profile the program replays with its own functions, to the same numbers
    for value in p2._free[-1].__globals__.values():
        assert getattr(value, "__code__", None) is not _WRAPPER_CODE
    np.testing.assert_array_equal(np.asarray(plain(x)), np.asarray(profiled(x)))
    np.testing.assert_array_equal(np.asarray(w_a), np.asarray(w_b))


def test_a_replay_that_raises_leaves_its_globals_as_they_were():
    f = xg.function(lambda x: xg.exp(x) * 2.0)
    x = xg.asarray([1.0, 2.0])
    _warm(f, x)
    (program,) = f.programs()
    before = dict(program._free[-1].__globals__)
    with pytest.raises(ValueError):
        with xg.profiler.profile():
            f(x)
            raise ValueError("inside")
    after = program._free[-1].__globals__
    assert all(after[k] is v for k, v in before.items())


def test_step_kinds_name_what_a_program_step_is():
    assert step_kind(np.multiply, {}) == ("multiply", "call")
    assert step_kind(len, {id(len): "linear vjp"}) == ("linear vjp", "kernel")
    solver = SolverStep("odeint", None, None, 1, None, 0)
    assert step_kind(solver, {}) == ("odeint (one step)", "solver step")
    opt = xg.optim.Adam(0.1)
    host = HostOptimizerStep(None, opt, [], xg.get_backend("numpy"))
    assert step_kind(host, {}) == ("Adam.apply_gradients", "optimizer")


def test_eager_calls_of_a_function_are_profiled_per_op():
    f = xg.function(lambda x: xg.exp(x), fuse=False)
    with xg.profiler.profile() as prof:
        f(xg.asarray([1.0]))          # the first call with a signature runs eagerly or traces
    names = {(e.name, e.phase) for e in prof.events()}
    assert ("xg.function <lambda>", "function") in names
    assert ("exp", "forward") in names or any(phase == "trace" for _, phase in names)
