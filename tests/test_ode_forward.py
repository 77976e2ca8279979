"""Forward mode through xg.odeint (xpgrad/ode_tangents.py): xg.jvp, jacfwd and linearize solve
the state's tangents forward in one solve, checked against jax.jacrev of JAX's odeint (JAX's
odeint has no forward mode), finite differences in float64 and closed forms; the paths it does
not take (large states, tapes differentiating the tangents, batched closures, second order)
give the same numbers."""
import numpy as np
import pytest
import scipy.linalg

import xpgrad as xg
from xpgrad import ode_tangents

TOL = dict(rtol=1e-10, atol=1e-10)


def f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def lotka_volterra(s, t, p):
    return xg.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])


def forced(s, t, w):
    """A damped oscillator driven by sin(w t): its solution depends on the times themselves."""
    return xg.stack([s[1], -s[0] - 0.3 * s[1] + xg.sin(w * t)])


@pytest.fixture
def tangent_solves(monkeypatch):
    """How many times the forward tangent solve ran."""
    count = [0]
    original = ode_tangents.solve_tangents

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(ode_tangents, "solve_tangents", counted)
    return count


def test_jacfwd_matches_jax_jacrev_in_one_tangent_solve(jax, tangent_solves):
    jnp = jax.numpy
    jodeint = pytest.importorskip("jax.experimental.ode").odeint
    y0, t, p = np.array([10.0, 5.0]), np.linspace(0.0, 6.0, 7), np.array([1.1, 0.4, 0.1, 0.4])

    def theirs(s, t, p):
        return jnp.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])

    got = xg.jacfwd(lambda y0, t, p: xg.odeint(lotka_volterra, y0, t, p, **TOL),
                    argnums=(0, 1, 2))(f64(y0), f64(t), f64(p))
    want = jax.jacrev(lambda y0, t, p: jodeint(theirs, y0, t, p, **TOL),
                      argnums=(0, 1, 2))(y0, t, p)
    assert tangent_solves[0] == 1
    for a, b in zip(got, want):
        b = np.asarray(b)
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-6, atol=1e-6 * np.abs(b).max())


def test_jvp_with_tangents_of_the_times_matches_finite_differences(tangent_solves):
    y0, t, w = np.array([1.0, 0.0]), np.array([0.0, 0.8, 1.5, 2.5]), 1.7
    v_y0, v_t, v_w = np.array([0.3, -0.5]), np.array([0.2, -0.4, 0.1, 0.6]), 0.7

    def solution(y0, t, w):
        return xg.odeint(forced, y0, t, w, **TOL)

    out, tangent = xg.jvp(solution, (f64(y0), f64(t), f64(w)), (f64(v_y0), f64(v_t), f64(v_w)))
    assert tangent_solves[0] == 1
    eps = 1e-5
    ahead = solution(f64(y0 + eps * v_y0), f64(t + eps * v_t), f64(w + eps * v_w)).numpy()
    behind = solution(f64(y0 - eps * v_y0), f64(t - eps * v_t), f64(w - eps * v_w)).numpy()
    np.testing.assert_allclose(tangent.numpy(), (ahead - behind) / (2 * eps), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(tangent.numpy()[0], v_y0)     # y(t0) is y0, whatever t0 is


def test_linearize_of_closure_variables_is_linear_and_matches_jvp(tangent_solves):
    layer = xg.nn.Linear(2, 2, dtype=xg.float64)
    t = f64([0.0, 0.5, 1.0])

    def solution(y0):
        return xg.odeint(lambda y, t: xg.tanh(layer(y)), y0, t, **TOL)

    y0 = f64([0.4, -0.3])
    u, v = f64([1.0, 0.5]), f64([-0.2, 2.0])
    _, f_jvp = xg.linearize(solution, y0)
    combined = f_jvp(u * 2.0 + v * 3.0).numpy()
    np.testing.assert_allclose(combined, 2.0 * f_jvp(u).numpy() + 3.0 * f_jvp(v).numpy(),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xg.jvp(solution, (y0,), (u,))[1].numpy(), f_jvp(u).numpy(),
                               rtol=1e-9, atol=1e-12)
    eps = 1e-6
    fd = (solution(y0 + u * eps).numpy() - solution(y0 - u * eps).numpy()) / (2 * eps)
    np.testing.assert_allclose(f_jvp(u).numpy(), fd, rtol=1e-6, atol=1e-9)
    assert tangent_solves[0] >= 3


def test_a_large_state_keeps_the_two_reverse_passes_and_matches_the_matrix_exponential(
        tangent_solves):
    n = ode_tangents.MAX_STATE + 4
    a = np.random.default_rng(0).normal(scale=0.3, size=(n, n))
    v = np.random.default_rng(1).normal(size=n)
    matrix, t = f64(a), f64([0.0, 1.0])
    _, tangent = xg.jvp(lambda y0: xg.odeint(lambda y, t: matrix @ y, y0, t, **TOL)[-1],
                        (f64(np.ones(n)),), (f64(v),))
    assert tangent_solves[0] == 0
    np.testing.assert_allclose(tangent.numpy(), scipy.linalg.expm(a) @ v, rtol=1e-7)


def test_a_tape_differentiating_the_tangents_gets_the_gradient():
    t, y0 = f64([0.0, 0.5, 1.0]), f64([1.0, 2.0])
    k0 = f64([0.7, 0.3])
    weights = f64(np.arange(6.0).reshape(3, 2))

    def solution(k):
        return xg.odeint(lambda y, t, k: -k * y + k[::-1] * y[::-1], y0, t, k, **TOL)

    # <w, J v> is linear in v: its gradient in v is J^T w, the reverse-mode gradient
    by_tangents = xg.grad(lambda v: xg.sum(xg.jvp(solution, (k0,), (v,))[1] * weights))(
        f64([1.0, -2.0]))
    reverse = xg.grad(lambda k: xg.sum(solution(k) * weights))(k0)
    np.testing.assert_allclose(by_tangents.numpy(), reverse.numpy(), rtol=1e-7)


def test_vmap_over_a_value_func_reads_from_its_closure_steps_each_example():
    t = f64([0.0, 1.0, 2.0])
    ks = f64([0.5, 1.0, 2.0])
    out = xg.vmap(lambda k: xg.odeint(lambda y, t: -k * y, f64([1.0]), t, **TOL)[:, 0])(ks)
    np.testing.assert_allclose(out.numpy(), np.exp(-np.outer(ks.numpy(), t.numpy())),
                               rtol=1e-8)


def test_second_order_through_jacfwd_of_jacrev_matches_jacrev_of_jacrev(tangent_solves):
    t, y0 = f64([0.0, 1.0]), f64([1.0, 0.5])

    def loss(k):
        return xg.sum(xg.odeint(lambda y, t, k: -k * y * y, y0, t, k, **TOL) ** 2)

    k = f64([0.8, 1.3])
    np.testing.assert_allclose(xg.jacfwd(xg.jacrev(loss))(k).numpy(),
                               xg.jacrev(xg.jacrev(loss))(k).numpy(), rtol=1e-6, atol=1e-9)


def test_tangents_of_the_wrong_shape_are_refused_naming_them():
    t, y0 = f64([0.0, 1.0]), f64([1.0, 0.5])
    with pytest.raises((ValueError, TypeError), match="tangent"):
        xg.jvp(lambda y0: xg.odeint(lambda y, t: -y, y0, t), (y0,), (f64([1.0, 2.0, 3.0]),))
