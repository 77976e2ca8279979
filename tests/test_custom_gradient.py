"""``xg.custom_gradient``, TensorFlow's ``tf.custom_gradient``: a function returns its value and
the function that maps the upstream gradient to its inputs' gradients (and, when it reads
Variables, theirs). Checked against PyTorch and finite differences in float64."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@xg.custom_gradient
def log1pexp(x):
    """TensorFlow's example: the naive gradient is inf/inf = NaN at x = 100."""
    e = xg.exp(x)

    def grad(upstream):
        return upstream * (1.0 - 1.0 / (1.0 + e))
    return xg.log(1.0 + e), grad


def test_the_rule_given_is_the_gradient_taken(backend):
    x0 = np.array([-30.0, -1.0, 0.0, 2.0, 30.0, 300.0])
    x = xg.asarray(x0, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(log1pexp(x))
    xt = torch.tensor(x0, requires_grad=True)
    torch.nn.functional.softplus(xt).sum().backward()
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), xt.grad.numpy(), rtol=1e-12,
                               atol=1e-15)   # (1 - 1/(1 + e) cancels at -30)


def test_a_stable_gradient_where_the_naive_one_is_nan(backend):
    """TensorFlow's example, in float32: at x = 100, exp overflows; the naive gradient is
    inf / inf = NaN, the custom one 1."""
    x = xg.asarray(np.array([1.0, 100.0], np.float32), backend=backend)
    with np.errstate(over="ignore", invalid="ignore"), xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        custom = xg.sum(log1pexp(x))
        naive = xg.sum(xg.log(1.0 + xg.exp(x)))
        g_custom, g_naive = tape.gradient(custom, x), tape.gradient(naive, x)
    assert np.isnan(g_naive.numpy()[1])
    np.testing.assert_allclose(g_custom.numpy(), [1 / (1 + np.exp(-1.0)), 1.0], rtol=1e-6)


def test_outside_a_tape_it_is_the_function(backend):
    x = xg.asarray([0.5, 1.5], backend=backend)
    np.testing.assert_allclose(log1pexp(x).numpy(), np.log1p(np.exp([0.5, 1.5])), rtol=1e-6)


@xg.custom_gradient
def clip_gradient_norm(x, max_norm):
    """The identity forward; the backward clips the upstream gradient's norm."""
    def grad(upstream):
        norm = xg.sqrt(xg.sum(upstream * upstream))
        scale = xg.minimum(xg.ones((), dtype=upstream.dtype, backend=upstream.backend),
                           max_norm / norm)
        return upstream * scale, None
    return xg.asarray(x, copy=True), grad


