"""JAX's transforms that xpgrad had only as hints: ``jacrev``, ``jacfwd`` and ``linearize``
here (``custom_vjp``: test_jax_transforms_custom_vjp.py; ``scan``, ``fori_loop``:
test_jax_transforms_loops.py), and docs/autodiff.md's example of them all. Each is checked against
JAX (float64, where installed) and without it: central finite differences in float64, closed
forms, or torch.func; bad arguments raise errors naming them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from docs_text import text_from

R = np.random.default_rng(7)
X = R.standard_normal(3)
Y = R.standard_normal((2, 3))


def fd_jacobian(f, x, eps=1e-6):
    """Central differences of ``f`` (NumPy in, NumPy out) at ``x``: ``out.shape + x.shape``."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = eps
        step = step.reshape(x.shape)
        columns.append((np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * eps))
    return np.moveaxis(np.stack(columns), 0, -1).reshape(np.shape(f(x)) + x.shape)


def tree_numpy(tree):
    return xg.tree_map(lambda t: t.numpy() if isinstance(t, xg.Tensor) else t, tree)


def assert_trees_close(got, want, jax, rtol=1e-12):
    got_leaves, got_def = jax.tree_util.tree_flatten(tree_numpy(got))
    want_leaves, want_def = jax.tree_util.tree_flatten(want)
    assert got_def == want_def
    for g, w in zip(got_leaves, want_leaves):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, np.asarray(w), rtol=rtol, atol=1e-14)


def structured(ns):
    """A function of a pytree and an array returning a pytree, in ``ns`` (xg or jnp)."""
    return lambda p, y: {"a": ns.sin(p["u"]) * ns.sum(y),
                         "b": (p["u"][:2] * y[:, :2], ns.sum(p["v"] ** 2) * p["u"][0])}


# -- jacrev / jacfwd ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("argnums", [0, (0, 1), (1,)])
def test_jacobians_of_pytrees_have_jaxs_structure_and_values(jax, name, argnums):
    params = {"u": X, "v": Y}
    got = getattr(xg, name)(structured(xg), argnums=argnums)(
        xg.tree_map(xg.asarray, params), xg.asarray(Y))
    want = getattr(jax, name)(structured(jax.numpy), argnums=argnums)(params, Y)
    assert_trees_close(got, want, jax)


