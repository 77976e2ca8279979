"""xg.profiler: exact names and counts for a known program, consistent times, the table, the
Chrome trace, record_function, and everything put back after a profile (even one that
raised). The xg.function side is in test_profiler_function.py."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.backend import KERNELS_BY_INDEX
from xpgrad.optim.optimizer import Optimizer
from xpgrad.primitive import BY_INDEX
from xpgrad.profiler import hooks
from xpgrad.profiler.recorder import ACTIVE

W0 = np.array([[0.3, -0.2], [0.1, 0.5], [-0.4, 0.2]])
X0 = np.array([[1.0, 2.0, 0.5], [-1.0, 0.3, 0.2], [0.7, -0.6, 1.1], [0.0, 0.4, -0.9]])


def _program(w, x, opt):
    """forward (matmul, tanh, multiply twice, sum), gradient, one SGD step."""
    with xg.GradientTape() as tape:
        y = xg.tanh(x @ w)
        loss = xg.sum(y * y * 0.5)
    g = tape.gradient(loss, w)
    opt.apply_gradients([(g, w)])
    return loss, g


def _dispatch_state():
    """Every attribute a profile swaps, by identity."""
    prims = [(p.forward, p.joint, p.vjps if p.vjps.__class__ is tuple else p.vjps.rule)
             for p in BY_INDEX]
    kernels = [(k.forward, k.value, k.vjp, k.vjp_in_place, k.vjp_sliced)
               for k in KERNELS_BY_INDEX]
    from xpgrad.jit import Function
    from xpgrad.jit.program import Program
    from xpgrad.jit.trace_cache import TraceCache

    from xpgrad import backward, tape

    classes = [backward._walk, tape._walk, Optimizer.apply_gradients, Function.__call__,
               TraceCache._trace, Program.run_arrays]
    return prims, kernels, classes


def _flat(state):
    for group in state:
        for row in group:
            for item in (row if isinstance(row, tuple) else (row,)):
                yield from (item if isinstance(item, tuple) else (item,))


def _same(a, b):
    """Whether two ``_dispatch_state``s hold the same objects."""
    a, b = list(_flat(a)), list(_flat(b))
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _impl(name):
    return "kernel" if name in xg.get_backend("numpy").kernels else "generic"


def test_names_and_counts_of_a_forward_gradient_and_sgd_step_are_exact():
    with xg.use_backend("numpy"):
        w = xg.Variable(W0.copy())
        x = xg.asarray(X0)
        opt = xg.optim.SGD(0.1)
        with xg.profiler.profile() as prof:
            _program(w, x, opt)
    counts = {}
    for e in prof.events():
        if e.impl != "kernel declined":     # a kernel that declined: the generic one ran next
            key = (e.name, e.phase)
            counts[key] = counts.get(key, 0) + 1
    assert counts == {
        ("matmul", "forward"): 1, ("tanh", "forward"): 1, ("multiply", "forward"): 2,
        ("sum", "forward"): 1,
        # one event per vjp rule run: y * y has two inputs wanting a gradient (two rules),
        # (y*y) * 0.5 one; matmul's x wants none
        ("sum", "backward"): 1, ("multiply", "backward"): 3, ("tanh", "backward"): 1,
        ("matmul", "backward"): 1,
        ("backward walk", "autograd"): 1,
        # plain SGD on a parameter smaller than one block updates inline (param -= lr *
        # grad, no sgd_update primitive: optim/sgd_optimizer.py), inside apply_gradients' range
        ("SGD.apply_gradients", "optimizer"): 1,
    }
    impls = {(e.name, e.phase): e.impl for e in prof.events() if e.impl != "kernel declined"}
    for name in ("matmul", "tanh", "sum"):
        assert impls[(name, "forward")] == _impl(name)


def test_an_sgd_update_with_momentum_is_its_own_event():
    with xg.use_backend("numpy"):
        w = xg.Variable(W0.copy())
        opt = xg.optim.SGD(0.1, momentum=0.9)
        with xg.profiler.profile() as prof:
            _program(w, xg.asarray(X0), opt)
    updates = [e for e in prof.events() if e.name == "sgd_update" and e.impl != "kernel declined"]
    assert len(updates) == 1 and updates[0].phase == "optimizer"
    assert updates[0].impl == "generic" or "sgd_update" in xg.get_backend("numpy").kernels


def test_profiled_numbers_equal_unprofiled_ones_and_torch():
    w1, w2 = xg.Variable(W0.copy()), xg.Variable(W0.copy())
    x = xg.asarray(X0)
    loss1, g1 = _program(w1, x, xg.optim.SGD(0.1))
    with xg.profiler.profile():
        loss2, g2 = _program(w2, x, xg.optim.SGD(0.1))
    assert float(loss1) == float(loss2)
    np.testing.assert_array_equal(np.asarray(g1), np.asarray(g2))
    np.testing.assert_array_equal(np.asarray(w1), np.asarray(w2))
    wt = torch.tensor(W0, requires_grad=True)
    lt = (torch.tanh(torch.tensor(X0) @ wt) ** 2 * 0.5).sum()
    lt.backward()
    np.testing.assert_allclose(np.asarray(g2), wt.grad.numpy(), rtol=1e-12)
    # and against central differences in float64
    f = lambda wv: float((np.tanh(X0 @ wv) ** 2 * 0.5).sum())  # noqa: E731
    fd = np.zeros_like(W0)
    for i in np.ndindex(W0.shape):
        d = np.zeros_like(W0)
        d[i] = 1e-6
        fd[i] = (f(W0 + d) - f(W0 - d)) / 2e-6
    np.testing.assert_allclose(np.asarray(g2), fd, rtol=1e-6, atol=1e-9)


def _children(events, parent):
    return [e for e in events if e.tid == parent.tid and e.depth == parent.depth + 1 and
            parent.start_ns <= e.start_ns and
            e.start_ns + e.dur_ns <= parent.start_ns + parent.dur_ns]


def test_times_are_non_negative_and_self_plus_children_is_total():
    w = xg.Variable(W0.copy())
    with xg.profiler.profile() as prof:
        with xg.profiler.record_function("step"):
            _program(w, xg.asarray(X0), xg.optim.SGD(0.1))
    events = prof.events()
    assert events
    for e in events:
        assert e.dur_ns >= e.self_ns >= 0
        assert e.dur_ns == e.self_ns + sum(c.dur_ns for c in _children(events, e))
    top = [e for e in events if e.depth == 0]
    assert [e.name for e in top] == ["step"]
    # the self times add up to the top-level ranges' totals, and the rows to the events
    assert sum(e.self_ns for e in events) == sum(e.dur_ns for e in top)
    rows = prof.key_averages()
    assert sum(r.count for r in rows) == len(events)
    assert sum(r.self_cpu_time_total for r in rows) == pytest.approx(
        sum(e.self_ns for e in events) / 1e3)
    for r in rows:
        assert r.cpu_time_total >= r.self_cpu_time_total >= 0
        assert r.cpu_time == pytest.approx(r.cpu_time_total / r.count)


def test_record_function_nests_as_context_and_decorator():
    @xg.profiler.record_function("inner")
    def inner(x):
        return xg.exp(x)

    with xg.profiler.profile() as prof:
        with xg.profiler.record_function("outer"):
            inner(xg.ones(3))
            inner(xg.ones(3))
    events = prof.events()
    outer = next(e for e in events if e.name == "outer")
    inners = [e for e in events if e.name == "inner"]
    exps = [e for e in events if e.name == "exp"]
    assert (outer.depth, [e.depth for e in inners], [e.depth for e in exps]) == (0, [1, 1], [2, 2])
    assert _children(events, outer) == inners
    assert outer.self_ns == outer.dur_ns - sum(e.dur_ns for e in inners)
    assert {e.phase for e in inners + [outer]} == {"user"}
    row = next(r for r in prof.key_averages() if r.key == "inner")
    assert row.count == 2


def test_record_function_outside_a_profile_records_nothing_and_passes_values():
    @xg.profiler.record_function("f")
    def f(a):
        return a + 1

    assert f(1) == 2
    with xg.profiler.record_function("r") as r:
        pass
    assert r.name == "r"


def test_table_sorts_limits_and_names_unknown_sort_keys():
    with xg.profiler.profile() as prof:
        for _ in range(3):
            xg.exp(xg.ones(4))
        xg.sum(xg.ones(4))
    rows = prof.key_averages()
    text = rows.table(sort_by="count", row_limit=1)
    lines = text.splitlines()
    assert lines[1].split()[:3] == ["Name", "Phase", "Impl"]
    body = lines[3:-2]
    assert len(body) == 1 and body[0].split()[0] == "exp" and body[0].split()[-1] == "3"
    assert len(rows.table(row_limit=-1).splitlines()) == 5 + len(rows)
    assert len(rows.table(row_limit=None).splitlines()) == 5 + len(rows)
    by_total = rows.table(sort_by="cpu_time_total").splitlines()[3:-2]
    totals = sorted(rows, key=lambda r: -r.cpu_time_total)
    assert [line.split()[0] for line in by_total] == [r.key for r in totals]
    with pytest.raises(ValueError, match="sort_by='cuda_time_total'.*'self_cpu_time_total'"):
        rows.table(sort_by="cuda_time_total")
    with pytest.raises(ValueError, match="sort_by=3"):
        rows.table(sort_by=3)
    with pytest.raises(TypeError, match="row_limit"):
        rows.table(row_limit="5")


def test_group_by_input_shape_splits_rows_by_shape():
    with xg.profiler.profile(record_shapes=True) as prof:
        xg.exp(xg.ones((2, 3)))
        xg.exp(xg.ones((2, 3)))
        xg.exp(xg.ones(5))
    grouped = {(r.key, r.input_shapes): r.count
               for r in prof.key_averages(group_by_input_shape=True)}
    assert grouped == {("exp", "[[2, 3]]"): 2, ("exp", "[[5]]"): 1}
    assert [(r.key, r.count) for r in prof.key_averages()] == [("exp", 3)]
    assert "Input shapes" in prof.key_averages(group_by_input_shape=True).table()


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="record_shapes"):
        xg.profiler.profile(record_shapes="yes")
    with pytest.raises(TypeError, match="synchronize"):
        xg.profiler.profile(synchronize="cuda")
    with pytest.raises(TypeError, match="name"):
        xg.profiler.record_function(3)
    with pytest.raises(TypeError, match="name"):
        xg.profiler.record_function("")
    prof = xg.profiler.profile()
    with pytest.raises(RuntimeError, match="after the `with` block"):
        prof.export_chrome_trace("never.json")
    with prof:
        pass
    with pytest.raises(RuntimeError, match="entered once"):
        with prof:
            pass
    with pytest.raises(ValueError, match="record_shapes=True"):
        prof.key_averages(group_by_input_shape=True)
    with pytest.raises(TypeError, match="group_by_input_shape"):
        xg.profiler.profile(record_shapes=True).key_averages(group_by_input_shape="yes")


def test_chrome_trace_is_valid_json_with_the_required_keys(tmp_path):
    w = xg.Variable(W0.copy())
    with xg.profiler.profile(record_shapes=True) as prof:
        with xg.profiler.record_function("step"):
            _program(w, xg.asarray(X0), xg.optim.SGD(0.1))
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    doc = json.loads(path.read_text())
    spans = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(spans) == len(prof.events())
    for e in spans:
        assert {"name", "cat", "ph", "ts", "dur", "pid", "tid", "args"} <= set(e)
        assert e["ts"] >= 0 and e["dur"] >= 0
    step = next(e for e in spans if e["name"] == "step")
    for e in spans:                 # everything ran inside the user's range
        assert step["ts"] <= e["ts"] and e["ts"] + e["dur"] <= step["ts"] + step["dur"] + 1e-3
    matmul = next(e for e in spans if e["name"] == "matmul" and e["cat"] == "forward")
    assert matmul["args"]["input_shapes"] == [[4, 3], [3, 2]]
    assert matmul["args"]["implementation"] in ("kernel", "generic")
    assert spans == sorted(spans, key=lambda e: e["ts"])


def test_an_exception_inside_the_profile_puts_every_original_back():
    before = _dispatch_state()
    with pytest.raises(ZeroDivisionError):
        with xg.profiler.profile():
            assert hooks.installed()
            assert not _same(before, _dispatch_state())
            xg.exp(xg.ones(2))
            1 / 0
    assert not ACTIVE and not hooks.installed()
    assert _same(before, _dispatch_state())
    # and the ops run as before, with nothing recorded anywhere
    assert xg.exp(xg.zeros(2)).tolist() == [1.0, 1.0]


def test_nested_profiles_keep_the_wrappers_until_the_last_exits():
    before = _dispatch_state()
    with xg.profiler.profile() as outer:
        xg.exp(xg.ones(2))
        with xg.profiler.profile() as inner:
            xg.sum(xg.ones(2))
        assert hooks.installed()
        xg.negative(xg.ones(2))
    assert not hooks.installed() and _same(before, _dispatch_state())
    assert [e.name for e in inner.events()] == ["sum"]
    assert [e.name for e in outer.events()] == ["exp", "sum", "negative"]


def test_synchronize_function_is_called_around_each_time_read():
    calls = []
    with xg.profiler.profile(synchronize=lambda: calls.append(1)) as prof:
        xg.exp(xg.ones(2))
        xg.sum(xg.ones(2))
    assert len(prof.events()) == 2 and len(calls) == 2 * 2
    with xg.profiler.profile(synchronize=True) as prof:    # NumPy queues nothing: no waits
        xg.exp(xg.ones(2))
    assert prof.sync is None and len(prof.events()) == 1


def test_threads_are_recorded_each_on_its_own_stack():
    barrier = threading.Barrier(2)

    def work():
        barrier.wait()
        with xg.profiler.record_function("worker"):
            for _ in range(20):
                xg.exp(xg.ones(50))

    with xg.profiler.profile() as prof:
        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    events = prof.events()
    tids = {e.tid for e in events}
    assert len(tids) == 2
    for tid in tids:
        mine = [e for e in events if e.tid == tid]
        assert [e.name for e in mine].count("exp") == 20
        (top,) = [e for e in mine if e.depth == 0]
        assert top.name == "worker"
        assert sum(e.self_ns for e in mine) == top.dur_ns


def test_the_profiling_page_example_runs_and_writes_its_trace(tmp_path, monkeypatch):
    import re

    from docs_text import section

    (code,) = re.findall(r"```python\n(.*?)```", section("Profiling: `xg.profiler`"), re.S)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(code, scope)                                   # noqa: S102 (the page's own example)
    rows = {(r.key, r.phase): r.count for r in scope["prof"].key_averages()}
    assert rows[("train step", "user")] == 5 and rows[("backward walk", "autograd")] == 5
    assert rows[("SGD.apply_gradients", "optimizer")] == 5
    doc = json.loads((tmp_path / "trace.json").read_text())
    assert sum(e["ph"] == "X" for e in doc["traceEvents"]) == len(scope["prof"].events())


def test_a_warning_of_tape_gradient_still_points_at_the_users_line():
    x = xg.asarray([1.0, 2.0])
    with xg.profiler.profile():
        with xg.GradientTape() as tape:
            tape.watch(x)
        with pytest.warns(RuntimeWarning, match="depends on no tensor") as caught:
            assert tape.gradient(xg.sum(x), x) is None
    assert caught[0].filename == __file__


def test_backward_rows_carry_the_shapes_of_the_ops_inputs():
    w = xg.Variable(W0.copy())
    with xg.profiler.profile(record_shapes=True) as prof:
        _program(w, xg.asarray(X0), xg.optim.SGD(0.1))
    shapes = {(e.name, e.phase): e.shapes for e in prof.events()}
    assert shapes[("matmul", "forward")] == shapes[("matmul", "backward")] == ((4, 3), (3, 2))
    assert shapes[("tanh", "forward")] == ((4, 2),)
