"""Solvers inside xg.function (xpgrad/jit/solver_steps.py): odeint, fixed_point, custom_root
and while_loop each run as one step of the program. Values and gradients (value_and_grad
inside the function, a training step with Variables and an optimizer, a tape around the
compiled call) equal the eager call's in float64 on the numpy and numba backends, and agree
with finite differences and PyTorch; a new input shape traces again; errors stay clear."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")
F64 = xg.float64
TIMES = [0.0, 0.5, 1.0, 2.0]


@pytest.fixture(params=["numpy", "numba"])
def be(request):
    if request.param == "numba":
        pytest.importorskip("numba")
    return xg.get_backend(request.param)


def as64(values, be=None):
    return xg.asarray(np.asarray(values, dtype=np.float64), backend=be)


def decay_loss(be):
    """sum over t of |y(t)|^2 for dy/dt = -k y + c (c closed over, k passed in args)."""
    t, y0 = as64(TIMES, be), as64([1.0, -2.0], be)

    def loss(k, c):
        ys = xg.odeint(lambda y, t, k: -k * y + c, y0, t, k)
        return xg.sum(ys ** 2)

    return loss


def decay_closed_form(k, c):
    t = np.array(TIMES)[:, None]
    y0 = np.array([1.0, -2.0])
    return float(np.sum((c / k + (y0 - c / k) * np.exp(-k * t)) ** 2))


def central_difference(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_odeint_value_and_gradient_inside_xg_function_equal_eager(be):
    loss = decay_loss(be)
    step = xg.function(lambda k, c: xg.value_and_grad(loss, argnums=(0, 1))(k, c))
    for k_value in (0.7, 0.3, 1.5, 0.7):
        k, c = as64(k_value, be), as64(0.25, be)
        value, (dk, dc) = step(k, c)
        want_value, (want_dk, want_dc) = xg.value_and_grad(loss, argnums=(0, 1))(k, c)
        assert float(value) == float(want_value)
        assert float(dk) == float(want_dk) and float(dc) == float(want_dc)
        np.testing.assert_allclose(float(value), decay_closed_form(k_value, 0.25), rtol=1e-7)
        np.testing.assert_allclose(
            float(dk), central_difference(lambda v: decay_closed_form(v, 0.25), k_value),
            rtol=1e-6)
        np.testing.assert_allclose(
            float(dc), central_difference(lambda v: decay_closed_form(k_value, v), 0.25),
            rtol=1e-6)
    assert step.trace_count == 1


def test_a_tape_around_the_compiled_call_gets_the_eager_gradient():
    loss = decay_loss(None)
    compiled = xg.function(loss)
    k, c = as64(0.7), as64(0.25)
    for _ in range(3):
        compiled(k, c)                          # traced and replayed
    with xg.GradientTape() as tape:
        tape.watch(k)
        value = compiled(k, c)
    with xg.GradientTape() as eager:
        eager.watch(k)
        want = loss(k, c)
    assert float(value) == float(want)
    assert float(tape.gradient(value, k)) == float(eager.gradient(want, k))


def test_a_training_step_with_a_module_in_func_and_an_optimizer_matches_eager(be):
    rng = np.random.default_rng(0)
    w0, b0 = 0.4 * rng.normal(size=(2, 2)), 0.1 * rng.normal(size=2)

    def train(compiled):
        layer = xg.nn.Linear(2, 2, dtype=F64, backend=be)
        layer.w.assign(as64(w0, be))
        layer.b.assign(as64(b0, be))
        opt = xg.optim.SGD(0.05)
        t = as64([0.0, 0.5, 1.0], be)

        def step(y0, target):
            with xg.GradientTape() as tape:
                ys = xg.odeint(lambda y, t: xg.tanh(layer(y)), y0, t)
                loss = xg.mean((ys[-1] - target) ** 2)
            grads = tape.gradient(loss, layer.trainable_variables)
            opt.apply_gradients(zip(grads, layer.trainable_variables))
            return loss

        step = xg.function(step) if compiled else step
        y0, target = as64([[1.0, -0.5], [0.2, 0.3]], be), as64([[0.5, 0.5], [0.0, 1.0]], be)
        losses = [float(step(y0, target)) for _ in range(5)]
        return losses, layer.w.numpy(), getattr(step, "trace_count", 1)

    eager_losses, eager_weight, _ = train(False)
    losses, weight, traces = train(True)
    assert losses == eager_losses and eager_losses[-1] < eager_losses[0]
    np.testing.assert_array_equal(weight, eager_weight)
    assert traces == 1


def test_odeint_against_pytorch_on_a_fixed_grid_where_the_solution_is_exact():
    """A linear system's solution is exp(A t) y0: PyTorch's matrix_exp and autograd give the
    value and gradient to compare with (the solver's tolerance bounds the difference)."""
    a = np.array([[-0.5, 1.0], [-1.0, -0.3]])
    y0 = np.array([1.0, 0.5])
    t = as64([0.0, 1.0, 2.0])

    def loss(m):
        return xg.sum(xg.odeint(lambda y, t, m: m @ y, as64(y0), t, m, rtol=1e-10,
                                atol=1e-10) ** 2)

    step = xg.function(xg.value_and_grad(loss))
    for _ in range(3):
        value, grad = step(as64(a))
    m = torch.tensor(a, requires_grad=True)
    want = sum(torch.sum((torch.linalg.matrix_exp(m * s) @ torch.tensor(y0)) ** 2)
               for s in (0.0, 1.0, 2.0))
    want.backward()
    np.testing.assert_allclose(float(value), want.item(), rtol=1e-8)
    np.testing.assert_allclose(grad.numpy(), m.grad.numpy(), rtol=1e-7)


def test_a_new_input_shape_traces_again_and_matches_eager():
    t = as64([0.0, 1.0])
    step = xg.function(lambda y0, k: xg.odeint(lambda y, t, k: -k * y, y0, t, k))
    for n in (2, 3, 2, 3):
        y0 = as64(np.arange(1.0, n + 1))
        got = step(y0, as64(0.5))
        np.testing.assert_array_equal(got.numpy(), xg.odeint(lambda y, t, k: -k * y, y0, t,
                                                             as64(0.5)).numpy())
    assert step.trace_count == 2


def test_fixed_point_and_custom_root_with_a_closure_match_eager_and_finite_differences(be):
    w = as64([[0.2, -0.3], [0.1, 0.4]], be)

    def deq(b):
        z = xg.fixed_point(lambda z, b: xg.tanh(z @ w + b), xg.zeros(2, dtype=F64, backend=be),
                           b)
        return xg.sum(z ** 2)

    def newton(f, x):
        for _ in range(40):
            x = x - f(x) / xg.grad(f)(x)
        return x

    def cube_root(a):
        scaled = a * 2.0               # computed in the trace, closed over by f
        return xg.custom_root(lambda x: x ** 3 - scaled, xg.ones_like(a), newton,
                              lambda g, y: y / g(xg.ones_like(y)))

    deq_step = xg.function(xg.value_and_grad(deq))
    root_step = xg.function(xg.value_and_grad(cube_root))
    for shift in (0.0, 0.3, -0.2):
        b = as64([0.5 + shift, -1.0], be)
        value, grad = deq_step(b)
        want_value, want_grad = xg.value_and_grad(deq)(b)
        assert float(value) == float(want_value)
        np.testing.assert_array_equal(grad.numpy(), want_grad.numpy())
        for i in range(2):
            step = np.eye(2)[i] * 1e-6
            numeric = (float(deq(as64(b.numpy() + step, be))) -
                       float(deq(as64(b.numpy() - step, be)))) / 2e-6
            np.testing.assert_allclose(float(grad[i]), numeric, rtol=1e-6)
        a = 4.0 + 10 * shift
        value, grad = root_step(as64(a, be))
        want_value, want_grad = xg.value_and_grad(cube_root)(as64(a, be))
        assert float(value) == float(want_value) and float(grad) == float(want_grad)
        np.testing.assert_allclose(float(grad), central_difference(
            lambda v: np.cbrt(2.0 * v), a), rtol=1e-7)
    assert deq_step.trace_count == 1 and root_step.trace_count == 1


def test_while_loop_value_and_gradient_match_pytorch_and_its_python_runs_each_call():
    calls = []

    def body(c):
        calls.append(1)
        return c[0] * 0.5, c[1] + 1

    def halve(x):
        return xg.while_loop(lambda c: xg.sum(c[0] ** 2) > 0.25, body, (x, 0))

    def halve_torch(x):
        while torch.sum(x ** 2) > 0.25:
            x = x * 0.5
        return x

    step = xg.function(lambda x: xg.value_and_grad(lambda x: xg.sum(halve(x)[0] ** 3))(x))
    count = xg.function(lambda x: halve(x)[1])
    for scale in (3.0, 40.0, 0.1, 3.0):
        x = scale * np.array([0.6, -0.8])
        value, grad = step(as64(x))
        xt = torch.tensor(x, requires_grad=True)
        want = torch.sum(halve_torch(xt) ** 3)
        want.backward()
        np.testing.assert_allclose(float(value), want.item(), rtol=1e-15)
        np.testing.assert_allclose(grad.numpy(), xt.grad.numpy(), rtol=1e-15)
        n = count(as64(x))
        assert int(n) == max(0, int(np.ceil(np.log2(scale / 0.5))))  # |x| = scale
    # (the first call ran eagerly; from the trace on a Python int in init_val is a Tensor)
    assert count(as64([3.0, 0.0])).dtype == xg.int64
    del calls[:]
    count(as64([3.0, 0.0]))                 # a replay runs body_fun's Python each time
    assert len(calls) == 3
    assert step.trace_count == 1 and count.trace_count == 1


def test_a_replay_raises_the_solvers_own_error():
    step = xg.function(lambda s: xg.fixed_point(lambda z, s: s * z + 1.0, as64(0.0), s,
                                                max_iter=200))
    for s in (0.5, 0.25):
        np.testing.assert_allclose(float(step(as64(s))), 1 / (1 - s), rtol=1e-12)
    with pytest.raises(RuntimeError, match="fixed_point: no convergence in max_iter=200"):
        step(as64(1.5))                     # replayed: the map is no contraction there
    assert step.trace_count == 1


def test_a_tensor_the_closure_walk_cannot_find_is_a_clear_trace_error():
    class Holder:
        pass

    holder = Holder()

    def loss(k):
        holder.k = k * 2.0                  # an attribute: not found in func's closure
        return xg.sum(xg.odeint(lambda y, t: -holder.k * y, as64([1.0]), as64([0.0, 1.0])))

    step = xg.function(loss)
    step(as64(0.5))                         # eager
    with pytest.raises(xg.jit.TraceError, match="odeint inside an xg.function runs as one "
                                                "step.*pass that tensor as an argument"):
        step(as64(0.5))


def test_bad_input_is_named_at_trace_time_as_eagerly():
    step = xg.function(lambda y0: xg.odeint(lambda y, t: -y, y0, as64([1.0, 0.0])))
    with pytest.raises(ValueError, match="t must be strictly increasing"):
        for _ in range(2):
            step(as64([1.0]))
    loop = xg.function(lambda x: xg.while_loop(lambda v: v < 1.0, "not callable", x))
    with pytest.raises(TypeError, match="while_loop: body_fun must be callable"):
        loop(as64(0.5))


def test_a_retrace_through_solver_steps_leaves_no_cyclic_garbage():
    import itertools

    from gc_counts import cyclic_garbage
    from xpgrad import ode_captures

    t = as64([0.0, 0.5, 1.0])

    def loss(k, y0):
        c = k * 0.5                           # closed over by func: swapped in on each run
        ys = xg.odeint(lambda y, t, k: -k * y + c, y0, t, k)
        halved = xg.while_loop(lambda v: xg.sum(v * v) > 1.0, lambda v: v * 0.5, ys[-1] * 3.0)
        return xg.sum(halved ** 2)

    compiled = xg.function(lambda k, y0: xg.value_and_grad(loss)(k, y0), warmup=0,
                           retrace_warning=None, max_traces=2)
    sizes = itertools.count(2)

    def retrace():                            # a new state size each call
        compiled(as64(0.7), xg.ones(next(sizes), dtype=F64))
        # odeint's captures (an LRU) hold func, which holds c: dropped here, as an eviction
        # would, the dropped programs are freed within the count
        ode_captures.clear()

    assert cyclic_garbage(retrace, repeat=2, warmups=2) == 0


def test_a_dropped_function_whose_solver_closes_over_a_trace_tensor_leaves_no_cycle():
    """The step holds func, func the tensor, and the tensor's array named the trace, whose
    steps hold the step: at the trace's end the tensor lets go of the trace."""
    from gc_counts import cyclic_garbage

    def settle(b):
        scale = b * 0.5                       # closed over by f
        return xg.sum(xg.fixed_point(lambda z, b: xg.tanh(z * scale + b), xg.zeros_like(b),
                                     b))

    def traced_and_dropped():
        step = xg.function(xg.value_and_grad(settle))
        for _ in range(3):                    # eager, traced, replayed
            step(as64([0.1, -0.2]))

    assert cyclic_garbage(traced_and_dropped, repeat=2) == 0


def test_a_closed_over_tensor_leaked_from_the_trace_raises_when_used_after_it():
    kept = []

    def settle(b):
        scale = b * 0.5
        kept.append(scale)                    # a Python side effect: leaks the tensor
        return xg.fixed_point(lambda z, b: xg.tanh(z * scale + b), xg.zeros_like(b), b)

    step = xg.function(settle)
    for _ in range(3):
        step(as64([0.1, -0.2]))
    assert kept[1].shape == (2,)              # the trace's: its shape is known
    with pytest.raises(xg.jit.TraceError, match="used after the trace ended"):
        kept[1] + 1.0


def test_a_variable_rebound_before_the_solve_is_read_with_its_new_value():
    def run(compiled):
        k = xg.Variable(as64(0.5), name="k")
        t = as64([0.0, 1.0])

        def step(y0):
            k.assign(k * 1.5)                 # the solve reads the new value, on replay too
            return xg.odeint(lambda y, t: -k * y, y0, t)[-1]

        step = xg.function(step) if compiled else step
        return [step(as64([1.0])).tolist() for _ in range(4)], float(k)

    eager_values, eager_k = run(False)
    assert run(True) == (eager_values, eager_k)
    np.testing.assert_allclose([v[0] for v in eager_values],
                               np.exp(-0.5 * 1.5 ** np.arange(1, 5)), rtol=1e-7)
