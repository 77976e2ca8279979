"""Function optimization and higher-order derivatives as JAX, PyTorch and TensorFlow users write
them: SciPy's minimizers fed by ``value_and_grad``/``hvp``/``hessian``, xpgrad's optimizers on a
plain Variable, ``custom_gradient`` to second order, and the errors a wrong argument gets.
Checked against JAX (float64) and PyTorch, and finite differences in float64."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "numba":
        pytest.importorskip("numba")
    return request.param


def rosenbrock(x):
    return xg.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def torch_rosenbrock(x):
    return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


# -- SciPy's minimizers ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["L-BFGS-B", "Newton-CG", "trust-exact"])
def test_scipy_minimize_with_xpgrad_derivatives(backend, method):
    """The SciPy recipe: float64 arrays in, NumPy out (``.item()``, ``.numpy()``); the
    derivatives are PyTorch's at every point SciPy asks about."""
    so = pytest.importorskip("scipy.optimize")
    value_and_grad = xg.value_and_grad(rosenbrock)
    asked = []

    def fun(x):
        asked.append(np.array(x))
        value, g = value_and_grad(xg.asarray(x, backend=backend))
        return value.item(), g.numpy()

    extra = {"L-BFGS-B": {},
             "Newton-CG": {"hessp": lambda x, p: xg.hvp(rosenbrock, xg.asarray(
                 x, backend=backend), p)[1].numpy()},
             "trust-exact": {"hess": lambda x: xg.hessian(rosenbrock)(
                 xg.asarray(x, backend=backend)).numpy()}}[method]
    result = so.minimize(fun, np.array([-1.2, 1.0]), jac=True, method=method, **extra)
    assert result.success and result.x.dtype == np.float64
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-4)
    for x in asked[:: max(1, len(asked) // 5)]:
        xt = torch.tensor(x, requires_grad=True)
        want = torch.autograd.grad(torch_rosenbrock(xt), xt)[0].numpy()
        np.testing.assert_allclose(fun(x)[1], want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            xg.hessian(rosenbrock)(xg.asarray(x, backend=backend)).numpy(),
            torch.autograd.functional.hessian(torch_rosenbrock, torch.tensor(x)).numpy(),
            rtol=1e-12, atol=1e-12)


# -- xpgrad's optimizers on a plain Variable ------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_minimize_on_a_variable_follows_pytorch(backend, dtype):
    x = xg.Variable(np.array([-1.2, 1.0]), dtype=dtype, backend=backend, name="x")
    opt = xg.optim.Adam(0.01)
    xt = torch.tensor([-1.2, 1.0], dtype=getattr(torch, dtype), requires_grad=True)
    topt = torch.optim.Adam([xt], lr=0.01)
    for _ in range(300):
        opt.minimize(lambda: rosenbrock(x), [x])
        topt.zero_grad()
        torch_rosenbrock(xt).backward()
        topt.step()
    assert x.dtype == dtype
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(x.numpy(), xt.detach().numpy(), rtol=tol, atol=tol)


def test_projected_gradient_descent_with_a_schedule(backend):
    """Constraints by projection (``assign(clip(...))``) between updates, the learning rate
    decaying: the minimum of (y - 2)^2 on [-1, 1]^2 is the corner (1, 1)."""
    y = xg.Variable(np.array([3.0, -3.0]), backend=backend)
    opt = xg.optim.SGD(xg.optim.ExponentialDecay(0.1, decay_steps=50, decay_rate=0.5),
                       momentum=0.9)
    for _ in range(200):
        opt.minimize(lambda: xg.sum((y - 2.0) ** 2), [y])
        y.assign(xg.clip(y, -1.0, 1.0))
    np.testing.assert_allclose(y.numpy(), [1.0, 1.0])
    assert opt.learning_rate == pytest.approx(0.1 * 0.5 ** 4)


# -- arguments and outputs grad refuses, with the reason --------------------------------------------
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
    with pytest.raises(TypeError, match=r"argument 1 .*int64"):
        xg.vjp(lambda a, n: a * n, x, xg.asarray([1, 2]))
    with pytest.raises(TypeError, match=r"argument 0 .*int64"):
        xg.jvp(lambda n: n * 1.0, xg.asarray([1, 2]), x)
    with pytest.raises(TypeError, match=r"argument 0 .*int64"):
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


# -- custom_gradient to second order -------------------------------------------------------------
@xg.custom_gradient
def log1pexp(x):
    """TensorFlow's example: ``grad_fn`` reads ``e``, computed in the forward."""
    e = xg.exp(x)
    return xg.log(1.0 + e), lambda upstream: upstream * (1.0 - 1.0 / (1.0 + e))


def test_a_grad_fn_reading_forward_values_has_its_second_derivative(backend):
    """``e = exp(x)`` of the forward is a function of ``x`` to an outer tape, as in TensorFlow
    (its tapes watch a custom_gradient's forward) and JAX (a custom_vjp's residuals): the
    Hessian is softplus''. The forward ran with the tapes paused, so the Hessian was 0."""
    x0 = np.array([-3.0, 0.5, 2.0])
    x = xg.asarray(x0, backend=backend)
    want = torch.func.hessian(lambda t: torch.nn.functional.softplus(t).sum())(
        torch.tensor(x0))
    got = xg.hessian(lambda t: xg.sum(log1pexp(t)))(x)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(xg.grad(xg.grad(lambda t: log1pexp(t)))(x[1]).item(),
                               want[1, 1].item(), rtol=1e-12)
    xg.testing.check_grads(lambda t: log1pexp(t), [x], order=2)


def test_a_first_order_gradient_still_comes_from_grad_fn_alone(backend):
    """The forward's own operations are on the tape now, but the output's gradient is still
    grad_fn's: a straight-through round, a clipped gradient."""
    @xg.custom_gradient
    def round_ste(x):
        return xg.round(x), lambda upstream: upstream

    @xg.custom_gradient
    def clip_gradient(x):
        return x * 1.0, lambda upstream: xg.clip(upstream, -0.5, 0.5)

    x = xg.asarray([0.4, 1.6, -2.2], backend=backend)
    np.testing.assert_allclose(xg.grad(lambda t: xg.sum(round_ste(t) ** 2))(x).numpy(),
                               2.0 * np.round(x.numpy()))
    np.testing.assert_allclose(xg.grad(lambda t: xg.sum(clip_gradient(t) * 3.0))(x).numpy(),
                               [0.5, 0.5, 0.5])


def test_a_forward_may_run_scipy_on_its_inputs(backend):
    """PyTorch's ``autograd.Function`` habit: NumPy/SciPy in the forward, the rule in grad_fn.
    ``np.asarray`` of an input, refused elsewhere under a tape, is the user's choice here."""
    special = pytest.importorskip("scipy.special")

    @xg.custom_gradient
    def erfcx(x):
        value = xg.asarray(special.erfcx(np.asarray(x)), backend=x.backend)
        return value, lambda upstream: upstream * (2.0 * x * value - 2.0 / np.sqrt(np.pi))

    x = xg.asarray(np.array([-1.0, 0.5, 3.0]), backend=backend)
    xg.testing.check_grads(erfcx, [x])
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="cut it from the tape"):
            np.asarray(x * 2.0)                 # outside a custom forward: still refused


# -- non-smooth points to second order ------------------------------------------------------------
@pytest.mark.parametrize("point", [[0.0, 0.0, 0.0], [0.0, 3.0, -4.0]])
def test_the_hessian_of_a_norm_follows_pytorch_at_zero(backend, point):
    """The gradient of ``vector_norm`` is 0 at 0 (PyTorch's convention, docs/array-api.md); its
    derivative there is PyTorch's 0 as well (JAX: NaN), not the identity xpgrad gave."""
    x0 = np.array(point)
    for f, tf in [(lambda t: xg.linalg.vector_norm(t), torch.linalg.vector_norm),
                  (lambda t: xg.linalg.vector_norm(t) ** 2 + xg.sum(t),
                   lambda t: torch.linalg.vector_norm(t) ** 2 + t.sum())]:
        got = xg.hessian(f)(xg.asarray(x0, backend=backend)).numpy()
        want = torch.func.hessian(tf)(torch.tensor(x0)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


# -- pytrees of arguments, as JAX -----------------------------------------------------------------
def test_grad_of_a_dict_and_nested_lists_of_parameters_has_their_structure(backend):
    """``jax.grad(loss)(params)`` with ``params`` a dict of a list and a tuple; xpgrad refused
    any container ('is not a tensor or numbers')."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
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


def test_a_pytree_leaf_passed_twice_gets_its_partial_derivative():
    x = xg.asarray(np.array([1.0, 2.0]))
    gx, gy = xg.grad(lambda p, y: xg.sum(p[0] * p[1] * y), argnums=(0, 1))((x, x), x)
    np.testing.assert_allclose(gx[0].numpy(), [1.0, 4.0])      # x * y, not the total
    np.testing.assert_allclose(gy.numpy(), [1.0, 4.0])


def test_pytree_errors_name_the_leaf_and_lists_of_numbers_stay_arrays():
    x = xg.asarray(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"argument 0\['n'\] has dtype int64"):
        xg.grad(lambda p: xg.sum(p["x"] * p["n"]))({"x": x, "n": xg.asarray([1, 2])})
    with pytest.raises(TypeError, match="argument 0 is a dict of arrays.*grad and value_and_grad"):
        xg.hessian(lambda p: xg.sum(p["x"] ** 3))({"x": x})
    g = xg.grad(lambda t: xg.sum(t * t))([1.0, 2.0])
    assert isinstance(g, xg.Tensor) and g.tolist() == [2.0, 4.0]


# -- xg.for_scipy: the JAX habit minimize(value_and_grad(f), x0, jac=True) ------------------------
@pytest.mark.parametrize("method", ["L-BFGS-B", "SLSQP", "BFGS"])
def test_value_and_grad_for_scipy_finds_jaxs_minimum(backend, method):
    """Unwrapped, L-BFGS-B and SLSQP failed ('argument 7 must be numpy.ndarray, not Tensor')
    and BFGS returned Tensors; a logistic regression's minimum is JAX's."""
    so = pytest.importorskip("scipy.optimize")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.normal(size=80) > 0).astype(np.float64)

    def nll(w, X, y, np_=xg):
        z = X @ w
        return np_.mean(np_.logaddexp(0.0, z) - y * z) + 0.01 * np_.sum(w * w)

    data = (xg.asarray(X, backend=backend), xg.asarray(y, backend=backend))
    result = so.minimize(xg.for_scipy(xg.value_and_grad(nll), backend=backend), np.zeros(3),
                         args=data, jac=True, method=method)
    want = so.minimize(jax.value_and_grad(lambda w: nll(w, X, y, jax.numpy)), np.zeros(3),
                       jac=True, method=method)
    assert result.success and type(result.x) is np.ndarray and type(result.fun) is float
    np.testing.assert_allclose(result.x, want.x, rtol=1e-5)


def test_least_squares_with_a_jacobian_for_scipy(backend):
    """``least_squares(resid, x0, jac=xg.jacobian(resid))`` raised AttributeError: 'Tensor'
    object has no attribute 'dot'."""
    so = pytest.importorskip("scipy.optimize")
    t = np.linspace(0.0, 4.0, 30)
    observed = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.random.default_rng(2).normal(size=30)
    tt, yy = xg.asarray(t, backend=backend), xg.asarray(observed, backend=backend)

    def residuals(p):
        return p[0] * xg.exp(-p[1] * tt) + p[2] - yy

    got = so.least_squares(xg.for_scipy(residuals, backend=backend), [1.0, 1.0, 0.0],
                           jac=xg.for_scipy(xg.jacobian(residuals), backend=backend))
    want = so.least_squares(lambda p: p[0] * np.exp(-p[1] * t) + p[2] - observed,
                            [1.0, 1.0, 0.0])
    np.testing.assert_allclose(got.x, want.x, rtol=1e-6)
    a, b, _ = got.x
    exact = np.stack([np.exp(-b * t), -a * t * np.exp(-b * t), np.ones_like(t)], axis=1)
    assert type(got.jac) is np.ndarray
    np.testing.assert_allclose(got.jac, exact, rtol=1e-12)


# -- more bad input, named ------------------------------------------------------------------------
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
