"""xg.odeint's fast paths: the steps on raw arrays and func (and the adjoint's vjp of func)
captured with xg.function agree with the steps on Tensors and with eager calls to float
rounding, and each replay's result is left alone by later replays; a func that cannot be traced
runs eagerly and says so in the log; what func reads is read again on each odeint call; an
error func raises while it is traced is not swallowed. (Captures kept across odeint calls:
tests/test_ode_captures.py.)"""
import logging
import math

import numpy as np
import pytest

import xpgrad as xg
from ode_cases import f64, fresh_captures, lotka_volterra  # noqa: F401  (the fixture: autouse)
from xpgrad import ode_adjoint, ode_captures, ode_rhs

TIGHT = dict(rtol=1e-10, atol=1e-10)


def lotka_volterra_case():
    t, y0, p = f64(np.linspace(0.0, 6.0, 7)), f64([10.0, 5.0]), f64([1.1, 0.4, 0.1, 0.4])
    weights = f64(np.linspace(0.5, 2.0, 14).reshape(7, 2))

    def loss(y0, t, p):
        return xg.sum(xg.odeint(lotka_volterra, y0, t, p, **TIGHT) * weights)

    return loss, (y0, t, p)


def neural_case():
    """A 2-D state through xg.nn.Linear layers read from the closure (their output reshaped
    to the flat state: the case where a replay's result was a view of a reused buffer)."""
    layer1 = xg.nn.Linear(2, 6, rng=5, dtype=xg.float64)
    layer2 = xg.nn.Linear(6, 2, rng=6, dtype=xg.float64)
    t, y0 = f64([0.0, 0.4, 0.9, 1.5]), f64([[0.5, -0.3], [0.1, 0.8]])

    def loss(y0, t, b1):
        ys = xg.odeint(lambda y, t, b: layer2(xg.tanh(layer1(y) + b)), y0, t, b1, **TIGHT)
        return xg.sum(ys ** 2) + xg.sum(layer1.w * 0.0)

    return loss, (y0, t, f64(np.linspace(-0.3, 0.3, 6)))


def view_case():
    """func returns a reshape of an xg.nn.Linear output on a 1-D state: a captured adjoint
    program whose buffer planner reused that output's memory while the reshape was live (an
    xg.function bug, fixed) gave wrong gradients from its third replay on."""
    layer1 = xg.nn.Linear(2, 6, rng=5, dtype=xg.float64)
    layer2 = xg.nn.Linear(6, 2, rng=6, dtype=xg.float64)

    def mlp(y, t, b):
        return layer2(xg.tanh(layer1(y.reshape((1, 2))) + b)).reshape((2,))

    def loss(y0, t, b):
        return xg.sum(xg.odeint(mlp, y0, t, b, **TIGHT) ** 2)

    return loss, (f64([0.5, -0.3]), f64([0.0, 0.5, 1.2]), f64(np.linspace(-0.3, 0.3, 6)))


def value_and_gradients(case):
    loss, args = case()
    value, grads = xg.value_and_grad(loss, argnums=(0, 1, 2))(*args)
    return [value.numpy()] + [g.numpy() for g in grads]


def force(monkeypatch, path):
    """``"eager"``: raw steps, func and its vjp never captured; ``"tensors"``: the steps on
    Tensors (the path of higher-order passes, traces and vmap)."""
    if path == "eager":
        monkeypatch.setattr(ode_rhs, "_function", lambda fn: None)
    else:
        monkeypatch.setattr(ode_rhs, "plain_context", lambda: False)
        monkeypatch.setattr(ode_adjoint, "plain_context", lambda: False)


@pytest.mark.parametrize("case", [lotka_volterra_case, neural_case, view_case])
@pytest.mark.parametrize("other", ["eager", "tensors"])
def test_captured_raw_steps_agree_with_eager_calls_and_tensor_steps(case, other, monkeypatch):
    fast = value_and_gradients(case)
    force(monkeypatch, other)
    slow = value_and_gradients(case)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13 * np.abs(b).max())


def test_traceable_func_is_captured_for_the_solve_and_the_adjoint(caplog):
    loss, args = lotka_volterra_case()
    with caplog.at_level(logging.DEBUG, logger="xpgrad.odeint"):
        xg.grad(loss, argnums=2)(*args)
    messages = [r.getMessage() for r in caplog.records]
    assert "odeint: func 'lotka_volterra' captured with xg.function, replayed from now on" \
        in messages
    assert any("adjoint's vjp of func 'lotka_volterra' captured" in m for m in messages)
    assert not any("eagerly" in m for m in messages)


