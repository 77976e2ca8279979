"""xg.function's guards: a range check on a traced value (an index before ``take``/getitem,
labels before a loss) becomes a guard of the replay; where it fails, the call runs eagerly
instead. That is right only if the replay changed nothing before the guard: an optimizer
update, a write into a Variable or a random draw made before it would then happen twice (once
by the replay, once by the eager call). Each test runs the same step eagerly and compiled and
compares everything the step changes, call for call, across a guard that fails."""
import contextlib
import sys

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import TraceError

from test_function_cuda import FakeGraphs

BACKENDS = ["numpy", "numba"]


def _both(make, calls, backend, guard_fails=True, **options):
    """``make(backend)`` -> (step, state()) run eagerly and compiled (``xg.function`` with
    ``options``) on the argument tuples ``calls(backend)``: the results and the states after
    each call must agree, and a guard must have failed (unless ``guard_fails`` is False);
    returns the compiled Function."""
    out = []
    for compiled in (False, True):
        step, state = make(backend)
        run = xg.function(step, **options) if compiled else step
        with _counting_guard_failures() as failures:
            out.append([(_numpy(run(*args)), state()) for args in calls(backend)])
        out.append(run)
    assert not guard_fails or failures, "no guard failed: the test checks nothing"
    (eager, _), (got, run) = (out[0], out[1]), (out[2], out[3])
    for k, ((r_e, s_e), (r_c, s_c)) in enumerate(zip(eager, got)):
        for a, b in zip(r_e + s_e, r_c + s_c):
            np.testing.assert_allclose(b, a, rtol=1e-12, err_msg=f"call {k}")
    return run


@contextlib.contextmanager
def _counting_guard_failures():
    """A list that gets one entry per guard failure (``RangeGuard.widen``, the eager call
    after it) while the context runs."""
    guard_type = sys.modules["xpgrad.jit.capture"].RangeGuard
    widen, failures = guard_type.widen, []

    def counted(guard, lo, hi):
        failures.append((lo, hi))
        return widen(guard, lo, hi)

    guard_type.widen = counted
    try:
        yield failures
    finally:
        guard_type.widen = widen


def _numpy(result):
    items = result if isinstance(result, tuple) else (result,)
    return [np.asarray(r.numpy() if hasattr(r, "numpy") else r) for r in items]


def _sgd_step_then_take(backend):
    """An SGD update, then an index computed from the argument (not the argument itself)."""
    w = xg.Variable(np.linspace(1.0, 2.0, 6), backend=backend, dtype="float64")
    opt = xg.optim.SGD(0.1, momentum=0.5)

    def step(i):
        with xg.GradientTape() as tape:
            loss = xg.sum(w * w)
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return xg.take(w, i + 1)

    return step, lambda: [w.numpy(), opt.iterations]


def _indices(*rows):
    return lambda backend: [(xg.asarray(np.array(r), backend=backend),) for r in rows]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_index_computed_from_an_argument_after_an_update_updates_once(backend):
    run = _both(_sgd_step_then_take, _indices([0, 1], [1, 0], [0, 1], [3, 4], [-2, 0], [1, 1]),
                backend)
    assert run.trace_count == 1
    assert run.programs()[0].snapshot is None      # the guard moved before the update


def _update_then(pick, optimizer=lambda: xg.optim.Adam(0.05)):
    """An update, then ``pick(x, w)`` on the weights it just changed: a guard there cannot
    run before the update."""
    def make(backend):
        w = xg.Variable(np.linspace(-1.0, 1.0, 12).reshape(3, 4), backend=backend,
                        dtype="float64")
        opt = optimizer()

        def step(x, y):
            with xg.GradientTape() as tape:
                loss = xg.mean((x @ w - y) ** 2)
            opt.apply_gradients([(tape.gradient(loss, w), w)])
            return pick(x, w)

        return step, lambda: [w.numpy(), opt.iterations]

    return make


def _pseudo_label_loss(x, w):
    logits = x @ w
    return xg.losses.softmax_cross_entropy(logits, xg.argmax(logits, axis=-1))


def _best_column(x, w):
    return xg.sum(xg.take(w, xg.argmax(x @ w, axis=-1), axis=1))


def _batches(backend):
    """x @ w's largest column is the last for positive rows, the first for negative ones:
    the trace sees only 3, the fifth call 0 and 3 (its guard fails)."""
    rng = np.random.default_rng(3)
    signs = [[1, 1]] * 4 + [[-1, 1]] * 2 + [[1, -1]] * 2
    return [(xg.asarray(np.outer(s, [1.0, 1.0, 1.0]), backend=backend),
             xg.asarray(rng.normal(size=(2, 4)) * 0.1, backend=backend)) for s in signs]


