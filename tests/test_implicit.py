"""xg.custom_root and xg.fixed_point: implicit gradients against closed forms, unrolled
iterations, finite differences and jax.lax.custom_root (float64); bad input."""
import numpy as np
import pytest

import xpgrad as xg

F64 = xg.float64


def f64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def newton(f, x):
    for _ in range(40):
        x = x - f(x) / xg.grad(f)(x)
    return x


def scalar_solve(g, y):
    return y / g(xg.ones_like(y))


# -- custom_root -------------------------------------------------------------------------------
def test_custom_root_newton_gradient_matches_the_closed_form_and_jax(jax):
    jnp, lax = jax.numpy, jax.lax

    def cube_root(a):
        return xg.custom_root(lambda x: x ** 3 - a, f64(1.0), newton, scalar_solve)

    grads = [float(xg.grad(cube_root)(f64(a))) for a in (2.0, 8.0, 27.0)]
    np.testing.assert_allclose(grads, [1 / (3 * a ** (2 / 3)) for a in (2.0, 8.0, 27.0)],
                               rtol=1e-12)

    def jax_newton(f, x):
        for _ in range(40):
            x = x - f(x) / jax.grad(f)(x)
        return x

    def jax_cube_root(a):
        return lax.custom_root(lambda x: x ** 3 - a, jnp.float64(1.0), jax_newton,
                               lambda g, y: y / g(1.0))

    np.testing.assert_allclose(grads, [float(jax.grad(jax_cube_root)(a))
                                       for a in (2.0, 8.0, 27.0)], rtol=1e-12)


def test_custom_root_vector_problem_matches_jax_with_a_linear_tangent_solve(jax):
    jnp, lax = jax.numpy, jax.lax
    m = np.array([[3.0, 1.0, 0.0], [0.5, 4.0, 1.0], [0.0, 1.0, 5.0]])

    def ours(p):
        def f(x):
            return f64(m) @ x + 0.1 * x ** 3 - p

        def solve(f, x):
            for _ in range(30):
                x = x - xg.linalg.solve(xg.jacobian(f)(x), f(x))
            return x

        def tangent_solve(g, y):
            return xg.linalg.solve(xg.jacobian(g)(y), y)

        return xg.custom_root(f, xg.zeros(3, dtype=F64), solve, tangent_solve)

    def theirs(p):
        def f(x):
            return m @ x + 0.1 * x ** 3 - p

        def solve(f, x):
            for _ in range(30):
                x = x - jnp.linalg.solve(jax.jacobian(f)(x), f(x))
            return x

        def tangent_solve(g, y):
            return jnp.linalg.solve(jax.jacobian(g)(y), y)

        return lax.custom_root(f, jnp.zeros(3), solve, tangent_solve)

    p = np.array([1.0, -2.0, 0.5])
    w = np.array([0.3, -1.0, 2.0])
    got = xg.grad(lambda p: xg.sum(ours(p) * f64(w)))(f64(p))
    want = jax.grad(lambda p: jnp.sum(theirs(p) * w))(p)
    np.testing.assert_allclose(ours(f64(p)).numpy(), np.asarray(theirs(p)), rtol=1e-12)
    np.testing.assert_allclose(got.numpy(), np.asarray(want), rtol=1e-10)


def test_custom_root_closure_variable_gets_the_implicit_gradient_and_aux_none():
    a = xg.Variable(f64(5.0), name="a")

    def solve(f, x):
        return newton(f, x), "iterations: 40"

    with xg.GradientTape() as tape:
        root, aux = xg.custom_root(lambda x: x * x - a, f64(1.0), solve, scalar_solve,
                                   has_aux=True)
        loss = root * 3.0
    assert aux == "iterations: 40"
    np.testing.assert_allclose(float(tape.gradient(loss, a)), 3.0 / (2 * np.sqrt(5.0)),
                               rtol=1e-12)