def test_a_reshaped_linear_output_stays_captured(caplog):
    """view_case's adjoint program once replayed wrong (a planned buffer reused under a live
    reshape: a replay check sent it back to eager calls then); it stays captured."""
    loss, args = view_case()
    with caplog.at_level(logging.DEBUG, logger="xpgrad.odeint"):
        xg.grad(loss, argnums=2)(*args)
    messages = [r.getMessage() for r in caplog.records]
    assert any("adjoint's vjp of func 'mlp' captured" in m for m in messages)
    assert not any("eagerly" in m for m in messages), messages


def test_func_with_python_control_flow_on_t_runs_eagerly_and_is_right(caplog):
    """dy/dt = -k y before t = 1 and -2 k y after: y(2) = y0 exp(-3 k), chosen with a
    Python ``if`` on float(t), which no trace can replay."""
    def switching(y, t, k):
        return -k * y if float(t) < 1.0 else -2.0 * k * y

    def end_value(y0, k):
        return xg.odeint(switching, y0, f64([0.0, 2.0]), k, **TIGHT)[-1, 0]

    y0, k = f64([1.5]), f64(0.3)
    with caplog.at_level(logging.DEBUG, logger="xpgrad.odeint"):
        value, (dy0, dk) = xg.value_and_grad(end_value, argnums=(0, 1))(y0, k)
    # (the kink at t = 1 costs the solves, whose steps straddle it, some accuracy: the value's
    # error, 2e-9 to 1.3e-8 at these tolerances, depends on where the steps fall)
    np.testing.assert_allclose(float(value), 1.5 * math.exp(-0.9), rtol=5e-8)
    np.testing.assert_allclose(dy0.numpy(), [math.exp(-0.9)], rtol=1e-6)
    np.testing.assert_allclose(float(dk), -3.0 * 1.5 * math.exp(-0.9), rtol=1e-6)
    eager = [r.getMessage() for r in caplog.records if "runs eagerly" in r.getMessage()]
    assert len(eager) == 2 and "func 'switching'" in eager[0] and "TraceError" in eager[0]
    assert "the adjoint's vjp of func 'switching'" in eager[1]


def test_what_func_reads_is_read_again_on_each_call():
    rate = f64(0.5)
    layer = xg.nn.Linear(1, 1, rng=0, dtype=xg.float64)

    def decay(y, t):
        return -rate * y + 0.0 * layer(y.reshape((1, 1))).reshape((1,))

    t = f64([0.0, 1.0])
    first = float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0])
    rate = f64(2.0)                                 # the closure's tensor is another now
    with pytest.warns(xg.jit.RetracingWarning, match="odeint: func 'decay' reads a Tensor"):
        second = float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0])
    np.testing.assert_allclose([first, second], [math.exp(-0.5), math.exp(-2.0)], rtol=1e-8)

    def driven(y, t):
        return layer(y.reshape((1, 1))).reshape((1,))     # y' = w y + b

    layer.w.assign(f64([[-1.0]]))
    layer.b.assign(f64([0.0]))
    before = float(xg.odeint(driven, f64([1.0]), t, **TIGHT)[-1, 0])
    layer.w.assign(f64([[-3.0]]))
    after = float(xg.odeint(driven, f64([1.0]), t, **TIGHT)[-1, 0])
    np.testing.assert_allclose([before, after], [math.exp(-1.0), math.exp(-3.0)], rtol=1e-8)


def test_an_error_func_raises_while_traced_is_raised_not_swallowed():
    class FailsAfterFirstCall:
        __name__ = "fails"

        def __init__(self):
            self.calls = 0

        def __call__(self, y, t):
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("boom from func")
            return -y

    with pytest.raises(RuntimeError, match="boom from func"):
        xg.odeint(FailsAfterFirstCall(), f64([1.0]), f64([0.0, 1.0]))


def test_float32_state_on_the_fast_path_matches_float64():
    t = np.linspace(0.0, 5.0, 6)
    args = (xg.asarray([10.0, 5.0]), xg.asarray(t), xg.asarray([1.1, 0.4, 0.1, 0.4]))

    def loss(y0, t, p):
        return xg.sum(xg.odeint(lotka_volterra, y0, t, p, rtol=1e-6, atol=1e-6))

    g32 = xg.grad(loss, argnums=(0, 2))(*args)
    g64 = xg.grad(loss, argnums=(0, 2))(*(a.astype(xg.float64) for a in args))
    for a, b in zip(g32, g64):
        assert a.dtype == xg.float32
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4)


