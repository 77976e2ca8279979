"""xg.odeint keeps func's captures from one call to the next (xpgrad/ode_captures.py): a
training loop traces func and the adjoint's augmented system once and replays them on later
steps with new arguments, giving the values and gradients of a solve that traced afresh; a
changed closure value, global, attribute, state shape or Python argument gives the new answer."""
import logging
import math
import warnings

import numpy as np
import pytest

import xpgrad as xg
from ode_cases import f64, fresh_captures, lotka_volterra  # noqa: F401  (the fixture: autouse)
from xpgrad import ode_captures, ode_rhs

TIGHT = dict(rtol=1e-10, atol=1e-10)
RATE = 0.5          # a global the func below reads; test_a_changed_global_... changes it


def fit_loss(p, y0):
    t = f64(np.linspace(0.0, 4.0, 5))
    return xg.sum((xg.odeint(lotka_volterra, y0, t, p, **TIGHT) - 3.0) ** 2)


def traces():
    """How many times each kept capture traced, forward first."""
    (entry,) = ode_captures._ENTRIES.values()
    return [c.function.trace_count for c in [entry.forward, *entry._adjoints.values()]]


def test_a_training_loop_traces_once_and_matches_fresh_solves():
    step = xg.value_and_grad(fit_loss, argnums=(0, 1))
    y0 = f64([10.0, 5.0])
    kept = []
    for p in np.linspace([1.1, 0.4, 0.1, 0.4], [1.0, 0.5, 0.12, 0.3], 4):
        value, (dp, dy0) = step(f64(p), y0)
        kept.append((float(value), dp.numpy(), dy0.numpy()))
    assert traces() == [1, 1]
    for p, (value, dp, dy0) in zip(np.linspace([1.1, 0.4, 0.1, 0.4], [1.0, 0.5, 0.12, 0.3], 4),
                                   kept):
        ode_captures.clear()                     # a solve that captures func afresh
        fresh_value, (fresh_dp, fresh_dy0) = step(f64(p), y0)
        np.testing.assert_allclose(value, float(fresh_value), rtol=1e-13)
        np.testing.assert_allclose(dp, fresh_dp.numpy(), rtol=1e-11)
        np.testing.assert_allclose(dy0, fresh_dy0.numpy(), rtol=1e-11)


def test_the_kept_captures_gradient_matches_finite_differences():
    step = xg.grad(fit_loss, argnums=0)
    y0, p = f64([10.0, 5.0]), np.array([1.1, 0.4, 0.1, 0.4])
    step(f64(p * 0.9), y0)                       # traces
    grad = step(f64(p), y0).numpy()              # replays
    assert traces() == [1, 1]
    h = 1e-6
    numeric = [(float(fit_loss(f64(p + h * e), y0)) - float(fit_loss(f64(p - h * e), y0)))
               / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)


def test_a_changed_closure_float_gives_the_new_answer():
    t = f64([0.0, 1.0])
    k = 0.5

    def decay(y, t):
        return -k * y

    first = float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0])
    k = 2.0
    second = float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0])
    np.testing.assert_allclose([first, second], [math.exp(-0.5), math.exp(-2.0)], rtol=1e-8)


def test_fresh_lambdas_over_the_same_values_share_a_capture():
    def make(k):
        return lambda y, t: -k * y

    t = f64([0.0, 1.0])
    ends = [float(xg.odeint(make(k), f64([1.0]), t, **TIGHT)[-1, 0]) for k in (0.5, 0.5, 2.0)]
    np.testing.assert_allclose(ends, np.exp([-0.5, -0.5, -2.0]), rtol=1e-8)
    assert len(ode_captures._ENTRIES) == 2        # k = 0.5 once, k = 2.0 once


def test_a_changed_global_gives_the_new_answer(monkeypatch):
    def decay(y, t):
        return -RATE * y

    t = f64([0.0, 1.0])
    first = float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0])
    monkeypatch.setattr(__import__(__name__), "RATE", 3.0)
    second = float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0])
    np.testing.assert_allclose([first, second], [math.exp(-0.5), math.exp(-3.0)], rtol=1e-8)


def test_a_changed_attribute_is_caught_by_the_first_call_and_traced_again(caplog):
    """An attribute is in no key: the first eager call of the next solve differs from the
    kept program's replay, and every capture of func is traced again."""
    class Decay:
        def __init__(self):
            self.k = 0.5

        def __call__(self, y, t):
            return -self.k * y

    decay, t = Decay(), f64([0.0, 1.0])
    k0 = f64(1.0)

    def end(k0):
        return xg.odeint(decay, f64([1.0]) * k0, t, **TIGHT)[-1, 0]

    first, dfirst = xg.value_and_grad(end)(k0)
    decay.k = 2.0
    with caplog.at_level(logging.DEBUG, logger="xpgrad.odeint"):
        second, dsecond = xg.value_and_grad(end)(k0)
    np.testing.assert_allclose([float(first), float(second)], np.exp([-0.5, -2.0]), rtol=1e-8)
    np.testing.assert_allclose([float(dfirst), float(dsecond)], np.exp([-0.5, -2.0]), rtol=1e-7)
    assert "differs from an eager call" in caplog.text


def test_a_changed_shape_or_python_argument_gives_the_new_answer():
    def decay(y, t, k):
        return -k * y

    t = f64([0.0, 1.0])
    for y0, k in (([1.0], 0.5), ([1.0, 2.0], 0.5), ([1.0, 2.0], 2.0), ([1.0], 0.5)):
        end = xg.odeint(decay, f64(y0), t, k, **TIGHT)[-1].numpy()
        np.testing.assert_allclose(end, np.multiply(y0, math.exp(-k)), rtol=1e-8)