def test_jvp_through_custom_root_with_an_iterative_tangent_solve_is_the_directional_slope():
    """xg.jvp differentiates the gradient pass at a zero cotangent; a tangent_solve that
    iterates until nothing moves would stop at once there, so custom_root solves for g + 1
    and takes away the solve for 1 (the solve is linear in g)."""
    w = xg.asarray([[0.3, -0.4], [0.5, 0.2]], dtype=xg.float64)

    def iterative(transposed, b):              # lam = b + (I - J^T) lam until it settles
        lam = b
        for _ in range(500):
            new = b + lam - transposed(lam)
            if float(xg.max(xg.abs(new - lam))) <= 1e-15:
                return new
            lam = new
        raise AssertionError("no convergence")

    def settle(p):
        return xg.custom_root(lambda x: x - xg.tanh(w @ x + p), xg.zeros_like(p),
                              lambda f, x: xg.fixed_point(lambda z: z - f(z), x), iterative)

    def loss(p):
        return xg.sum(settle(p) ** 2)

    p = xg.asarray([0.5, -1.0], dtype=xg.float64)
    v = xg.asarray([0.6, -0.8], dtype=xg.float64)
    slope = float(xg.jvp(loss, (p,), (v,))[1])
    numeric = (float(loss(p + 1e-6 * v)) - float(loss(p - 1e-6 * v))) / 2e-6
    np.testing.assert_allclose(slope, float(xg.vecdot(xg.grad(loss)(p), v)), rtol=1e-10)
    np.testing.assert_allclose(slope, numeric, rtol=1e-7)


def test_custom_root_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="custom_root: solve must be callable"):
        xg.custom_root(lambda x: x, f64(1.0), None, scalar_solve)
    with pytest.raises(ValueError, match=r"custom_root: solve's solution has shape \(2,\)"):
        xg.custom_root(lambda x: x, f64(1.0), lambda f, x: f64([1.0, 2.0]), scalar_solve)
    with pytest.raises(TypeError, match="has_aux=True, solve must return"):
        xg.custom_root(lambda x: x, f64(1.0), lambda f, x: x, scalar_solve, has_aux=True)


# -- custom_linear_solve -----------------------------------------------------------------------
def richardson(matvec, b):
    """Richardson iterations x += (b - A x) / 6 (A's eigenvalues lie in (0, 12)): no tape sees
    them, so a gradient must come from the implicit rule."""
    x = xg.zeros_like(b)
    for _ in range(400):
        x = x + (b - matvec(x)) / 6.0
    return x


def test_custom_linear_solve_gradients_match_linalg_solve_and_jax(jax):
    jnp, lax = jax.numpy, jax.lax
    rng = np.random.default_rng(3)
    a = np.eye(3) * 5.0 + 0.8 * rng.normal(size=(3, 3))
    b, w = rng.normal(size=3), rng.normal(size=3)

    def ours(a, b):
        x = xg.custom_linear_solve(lambda x: a @ x, b, richardson,
                                   transpose_solve=lambda vecmat, y:
                                   richardson(vecmat, y))
        return xg.sum(x * f64(w))

    def direct(a, b):
        return xg.sum(xg.linalg.solve(a, b) * f64(w))

    def theirs(a, b):
        x = lax.custom_linear_solve(lambda x: a @ x, b, lambda mv, b: jnp.linalg.solve(a, b),
                                    transpose_solve=lambda vm, y: jnp.linalg.solve(a.T, y))
        return jnp.sum(x * w)

    got = xg.grad(ours, argnums=(0, 1))(f64(a), f64(b))
    want = xg.grad(direct, argnums=(0, 1))(f64(a), f64(b))
    jax_want = jax.grad(theirs, argnums=(0, 1))(a, b)
    for g, d, j in zip(got, want, jax_want):
        np.testing.assert_allclose(g.numpy(), d.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g.numpy(), np.asarray(j), rtol=1e-10, atol=1e-12)


def test_custom_linear_solve_refuses_a_missing_transpose_solve():
    with pytest.raises(TypeError, match="custom_linear_solve: give transpose_solve, or "
                                        "symmetric=True"):
        xg.custom_linear_solve(lambda x: x, f64([1.0]), lambda mv, b: b)
    with pytest.raises(TypeError, match="custom_linear_solve: matvec must be callable"):
        xg.custom_linear_solve(None, f64([1.0]), lambda mv, b: b, symmetric=True)


# -- fixed_point -------------------------------------------------------------------------------
def babylonian(x, a):
    return 0.5 * (x + a / x)