def test_several_inputs_and_a_none_gradient(backend):
    x = xg.asarray([3.0, 4.0], backend=backend)
    limit = xg.asarray(1.0, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch([x, limit])
        y = xg.sum(clip_gradient_norm(x, limit) * 10.0)
    gx, glimit = tape.gradient(y, [x, limit])
    # upstream (10, 10) clipped to norm 1
    np.testing.assert_allclose(gx.numpy(), [1 / np.sqrt(2), 1 / np.sqrt(2)], rtol=1e-6)
    assert glimit is None


def test_a_function_reading_variables_gets_their_gradients_from_grad_fn(backend):
    w = xg.Variable(np.array([[0.5, -1.0], [2.0, 0.25]]), backend=backend)

    @xg.custom_gradient
    def layer(x):
        out = xg.tanh(x @ w)

        def grad(upstream, variables=None):
            local = upstream * (1.0 - out * out)
            assert len(variables) == 1 and variables[0] is w
            return local @ xg.matrix_transpose(w), [xg.matrix_transpose(x) @ local]
        return out, grad

    x0 = np.array([[1.0, -2.0], [0.5, 0.3], [0.1, 0.9]])
    x = xg.asarray(x0, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(layer(x) ** 2)
    gx, gw = tape.gradient(loss, [x, w])
    xt = torch.tensor(x0, requires_grad=True)
    wt = torch.tensor(w.numpy(), requires_grad=True)
    (torch.tanh(xt @ wt) ** 2).sum().backward()
    np.testing.assert_allclose(gx.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_reading_a_variable_without_a_variables_argument_is_refused(backend):
    w = xg.Variable(np.ones(2), backend=backend)

    @xg.custom_gradient
    def scaled(x):
        return x * w, lambda upstream: upstream * w

    x = xg.asarray([1.0, 2.0], backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="variables"):
            scaled(x)


def test_second_order_through_a_grad_fn_written_with_xpgrad_ops(backend):
    @xg.custom_gradient
    def cube(x):
        return x * x * x, lambda upstream: upstream * 3.0 * x * x

    x = xg.asarray([0.5, -2.0], backend=backend)
    with xg.GradientTape() as outer:
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            y = xg.sum(cube(x))
        g = inner.gradient(y, x)
        total = xg.sum(g)
    np.testing.assert_allclose(g.numpy(), [0.75, 12.0], rtol=1e-12)
    np.testing.assert_allclose(outer.gradient(total, x).numpy(), [3.0, -12.0], rtol=1e-12)


def test_it_agrees_with_finite_differences_where_the_rule_is_right(backend):
    x = xg.asarray(np.array([-3.0, 0.2, 4.0]), backend=backend)
    xg.testing.check_grads(log1pexp, [x])


def test_replayed_by_xg_function_as_eager(backend):
    w = xg.Variable(np.array([1.0, -0.5, 2.0]), backend=backend)
    opt = xg.optim.SGD(learning_rate=0.1)

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(log1pexp(x * w))
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    x = xg.asarray([1.0, 2.0, 3.0], backend=backend)
    values = [step(x).item() for _ in range(4)]
    w_eager = np.array([1.0, -0.5, 2.0])
    for i in range(4):
        z = np.array([1.0, 2.0, 3.0]) * w_eager
        assert values[i] == pytest.approx(np.sum(np.logaddexp(0, z)), rel=1e-12)
        w_eager = w_eager - 0.1 * np.array([1.0, 2.0, 3.0]) / (1.0 + np.exp(-z))
    np.testing.assert_allclose(w.numpy(), w_eager, rtol=1e-12)
    assert step.trace_count == 1


def test_bad_functions_are_named():
    x = xg.asarray([1.0, 2.0])

    @xg.custom_gradient
    def no_pair(x):
        return x * 2.0

    @xg.custom_gradient
    def too_many(x):
        return x * 2.0, lambda upstream: (upstream, upstream)

    @xg.custom_gradient
    def wrong_shape(x):
        return x * 2.0, lambda upstream: xg.sum(upstream)

    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="no_pair.*pair"):
            no_pair(x)
        y1, y2 = too_many(x), wrong_shape(x)
    with pytest.raises(ValueError, match="too_many.*2 gradients for 1 input"):
        tape.gradient(y1, x)
    with pytest.raises(ValueError, match="wrong_shape.*shape"):
        tape.gradient(y2, x)
    with pytest.raises(TypeError, match="custom_gradient takes a callable"):
        xg.custom_gradient(3)


def test_python_numbers_become_tensors_on_the_other_inputs_backend(backend):
    @xg.custom_gradient
    def scale(x, factor):
        return x * factor, lambda upstream: (upstream * factor, xg.sum(upstream * x))

    x = xg.asarray([1.0, 2.0], backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(scale(x, 3.0))
    assert y.backend.name == backend
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [3.0, 3.0])


@xg.custom_gradient
def polar(r, theta):
    """Several outputs, as TensorFlow's: ((x, y), grad) with grad(dx, dy), one upstream each."""
    x, y = r * xg.cos(theta), r * xg.sin(theta)

    def grad(dx, dy):
        return (dx * xg.cos(theta) + dy * xg.sin(theta),
                r * (dy * xg.cos(theta) - dx * xg.sin(theta)))
    return (x, y), grad


def _polar_torch(r, theta, weights):
    r, theta = (torch.tensor(v, requires_grad=True) for v in (r, theta))
    x, y = r * torch.cos(theta), r * torch.sin(theta)
    (torch.sum(x * torch.tensor(weights)) + torch.sum(y ** 3)).backward()
    return r.grad.numpy(), theta.grad.numpy()


def test_several_outputs_get_one_upstream_each_as_in_tensorflow(backend):
    rng = np.random.default_rng(3)
    r_, theta_, weights = rng.random((2, 3)) + 0.5, rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    r, theta = (xg.asarray(v, backend=backend) for v in (r_, theta_))
    with xg.GradientTape() as tape:
        tape.watch([r, theta])
        x, y = polar(r, theta)
        loss = xg.sum(x * xg.asarray(weights, backend=backend)) + xg.sum(y ** 3)
    got = tape.gradient(loss, [r, theta])
    for g, want in zip(got, _polar_torch(r_, theta_, weights)):
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-12)
    assert x.shape == y.shape == (2, 3) and y.backend.name == backend
    np.testing.assert_allclose(polar(r, theta)[1].numpy(), r_ * np.sin(theta_))   # no tape


def test_an_output_left_unused_gets_a_zero_upstream_and_second_order_goes_through(backend):
    r = xg.asarray([1.5, 2.0], dtype=xg.float64, backend=backend)
    theta = xg.asarray([0.3, -1.0], dtype=xg.float64, backend=backend)
    with xg.GradientTape() as outer:
        outer.watch(theta)
        with xg.GradientTape() as inner:
            inner.watch(theta)
            _, y = polar(r, theta)
            total = xg.sum(y)
        g = inner.gradient(total, theta)                   # r cos(theta)
    np.testing.assert_allclose(g.numpy(), [1.5 * np.cos(0.3), 2.0 * np.cos(-1.0)], rtol=1e-12)
    np.testing.assert_allclose(outer.gradient(g, theta).numpy(),
                               [-1.5 * np.sin(0.3), -2.0 * np.sin(-1.0)], rtol=1e-12)


def test_several_outputs_of_different_shapes_and_dtypes():
    @xg.custom_gradient
    def total_and_half(x):
        return (xg.sum(x), xg.astype(x / 2, xg.float32)), lambda d_total, d_half: (
            d_total + xg.astype(d_half, xg.float64) / 2)

    x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    with xg.GradientTape() as tape:
        tape.watch(x)
        total, half = total_and_half(x)
        loss = 3.0 * total + xg.astype(xg.sum(half * xg.asarray([1.0, 10.0], dtype=xg.float32)),
                                       xg.float64)
    assert total.shape == () and half.dtype == xg.float32
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [[3.5, 8.0], [3.5, 8.0]])


