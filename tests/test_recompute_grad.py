"""``xg.recompute_grad`` (alias ``xg.remat``): gradient checkpointing, as ``tf.recompute_grad``,
``jax.checkpoint`` and ``torch.utils.checkpoint.checkpoint(use_reentrant=False)``. Gradients
equal the plain computation's, checked against finite differences (float64) and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

BACKENDS = ["numpy", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def _arr(rng, shape, backend, dtype="float64"):
    return xg.asarray(rng.normal(size=shape), dtype=dtype, backend=backend)


def _mlp_weights(rng, backend, widths=(5, 7, 7, 3)):
    return [xg.Variable(_arr(rng, (a, b), backend) / np.sqrt(a), name=f"w{i}")
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))]


def _grads(loss_fn, sources):
    """``loss_fn()`` under a tape, and its gradients with respect to ``sources``."""
    with xg.GradientTape() as tape:
        for s in sources:
            tape.watch(s)
        loss = loss_fn()
    return loss, tape.gradient(loss, sources)


def _assert_all_close(got, want, rtol=1e-12, atol=1e-14):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g is not None and w is not None
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=rtol, atol=atol)


def test_closed_over_variables_and_arguments_get_the_plain_gradients(backend, rng):
    ws = _mlp_weights(rng, backend)
    x = _arr(rng, (4, 5), backend)
    bias = _arr(rng, (7,), backend)

    def layer(h, b):                      # ws[1] is read by closure, b is an argument
        return xg.tanh(h @ ws[1] + b)

    def loss_fn(checkpointed):
        wrap = xg.recompute_grad if checkpointed else (lambda f: f)
        h = xg.tanh(x @ ws[0])
        h = wrap(layer)(h, bias)
        return xg.sum(xg.sin(h @ ws[2]))

    plain = _grads(lambda: loss_fn(False), [x, bias] + ws)
    remat = _grads(lambda: loss_fn(True), [x, bias] + ws)
    np.testing.assert_allclose(remat[0].numpy(), plain[0].numpy(), rtol=1e-15)
    _assert_all_close(remat[1], plain[1])


def test_the_decorated_block_matches_finite_differences_to_second_order(backend, rng):
    w = xg.Variable(_arr(rng, (3, 3), backend), name="w")

    @xg.remat
    def block(x, a):
        return xg.sin(x @ w) * a + x

    x, a = _arr(rng, (2, 3), backend), _arr(rng, (3,), backend)
    xg.testing.check_grads(lambda x, a: block(block(x, a), a), [x, a], order=2)


def test_gradients_equal_pytorch_checkpoint(rng):
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint

    w0, b0, x0 = rng.normal(size=(6, 6)), rng.normal(size=6), rng.normal(size=(5, 6))
    w, b = xg.Variable(xg.asarray(w0), name="w"), xg.Variable(xg.asarray(b0), name="b")
    with xg.GradientTape() as tape:
        x = xg.asarray(x0)
        tape.watch(x)
        h = x
        for _ in range(3):
            h = xg.recompute_grad(lambda h: xg.nn.relu(h @ w + b) + h)(h)
        loss = xg.sum(h * h)
    got = tape.gradient(loss, [x, w, b])

    tw, tb = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    th = tx
    for _ in range(3):
        th = checkpoint(lambda h: torch.relu(h @ tw + tb) + h, th, use_reentrant=False)
    (th * th).sum().backward()
    for g, t in zip(got, [tx, tw, tb]):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-12)


def test_a_checkpointed_sequential_model_trains_its_parameters(backend, rng):
    model = xg.nn.Sequential([xg.nn.Linear(a, b, rng=a + b, backend=backend)
                              for a, b in ((4, 8), (8, 8), (8, 2))])
    x = xg.asarray(rng.normal(size=(3, 4)), dtype="float32", backend=backend)
    params = model.trainable_variables
    plain = _grads(lambda: xg.sum(model(x) ** 2), params)
    remat = _grads(lambda: xg.sum(xg.recompute_grad(model)(x) ** 2), params)
    assert len(params) == 6
    _assert_all_close(remat[1], plain[1], rtol=1e-6, atol=1e-7)



def _dropout_loss(backend, x, w, checkpointed, seed=7):
    """A block with two Dropouts drawing from one generator, and the generator."""
    gen = xg.random.default_rng(seed, backend=backend)
    drop1, drop2 = xg.nn.Dropout(0.5, rng=gen), xg.nn.Dropout(0.3, rng=gen)

    def block(h):
        return drop2(xg.tanh(drop1(h) @ w))

    wrap = xg.recompute_grad if checkpointed else (lambda f: f)
    return (lambda: xg.sum(wrap(block)(x) ** 2)), gen


def test_dropout_in_the_block_replays_its_mask_and_leaves_the_generator_as_plain(backend, rng):
    x, w = _arr(rng, (6, 5), backend), xg.Variable(_arr(rng, (5, 5), backend), name="w")
    plain_fn, plain_gen = _dropout_loss(backend, x, w, False)
    remat_fn, remat_gen = _dropout_loss(backend, x, w, True)
    plain = _grads(plain_fn, [x, w])
    remat = _grads(remat_fn, [x, w])
    np.testing.assert_allclose(remat[0].numpy(), plain[0].numpy(), rtol=1e-15)
    _assert_all_close(remat[1], plain[1])
    # the recomputation drew nothing new: the generators go on alike
    np.testing.assert_array_equal(remat_gen.uniform(size=4).numpy(),
                                  plain_gen.uniform(size=4).numpy())


def test_hessian_through_a_checkpointed_block(backend, rng):
    w = xg.Variable(_arr(rng, (3, 3), backend), name="w")

    def f(block_wrap, x):
        h = block_wrap(lambda x: xg.tanh(x @ w) * x)(x)
        return xg.sum(xg.exp(h) * h)

    x = _arr(rng, (3,), backend)
    want = xg.hessian(lambda x: f(lambda g: g, x))(x)
    got = xg.hessian(lambda x: f(xg.recompute_grad, x))(x)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-13)


def test_nested_tapes_give_the_plain_hessian_vector_product_for_a_variable(backend, rng):
    w = xg.Variable(_arr(rng, (4, 4), backend), name="w")
    x, v = _arr(rng, (2, 4), backend), _arr(rng, (4, 4), backend)

    def hvp(wrap):
        with xg.GradientTape() as outer:
            with xg.GradientTape() as inner:
                loss = xg.sum(wrap(lambda x: xg.sin(x @ w) @ w)(x) ** 2)
            g = inner.gradient(loss, w)
            gv = xg.sum(g * v)
        return outer.gradient(gv, w)

    np.testing.assert_allclose(hvp(xg.recompute_grad).numpy(), hvp(lambda f: f).numpy(),
                               rtol=1e-12, atol=1e-13)


def test_a_persistent_tape_recomputes_for_each_gradient_and_jacobian(backend, rng):
    w = xg.Variable(_arr(rng, (3, 2), backend), name="w")
    x = _arr(rng, (2, 3), backend)
    block = xg.recompute_grad(lambda x: xg.tanh(x @ w))
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = block(x)
        loss = xg.sum(y ** 3)
    first = tape.gradient(loss, [x, w])
    again = tape.gradient(loss, [x, w])
    jac = tape.jacobian(y, x)
    with xg.GradientTape(persistent=True) as plain:
        plain.watch(x)
        yp = xg.tanh(x @ w)
        loss_p = xg.sum(yp ** 3)
    _assert_all_close(first, plain.gradient(loss_p, [x, w]))
    _assert_all_close(again, first)
    np.testing.assert_allclose(jac.numpy(), plain.jacobian(yp, x).numpy(), rtol=1e-12)


def test_a_block_returning_a_pytree_of_mixed_dtypes_and_other_values(backend, rng):
    w = xg.Variable(_arr(rng, (3, 3), backend), name="w")
    x = _arr(rng, (2, 3), backend)

    def block(x):
        h = x @ w
        return (xg.tanh(h), {"low": xg.astype(xg.sin(h), xg.float32), "label": "block",
                             "index": xg.argmax(h, axis=1), "none": None})

    def loss_fn(wrap):
        a, rest = wrap(block)(x)
        assert rest["label"] == "block" and rest["none"] is None
        assert rest["index"].dtype == xg.int64 and rest["low"].dtype == xg.float32
        return xg.sum(a * a) + xg.sum(xg.astype(rest["low"], xg.float64) * 3.0)

    plain = _grads(lambda: loss_fn(lambda f: f), [x, w])
    remat = _grads(lambda: loss_fn(xg.recompute_grad), [x, w])
    np.testing.assert_allclose(remat[0].numpy(), plain[0].numpy(), rtol=1e-15)
    _assert_all_close(remat[1], plain[1], rtol=1e-6)     # float32 rounding of "low"


def test_non_tensor_arguments_pass_through(backend, rng):
    x = _arr(rng, (2, 3), backend)
    mask = rng.uniform(size=(2, 3)) > 0.5           # a NumPy constant: no gradient

    def block(x, power, mask, *, scale, activation):
        return getattr(xg, activation)(x ** power * xg.asarray(mask, backend=backend)) * scale

    scale = _arr(rng, (3,), backend)                 # a Tensor keyword argument: differentiated
    plain = _grads(lambda: xg.sum(block(x, 3, mask, scale=scale, activation="sin")),
                   [x, scale])
    remat = _grads(lambda: xg.sum(xg.recompute_grad(block)(x, 3, mask, scale=scale,
                                                           activation="sin")), [x, scale])
    _assert_all_close(remat[1], plain[1])


def test_a_block_used_twice_and_nested_blocks(backend, rng):
    w = xg.Variable(_arr(rng, (3, 3), backend), name="w")
    x = _arr(rng, (2, 3), backend)

    def loss_fn(wrap):
        inner = wrap(lambda h: xg.tanh(h @ w))
        outer = wrap(lambda h: inner(inner(h)) * h)
        return xg.sum(outer(inner(x)) ** 2)

    _assert_all_close(_grads(lambda: loss_fn(xg.recompute_grad), [x, w])[1],
                      _grads(lambda: loss_fn(lambda f: f), [x, w])[1])


def test_a_closure_over_a_watched_tensor_and_an_explicit_variable(backend, rng):
    x = _arr(rng, (3,), backend)
    v = xg.Variable(_arr(rng, (3,), backend), name="v")

    def loss_fn(wrap):
        h = xg.exp(x)                                   # derived from x outside the block
        return xg.sum(wrap(lambda v: xg.sin(v * h) * h)(v))

    _assert_all_close(_grads(lambda: loss_fn(xg.recompute_grad), [x, v])[1],
                      _grads(lambda: loss_fn(lambda f: f), [x, v])[1])



def test_a_custom_gradient_inside_a_block_to_second_order(backend, rng):
    @xg.custom_gradient
    def log1pexp(x):
        e = xg.exp(x)
        return xg.log(1.0 + e), lambda upstream: upstream * (1.0 - 1.0 / (1.0 + e))

    w = xg.Variable(_arr(rng, (3, 3), backend), name="w")
    x = _arr(rng, (3,), backend)

    def f(wrap, x):
        return xg.sum(wrap(lambda x: log1pexp(x @ w) * x)(x) ** 2)

    for transform in (xg.grad, xg.hessian):
        got = transform(lambda x: f(xg.recompute_grad, x))(x)
        want = transform(lambda x: f(lambda g: g, x))(x)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-13)


def test_a_variable_argument_and_an_error_inside_the_block(rng):
    w = xg.Variable(rng.normal(size=(3, 3)), name="w")
    x = xg.asarray(rng.normal(size=(2, 3)))

    def block(x, w):
        if x.shape[0] != 2:
            raise ValueError("block: x must have 2 rows")
        return xg.tanh(x @ w)

    with xg.GradientTape() as tape:
        with pytest.raises(ValueError, match="x must have 2 rows"):
            xg.recompute_grad(block)(xg.ones((3, 3), dtype=xg.float64), w)
        loss = xg.sum(xg.recompute_grad(block)(x, w) ** 2)    # the tape records on
    _assert_all_close(tape.gradient(loss, [w]),
                      _grads(lambda: xg.sum(block(x, w) ** 2), [w])[1])

def test_a_tape_not_watching_accessed_variables_leaves_them_alone(rng):
    w = xg.Variable(rng.normal(size=(3, 3)), name="w")
    x = xg.asarray(rng.normal(size=(2, 3)))
    with xg.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        loss = xg.sum(xg.recompute_grad(lambda x: xg.tanh(x @ w))(x))
    dx, dw = tape.gradient(loss, [x, w])
    assert dw is None
    want = (1 - xg.tanh(x @ w) ** 2) @ xg.matrix_transpose(w)
    np.testing.assert_allclose(dx.numpy(), (want * 1.0).numpy(), rtol=1e-12)


def test_without_a_tape_the_block_is_just_called(rng):
    calls = []

    @xg.recompute_grad
    def block(x):
        calls.append(1)
        return x * 2.0

    assert block.__name__ == "block"
    np.testing.assert_array_equal(block(xg.asarray([1.0, 2.0])).numpy(), [2.0, 4.0])
    assert len(calls) == 1


def test_under_xg_function_replays_equal_eager(rng):
    w = xg.Variable(rng.normal(size=(4, 4)), name="w")
    opt = xg.optim.SGD(0.1)
    block = xg.recompute_grad(lambda h: xg.tanh(h @ w))

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(block(block(x)) ** 2)
        grads = tape.gradient(loss, [w])
        opt.apply_gradients(zip(grads, [w]))
        return loss

    xs = [xg.asarray(rng.normal(size=(3, 4))) for _ in range(4)]
    w0 = w.numpy().copy()
    eager = [float(step(x)) for x in xs]
    w_eager = w.numpy().copy()
    w.assign(w0)
    traced = xg.function(step)
    got = [float(traced(x)) for x in xs]
    np.testing.assert_allclose(got, eager, rtol=1e-12)
    np.testing.assert_allclose(w.numpy(), w_eager, rtol=1e-12)


def test_under_xg_function_a_block_drawing_random_numbers_is_refused(rng):
    from xpgrad.jit import TraceError

    x, w = xg.asarray(rng.normal(size=(4, 3))), xg.Variable(rng.normal(size=(3, 3)), name="w")
    loss_fn, _ = _dropout_loss("numpy", x, w, True)

    def step():
        with xg.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, w)

    with pytest.raises(TraceError, match="recompute_grad: block .* draws random numbers"):
        xg.function(step, warmup=0)()


def test_bad_input_and_changed_values_raise_clear_errors(rng):
    with pytest.raises(TypeError, match="recompute_grad: fn must be callable"):
        xg.recompute_grad(3)
    w = xg.Variable(rng.normal(size=(2, 2)), name="w")
    with xg.GradientTape() as tape:
        loss = xg.sum(xg.recompute_grad(lambda: xg.tanh(w))())
    w.assign(w * 2.0)
    with pytest.raises(RuntimeError, match="Variable 'w' changed"):
        tape.gradient(loss, w)

    shapes = iter([(2,), (3,)])

    def changing():
        return xg.ones(next(shapes), dtype=xg.float64) * xg.sum(w)

    with xg.GradientTape() as tape:
        loss = xg.sum(xg.recompute_grad(changing)())
    with pytest.raises(RuntimeError, match="returned other outputs when run again"):
        tape.gradient(loss, w)

    def writes(scale, x, *, y):
        x[0] = 0.0
        return x * scale + y

    x = xg.asarray([1.0, 2.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(RuntimeError, match=r"wrote into its argument args\[1\]"):
            xg.recompute_grad(writes)(2.0, x * 1.0, y=x)
        with pytest.raises(RuntimeError, match=r"wrote into its argument kwargs\['y'\]\[0\]"):
            xg.recompute_grad(lambda *, y: writes(2.0, y[0], y=x))(y=[x * 1.0])