def test_fixed_point_sqrt_matches_the_closed_form_and_unrolled_iterations():
    """HIPS autograd's fixed_points example: sqrt by Newton's iteration."""
    def implicit(a):
        return xg.fixed_point(babylonian, f64(1.0), a)

    def unrolled(a):
        x = f64(1.0)
        for _ in range(60):
            x = babylonian(x, a)
        return x

    for a in (0.5, 2.0, 9.0):
        value, grad = xg.value_and_grad(implicit)(f64(a))
        np.testing.assert_allclose(float(value), np.sqrt(a), rtol=1e-14)
        np.testing.assert_allclose(float(grad), 0.5 / np.sqrt(a), rtol=1e-12)
        np.testing.assert_allclose(float(grad), float(xg.grad(unrolled)(f64(a))), rtol=1e-12)


@pytest.mark.parametrize("adjoint", ["iterate", "direct"])
def test_deq_tanh_layer_gradients_match_unrolled_and_finite_differences(adjoint):
    rng = np.random.default_rng(1)
    w = 0.4 * rng.normal(size=(4, 4)) / 2.0
    b, v = rng.normal(size=4), rng.normal(size=4)

    def layer(z, w, b):
        return xg.tanh(z @ w + b)

    def implicit(w, b):
        return xg.sum(xg.fixed_point(layer, xg.zeros(4, dtype=F64), w, b,
                                     adjoint=adjoint) * f64(v))

    def unrolled(w, b):
        z = xg.zeros(4, dtype=F64)
        for _ in range(200):
            z = layer(z, w, b)
        return xg.sum(z * f64(v))

    got = xg.grad(implicit, argnums=(0, 1))(f64(w), f64(b))
    want = xg.grad(unrolled, argnums=(0, 1))(f64(w), f64(b))
    for a, c in zip(got, want):
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-10, atol=1e-13)
    eps = 1e-6
    for i in range(4):
        up, down = b.copy(), b.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (float(implicit(f64(w), f64(up))) - float(implicit(f64(w), f64(down)))) / (
            2 * eps)
        np.testing.assert_allclose(float(got[1][i]), numeric, rtol=1e-7, atol=1e-9)


def test_fixed_point_matches_jax_custom_root_on_the_deq_layer(jax):
    jnp, lax = jax.numpy, jax.lax
    rng = np.random.default_rng(2)
    w, b = 0.3 * rng.normal(size=(3, 3)), rng.normal(size=3)

    def theirs(b):
        def f(z):
            return jnp.tanh(z @ w + b) - z

        def solve(f, z):
            for _ in range(200):
                z = f(z) + z
            return z

        def tangent_solve(g, y):
            return jnp.linalg.solve(jax.jacobian(g)(y), y)

        return jnp.sum(lax.custom_root(f, jnp.zeros(3), solve, tangent_solve) ** 2)

    got = xg.grad(lambda b: xg.sum(xg.fixed_point(
        lambda z, b: xg.tanh(z @ f64(w) + b), xg.zeros(3, dtype=F64), b) ** 2))(f64(b))
    np.testing.assert_allclose(got.numpy(), np.asarray(jax.grad(theirs)(b)), rtol=1e-10)


def test_fixed_point_pytree_state_and_closure_variable_under_a_tape():
    scale = xg.Variable(f64(0.5), name="scale")
    with xg.GradientTape() as tape:
        out = xg.fixed_point(lambda s: {"x": scale * s["y"] + 1.0, "y": 0.5 * s["x"]},
                             {"x": f64(0.0), "y": f64(0.0)})
        loss = out["x"]
    # x = s y + 1, y = x / 2: x = 1 / (1 - s/2), dx/ds = (1/2) / (1 - s/2)^2
    np.testing.assert_allclose(float(out["x"]), 1 / 0.75, rtol=1e-13)
    np.testing.assert_allclose(float(tape.gradient(loss, scale)), 0.5 / 0.75 ** 2, rtol=1e-12)


def test_second_derivative_of_fixed_point_sqrt():
    d2 = xg.grad(xg.grad(lambda a: xg.fixed_point(babylonian, f64(1.0), a)))(f64(4.0))
    np.testing.assert_allclose(float(d2), -0.25 * 4.0 ** -1.5, rtol=1e-9)


