"""What the functional API (grad, value_and_grad, jacobian, hessian, vjp, jvp, hvp) takes as
JAX and PyTorch users pass it: pytrees of arguments, keyword arguments, ``has_aux``; and what it
refuses, with an error naming the argument (integers, complex outputs, values off the tape,
tensors on another backend). The optimization workflows are in test_function_optimization.py."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    if request.param == "numba":
        pytest.importorskip("numba")
    return request.param


# -- arguments and outputs grad refuses, with the reason ------------------------------------------
@pytest.mark.parametrize("transform", [xg.grad, xg.value_and_grad, xg.hessian, xg.jacobian])
@pytest.mark.parametrize("bad", [3, xg.asarray([1, 2]), xg.asarray([True])])
def test_an_integer_or_boolean_argument_is_named(transform, bad):
    """JAX: TypeError 'grad requires real- or complex-valued inputs ... got int64'. xpgrad said
    'cannot watch a tensor of dtype int64' (a ValueError naming no argument)."""
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with pytest.raises(TypeError, match=r"argument 1 .*(int64|bool).*argnums=\(0, 1\)"):
        transform(lambda a, n: xg.sum(a * n), argnums=(0, 1))(x, bad)


def test_an_integer_primal_of_jvp_vjp_hvp_is_named():
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with pytest.raises(TypeError, match=r"^vjp: primals\[1\] has dtype int64"):
        xg.vjp(lambda a, n: a * n, x, xg.asarray([1, 2]))
    with pytest.raises(TypeError, match=r"^jvp: primals\[0\] has dtype int64"):
        xg.jvp(lambda n: n * 1.0, xg.asarray([1, 2]), x)
    with pytest.raises(TypeError, match=r"^hvp: primals\[0\] has dtype int64"):
        xg.hvp(lambda n: xg.sum(n * 1.0), xg.asarray([1, 2]), x)


def test_grad_of_a_complex_valued_function_is_refused_as_in_jax_and_pytorch():
    """A complex output has no gradient (JAX: 'grad requires real-valued outputs'; PyTorch:
    'grad can be implicitly created only for real scalar outputs'); xpgrad returned the vjp
    of a cotangent of ones."""
    z = xg.asarray([1 + 2j, -0.5 + 0.25j])
    with pytest.raises(TypeError, match="real.*complex64"):
        xg.grad(lambda t: xg.sum(t * t))(z)
    with pytest.raises(TypeError, match="real.*complex64"):
        xg.value_and_grad(lambda t: xg.sum(t * t))(z)
    # a real function of a complex input keeps PyTorch's convention (docs/array-api.md)
    zt = torch.tensor(z.numpy(), requires_grad=True)
    torch.sum(torch.abs(zt * zt)).backward()
    np.testing.assert_allclose(xg.grad(lambda t: xg.sum(xg.abs(t * t)))(z).numpy(),
                               zt.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("value", [np.float64(1.0), 1.0, np.ones(()), None])
def test_an_output_that_is_no_tensor_is_said_to_have_left_the_tape(value):
    """A NumPy scalar was reported as 'a scalar output, got ()': it is a scalar, but off the
    tape."""
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with pytest.raises(TypeError, match=f"returned {type(value).__name__}"):
        xg.grad(lambda t: value)(x)
    if value is not None:
        with pytest.raises(TypeError, match="left the tape"):
            xg.grad(lambda t: value)(x)


def test_an_output_pair_without_has_aux_points_at_has_aux():
    x = xg.asarray([1.0, 2.0], dtype="float64")
    with pytest.raises(TypeError, match="has_aux=True"):
        xg.grad(lambda t: (xg.sum(t), "aux"))(x)


# -- jacobian takes what grad takes ----------------------------------------------------------------
def test_jacobian_passes_keyword_arguments_and_takes_has_aux_as_jax_jacrev(backend):
    """``jax.jacrev(f, has_aux=True)(x, scale=3.0)``; xg.jacobian refused both."""
    x = xg.asarray([0.5, -1.0, 2.0], dtype="float64", backend=backend)

    def f(t, scale=1.0):
        return scale * xg.sin(t) * t[0], {"norm": xg.linalg.vector_norm(t)}

    jac, aux = xg.jacobian(f, has_aux=True)(x, scale=3.0)
    want = torch.autograd.functional.jacobian(
        lambda t: 3.0 * torch.sin(t) * t[0], torch.tensor(x.numpy()))
    np.testing.assert_allclose(jac.numpy(), want.numpy(), rtol=1e-12)
    assert aux["norm"].item() == pytest.approx(np.linalg.norm(x.numpy()))
    np.testing.assert_allclose(xg.jacobian(lambda t, scale: scale * t)(x, scale=2.0).numpy(),
                               2.0 * np.eye(3))


# -- pytrees of arguments, as JAX -----------------------------------------------------------------
def test_grad_of_a_dict_and_nested_lists_of_parameters_has_their_structure(backend, jax):
    """``jax.grad(loss)(params)`` with ``params`` a dict of a list and a tuple; xpgrad refused
    any container ('is not a tensor or numbers')."""
    jnp = jax.numpy
    rng = np.random.default_rng(0)
    arrays = {"b": (rng.normal(size=4), None), "scale": np.float64(0.5),   # JAX's key order
              "w": [rng.normal(size=(3, 4)), rng.normal(size=(4, 2))]}
    x = rng.normal(size=(5, 3))

    def loss(p, x, np_=xg):
        h = np_.tanh(x @ p["w"][0] + p["b"][0])
        return np_.sum((h @ p["w"][1]) ** 2) * p["scale"]

    params = xg.pytree.map_leaves(lambda a, path: xg.asarray(a, backend=backend), arrays)
    (value, aux), g = xg.value_and_grad(lambda p, x: (loss(p, x), "aux"), has_aux=True)(
        params, xg.asarray(x, backend=backend))
    want = jax.grad(lambda p: loss(p, x, jnp))(arrays)
    assert aux == "aux" and value.item() == pytest.approx(float(loss(arrays, x, jnp)))
    assert isinstance(g["w"], list) and isinstance(g["b"], tuple) and g["b"][1] is None
    for got, ref in zip(xg.pytree.leaves(g), jax.tree_util.tree_leaves(want)):
        assert got.backend.name == backend
        np.testing.assert_allclose(got.numpy(), np.asarray(ref), rtol=1e-12)


def test_hessian_and_jacobian_of_pytrees_as_jax(backend, jax):
    """``jax.hessian(f, argnums=(0, 1))(params, y)``: ``H[i][path_i][j][path_j]``; and
    ``jax.jacrev``: a Jacobian per leaf. xpgrad refused pytrees in both."""
    jnp = jax.numpy
    rng = np.random.default_rng(4)
    arrays = {"a": rng.normal(size=3), "b": [rng.normal(size=(2,))]}
    y0 = rng.normal(size=2)

    def f(p, y, np_=xg):
        return np_.sum(np_.sin(p["a"]) ** 2) * np_.sum(p["b"][0] * y) + np_.sum(p["b"][0] ** 3)

    params = xg.pytree.map_leaves(lambda a, path: xg.asarray(a, backend=backend), arrays)
    y = xg.asarray(y0, backend=backend)
    got = xg.hessian(f, argnums=(0, 1))(params, y)
    want = jax.hessian(lambda p, y: f(p, y, jnp), argnums=(0, 1))(arrays, y0)
    assert isinstance(got[0]["b"], list) and isinstance(got[0]["a"][0]["b"], list)
    for g, w in zip(xg.pytree.leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-12, atol=1e-15)
    single = xg.hessian(lambda p: f(p, y))(params)
    np.testing.assert_allclose(single["a"]["b"][0].numpy(), np.asarray(want[0]["a"][0]["b"][0]),
                               rtol=1e-12)
    jac = xg.jacobian(lambda p, y: xg.sin(p["a"][:2]) * p["b"][0] * y, argnums=(0, 1))(params, y)
    want = jax.jacrev(lambda p, y: jnp.sin(p["a"][:2]) * p["b"][0] * y, argnums=(0, 1))(arrays, y0)
    assert isinstance(jac[0]["b"], list)
    for g, w in zip(xg.pytree.leaves(jac), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(g.numpy(), np.asarray(w), rtol=1e-12, atol=1e-15)


def test_a_pytree_leaf_passed_twice_gets_its_partial_derivative():
    x = xg.asarray(np.array([1.0, 2.0]))
    gx, gy = xg.grad(lambda p, y: xg.sum(p[0] * p[1] * y), argnums=(0, 1))((x, x), x)
    np.testing.assert_allclose(gx[0].numpy(), [1.0, 4.0])      # x * y, not the total
    np.testing.assert_allclose(gy.numpy(), [1.0, 4.0])


def test_pytree_errors_name_the_leaf_and_lists_of_numbers_stay_arrays():
    x = xg.asarray(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"argument 0\['n'\] has dtype int64"):
        xg.grad(lambda p: xg.sum(p["x"] * p["n"]))({"x": x, "n": xg.asarray([1, 2])})
    with pytest.raises(TypeError, match=r"^vjp: primals\[0\]\['x'\]\[1\] .*str.* is not a tensor"):
        xg.vjp(lambda p: p["x"][0] ** 3, {"x": [x, "y"]})   # (pytrees: test_nested_structures)
    g = xg.grad(lambda t: xg.sum(t * t))([1.0, 2.0])
    assert isinstance(g, xg.Tensor) and g.tolist() == [2.0, 4.0]


# -- more bad input, named ------------------------------------------------------------------------
@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("transform", [xg.jvp, xg.hvp])
def test_a_tangent_on_another_backend_is_named(transform):
    """It raised 'tensors on backends ... met in one operation', naming no argument."""
    pytest.importorskip("numba")
    x = xg.asarray(np.array([1.0, 2.0]))
    other = xg.asarray(np.array([1.0, 0.0]), backend="numba")
    with pytest.raises(xg.MixedBackendError, match=r"tangents\[0\] is on backend 'numba'.*"
                                                   r"'numpy'"):
        transform(lambda t: xg.sum(t ** 3), x, other)


def test_a_vjp_of_a_non_scalar_output_needs_its_cotangent():
    """``vjp_fn(None)`` pulled back ones, silently; PyTorch allows a None ``v`` only for a
    one-element output (JAX never)."""
    x = xg.asarray(np.array([1.0, 2.0]))
    _, pullback = xg.vjp(lambda t: t * 2.0, x)
    with pytest.raises(TypeError, match=r"cotangent.*\(2,\)"):
        pullback(None)
    _, pullback = xg.vjp(lambda t: xg.sum(t * 2.0), x)
    np.testing.assert_allclose(pullback(None)[0].numpy(), [2.0, 2.0])


def test_stop_gradient_of_no_array_names_itself():
    with pytest.raises(TypeError, match="stop_gradient.*NoneType"):
        xg.stop_gradient(None)


def test_minimize_points_a_tensorflow_user_at_variables():
    """TensorFlow's ``opt.minimize(loss, var_list=[x])``."""
    x = xg.Variable(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="var_list.*variables="):
        xg.optim.SGD(0.1).minimize(lambda: xg.sum(x * x), var_list=[x])


