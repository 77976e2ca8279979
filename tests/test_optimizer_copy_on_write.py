"""An optimizer updates a Variable's array in place, except while something else still holds
that array -- a tape that saved it for a gradient not yet taken, or a slice or reshape a user
kept (a view of the buffer): then the update goes into a fresh copy (TensorFlow's
copy-on-write of a variable's buffer), so the gradient is the one at the weights its forward
pass used and the kept slice keeps its value. A plain training loop never copies."""
import weakref

import numpy as np
import pytest

import xpgrad as xg

BACKENDS = ["numpy", "numba"]
OPTIMIZERS = {"sgd": lambda: xg.optim.SGD(1.0), "momentum": lambda: xg.optim.SGD(0.5, momentum=0.9),
              "adam": lambda: xg.optim.Adam(0.1)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_an_update_between_forward_and_gradient_leaves_the_gradient_alone(backend, name):
    w = xg.Variable(np.array([[1.0, -2.0], [0.5, 3.0]]), backend=backend)
    x = xg.asarray([[1.0, 2.0]], backend=backend)
    opt = OPTIMIZERS[name]()
    opt.apply_gradients([(xg.ones((2, 2), dtype=xg.float64, backend=backend), w)])
    before = w.numpy()
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = xg.sum(xg.tanh(x @ w) * w[0])
    expected = [g.numpy() for g in tape.gradient(loss, [x, w])]
    opt.apply_gradients([(xg.ones((2, 2), dtype=xg.float64, backend=backend), w)])
    assert not np.array_equal(w.numpy(), before)             # the update happened ...
    for got, want in zip(tape.gradient(loss, [x, w]), expected):
        np.testing.assert_array_equal(got.numpy(), want)      # ... and the tape kept its w


def test_a_gan_style_persistent_tape_takes_the_generators_gradient_at_the_old_critic():
    rng = xg.random.default_rng(0)
    generator = xg.nn.Linear(3, 4, rng=rng)
    critic = xg.nn.MLP([4, 8, 1], activation="tanh", rng=rng)
    opt = xg.optim.SGD(0.5)
    z = rng.normal(size=(5, 3))
    opt.apply_gradients(zip([xg.ones_like(v) for v in critic.trainable_variables],
                            critic.trainable_variables))   # the critic's arrays are opt's now
    with xg.GradientTape(persistent=True) as tape:
        score = xg.mean(critic(generator(z)))
    expected = [g.numpy() for g in tape.gradient(score, generator.trainable_variables)]
    critic_grads = tape.gradient(score, critic.trainable_variables)
    opt.apply_gradients(zip(critic_grads, critic.trainable_variables))
    for got, want in zip(tape.gradient(score, generator.trainable_variables), expected):
        np.testing.assert_array_equal(got.numpy(), want)


def test_recompute_grad_still_refuses_a_variable_updated_after_its_block():
    w = xg.Variable([[1.0, 2.0], [3.0, 4.0]])
    block = xg.recompute_grad(lambda x: xg.tanh(x @ w))
    opt = xg.optim.SGD(0.1)
    for step in range(3):               # the second step on: the array is the optimizer's own
        with xg.GradientTape() as tape:
            loss = xg.sum(block(xg.ones((1, 2))))
        opt.apply_gradients([(xg.ones((2, 2)), w)])
        with pytest.raises(RuntimeError, match="recompute_grad: Variable .* changed"):
            tape.gradient(loss, [w])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_training_loop_updates_in_place(backend, compiled, name):
    rng = xg.random.default_rng(0, backend=backend)
    model = xg.nn.MLP([6, 8, 3], activation="relu", rng=rng)
    opt = OPTIMIZERS[name]()
    x, y = rng.normal(size=(4, 6)), rng.integers(0, 3, size=4)

    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    step = xg.function(step) if compiled else step
    step(x, y)
    step(x, y)
    arrays = [weakref.ref(v._data) for v in model.trainable_variables]   # (a list of the
    # arrays themselves would hold them, and so make every update copy)
    values = [v.numpy() for v in model.trainable_variables]
    for _ in range(3):
        step(x, y)
    assert all(v._data is a() for v, a in zip(model.trainable_variables, arrays))
    assert not any(np.array_equal(v.numpy(), before)
                   for v, before in zip(model.trainable_variables, values))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_gradient_taken_after_the_update_in_one_step_uses_the_old_weights(compiled):
    """A GAN step: the critic is updated from one gradient of a persistent tape, then the
    generator's gradient is taken from the same tape, at the critic's weights of the forward
    pass, replayed by xg.function too (the program's update copies the array the later
    backward still reads)."""
    d, g = xg.Variable([1.0], name="d"), xg.Variable([1.0], name="g")
    opt = xg.optim.SGD(1.0)

    def step(x):
        with xg.GradientTape(persistent=True) as tape:
            fake = g * x
            d_loss = xg.sum(d * xg.stop_gradient(fake))
            g_loss = xg.sum(d * fake)
        opt.apply_gradients(zip(tape.gradient(d_loss, [d]), [d]))     # d -= g * x
        return tape.gradient(g_loss, [g])[0]                            # d before, times x

    run = xg.function(step) if compiled else step
    assert [run(xg.asarray([1.0])).item() for _ in range(4)] == [1.0, 0.0, -1.0, -2.0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_kept_slices_follow_the_updates_and_kept_values_do_not(backend, compiled, name):
    """``w[0:2]`` is a view of ``w`` (as in PyTorch and NumPy): it shows ``w`` after every
    update. A reshape (a copy) and an array from ``.numpy()`` keep the value they had, also when
    an update after the first goes into the optimizer's own buffer in place."""
    w = xg.Variable(np.arange(4.0), backend=backend)
    opt = OPTIMIZERS[name]()
    x = xg.ones(4, dtype=xg.float64, backend=backend)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(w * w * x)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss

    step = xg.function(step) if compiled else step
    views, values = [], []
    for _ in range(4):
        step(x)
        views += [(w[0:2], slice(0, 2)), (w[::-1], slice(None, None, -1))]
        values += [(xg.reshape(w, (2, 2)), w.numpy().copy().reshape(2, 2)),
                   (w.numpy(), w.numpy().copy())]
    now = w.numpy()
    assert all(np.array_equal(view.numpy(), now[key]) for view, key in views)
    assert all(np.array_equal(getattr(kept, "numpy", lambda: kept)(), value)
               for kept, value in values)
    assert not np.array_equal(values[0][1], now.reshape(2, 2))