def test_fixed_point_bad_input_and_divergence():
    with pytest.raises(RuntimeError, match="fixed_point: no convergence in max_iter=20"):
        xg.fixed_point(lambda x: 2.0 * x + 1.0, f64(1.0), max_iter=20)
    with pytest.raises(TypeError, match="fixed_point: x0 must be real floating point"):
        xg.fixed_point(lambda x: x, xg.asarray(1))
    with pytest.raises(ValueError, match="fixed_point: adjoint must be"):
        xg.fixed_point(lambda x: x, f64(1.0), adjoint="neumann")
    with pytest.raises(ValueError, match=r"fixed_point: f's output has shape \(2,\)"):
        xg.fixed_point(lambda x: xg.concat([x, x]), f64([1.0]))
    with pytest.raises(ValueError, match="fixed_point: tol must be"):
        xg.fixed_point(lambda x: x, f64(1.0), tol=0)


def test_tangent_solve_differentiating_g_works_through_fused_kernels():
    # tanh runs a fused kernel whose first-order node keeps too little for xg.jacobian(g):
    # the transposed linearization is recorded again under the jacobian's tape
    rng = np.random.default_rng(3)
    w, x = 0.3 * rng.normal(size=(4, 4)), rng.normal(size=(3, 4))
    v = rng.normal(size=(3, 4))

    def deq(b):
        def f(z):
            return z - xg.tanh(z @ f64(w) + f64(x) + b)

        def solve(f, z):
            for _ in range(200):
                z = z - f(z)
            return z

        def tangent_solve(g, y):
            jac = xg.jacobian(lambda u: g(u.reshape(3, 4)).reshape(-1))(y.reshape(-1))
            return xg.linalg.solve(jac, y.reshape(-1)).reshape(3, 4)

        return xg.sum(xg.custom_root(f, xg.zeros((3, 4), dtype=F64), solve, tangent_solve)
                      * f64(v))

    b = rng.normal(size=4)
    got = xg.grad(deq)(f64(b)).numpy()
    eps = 1e-6
    for i in range(4):
        up, down = b.copy(), b.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (float(deq(f64(up))) - float(deq(f64(down)))) / (2 * eps)
        np.testing.assert_allclose(got[i], numeric, rtol=1e-7, atol=1e-9)


def test_fixed_point_under_xg_function_is_one_step_giving_the_eager_results():
    w = f64([[0.2, -0.3], [0.1, 0.4]])

    def value_and_grad(b):
        return xg.value_and_grad(lambda b: xg.sum(xg.fixed_point(
            lambda z, b: xg.tanh(z @ w + b), xg.zeros(2, dtype=F64), b)))(b)

    b = f64([0.5, -1.0])
    want_value, want_grad = value_and_grad(b)
    traced = xg.function(value_and_grad)       # the solve and its gradient: a step each
    for _ in range(3):
        value, grad = traced(b)
        assert float(value) == float(want_value)
        np.testing.assert_array_equal(grad.numpy(), want_grad.numpy())
    assert traced.trace_count == 1


def test_fixed_point_under_vmap_iterates_until_every_example_converges():
    rng = np.random.default_rng(4)
    w = f64(0.3 * rng.normal(size=(3, 3)))
    bs = f64(2.0 * rng.normal(size=(6, 3)))

    def layer(b):
        return xg.fixed_point(lambda z, b: xg.tanh(z @ w + b), xg.zeros(3, dtype=F64), b)

    def unrolled(b):
        z = xg.zeros(3, dtype=F64)
        for _ in range(300):
            z = xg.tanh(z @ w + b)
        return z

    got = xg.vmap(layer)(bs).numpy()
    np.testing.assert_allclose(got, np.stack([unrolled(b).numpy() for b in bs]), rtol=1e-13,
                               atol=1e-14)
    grads = xg.vmap(xg.grad(lambda b: xg.sum(layer(b) ** 2)))(bs).numpy()
    want = np.stack([xg.grad(lambda b: xg.sum(unrolled(b) ** 2))(b).numpy() for b in bs])
    np.testing.assert_allclose(grads, want, rtol=1e-11, atol=1e-13)
