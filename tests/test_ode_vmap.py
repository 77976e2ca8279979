"""``xg.odeint`` inside ``xg.vmap``: the examples are one stacked system with shared steps, each
step's error the largest example's (``ode_solver._rms``), so every example meets the tolerances.
Checked against one solve per example, the closed form, JAX's vmapped ``odeint`` and finite
differences, in float64. Before, the vmapped solve raised vmap's generic ValueError about
reading a value."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import numerical_vjp

TOL = dict(rtol=1e-9, atol=1e-9)
TIMES = [0.0, 0.3, 1.0, 2.5]
X0 = [1.0, 2.0, -0.5, 0.25]
KS = [0.5, 2.0, 9.0, 30.0]          # slow to stiff-ish: the fast examples choose the steps


def _f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def _oscillator(state, t, k):
    return {"x": state["v"], "v": -k * state["x"] - 0.1 * state["v"]}


def _solve(x0, k):
    state = {"x": x0, "v": xg.zeros_like(x0)}
    return xg.odeint(_oscillator, state, _f64(TIMES), k, **TOL)["x"]


def test_vmapped_solves_agree_with_one_solve_per_example():
    x0, ks = _f64(X0), _f64(KS)
    mapped = xg.vmap(_solve)(x0, ks)
    assert mapped.shape == (len(X0), len(TIMES))
    for i in range(len(X0)):
        alone = _solve(x0[i], ks[i])
        # both solves meet the tolerances, each at its own steps
        np.testing.assert_allclose(mapped[i].numpy(), alone.numpy(), rtol=2e-7, atol=2e-8)


def test_every_example_meets_the_tolerances_against_the_closed_form():
    rates = _f64([0.1, 1.0, 5.0, 40.0])
    times = np.array(TIMES)
    ys = xg.vmap(lambda k: xg.odeint(lambda y, t, k: -k * y, _f64([1.0, -2.0]), _f64(TIMES),
                                     k, **TOL))(rates)
    exact = np.exp(-np.outer(rates.numpy(), times))[:, :, None] * np.array([1.0, -2.0])
    assert ys.shape == exact.shape
    np.testing.assert_allclose(ys.numpy(), exact, rtol=1e-7, atol=1e-8)


def test_mapping_the_state_alone_and_a_shared_argument():
    k = _f64(3.0)
    x0 = _f64(X0)
    mapped = xg.vmap(_solve, in_axes=(0, None))(x0, k)
    for i in range(len(X0)):
        np.testing.assert_allclose(mapped[i].numpy(), _solve(x0[i], k).numpy(), rtol=2e-7,
                                   atol=2e-8)


def test_gradients_through_vmap_agree_with_per_example_solves_and_finite_differences():
    x0, ks = _f64(X0), _f64(KS)
    weights = _f64([1.0, -2.0, 0.5, 3.0])

    def loss(x0, ks):
        return xg.sum(xg.vmap(_solve)(x0, ks)[:, -1] * weights)

    gx0, gks = xg.grad(loss, argnums=(0, 1))(x0, ks)
    for i in range(len(X0)):
        one = xg.grad(lambda a, k: _solve(a, k)[-1], argnums=(0, 1))(x0[i], ks[i])
        np.testing.assert_allclose(gx0[i].item() / weights[i].item(), one[0].item(), rtol=1e-6)
        np.testing.assert_allclose(gks[i].item() / weights[i].item(), one[1].item(), rtol=1e-6)
    # finite differences on the two slow examples (each difference is a whole vmapped solve)
    fd = numerical_vjp(lambda a, k: xg.sum(xg.vmap(_solve)(a, k)[:, -1] * weights[:2]),
                       (x0[:2], ks[:2]), _f64(1.0), eps=1e-5)
    np.testing.assert_allclose(gx0[:2].numpy(), fd[0], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(gks[:2].numpy(), fd[1], rtol=1e-5, atol=1e-8)
    per_example = xg.vmap(xg.grad(lambda a, k: _solve(a, k)[-1], argnums=1))(x0, ks)
    np.testing.assert_allclose(per_example.numpy(), gks.numpy() / weights.numpy(), rtol=1e-6)


def test_vmapped_odeint_agrees_with_jaxs(jax):
    jnp = jax.numpy
    jodeint = pytest.importorskip("jax.experimental.ode").odeint

    def theirs(x0, k):
        state = {"x": x0, "v": jnp.zeros_like(x0)}

        def f(s, t, k):
            return {"x": s["v"], "v": -k * s["x"] - 0.1 * s["v"]}
        return jodeint(f, state, jnp.asarray(TIMES), k, **TOL)["x"]

    expected = jax.vmap(theirs)(jnp.asarray(X0), jnp.asarray(KS))
    ours = xg.vmap(_solve)(_f64(X0), _f64(KS))
    np.testing.assert_allclose(ours.numpy(), np.asarray(expected), rtol=2e-7, atol=2e-8)


def test_mapped_times_are_refused_naming_odeint():
    times = _f64([[0.0, 1.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match=r"odeint inside xg.vmap: t differs from example to "
                                         r"example.*in_axes=None"):
        xg.vmap(lambda t: xg.odeint(lambda y, t: -y, _f64(1.0), t))(times)