def test_a_differentiated_argument_passed_by_keyword_is_pointed_at():
    """``grad(f)(x=x)``: the differentiated arguments are the positional ones (as in JAX); the
    error said only 'argnums 0 is out of range for 0 positional arguments'."""
    x = xg.asarray(np.array([1.0, 2.0]))
    for transform in (xg.grad, xg.jacobian, xg.hessian):
        with pytest.raises(ValueError, match=r"out of range.*positional.*\['x'\] by keyword"):
            transform(lambda x: xg.sum(x * x))(x=x)
    with pytest.raises(ValueError, match=r"argnums 2 is out of range for 2"):
        xg.grad(lambda a, b: xg.sum(a * b), argnums=2)(x, x)


def test_tape_jacobian_of_a_list_of_sources_as_tensorflow(backend):
    """``tape.jacobian(y, [w, b])`` returns a list (TensorFlow's), in one set of passes; it
    was refused ('takes a target Tensor and one source Tensor')."""
    w0, b0, x0 = np.array([[0.5, -1.0], [2.0, 0.3]]), np.array([0.1, -0.2]), np.array([1.0, 2.0])
    w = xg.Variable(w0, backend=backend, name="w")
    b = xg.Variable(b0, backend=backend, name="b")
    u = xg.asarray(np.zeros(3), backend=backend)
    with xg.GradientTape() as tape:                 # not persistent: one call
        tape.watch(u)
        y = xg.tanh(xg.asarray(x0, backend=backend) @ w + b)
    jw, jb, ju = tape.jacobian(y, [w, b, u])
    want = torch.autograd.functional.jacobian(
        lambda w, b: torch.tanh(torch.tensor(x0) @ w + b), (torch.tensor(w0), torch.tensor(b0)))
    np.testing.assert_allclose(jw.numpy(), want[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(jb.numpy(), want[1].numpy(), rtol=1e-12)
    assert ju is None
    with pytest.raises(TypeError, match="sources must be Tensors, got str"):
        xg.GradientTape(persistent=True).jacobian(y, [w, "b"])


def test_hessian_takes_has_aux_as_jax_hessian(backend):
    x = xg.asarray(np.array([1.0, 2.0]), backend=backend)
    y = xg.asarray(np.array([0.5, -1.0]), backend=backend)
    hess, aux = xg.hessian(lambda a, b: (xg.sum(a ** 3 * b), a * 2.0), argnums=(0, 1),
                           has_aux=True)(x, y)
    np.testing.assert_allclose(hess[0][0].numpy(), np.diag([3.0, -12.0]))
    np.testing.assert_allclose(hess[0][1].numpy(), np.diag([3.0, 12.0]))
    np.testing.assert_allclose(aux.numpy(), [2.0, 4.0])


# -- complex inputs: PyTorch's conventions (docs/array-api.md) -----------------------------------
@pytest.mark.parametrize("f, tf", [
    (lambda t: t * t, lambda t: t * t),                                 # holomorphic: f'(z) v
    (lambda t: xg.abs(t) ** 2, lambda t: torch.abs(t) ** 2),            # real output
    (lambda t: xg.exp(1j * xg.real(t)) * t, lambda t: torch.exp(1j * t.real) * t)])
def test_jvp_and_hvp_of_complex_inputs_follow_pytorch(backend, f, tf):
    """xg.jvp gave conj(v) f'(z) for z * z (the double-vjp took sum(g * t), not the real
    inner product Re sum(g conj(t))), and hvp the same conjugation."""
    z0, v0 = np.array([1 + 2j, -0.5 + 0.3j]), np.array([0.3 - 1j, 2 + 0.5j])
    z, v = xg.asarray(z0, backend=backend), xg.asarray(v0, backend=backend)
    zt, vt = torch.tensor(z0), torch.tensor(v0)
    want = torch.autograd.functional.jvp(tf, zt, vt)[1].numpy()
    np.testing.assert_allclose(xg.jvp(f, z, v)[1].numpy(), want, rtol=1e-12)
    got = xg.hvp(lambda t: xg.sum(xg.abs(f(t)) ** 2), z, v)[1].numpy()
    want = torch.autograd.functional.hvp(lambda t: torch.sum(torch.abs(tf(t)) ** 2), zt, vt)[1]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12)