def test_a_named_tuple_of_outputs_comes_back_as_that_named_tuple(backend):
    """TensorFlow packs a custom_gradient's outputs back into the structure the forward
    returned; a named tuple was rebuilt from one list argument (TypeError: missing 'q')."""
    from collections import namedtuple

    SumAndSquares = namedtuple("SumAndSquares", "total squares")

    @xg.custom_gradient
    def sum_and_squares(x):
        return SumAndSquares(xg.sum(x), x * x), lambda d_total, d_squares: (
            d_total + 2.0 * x * d_squares)

    x_ = np.array([0.5, -2.0, 3.0])
    x = xg.asarray(x_, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        out = sum_and_squares(x)
        loss = 2.0 * out.total + xg.sum(out.squares * out.squares)
    assert type(out) is SumAndSquares
    t = torch.tensor(x_, requires_grad=True)
    (2.0 * t.sum() + (t * t * t * t).sum()).backward()
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), t.grad.numpy(), rtol=1e-12)


@xg.custom_gradient
def _softmax_and_argmax(x):
    """A floating output beside an integer one (TensorFlow allows it; the integer one gets no
    gradient and a zero upstream)."""
    p = xg.exp(x - xg.max(x))
    p = p / xg.sum(p)

    def grad(dp, d_index):
        assert d_index.dtype == xg.int64 and d_index.shape == () and int(d_index) == 0
        return p * (dp - xg.sum(dp * p))
    return (p, xg.argmax(x)), grad


def test_an_integer_output_beside_a_floating_one_gets_no_gradient(backend):
    x0 = np.array([0.3, -1.2, 2.0, 0.5])
    weights = np.array([1.0, -2.0, 0.5, 3.0])
    x = xg.asarray(x0, backend=backend)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        p, index = _softmax_and_argmax(x)
        loss = xg.sum(p * xg.asarray(weights, backend=backend))
    assert int(index) == 2 and index.dtype == xg.int64
    with pytest.warns(RuntimeWarning, match="depends on no tensor"):
        assert tape.gradient(index, x) is None
    xt = torch.tensor(x0, requires_grad=True)
    (torch.softmax(xt, 0) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), xt.grad.numpy(), rtol=1e-12)
    with xg.GradientTape() as outer:          # second order through the floating output
        outer.watch(x)
        with xg.GradientTape() as inner:
            inner.watch(x)
            p, _ = _softmax_and_argmax(x)
            loss = xg.sum(p * xg.asarray(weights, backend=backend))
        g = inner.gradient(loss, x)
        g_sum = xg.sum(g * g)
    xt = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad((torch.softmax(xt, 0) * torch.tensor(weights)).sum(), xt,
                                create_graph=True)
    (gt * gt).sum().backward()
    np.testing.assert_allclose(outer.gradient(g_sum, x).numpy(), xt.grad.numpy(), rtol=1e-10)


def test_only_integer_outputs_are_returned_without_a_gradient():
    @xg.custom_gradient
    def ranks(x):
        return (xg.argsort(x), xg.argmax(x)), lambda *_: pytest.fail("grad_fn called")

    x = xg.asarray([0.3, -1.2, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        order, top = ranks(x)
    assert order.tolist() == [1, 0, 2] and int(top) == 2
    with pytest.warns(RuntimeWarning, match="depends on no tensor"):
        assert tape.gradient(order, x) is None