@pytest.mark.usefixtures("numpy_default")     # the numpy backend named below
@pytest.mark.parametrize("case", [neural_case, view_case])
def test_replays_equal_eager_calls_and_stay_unchanged_by_later_replays(case):
    """What the replay check of the first three replays once guarded (a result that was a
    view of a buffer the next replay reused): func's program and the adjoint's augmented
    system's, replayed at 20 states, each result kept and compared with an eager call after
    the last replay."""
    loss, (y0, t, b) = case()
    xg.grad(loss, argnums=2)(y0, t, b)          # traces func and the augmented system
    (entry,) = ode_captures._ENTRIES.values()
    (augmented,) = entry._adjoints.values()
    rng = np.random.default_rng(3)
    for capture in (entry.forward, augmented):
        fn = capture.function.fn.fn
        size = y0.size if capture is entry.forward else \
            2 * fn.n + 1 + sum(b.size if type(s) is int else s.size for s in fn.sources)
        rhs = ode_rhs.RawRhs(fn, (b,), xg.get_backend("numpy"), xg.float64, "case", capture)
        states, times = rng.normal(size=(20, size)), rng.uniform(0.0, 1.5, size=20)
        replayed = [rhs(state, time) for state, time in zip(states, times)]
        assert rhs.path == "captured" and capture.function.trace_count == 1
        for state, time, out in zip(states, times, replayed):
            eager = fn(f64(state), f64(time), b).numpy()
            np.testing.assert_allclose(out, eager, rtol=1e-13, atol=1e-15)


def test_the_trace_lock_kept_through_a_solves_replays_is_released_after_it():
    """The replays of one integration hold xg.function's trace lock from the first to the
    end (ode_rhs.RawRhs.replaying); afterwards, and after a solve that raised, no lock is held
    and another thread can trace."""
    from xpgrad.jit.lock import TRACE_LOCK

    loss, args = lotka_volterra_case()
    xg.grad(loss, argnums=2)(*args)
    assert TRACE_LOCK.mine.held is None and TRACE_LOCK._sharing == 0
    with pytest.raises(xg.StepLimitError):
        xg.grad(lambda p: xg.sum(xg.odeint(lotka_volterra, args[0], f64([0.0, 50.0]), p,
                                           mxstep=40)))(args[2])
    assert TRACE_LOCK.mine.held is None and TRACE_LOCK._sharing == 0
    import threading

    traced = []
    square = xg.function(lambda x: x * x, warmup=0)
    worker = threading.Thread(target=lambda: traced.append(square(f64([3.0])).tolist()))
    worker.start()
    worker.join(timeout=10)
    assert traced == [[9.0]] and square.trace_count == 1


def test_inside_an_xg_function_the_right_hand_sides_replay_raw_as_eagerly(monkeypatch):
    """odeint run as one solver step of an xg.function (jit/solver_steps.py), in its trace and
    its replays, replays its captured right-hand sides as an eager call does: a full replay
    (RawRhs._replay) for the first call of each integration, the raw Python-floats replay for
    the rest (it once took the full one on every call there: the lock the step runs under was
    the outer replay's, not its own); values and gradients equal the eager call's bit for bit,
    and no lock is left held."""
    from xpgrad.jit.lock import TRACE_LOCK

    loss, args = lotka_volterra_case()
    eager = xg.value_and_grad(loss, argnums=(0, 1, 2))
    step = xg.function(lambda *a: eager(*a))
    full_replays = []
    replay = ode_rhs.RawRhs._replay
    monkeypatch.setattr(ode_rhs.RawRhs, "_replay",
                        lambda self, *a: full_replays.append(self.role) or replay(self, *a))

    def counted(fn):
        full_replays.clear()
        value, grads = fn(*args)
        return len(full_replays), [value.numpy()] + [g.numpy() for g in grads]

    eager(*args)                                    # (captures func and its vjp)
    want_count, want = counted(eager)
    assert 0 < want_count <= 2 * len(args[1].numpy())
    for call in range(4):                           # eager, traced, replayed twice
        count, got = counted(step)
        assert count == want_count, (call, count, want_count)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    assert step.trace_count == 1
    assert TRACE_LOCK.mine.held is None and TRACE_LOCK._sharing == 0
