"""Function optimization and higher-order derivatives as JAX, PyTorch and TensorFlow users write
them: SciPy's minimizers fed by ``value_and_grad``/``hvp``/``hessian``, xpgrad's optimizers on a
plain Variable, ``custom_gradient`` to second order, and the errors a wrong argument gets.
Checked against JAX (float64) and PyTorch, and finite differences in float64."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

# torch.func imports torch.jit.script, deprecated in PyTorch 2.13 (its warning, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

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


# -- higher order by hand: Newton, Gauss-Newton, implicit differentiation -------------------------
def test_newtons_method_with_hessian_and_gauss_newton_with_jacobian(backend):
    """Newton on a strictly convex function reaches a zero gradient in a few steps; Gauss-Newton
    on an exponential fit reaches SciPy's least-squares solution."""
    so = pytest.importorskip("scipy.optimize")

    def f(x):
        return xg.sum(xg.exp(x) - 2.0 * x) + 0.5 * xg.sum(x * x) + x[0] * x[1]

    x = xg.asarray(np.array([3.0, -2.0]), backend=backend)
    for _ in range(8):
        x = x - xg.linalg.solve(xg.hessian(f)(x), xg.grad(f)(x))
    assert np.abs(xg.grad(f)(x).numpy()).max() < 1e-12
    t = np.linspace(0.0, 3.0, 20)
    observed = 2.0 * np.exp(-0.7 * t) + 0.3 * np.sin(5 * t)
    tt, yy = xg.asarray(t, backend=backend), xg.asarray(observed, backend=backend)

    def residuals(p):
        return p[0] * xg.exp(-p[1] * tt) - yy

    p = xg.asarray(np.array([1.0, 1.0]), backend=backend)
    for _ in range(15):
        J = xg.jacobian(residuals)(p)
        p = p - xg.linalg.solve(xg.matrix_transpose(J) @ J, xg.matrix_transpose(J) @ residuals(p))
    want = so.least_squares(lambda q: q[0] * np.exp(-q[1] * t) - observed, [1.0, 1.0],
                            xtol=1e-15, ftol=1e-15, gtol=1e-15).x
    np.testing.assert_allclose(p.numpy(), want, rtol=1e-7)


def test_implicit_differentiation_of_a_root_by_hand(backend):
    """x*(theta) solves x**3 + theta x - 1 = 0; dx*/dtheta = -F_theta / F_x at the root, as
    a finite difference of the root found by SciPy."""
    so = pytest.importorskip("scipy.optimize")

    def root(theta):
        return so.brentq(lambda x: x ** 3 + theta * x - 1.0, 0.0, 1.0, xtol=1e-15)

    theta = xg.asarray(np.float64(2.0), backend=backend)
    x = xg.asarray(np.float64(root(2.0)), backend=backend)
    f_x, f_theta = xg.grad(lambda x, th: x ** 3 + th * x - 1.0, argnums=(0, 1))(x, theta)
    fd = (root(2.0 + 1e-6) - root(2.0 - 1e-6)) / 2e-6
    assert (-f_theta / f_x).item() == pytest.approx(fd, rel=1e-7)


def test_grad_of_grad_jvp_vjp_and_two_argument_hessian_against_pytorch(backend):
    x0, y0 = np.array([0.5, -1.3, 2.0]), np.array([1.0, 2.0, -0.5])
    x, y = xg.asarray(x0, backend=backend), xg.asarray(y0, backend=backend)
    second = xg.grad(xg.grad(lambda t: xg.sin(t) * t ** 2))(x[0]).item()
    assert second == pytest.approx(2 * np.sin(0.5) + 4 * 0.5 * np.cos(0.5) - 0.25 * np.sin(0.5))

    def f(a, b):
        return xg.stack([a[0] * b[1], xg.sin(a[2]) * b[0], a[1] ** 2 * b[2]])

    v, u = xg.asarray(y0 * 0.3, backend=backend), xg.asarray(x0 - 1.0, backend=backend)
    _, jv = xg.jvp(lambda a: f(a, y), x, v)
    _, pullback = xg.vjp(lambda a: f(a, y), x)
    assert xg.sum(u * jv).item() == pytest.approx(xg.sum(pullback(u)[0] * v).item(), rel=1e-12)

    def g(a, b):
        return xg.sum(f(a, b) ** 2) + xg.sum(a * b) ** 3

    def tg(a, b):
        out = torch.stack([a[0] * b[1], torch.sin(a[2]) * b[0], a[1] ** 2 * b[2]])
        return torch.sum(out ** 2) + torch.sum(a * b) ** 3

    got = xg.hessian(g, argnums=(0, 1))(x, y)
    want = torch.autograd.functional.hessian(tg, (torch.tensor(x0), torch.tensor(y0)))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(got[i][j].numpy(), want[i][j].numpy(), rtol=1e-12)


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
    # under nested tapes too; what SciPy computed is a constant to them (PyTorch's rule)
    hessian = xg.hessian(lambda t: xg.sum(erfcx(t)))(x).numpy()
    np.testing.assert_allclose(hessian, np.diag(2.0 * special.erfcx(x.numpy())), rtol=1e-12)
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


# -- xg.for_scipy: the JAX habit minimize(value_and_grad(f), x0, jac=True) ------------------------
@pytest.mark.parametrize("method", ["L-BFGS-B", "SLSQP", "BFGS"])
def test_value_and_grad_for_scipy_finds_jaxs_minimum(backend, method, jax):
    """Unwrapped, L-BFGS-B and SLSQP failed ('argument 7 must be numpy.ndarray, not Tensor')
    and BFGS returned Tensors; a logistic regression's minimum is JAX's."""
    so = pytest.importorskip("scipy.optimize")
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


# -- opt.minimize as TensorFlow users call it ------------------------------------------------------
def test_minimize_takes_one_variable_or_a_dict_as_tensorflows_var_list(backend):
    """TensorFlow flattens ``var_list`` (``tf.nest``): one Variable or a dict of them works,
    nested too.
    xpgrad iterated over the Variable's rows ('got a Tensor'; 'len() of a 0-d tensor') and
    over the dict's keys ('sources must be Tensors, got str')."""
    w = xg.Variable(np.array([1.0, 2.0]), backend=backend, name="w")
    b = xg.Variable(np.array(0.5), backend=backend, name="b")
    opt = xg.optim.SGD(0.25)
    opt.minimize(lambda: xg.sum(w * w), w)
    opt.minimize(lambda: b * b, b)
    assert w.tolist() == [0.5, 1.0] and b.item() == 0.25
    opt.minimize(lambda: xg.sum(w * w) + b * b, {"w": w, "b": b})
    assert w.tolist() == [0.25, 0.5] and b.item() == 0.125
    opt.minimize(lambda: xg.sum(w * w) + b * b, {"layer": {"w": w}, "heads": [(b,)]})
    assert w.tolist() == [0.125, 0.25] and b.item() == 0.0625


@pytest.mark.parametrize("loss, dtype", [(lambda w: xg.sum(xg.astype(w, xg.int64)), "int64"),
                                         (lambda w: xg.sum(w * 1j), "complex128")])
def test_minimize_refuses_a_loss_with_no_real_gradient(loss, dtype):
    """An integer loss was reported as 'the loss does not depend on these variables'; a
    complex one was minimized (PyTorch's backward and xg.grad refuse it)."""
    w = xg.Variable(np.array([1.0, 2.0]), name="w")
    with pytest.raises(TypeError, match=f"loss.*{dtype}"):
        xg.optim.SGD(0.1).minimize(lambda: loss(w), [w])
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
