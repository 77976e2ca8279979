"""xg.odeint against jax.experimental.ode.odeint in float64: values and adjoint gradients for
Lotka-Volterra with its parameters in args, a time-dependent system (gradients of t), and a
small neural ODE whose MLP weights go in as args (JAX) or are read from func's closure as
xg.nn.Linear Variables (xpgrad)."""
import numpy as np
import pytest

import xpgrad as xg

TOL = dict(rtol=1e-10, atol=1e-10)


def f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


@pytest.fixture(scope="module")
def jodeint(jax):
    return pytest.importorskip("jax.experimental.ode").odeint


def test_lotka_volterra_values_and_gradients_match_jax(jax, jodeint):
    jnp = jax.numpy

    def ours(s, t, p):
        return xg.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])

    def theirs(s, t, p):
        return jnp.stack([p[0] * s[0] - p[1] * s[0] * s[1], p[2] * s[0] * s[1] - p[3] * s[1]])

    y0, t, p = np.array([10.0, 5.0]), np.linspace(0.0, 8.0, 9), np.array([1.1, 0.4, 0.1, 0.4])
    data = np.random.default_rng(0).normal(size=(9, 2))

    def loss(odeint, dynamics, array):
        return lambda y0, t, p: array.sum((odeint(dynamics, y0, t, p, **TOL) - data) ** 2)

    np.testing.assert_allclose(xg.odeint(ours, f64(y0), f64(t), f64(p), **TOL).numpy(),
                               np.asarray(jodeint(theirs, y0, t, p, **TOL)), rtol=1e-8)
    got = xg.value_and_grad(loss(xg.odeint, ours, xg), argnums=(0, 1, 2))(f64(y0), f64(t),
                                                                          f64(p))
    want = jax.value_and_grad(loss(jodeint, theirs, jnp), argnums=(0, 1, 2))(y0, t, p)
    np.testing.assert_allclose(float(got[0]), float(want[0]), rtol=1e-8)
    for a, b in zip(got[1], want[1]):
        np.testing.assert_allclose(a.numpy(), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_time_dependent_forcing_gradients_of_t_match_jax(jax, jodeint):
    jnp = jax.numpy
    y0, t = np.array([0.3, -0.2]), np.array([0.0, 0.7, 1.1, 2.0])

    def ours(y, t, a):
        return xg.stack([y[1], -a * y[0] + xg.sin(3.0 * t)])

    def theirs(y, t, a):
        return jnp.stack([y[1], -a * y[0] + jnp.sin(3.0 * t)])

    def loss(odeint, dynamics, array):
        return lambda y0, t, a: array.sum(odeint(dynamics, y0, t, a, **TOL) ** 3)

    got = xg.grad(loss(xg.odeint, ours, xg), argnums=(0, 1, 2))(f64(y0), f64(t), f64(2.0))
    want = jax.grad(loss(jodeint, theirs, jnp), argnums=(0, 1, 2))(y0, t, 2.0)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), np.asarray(b), rtol=1e-7, atol=1e-9)


def test_neural_ode_closure_variables_match_jax_args(jax, jodeint):
    jnp = jax.numpy
    layer1 = xg.nn.Linear(2, 8, rng=3, dtype=xg.float64)
    layer2 = xg.nn.Linear(8, 2, rng=4, dtype=xg.float64)
    y0 = np.array([[1.0, -0.5], [0.2, 0.4]])
    t = np.linspace(0.0, 1.0, 3)

    with xg.GradientTape() as tape:
        ys = xg.odeint(lambda y, t: layer2(xg.tanh(layer1(y))), f64(y0), f64(t), **TOL)
        loss = xg.sum(ys ** 2)
    variables = [layer1.w, layer1.b, layer2.w, layer2.b]
    got = tape.gradient(loss, variables)

    def theirs(y, t, w1, b1, w2, b2):
        return jnp.tanh(y @ w1 + b1) @ w2 + b2

    def jax_loss(*params):
        return jnp.sum(jodeint(theirs, y0, t, *params, **TOL) ** 2)

    params = [v.numpy() for v in variables]
    want = jax.grad(jax_loss, argnums=(0, 1, 2, 3))(*params)
    np.testing.assert_allclose(float(loss), float(jax_loss(*params)), rtol=1e-9)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), np.asarray(b), rtol=1e-6, atol=1e-9)
