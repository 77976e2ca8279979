"""Distributions inside ``xg.function``: built, sampled and scored in a traced step on the numba
backend (not only the current one), and Binomial's entropy traced with a Python total_count;
each replay equals the eager step."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

D = xg.distributions

FAMILIES = {
    "Normal": (lambda p: D.Normal(p, 1.5), np.array([0.3, 2.0])),
    "Laplace": (lambda p: D.Laplace(p, 0.5), np.array([0.3, 2.0])),
    "Exponential": (lambda p: D.Exponential(xg.exp(p)), np.array([0.3, 2.0])),
    "Bernoulli": (lambda p: D.Bernoulli(logits=p), np.array([1.0, 0.0])),
    "Binomial": (lambda p: D.Binomial(4, logits=p), np.array([1.0, 3.0])),
    "Categorical": (lambda p: D.Categorical(logits=xg.stack([p, -p])), np.array([1, 0])),
}


def _step(make, param, value):
    with xg.GradientTape() as tape:
        d = make(param)
        lp = xg.sum(d.log_prob(value))
    return lp, tape.gradient(lp, [param])[0]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_numba_traced_log_prob_equals_eager(name):
    pytest.importorskip("numba")
    make, value = FAMILIES[name]
    param = xg.Variable(xg.asarray(np.array([0.5, -1.5]), backend="numba"))
    value = xg.asarray(value, backend="numba")
    traced = xg.function(lambda v: _step(make, param, v), on_trace_error="raise")
    want = [t.numpy() for t in _step(make, param, value)]
    for _ in range(3):                          # the trace, then two replays
        got = traced(value)
        assert all(t.backend.name == "numba" for t in got)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-12)


def test_numba_traced_rsample_equals_eager():
    pytest.importorskip("numba")
    loc = xg.Variable(xg.asarray(np.array([0.5, -1.5]), backend="numba"))

    def step(scale):
        with xg.GradientTape() as tape:
            d = D.Normal(loc, scale)
            y = d.rsample((3,), rng=xg.random.default_rng(7, backend="numba"))
            total = xg.sum(y * y)
        return y, tape.gradient(total, [loc])[0]

    scale = xg.asarray(np.array([1.0, 2.0]), backend="numba")
    want = [t.numpy() for t in step(scale)]
    traced = xg.function(step, on_trace_error="raise")
    for _ in range(3):
        for g, w in zip(traced(scale), want):
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-12)


def test_result_type_of_dtypes_alone_traces_on_numba():
    pytest.importorskip("numba")
    v = xg.asarray(np.array([0.3, 2.0]), backend="numba")
    f = xg.function(lambda v: v * 2.0 if xg.result_type(xg.float64, xg.float32) == xg.float64
                    else v, on_trace_error="raise")
    for _ in range(3):
        np.testing.assert_array_equal(f(v).numpy(), [0.6, 4.0])


def _entropy_step(logits, count, x):
    with xg.GradientTape() as tape:
        s = xg.sum(D.Binomial(count, logits=logits).entropy() * x)
    return s, tape.gradient(s, [logits])[0]


def test_binomial_entropy_traces_with_a_python_total_count():
    torch = pytest.importorskip("torch")
    logits = xg.Variable(np.array([0.5, -1.5]))
    x = xg.asarray(np.ones(2))
    traced = xg.function(lambda x: _entropy_step(logits, 5, x), on_trace_error="raise")
    tl = torch.tensor([0.5, -1.5], dtype=torch.float64, requires_grad=True)
    ts = torch.distributions.Binomial(5, logits=tl).entropy().sum()
    ts.backward()
    for _ in range(3):
        s, g = traced(x)
        np.testing.assert_allclose(float(s), ts.item(), rtol=1e-12)
        np.testing.assert_allclose(g.numpy(), tl.grad.numpy(), rtol=1e-10)


def test_binomial_entropy_with_a_tensor_total_count_names_it_under_a_trace():
    logits = xg.Variable(np.array([0.5, -1.5]))
    count = xg.asarray(np.array([5.0, 5.0]))
    traced = xg.function(lambda x, n: _entropy_step(logits, n, x), on_trace_error="raise")
    with pytest.raises(xg.jit.TraceError, match="Binomial.entropy .*total_count as a Python "
                                                 "number"):
        for _ in range(2):                      # the first call runs eagerly, the second traces
            traced(xg.asarray(np.ones(2)), count)
    eager = _entropy_step(logits, count, xg.asarray(np.ones(2)))[0]      # eager still reads it
    np.testing.assert_allclose(float(eager), float(_entropy_step(logits, 5, np.ones(2))[0]))
