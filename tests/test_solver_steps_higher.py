"""Higher derivatives through a solver step inside xg.function (xpgrad/jit/solver_gradients.py):
xg.hessian, xg.grad of xg.grad, xg.hvp, xg.jvp (a vjp of a vjp) and a third derivative
through fixed_point,
custom_root, while_loop and odeint, traced and replayed on new values, equal the eager
computation and agree with finite differences of the eager gradient in float64 and with
PyTorch (an unrolled iteration or a closed form of the same function); a tape that begins
recording after the solver ran sees what it sees eagerly; a non-trainable Variable a tape
watches gets its gradient through the step."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
F64 = xg.float64
W = np.array([[0.2, -0.3], [0.1, 0.4]])
TIMES = [0.0, 0.5, 1.0]
Y0 = np.array([1.0, -2.0])
TIGHT = dict(rtol=1e-10, atol=1e-10)


def as64(values):
    return xg.asarray(np.asarray(values, dtype=np.float64))


def deq(b):
    """sum(z^3) at z = tanh(z W + b)."""
    z = xg.fixed_point(lambda z, b: xg.tanh(z @ as64(W) + b), xg.zeros(2, dtype=F64), b)
    return xg.sum(z ** 3)


def deq_torch(b):
    z = torch.zeros(2, dtype=torch.float64)
    for _ in range(200):                    # a contraction: converged to rounding long before
        z = torch.tanh(z @ torch.tensor(W) + b)
    return torch.sum(z ** 3)


def newton_cubic(f, x):
    for _ in range(60):
        x = x - f(x) / (3 * x ** 2)
    return x


def roots(a):
    """sum(x^2 a) at x^3 = 2a (x closed over a tensor computed in the trace)."""
    target = a * 2.0
    x = xg.custom_root(lambda x: x ** 3 - target, xg.ones_like(a), newton_cubic,
                       lambda g, y: y / g(xg.ones_like(y)))
    return xg.sum(x ** 2 * a)


def roots_torch(a):
    return torch.sum((2 * a) ** (2 / 3) * a)


def halve(x):
    """sum(c^3) after c = c/2 + c^2/100 while |c|^2 > 1/4."""
    c = xg.while_loop(lambda c: xg.sum(c ** 2) > 0.25, lambda c: c * 0.5 + 0.01 * c ** 2, x)
    return xg.sum(c ** 3)


def halve_torch(x):
    while torch.sum(x ** 2) > 0.25:
        x = x * 0.5 + 0.01 * x ** 2
    return torch.sum(x ** 3)


def decay(k):
    """sum over t and i of y_i(t)^2 for dy/dt = -k y + c (c closed over), y(0) = Y0."""
    c = xg.sum(k) * 0.1
    ys = xg.odeint(lambda y, t, k: -k * y + c, as64(Y0), as64(TIMES), k, **TIGHT)
    return xg.sum(ys ** 2)


def decay_torch(k):
    c = torch.sum(k) * 0.1
    t = torch.tensor(TIMES, dtype=torch.float64)[:, None]
    y0 = torch.tensor(Y0)
    return torch.sum((c / k + (y0 - c / k) * torch.exp(-k * t)) ** 2)


# (loss, its PyTorch twin, three inputs: the eager call's, the trace's, a replay's; how close
# the step's Hessian is to the eager one: a solver's rounding, or odeint's tolerance, since the
# step sums its gradient's two adjoint solves in another order than the eager tape)
PROBLEMS = {
    "fixed_point": (deq, deq_torch, [[0.5, -1.0], [0.2, 0.3], [-0.4, 0.8]], 1e-12),
    "custom_root": (roots, roots_torch, [[4.0, 3.0], [1.5, 2.5], [5.0, 0.7]], 1e-12),
    "while_loop": (halve, halve_torch, [[1.8, -2.4], [0.9, 1.3], [-3.0, 0.5]], 1e-12),
    "odeint": (decay, decay_torch, [[0.5, 0.3], [0.8, 0.4], [0.25, 1.1]], 1e-8),
}


@pytest.fixture(params=list(PROBLEMS))
def problem(request):
    return PROBLEMS[request.param]


def eager_gradient_differences(loss, x, eps=1e-5):
    """The Hessian as central differences of the eager gradient, column by column."""
    grad = xg.grad(loss)
    columns = []
    for i in range(len(x)):
        step = np.eye(len(x))[i] * eps
        columns.append((grad(as64(x + step)).numpy() - grad(as64(x - step)).numpy()) / (2 * eps))
    return np.stack(columns, axis=1)


def test_hessian_inside_xg_function_equals_eager_finite_differences_and_pytorch(problem):
    loss, twin, inputs, rtol = problem
    compiled = xg.function(xg.hessian(loss))
    for x in inputs:
        got = compiled(as64(x)).numpy()
        want = xg.hessian(loss)(as64(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(got, eager_gradient_differences(loss, np.array(x)),
                                   rtol=1e-6, atol=1e-7)
        expected = torch.autograd.functional.hessian(twin, torch.tensor(x, dtype=torch.float64))
        np.testing.assert_allclose(got, expected.numpy(), rtol=1e-6, atol=1e-8)
    assert compiled.trace_count == 1


def test_grad_of_grad_hvp_and_jvp_inside_xg_function_equal_eager(problem):
    loss, _, inputs, rtol = problem
    v = np.array([0.6, -0.8])

    def along(x):                       # d2/ds2 loss(x + s v) at s = 0 is v.H.v
        return xg.grad(xg.grad(lambda s: loss(x + s * as64(v))))(as64(0.0))

    curvature = xg.function(along)
    product = xg.function(lambda x, v: xg.hvp(loss, x, v)[1])
    directional = xg.function(lambda x, v: xg.jvp(loss, (x,), (v,))[1])
    for x in inputs:
        hessian = xg.hessian(loss)(as64(x)).numpy()
        np.testing.assert_allclose(float(curvature(as64(x))), v @ hessian @ v, rtol=rtol * 10)
        np.testing.assert_allclose(float(curvature(as64(x))), float(along(as64(x))),
                                   rtol=rtol)
        np.testing.assert_allclose(product(as64(x), as64(v)).numpy(), hessian @ v,
                                   rtol=rtol * 10, atol=rtol)
        slope = float(directional(as64(x), as64(v)))      # a vjp of a vjp: two orders of tape
        assert slope == float(xg.jvp(loss, (as64(x),), (as64(v),))[1])
        numeric = (float(loss(as64(x + 1e-6 * v))) - float(loss(as64(x - 1e-6 * v)))) / 2e-6
        np.testing.assert_allclose(slope, numeric, rtol=1e-6)
    assert curvature.trace_count == product.trace_count == directional.trace_count == 1


def test_eager_jvp_through_fixed_point_equals_the_gradient_along_the_tangent():
    x, v = as64([0.5, -1.0]), as64([0.6, -0.8])
    np.testing.assert_allclose(float(xg.jvp(deq, (x,), (v,))[1]),
                               float(xg.vecdot(xg.grad(deq)(x), v)), rtol=1e-8)


def test_a_third_derivative_through_fixed_point_equals_eager_and_finite_differences():
    def settle(b):
        return xg.sum(xg.fixed_point(lambda z, b: xg.tanh(0.5 * z + b), xg.zeros_like(b), b))

    third = xg.grad(xg.grad(xg.grad(settle)))
    second = xg.grad(xg.grad(settle))
    compiled = xg.function(third)
    for b in (0.3, -0.1, 0.7):
        got = float(compiled(as64(b)))
        assert got == float(third(as64(b)))
        numeric = (float(second(as64(b + 1e-5))) - float(second(as64(b - 1e-5)))) / 2e-5
        np.testing.assert_allclose(got, numeric, rtol=1e-6)
    assert compiled.trace_count == 1


def test_a_first_order_gradient_taken_under_another_recording_tape_equals_eager(problem):
    """The outer tape records the gradient walk but is never asked for its gradient: the
    replays walk the solver's tape unrecorded (odeint's raw adjoint: equal to rounding)."""
    loss, _, inputs, _ = problem

    def step(x):
        with xg.GradientTape() as other:
            other.watch(x)
            value, grad = xg.value_and_grad(loss)(x)
        return value, grad

    compiled = xg.function(step)
    for x in inputs + inputs:
        value, grad = compiled(as64(x))
        want_value, want_grad = step(as64(x))
        assert float(value) == float(want_value)
        np.testing.assert_allclose(grad.numpy(), want_grad.numpy(), rtol=1e-14, atol=1e-15)
    assert compiled.trace_count == 1


def late_tape_derivative(loss_of_solution, x):
    """An outer tape that begins recording after the solver ran: it differentiates only what
    the gradient walk reads of x (eagerly as inside xg.function)."""
    with xg.GradientTape() as inner:
        inner.watch(x)
        value = loss_of_solution(x)
    with xg.GradientTape() as late:
        late.watch(x)
        total = xg.sum(inner.gradient(value, x))
    return late.gradient(total, x)


@pytest.mark.parametrize("name", ["fixed_point", "while_loop", "odeint"])
def test_a_tape_recording_only_the_gradient_walk_sees_what_it_sees_eagerly(name):
    loss, _, inputs, _ = PROBLEMS[name]
    compiled = xg.function(lambda x: late_tape_derivative(loss, x))
    for x in inputs:
        np.testing.assert_allclose(compiled(as64(x)).numpy(),
                                   late_tape_derivative(loss, as64(x)).numpy(), rtol=1e-12)
    assert compiled.trace_count == 1


def test_a_second_derivative_in_t_is_refused_as_eagerly():
    def through_times(t):
        return xg.sum(xg.odeint(lambda y, t: -y, as64([1.0]), t))

    hessian = xg.hessian(through_times)
    compiled = xg.function(hessian)
    for call in (hessian, compiled, compiled, compiled):   # eager, then the trace's, ...
        with pytest.raises(NotImplementedError, match="odeint: a tape differentiates this "
                                                      "gradient with respect to t"):
            call(as64([0.0, 1.0]))


def watched_constant_gradient(solve, scale, x):
    """The gradients of solve(x) (which reads the non-trainable Variable ``scale``) for x and
    scale, under a tape that watches scale explicitly, and for a Variable it does not watch."""
    ignored = xg.Variable(as64(1.0), trainable=False, name="ignored")
    with xg.GradientTape() as tape:
        tape.watch(x)
        tape.watch(scale)
        value = solve(x) * ignored
    return tape.gradient(value, [x, scale, ignored])


VARIABLE_SOLVES = {
    "fixed_point": lambda scale: lambda b: xg.sum(xg.fixed_point(
        lambda z, b: xg.tanh(scale * z + b), xg.zeros_like(b), b)),
    "custom_root": lambda scale: lambda a: xg.sum(xg.custom_root(
        lambda x: x ** 3 - scale * a, xg.ones_like(a), newton_cubic,
        lambda g, y: y / g(xg.ones_like(y)))),
    "while_loop": lambda scale: lambda x: xg.sum(xg.while_loop(
        lambda c: xg.sum(c ** 2) > 0.25, lambda c: c * scale, x)),
    "odeint": lambda scale: lambda k: xg.sum(xg.odeint(
        lambda y, t, k: -k * scale * y, as64(Y0), as64(TIMES), k, **TIGHT)),
}


@pytest.mark.parametrize("name", list(VARIABLE_SOLVES))
def test_a_watched_non_trainable_variable_gets_its_gradient_through_the_step(name):
    scale = xg.Variable(as64(0.5), trainable=False, name="scale")
    solve = VARIABLE_SOLVES[name](scale)
    compiled = xg.function(lambda x: watched_constant_gradient(solve, scale, x))
    x = as64([0.7, 0.4])
    for s in (0.5, 0.3, 0.6):           # eager, traced, replayed: the Variable read live
        scale.assign(as64(s))
        dx, dscale, dignored = compiled(x)
        want_dx, want_dscale, want_ignored = watched_constant_gradient(solve, scale, x)
        assert dignored is None and want_ignored is None
        np.testing.assert_allclose(dx.numpy(), want_dx.numpy(), rtol=1e-12)
        np.testing.assert_allclose(float(dscale), float(want_dscale), rtol=1e-12)
        numeric = []
        for sign in (1, -1):
            scale.assign(as64(s + sign * 1e-6))
            numeric.append(float(solve(x)))
        scale.assign(as64(s))
        np.testing.assert_allclose(float(dscale), (numeric[0] - numeric[1]) / 2e-6, rtol=1e-5)
    assert compiled.trace_count == 1


def test_retraces_and_replays_of_a_hessian_through_solver_steps_leave_no_cyclic_garbage():
    import itertools

    from gc_counts import cyclic_garbage

    def loss(b):
        z = xg.fixed_point(lambda z, b: xg.tanh(0.5 * z + b), xg.zeros_like(b), b)
        halved = xg.while_loop(lambda v: xg.sum(v * v) > 1.0, lambda v: v * 0.5, z * 3.0)
        return xg.sum(halved ** 3)

    compiled = xg.function(xg.hessian(loss), warmup=0, retrace_warning=None, max_traces=2)
    sizes = itertools.count(2)

    def retrace():                            # a new input size each call
        compiled(xg.ones(next(sizes), dtype=F64) * 0.3)

    assert cyclic_garbage(retrace, repeat=2, warmups=2) == 0
    replayed = xg.function(xg.hessian(loss))
    x = xg.ones(3, dtype=F64) * 0.3
    assert cyclic_garbage(lambda: replayed(x), repeat=3, warmups=3) == 0


@pytest.mark.parametrize("trainable", [True, False])
def test_a_second_derivative_for_a_variable_the_solver_reads_equals_eager(trainable):
    w = xg.Variable(as64(W), trainable=trainable, name="w")
    b = as64([0.5, -1.0])

    def squared_gradient():
        """|d sum(z^3) / dw|^2 at z = tanh(z w + b), and its gradient for w."""
        with xg.GradientTape() as outer:
            outer.watch(w)
            with xg.GradientTape() as inner:
                inner.watch(w)
                z = xg.fixed_point(lambda z, b: xg.tanh(z @ w + b), xg.zeros(2, dtype=F64), b)
                loss = xg.sum(z ** 3)
            g = inner.gradient(loss, w)
            total = xg.sum(g * g)
        return total, outer.gradient(total, w)

    compiled = xg.function(squared_gradient)
    for scale in (1.0, 0.5, 1.5):       # eager, traced, replayed: the Variable read live
        w.assign(as64(W * scale))
        _, got = compiled()
        _, want = squared_gradient()
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)
        numeric = np.zeros_like(W)
        for i, j in np.ndindex(*W.shape):
            values = []
            for sign in (1, -1):
                w.assign(as64(W * scale + sign * 1e-6 * np.eye(2)[i][:, None] * np.eye(2)[j]))
                values.append(float(squared_gradient()[0]))
            numeric[i, j] = (values[0] - values[1]) / 2e-6
        w.assign(as64(W * scale))
        np.testing.assert_allclose(got.numpy(), numeric, rtol=1e-6, atol=1e-9)
    assert compiled.trace_count == 1
