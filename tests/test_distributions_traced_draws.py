"""Gamma, Chi2, Beta, Dirichlet, Poisson and Binomial draws inside ``xg.function`` (a
TraceError before: their samplers read the parameters' values). The draw is one recorded step
with the parameters as its inputs (``Generator._draw_with``), as ``xg.random`` draws are
steps: every replay draws fresh numbers with that call's parameters, the same numbers as the
eager call from a generator in the same state, and ``rsample``'s gradients are the eager
ones (and the implicit derivative, by finite differences of the CDF)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

D = xg.distributions


def _family(name, p):
    """The distribution of ``name`` for the (2,) float64 parameter tensor ``p``."""
    return {
        "Gamma": lambda: D.Gamma(p, 2.0),
        "Chi2": lambda: D.Chi2(p),
        "Beta": lambda: D.Beta(p, 2.0),
        "Dirichlet": lambda: D.Dirichlet(xg.stack([p, p + 1.0], axis=-1)),
        "Poisson": lambda: D.Poisson(p),
        "Binomial": lambda: D.Binomial(10, probs=p / 4.0),
    }[name]()


def _moments(name, p):
    """The exact mean and variance of each family for the NumPy parameters ``p``."""
    if name == "Gamma":
        return p / 2.0, p / 4.0
    if name == "Chi2":
        return p, 2.0 * p
    if name == "Beta":
        s = p + 2.0
        return p / s, p * 2.0 / (s * s * (s + 1.0))
    if name == "Dirichlet":
        c = np.stack([p, p + 1.0], axis=-1)
        s = c.sum(-1, keepdims=True)
        m = c / s
        return m, m * (1.0 - m) / (s + 1.0)
    if name == "Poisson":
        return p, p
    q = p / 4.0
    return 10.0 * q, 10.0 * q * (1.0 - q)


FAMILIES = ["Beta", "Binomial", "Chi2", "Dirichlet", "Gamma", "Poisson"]
REPARAMETERIZED = ["Beta", "Chi2", "Dirichlet", "Gamma"]
P0, P1 = np.array([0.5, 2.0]), np.array([1.5, 3.0])


# bit for bit on numpy; numba's fused replay rounds to 1 ulp of eager (docs/function.md)
@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("method", ["sample", "rsample"])
@pytest.mark.parametrize("name", FAMILIES)
def test_replays_draw_afresh_and_equal_eager_call_for_call(name, method):
    if method == "rsample" and name not in REPARAMETERIZED:
        pytest.skip("counts have no rsample")
    rng_eager, rng_compiled = xg.random.default_rng(3), xg.random.default_rng(3)

    def step(p, rng):
        return getattr(_family(name, p), method)((4,), rng=rng)

    compiled = xg.function(lambda p: step(p, rng_compiled), on_trace_error="raise")
    seen = set()
    for params in (P0, P0, P0, P1, P0):         # the trace, replays, new parameters
        p = xg.asarray(params)
        got, want = compiled(p), step(p, rng_eager)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        seen.add(got.numpy().tobytes())
    assert compiled.trace_count == 1
    assert len(seen) == 5                        # never one frozen draw


@pytest.mark.parametrize("name", FAMILIES)
def test_replayed_draws_have_the_distributions_moments(name):
    rng = xg.random.default_rng(11)
    compiled = xg.function(lambda p: _family(name, p).sample((100_000,), rng=rng))
    p = xg.asarray(P0)
    draws = [compiled(p).numpy() for _ in range(3)]       # the trace, then two replays
    mean, var = _moments(name, P0)
    for z in draws[1:]:
        # the sample mean is within 5 standard errors, the variance within 5%
        np.testing.assert_array_less(np.abs(z.mean(0) - mean), 5 * np.sqrt(var / z.shape[0]))
        np.testing.assert_allclose(z.var(0), var, rtol=0.05)
    assert not np.array_equal(draws[1], draws[2])


# bit for bit on numpy; numba's fused replay rounds to 1 ulp of eager (docs/function.md)
@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("name", REPARAMETERIZED)
def test_rsample_gradients_replay_as_eager(name):
    rng_eager, rng_compiled = xg.random.default_rng(5), xg.random.default_rng(5)

    def step(p, rng):
        with xg.GradientTape() as tape:
            tape.watch(p)
            z = _family(name, p).rsample((3,), rng=rng)
            total = xg.sum(z * z)
        return z, tape.gradient(total, p)

    compiled = xg.function(lambda p: step(p, rng_compiled), on_trace_error="raise")
    for params in (P0, P0, P1, P0):
        p = xg.asarray(params)
        for got, want in zip(compiled(p), step(p, rng_eager)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
            assert np.isfinite(got.numpy()).all()


def test_replayed_gamma_rsample_gradient_is_the_implicit_derivative():
    """``dz/dc = -(dF/dc) / (dF/dz)`` at fixed CDF ``F = gammainc(c, z)``: ``dF/dc`` by
    central differences in float64, ``dF/dz`` the density. (PyTorch's
    ``_standard_gamma_grad`` is an approximation, off by 2.6e-5 relative at c = 4.5.)"""
    special = pytest.importorskip("scipy.special")
    rng = xg.random.default_rng(2)

    def step(c):
        with xg.GradientTape() as tape:
            tape.watch(c)
            z = D.Gamma(c, 1.0).rsample(rng=rng)
            total = xg.sum(z)
        return z, tape.gradient(total, c)

    compiled = xg.function(step)
    c = np.array([0.3, 1.0, 4.5])
    for _ in range(3):
        z, grad = (t.numpy() for t in compiled(xg.asarray(c)))
        h = 1e-6
        dF_dc = (special.gammainc(c + h, z) - special.gammainc(c - h, z)) / (2 * h)
        density = np.exp((c - 1) * np.log(z) - z - special.gammaln(c))
        np.testing.assert_allclose(grad, -dF_dc / density, rtol=1e-6)


def test_bad_parameters_still_raise_under_function():
    compiled = xg.function(lambda c: D.Gamma(c, 1.0).sample(rng=0))
    with pytest.raises(ValueError, match="concentration"):
        compiled(xg.asarray(np.array([-1.0, 2.0])))