@pytest.mark.parametrize("pick", [_pseudo_label_loss, _best_column])
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_index_computed_from_updated_weights_updates_once(backend, pick):
    _both(_update_then(pick), _batches, backend)


def test_a_plain_sgd_update_folded_into_a_gemm_is_undone_too():
    """Plain SGD's update of a product's gradient replays as one gemm (jit/sgd_gemm.py): a
    step of its own kind, saved and put back like the generic update."""
    run = _both(_update_then(_best_column, lambda: xg.optim.SGD(0.2)), _batches, "numpy")
    assert run.programs()[0].snapshot is not None


def _random_rows(backend):
    """A random draw, then the rows it picks: the guard is on the draw's result."""
    rng = xg.random.default_rng(5, backend=backend)
    table = xg.asarray(np.arange(40.0).reshape(20, 2), backend=backend)

    def step(x):
        return xg.sum(xg.take(table, rng.integers(0, 20, size=(2,)), axis=0) * x)

    return step, lambda: [rng.normal(size=(1,), dtype=xg.float64).numpy()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_guard_on_a_random_draw_draws_once(backend):
    _both(_random_rows, lambda be: [(xg.asarray([1.0, 2.0], backend=be),)] * 12, backend)


def _write_then_argmax(backend):
    """A write into a captured Variable, then an index read from it (the write is a copy
    that the replay assigns at its end: nothing to undo)."""
    v = xg.Variable(np.array([3.0, 1.0, 0.0, 2.0]), backend=backend, dtype="float64")
    table = xg.asarray(np.arange(4.0) * 10.0, backend=backend)

    def step(x):
        v[1] = v[1] + x
        return xg.take(table, xg.reshape(xg.argmax(v), (1,)))

    return step, lambda: [v.numpy()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_index_read_from_a_variable_written_before_writes_once(backend):
    _both(_write_then_argmax,
          lambda be: [(xg.asarray(x, backend=be),) for x in (0.0, 0.0, 0.0, 5.0, 0.0)], backend)


def test_a_failing_guard_between_cuda_graph_segments_updates_once():
    """The CUDA-graph replay runs host segments (the update, the guards) between graph
    launches: a guard failing after a launched update must not leave it applied (played by
    the NumPy stand-in of the graph API)."""
    graphs = FakeGraphs()
    _both(_update_then(_best_column), _batches, "numpy", cuda_graph=graphs)
    assert graphs.launches
    assert not graphs.following      # released to the caller's stream, the failed guard's too


# -- the trace's instrumentation is undone exactly ----------------------------------------------

def _own_ranges(monkeypatch):
    """The numpy backend with ``index_range``/``value_range`` of its own (on the instance)."""
    be = xg.get_backend("numpy")
    own_index = be.index_range
    own_value = be.value_range
    monkeypatch.setattr(be, "index_range", lambda a: own_index(a), raising=False)
    monkeypatch.setattr(be, "value_range", lambda a, accepted: own_value(a, accepted),
                        raising=False)
    return be, vars(be)["index_range"], vars(be)["value_range"]


def test_a_backends_own_range_methods_are_restored_after_a_trace(monkeypatch):
    be, index_range, value_range = _own_ranges(monkeypatch)
    table = xg.asarray(np.arange(5.0))
    f = xg.function(lambda i, p: xg.sum(table[i]) + xg.losses.binary_cross_entropy(p, p))
    for _ in range(3):
        f(xg.asarray(np.array([1, 2])), xg.asarray([0.5, 0.25]))
    assert f.trace_count == 1
    assert vars(be)["index_range"] is index_range
    assert vars(be)["value_range"] is value_range


def test_a_backends_own_range_methods_are_restored_after_a_failed_trace(monkeypatch):
    be, index_range, value_range = _own_ranges(monkeypatch)
    table = xg.asarray(np.arange(5.0))

    def f(i):
        if xg.sum(table[i]) > 0:          # reads a value in Python: the trace raises
            return i
        return i

    f = xg.function(f, warmup=0)
    with pytest.raises(TraceError):
        f(xg.asarray(np.array([1, 2])))
    assert vars(be)["index_range"] is index_range
    assert vars(be)["value_range"] is value_range


def test_a_trace_whose_instrumentation_fails_midway_is_undone(monkeypatch):
    """The instrumentation is undone even where setting it up raised (after the backend's
    namespace and range methods were replaced, before the Variables were)."""
    capture_module = sys.modules["xpgrad.jit.capture"]     # the name `capture` is the function
    be, index_range, value_range = _own_ranges(monkeypatch)
    own = dict(vars(be))

    def fails(backend):
        raise RuntimeError("instrumentation failed")

    monkeypatch.setattr(capture_module, "live_variables", fails)
    f = xg.function(lambda x: x * 2.0, warmup=0)
    with pytest.raises(RuntimeError, match="instrumentation failed"):
        f(xg.asarray([1.0]))
    assert vars(be) == own


# -- a trace that fails, then runs eagerly -------------------------------------------------------

def _draw_then_read(backend):
    """A random draw, then a value read in Python (the trace raises TraceError after the draw;
    with on_trace_error="eager" the call runs eagerly)."""
    rng = xg.random.default_rng(11, backend=backend)

    def step(x):
        z = x + rng.normal(size=(2,), dtype=xg.float64)
        return z * 2.0 if xg.sum(z).item() > 0 else z

    return step, lambda: [rng.normal(size=(1,), dtype=xg.float64).numpy()]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trace_failing_after_a_random_draw_runs_eagerly_drawing_once(backend):
    with pytest.warns(RuntimeWarning, match="runs eagerly"):
        _both(_draw_then_read, lambda be: [(xg.asarray([0.5, -0.5], backend=be),)] * 4,
              backend, guard_fails=False, on_trace_error="eager")


def _draw_on_numba(backend):
    """A draw from a numba generator in a call with no tensor argument: the trace assumes
    the current backend (numpy), fails at the draw's numba array, and traces again on numba."""
    rng = xg.random.default_rng(7, backend="numba")

    def step(scale):
        return rng.normal(size=(2,), dtype=xg.float64) * scale

    return step, lambda: [rng.normal(size=(1,), dtype=xg.float64).numpy()]


def test_a_trace_retried_on_the_generators_backend_draws_once():
    run = _both(_draw_on_numba, lambda be: [(2.0,)] * 4, "numpy", guard_fails=False,
                warmup=0)
    assert [p.be.name for p in run.programs()] == ["numba"]


def _update_then_frozen_pick(backend):
    """An update of ``w``, then an index computed from the argument and a Variable no
    optimizer updates, read first after the update: the guard's input does not depend on the
    update."""
    w = xg.Variable(np.linspace(-1.0, 1.0, 12).reshape(3, 4), backend=backend, dtype="float64")
    frozen = xg.Variable(np.arange(12.0).reshape(3, 4) - 5.0, backend=backend, dtype="float64")
    table = xg.asarray(np.arange(4.0) * 10.0, backend=backend)
    opt = xg.optim.Adam(0.05)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.mean((x @ w - y) ** 2)
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return xg.sum(xg.take(table, xg.argmax(x @ frozen, axis=-1)))

    return step, lambda: [w.numpy(), opt.iterations]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_guard_on_a_variable_the_update_leaves_alone_moves_before_it(backend):
    """No snapshot (a copy of the weights and the optimizer's slots on every replay) where the
    read of the untouched Variable can move before the update with the guard."""
    run = _both(_update_then_frozen_pick, _batches, backend)
    assert run.programs()[0].snapshot is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_clipping_with_error_if_nonfinite_replays_and_raises_as_eager(backend):
    # the finiteness check of the norm is a guard: finite norms replay, a non-finite one runs
    # the call eagerly, which raises before the update (it was a TraceError at the trace)
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(6, 3)).astype(np.float32) for _ in range(7)]
    batches[4][2, 1] = np.inf

    def run(compiled):
        lin = xg.nn.Linear(3, 2, rng=0, backend=backend)
        opt = xg.optim.SGD(0.1, momentum=0.9)
        variables = lin.trainable_variables

        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.mean(lin(x) ** 2)
            grads, _ = xg.optim.clip_global_norm(tape.gradient(loss, variables), 0.5,
                                                 error_if_nonfinite=True)
            opt.apply_gradients(zip(grads, variables))
            return loss

        fn = xg.function(step) if compiled else step
        seen = []
        for b in batches:
            try:
                seen.append(float(fn(xg.asarray(b, backend=backend)).numpy()))
            except RuntimeError as e:
                assert "error_if_nonfinite=True" in str(e)
                seen.append("raised")
            seen.append([v.numpy() for v in lin.variables])
        return seen, int(opt.iterations), fn

    want, want_steps, _ = run(False)
    got, steps, compiled = run(True)
    assert got[8] == want[8] == "raised" and steps == want_steps == 6
    for g, w in zip(got, want):
        if isinstance(w, list):                 # the Variables after the call
            for gv, wv in zip(g, w):
                np.testing.assert_allclose(gv, wv, rtol=1e-6)
        else:
            assert g == w if w == "raised" else g == pytest.approx(w, rel=1e-6)
    assert compiled.trace_count == 1