@pytest.mark.parametrize("outer", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("inner", ["jacrev", "jacfwd"])
def test_nested_jacobians_are_the_hessian(jax, outer, inner):
    f = lambda ns: (lambda x: ns.sum(ns.sin(x) * x) * ns.sum(x ** 2))   # noqa: E731
    got = getattr(xg, outer)(getattr(xg, inner)(f(xg)))(xg.asarray(X)).numpy()
    np.testing.assert_allclose(got, xg.hessian(f(xg))(xg.asarray(X)).numpy(), rtol=1e-12)
    want = getattr(jax, outer)(getattr(jax, inner)(f(jax.numpy)))(X)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_third_derivative_by_forward_over_forward_over_reverse(jax):
    f = lambda ns: (lambda x: ns.sum(ns.tanh(x) ** 3))     # noqa: E731
    got = xg.jacfwd(xg.jacfwd(xg.jacrev(f(xg))))(xg.asarray(X)).numpy()
    want = jax.jacfwd(jax.jacfwd(jax.jacrev(f(jax.numpy))))(X)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # closed form: the only entries are d3/dx3 tanh(x)^3 on the diagonal
    t = np.tanh(X)
    third = 6 * (1 - t ** 2) ** 3 - 42 * t ** 2 * (1 - t ** 2) ** 2 + 12 * t ** 4 * (1 - t ** 2)
    np.testing.assert_allclose(np.einsum("iii->i", got), third, rtol=1e-10)
    assert np.count_nonzero(got) == 3


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians_match_finite_differences_and_torch_func(name):
    f = lambda x: xg.exp(x[None, :] * xg.asarray(Y)) / (1.0 + x[0] ** 2)   # noqa: E731
    got = getattr(xg, name)(f)(xg.asarray(X)).numpy()
    assert got.shape == (2, 3, 3)
    np.testing.assert_allclose(got, fd_jacobian(lambda x: f(xg.asarray(x)).numpy(), X),
                               rtol=1e-7, atol=1e-9)
    tf = lambda x: torch.exp(x[None, :] * torch.tensor(Y)) / (1.0 + x[0] ** 2)   # noqa: E731
    want = getattr(torch.func, name)(tf)(torch.tensor(X)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_has_aux_returns_the_aux_unchanged_and_keywords_go_to_f(jax, name):
    def f(ns):
        return lambda x, scale=1.0: (x * x * scale, {"s": ns.sum(x), "x": x})
    jac, aux = getattr(xg, name)(f(xg), has_aux=True)(xg.asarray(X), scale=3.0)
    want_jac, want_aux = getattr(jax, name)(f(jax.numpy), has_aux=True)(X, scale=3.0)
    assert_trees_close((jac, aux), (want_jac, want_aux), jax)
    np.testing.assert_allclose(jac.numpy(), np.diag(6 * X), rtol=1e-12)
    # values that are no arrays pass through too (jax.jacfwd refuses them, jacrev takes them)
    _, aux = getattr(xg, name)(lambda x: (x * 2.0, ["note", None]), has_aux=True)(xg.asarray(X))
    assert aux == ["note", None]


def test_jacfwd_under_a_tape_differentiates_what_fun_closes_over():
    """Under a recording tape, jacfwd's vmap over the basis hands the tape the gradient of a
    tensor ``fun`` closes over, summed over the basis (and ``aux`` comes back the same)."""
    w = xg.asarray(Y[0])
    x = xg.asarray(X)
    with xg.GradientTape() as tape:
        tape.watch(w)
        jac, aux = xg.jacfwd(lambda v: (xg.sin(v * w), {"w": w * 1.0, "tag": "t"}),
                             has_aux=True)(x)
        trace = xg.sum(xg.linalg.diagonal(jac))
    np.testing.assert_allclose(jac.numpy(), np.diag(Y[0] * np.cos(X * Y[0])), rtol=1e-15)
    assert aux["tag"] == "t" and aux["w"].tolist() == Y[0].tolist()
    # d/dw sum_i w_i cos(x_i w_i) = cos(x w) - x w sin(x w)
    np.testing.assert_allclose(tape.gradient(trace, w).numpy(),
                               np.cos(X * Y[0]) - X * Y[0] * np.sin(X * Y[0]), rtol=1e-14)


def test_jacfwd_holomorphic_is_the_complex_derivative(jax):
    z = X + 1j * X[::-1]
    f = lambda ns: (lambda z: z ** 2 * ns.sum(z))      # noqa: E731
    got = xg.jacfwd(f(xg), holomorphic=True)(xg.asarray(z)).numpy()
    want = jax.jacfwd(f(jax.numpy), holomorphic=True)(z)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    closed = np.diag(2 * z * z.sum()) + (z ** 2)[:, None]      # d/dz_j z_i^2 sum(z)
    np.testing.assert_allclose(got, closed, rtol=1e-12)


def test_jacrev_holomorphic_is_the_complex_derivative_as_jax_and_jacfwd_give(jax):
    z = X + 1j * X[::-1]
    w = 2.0 - 0.5j
    f = lambda ns: (lambda z, w: ({"a": ns.sin(z) * w, "b": ns.exp(z * w) * ns.sum(z)},  # noqa
                                  "aux"))
    got, aux = xg.jacrev(f(xg), argnums=(0, 1), has_aux=True, holomorphic=True)(
        xg.asarray(z), xg.asarray(w, dtype=xg.complex128))
    want, _ = jax.jacrev(f(jax.numpy), argnums=(0, 1), has_aux=True, holomorphic=True)(z, w)
    assert aux == "aux"
    assert_trees_close(got, want, jax)
    forward, _ = xg.jacfwd(f(xg), argnums=(0, 1), has_aux=True, holomorphic=True)(
        xg.asarray(z), xg.asarray(w, dtype=xg.complex128))
    assert_trees_close(got, xg.tree_map(lambda t: t.numpy(), forward), jax)
    np.testing.assert_allclose(got["a"][0].numpy(), np.diag(np.cos(z) * w), rtol=1e-14)


def test_hessian_holomorphic_is_the_complex_second_derivative_as_jax(jax):
    """jax.hessian takes holomorphic=True; xg.hessian refused the keyword."""
    z = X + 1j * X[::-1]
    w = 2.0 - 0.5j
    f = lambda ns: (lambda z, w: (ns.sum(ns.sin(z) * w * z) + ns.exp(w) * ns.sum(z) ** 2,  # noqa
                                  z * w))
    got, aux = xg.hessian(f(xg), argnums=(0, 1), has_aux=True, holomorphic=True)(
        xg.asarray(z), xg.asarray(w, dtype=xg.complex128))
    want, want_aux = jax.hessian(f(jax.numpy), argnums=(0, 1), has_aux=True,
                                 holomorphic=True)(z, w)
    np.testing.assert_allclose(aux.numpy(), np.asarray(want_aux), rtol=1e-15)
    assert_trees_close(got, want, jax)
    # d2/dz_i dz_j: (2 cos z_i - z_i sin z_i) w on the diagonal, 2 exp(w) everywhere
    closed = np.diag((2 * np.cos(z) - z * np.sin(z)) * w) + 2 * np.exp(w)
    np.testing.assert_allclose(got[0][0].numpy(), closed, rtol=1e-13)
    with pytest.raises(TypeError, match="hessian needs real arguments.*holomorphic=True"):
        xg.hessian(lambda z: xg.sum(z * z))(xg.asarray(z))
    with pytest.raises(TypeError, match="holomorphic=True needs complex arguments"):
        xg.hessian(lambda z: xg.sum(z * z), holomorphic=True)(xg.asarray(X))


def test_jacfwd_of_a_real_input_to_a_complex_output():
    got = xg.jacfwd(lambda x: x * (1.0 + 2.0j))(xg.asarray(X)).numpy()
    np.testing.assert_array_equal(got, np.eye(3) * (1.0 + 2.0j))


def test_jacfwd_of_an_empty_argument_is_empty(jax):
    got = xg.jacfwd(lambda x: x * 2.0)(xg.zeros((0,), dtype=xg.float64))
    assert got.shape == jax.jacfwd(lambda x: x * 2.0)(np.zeros(0)).shape == (0, 0)


def test_jacobian_bad_arguments_name_them():
    x = xg.asarray(X)
    with pytest.raises(TypeError, match="jacfwd needs real arguments, got complex128.*"
                                        "holomorphic=True"):
        xg.jacfwd(lambda z: z * 2.0)(xg.asarray(X + 0j))
    with pytest.raises(TypeError, match="holomorphic=True needs complex arguments, got float64"):
        xg.jacfwd(lambda z: z * 2.0, holomorphic=True)(x)
    with pytest.raises(TypeError, match="jacrev with holomorphic=True needs complex "
                                        "arguments, got float64"):
        xg.jacrev(lambda z: z * 2.0, holomorphic=True)(x)
    with pytest.raises(TypeError, match=r"jacrev with holomorphic=True needs complex outputs, "
                                        r"got float64 at output\['r'\]"):
        xg.jacrev(lambda z: {"r": xg.real(z)}, holomorphic=True)(xg.asarray(X + 1j))
    for name in ("jacrev", "jacfwd"):
        transform = getattr(xg, name)
        with pytest.raises(NotImplementedError, match=f"{name}: allow_int=True"):
            transform(lambda v: v, allow_int=True)
        with pytest.raises(TypeError, match=f"{name} takes a callable f"):
            transform(3.0)
        with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
            transform(lambda v: v, argnums="0")(x)
        with pytest.raises(ValueError, match="argnums 2 is out of range for 1"):
            transform(lambda v: v, argnums=2)(x)
        with pytest.raises(TypeError, match="argument 0 has dtype int64 and is differentiated"):
            transform(lambda v: v * 1.0)(xg.asarray([1, 2]))
        with pytest.raises(TypeError, match=f"{name}: has_aux must be True or False"):
            transform(lambda v: v, has_aux="yes")


# -- linearize ------------------------------------------------------------------------------------
def test_linearize_matches_jax_for_several_tangents(jax):
    params = {"u": X, "v": Y}
    out, f_jvp = xg.linearize(structured(xg), params, Y)
    want_out, want_jvp = jax.linearize(structured(jax.numpy), params, Y)
    assert_trees_close(out, want_out, jax)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        tangents = ({"u": rng.standard_normal(3), "v": rng.standard_normal((2, 3))},
                    rng.standard_normal((2, 3)))
        assert_trees_close(f_jvp(*tangents), want_jvp(*tangents), jax)


def test_linearize_runs_f_once_and_matches_torch_func_jvp():
    calls = []

    def f(x):
        calls.append(1)
        return xg.sin(x) * xg.sum(x ** 2)

    out, f_jvp = xg.linearize(f, xg.asarray(X))
    products = [f_jvp(xg.asarray(t)).numpy() for t in (X, np.ones(3), -2 * X)]
    assert len(calls) == 1
    for t, product in zip((X, np.ones(3), -2 * X), products):
        _, want = torch.func.jvp(lambda v: torch.sin(v) * (v ** 2).sum(),
                                 (torch.tensor(X),), (torch.tensor(t),))
        np.testing.assert_allclose(product, want.numpy(), rtol=1e-12)
    np.testing.assert_allclose(products[2], -2 * products[0], rtol=1e-12)   # linear in t


def test_linearize_of_a_non_holomorphic_complex_function_matches_jvp(jax):
    z, t = X + 0.5j, X[::-1] - 1j
    f = lambda ns: (lambda z: ns.conj(z) * z + ns.abs(z))   # noqa: E731
    _, f_jvp = xg.linearize(f(xg), xg.asarray(z))
    got = f_jvp(xg.asarray(t)).numpy()
    np.testing.assert_allclose(got, xg.jvp(f(xg), xg.asarray(z), xg.asarray(t))[1].numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(got, jax.jvp(f(jax.numpy), (z,), (t,))[1], rtol=1e-12)


def test_linearize_has_aux_identity_and_constant_functions():
    out, f_jvp, aux = xg.linearize(lambda x: (x * 3.0, "aux"), xg.asarray(X), has_aux=True)
    assert aux == "aux"
    np.testing.assert_allclose(f_jvp(xg.asarray(Y[0])).numpy(), 3.0 * Y[0], rtol=1e-15)
    _, identity = xg.linearize(lambda x: x, xg.asarray(X))
    np.testing.assert_array_equal(identity(xg.asarray(Y[1])).numpy(), Y[1])
    _, constant = xg.linearize(lambda x: xg.ones((2,), dtype=xg.float64), xg.asarray(X))
    np.testing.assert_array_equal(constant(xg.asarray(X)).numpy(), np.zeros(2))


def test_linearize_bad_tangents_and_outputs_name_them():
    _, f_jvp = xg.linearize(lambda x, y: x * y, xg.asarray(X), xg.asarray(X))
    with pytest.raises(TypeError, match="f_jvp takes one tangent per primal: 2, got 1"):
        f_jvp(xg.asarray(X))
    with pytest.raises(ValueError, match=r"f_jvp: tangents\[1\] has shape \(2,\) but its primal "
                                         r"has shape \(3,\)"):
        f_jvp(xg.asarray(X), xg.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match="linearize needs a function returning floating-point"):
        xg.linearize(lambda x: x > 0, xg.asarray(X))
    with pytest.raises(TypeError, match=r"linearize: primals\[0\] \(str"):
        xg.linearize(lambda x: x, "x")
    with pytest.raises(TypeError, match="linearize takes a callable f"):
        xg.linearize(None, xg.asarray(X))


def test_the_readme_example_runs_and_names_each_transform():
    import re

    text = text_from("JAX's other transforms take JAX's signatures too.")
    section = text[:text.index("\n```\n", text.index("```python")) + 5]
    for name in ("jacrev", "jacfwd", "linearize", "custom_vjp", "custom_jvp", "scan",
                 "fori_loop"):
        assert f"xg.{name}" in section or f"`{name}`" in section, name
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    scope = {"xg": xg}
    exec(code, scope)                                   # noqa: S102 (the docs' own example)
    assert scope["jac"]["y"].shape == (2, 2) and scope["hs"].shape == (4, 2)
    np.testing.assert_allclose(scope["slope"].numpy(), [3.0, 12.0])
    # the last carry is sum_k w^k hs[T-1-k]; the cotangent 10 reaches it clipped to 1
    hs, w = scope["hs"].numpy(), 0.9
    derivative = sum(k * w ** (k - 1) * hs[len(hs) - 1 - k] for k in range(1, len(hs)))
    np.testing.assert_allclose(scope["dw"].numpy(), np.sum(derivative), rtol=1e-5)