def test_a_func_that_cannot_be_traced_is_not_traced_again(monkeypatch):
    def switching(y, t):
        return -y if float(t) < 0.5 else -2.0 * y

    t = f64([0.0, 1.0])
    traced = []
    original = ode_rhs._function

    def counted(fn):
        function = original(fn)
        traced.append(function)
        return function

    monkeypatch.setattr(ode_rhs, "_function", counted)
    for _ in range(3):
        end = float(xg.odeint(switching, f64([1.0]), t, **TIGHT)[-1, 0])
        np.testing.assert_allclose(end, math.exp(-1.5), rtol=1e-6)    # (the kink at t = 0.5)
    (entry,) = ode_captures._ENTRIES.values()
    assert entry.forward.function is None and "TraceError" in entry.forward.path
    assert len(traced) == 1                  # one attempt, eager calls after it


def test_the_kept_entries_are_bounded():
    t = f64([0.0, 1.0])
    for k in range(ode_captures.MAX_ENTRIES + 5):
        xg.odeint(lambda y, t, k=float(k): -k * y, f64([1.0]), t)
    assert len(ode_captures._ENTRIES) == ode_captures.MAX_ENTRIES


def test_keys_name_closure_values_by_value_and_objects_by_identity():
    key = ode_captures.func_key
    a, b = f64(1.0), f64(1.0)
    assert key(lambda y, t: a * y) != key(lambda y, t: b * y)     # two lambdas: two codes

    def make(x):
        return lambda y, t: x * y

    assert key(make(a)) == key(make(a)) and key(make(a)) != key(make(b))
    assert key(make((1.0, 2.0))) == key(make((1.0, 2.0))) != key(make((1.0, 3.0)))
    calls = [0]                           # a list func counts its calls in: by identity
    assert key(make(calls)) == (calls.append(1), key(make(calls)))[1]
    assert key(make(float("nan"))) == key(make(float("nan")))
    assert key(make(np.float64(2.0))) != key(make(np.float64(3.0)))
    assert key(make(make(0.5))) != key(make(make(0.25)))          # a function in a cell


def test_numpy_arguments_are_captured_and_read_on_each_call(caplog):
    """xg.function takes no NumPy arrays: odeint hands NumPy arrays and scalars in args to the
    captured program as Tensors, so they are read anew on each call (func's eager calls get
    them as they were given)."""
    seen = []

    def decay(y, t, k, scale):
        seen.append(type(k))
        return -k * scale * y

    t = f64([0.0, 1.0])
    with caplog.at_level(logging.DEBUG, logger="xpgrad.odeint"):
        ends = [float(xg.odeint(decay, f64([1.0]), t, np.array([k]), np.float64(s),
                                **TIGHT)[-1, 0]) for k, s in ((0.5, 1.0), (2.0, 1.0), (2.0, 0.5))]
    np.testing.assert_allclose(ends, np.exp([-0.5, -2.0, -1.0]), rtol=1e-8)
    assert "eagerly" not in caplog.text and traces() == [1]
    assert seen[0] is np.ndarray          # the first, eager call: as given


def test_a_closure_variable_is_read_live_and_keeps_the_capture(recwarn):
    """A Variable func reads from its closure is an input of the captured programs: a training
    loop that assigns it new values traces once, warns nothing, and gets fresh solves'
    gradients (the Variable's own, found while the forward solve runs)."""
    params = xg.Variable(f64([1.1, 0.4, 0.1, 0.4]))

    def dynamics(state, t):
        return lotka_volterra(state, t, params)

    t, y0 = f64(np.linspace(0.0, 4.0, 5)), f64([10.0, 5.0])
    kept = []
    for p in np.linspace([1.1, 0.4, 0.1, 0.4], [1.0, 0.5, 0.12, 0.3], 3):
        params.assign(f64(p))
        with xg.GradientTape() as tape:
            loss = xg.sum((xg.odeint(dynamics, y0, t, **TIGHT) - 3.0) ** 2)
        kept.append(tape.gradient(loss, params).numpy())
    assert traces() == [1, 1] and not recwarn.list
    for p, grad in zip(np.linspace([1.1, 0.4, 0.1, 0.4], [1.0, 0.5, 0.12, 0.3], 3), kept):
        np.testing.assert_allclose(grad, xg.grad(fit_loss)(f64(p), y0).numpy(), rtol=1e-9)


def test_a_new_closure_tensor_each_call_warns_once_and_gives_the_new_answer():
    """A Tensor (not a Variable) func reads from its closure is a constant of the captured
    programs: a new one makes a new capture, which is right but traces on every call, so the
    first such call warns (once) to pass it in args or keep it in a Variable."""
    rate = f64(0.5)

    def decay(y, t):
        return -rate * y

    t = f64([0.0, 1.0])
    ends = [float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0])]
    rate = f64(0.5)                      # the same value, another tensor: traced again
    with pytest.warns(xg.jit.RetracingWarning, match=r"func 'decay' reads a Tensor \(not a "
                      r"Variable\).*Pass it in args.*xg\.Variable"):
        ends.append(float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # once: no second warning
        for value in (1.0, 2.0):
            rate = f64(value)
            ends.append(float(xg.odeint(decay, f64([1.0]), t, **TIGHT)[-1, 0]))
    np.testing.assert_allclose(ends, np.exp([-0.5, -0.5, -1.0, -2.0]), rtol=1e-8)
    assert len(ode_captures._ENTRIES) == 4
    ode_captures._ENTRIES.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # funcs that differ in more than a tensor
        for k in (0.5, 2.0):
            xg.odeint(lambda y, t, k=k: -k * rate * y, f64([1.0]), t)
