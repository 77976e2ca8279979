"""xg.function and random numbers: a draw from an ``xg.random`` generator inside a traced
function is one step of the program, so every replay draws fresh numbers from the same
generator -- the compiled calls give the eager calls' numbers, call for call (TensorFlow's
``tf.function`` draws anew on each call too). Dropout's training flag is checked on every call:
after ``eval()`` the function replays (or traces) the program of that mode, as
``torch.compile`` guards on it."""
import numpy as np
import pytest

import xpgrad as xg

from test_function_cuda import FakeGraphs

BACKENDS = ["numpy", "numba"]


def _draws(backend, compiled):
    rng = xg.random.default_rng(7, backend=backend)

    def f(x):
        return (x + rng.normal(size=x.shape, dtype=xg.float64),
                x * rng.uniform(-1.0, 2.0, size=x.shape, dtype=xg.float64),
                rng.integers(0, 100, size=(3,)), rng.permutation(5))

    return xg.function(f) if compiled else f


@pytest.mark.parametrize("backend", BACKENDS)
def test_draws_are_fresh_on_every_replay_and_equal_eager(backend):
    compiled, eager = _draws(backend, True), _draws(backend, False)
    x = xg.asarray(np.arange(4.0), backend=backend)
    seen = []
    for _ in range(5):
        got, want = compiled(x), eager(x)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
        seen.append(got[0].numpy())
    assert compiled.trace_count == 1
    assert len({a.tobytes() for a in seen}) == 5        # not one frozen draw


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_training_equals_eager(backend):
    def model():
        rng = np.random.default_rng(0)
        w = xg.Variable(rng.normal(size=(6, 3)), name="w", backend=backend)
        drop = xg.nn.Dropout(0.5, rng=xg.random.default_rng(3, backend=backend))
        opt = xg.optim.SGD(0.1, momentum=0.9)

        def step(x, y):
            with xg.GradientTape() as tape:
                loss = xg.losses.softmax_cross_entropy(drop(x) @ w, y)
            opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
            return loss
        return step, w

    eager, w_eager = model()
    step, w = model()
    compiled = xg.function(step)
    rng = np.random.default_rng(1)
    for _ in range(6):
        x = xg.asarray(rng.normal(size=(8, 6)), backend=backend)
        y = xg.asarray(rng.integers(0, 3, size=8), backend=backend)
        np.testing.assert_allclose(compiled(x, y).numpy(), eager(x, y).numpy(), rtol=1e-12)
        np.testing.assert_allclose(w.numpy(), w_eager.numpy(), rtol=1e-12)
    assert compiled.trace_count == 1


def test_a_draw_under_cuda_graphs_lands_in_the_captured_array():
    graphs = FakeGraphs()
    rng = xg.random.default_rng(5)
    eager_rng = xg.random.default_rng(5)
    f = xg.function(lambda x: xg.exp(x * rng.normal(size=x.shape, dtype=xg.float64)),
                    cuda_graph=graphs)
    x = xg.asarray(np.linspace(0.0, 1.0, 4))
    for _ in range(6):
        want = xg.exp(x * eager_rng.normal(size=x.shape, dtype=xg.float64))
        np.testing.assert_allclose(f(x).numpy(), want.numpy(), rtol=1e-12)
    replay = f.programs()[0].graph
    assert [kind for kind, _, _ in replay.segments] == ["host", "device"]
    drawn = [a for a in replay.S if isinstance(a, np.ndarray)]
    f(x)
    # the draw is copied into the array the graph reads, not rebound to a new one
    assert all(any(a is b for b in replay.S) for a in drawn)
    assert graphs.captures == 1 and graphs.launches == 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_and_eval_modes_each_replay_their_own_trace(backend):
    def model():
        return xg.nn.Sequential(
            xg.nn.Linear(3, 4, rng=0, dtype=xg.float64, backend=backend),
            xg.nn.Dropout(0.5, rng=xg.random.default_rng(0, backend=backend)),
            xg.nn.Linear(4, 2, rng=1, dtype=xg.float64, backend=backend))

    eager, traced = model(), model()
    forward = xg.function(lambda x: traced(x))
    x = xg.asarray(np.ones((2, 3)), backend=backend)
    for mode in ["train", "eval", "train", "eval"]:
        getattr(eager, mode)()
        getattr(traced, mode)()
        for _ in range(3):
            np.testing.assert_allclose(forward(x).numpy(), eager(x).numpy(), rtol=1e-12)
    assert forward.trace_count == 2          # one per mode, each kept


@pytest.mark.parametrize("backend", BACKENDS)
def test_draws_with_tensor_parameters_replay(backend):
    def make():
        rng = xg.random.default_rng(11, backend=backend)
        return lambda loc, low: (rng.normal(loc=loc, scale=0.5, size=(3,), dtype=xg.float64),
                                 rng.uniform(low=low, high=2.0, size=(3,), dtype=xg.float64))

    eager, compiled = make(), xg.function(make())
    for k in range(4):
        loc = xg.asarray(np.arange(3.0) * k, backend=backend)
        low = xg.asarray(np.full(3, -1.0 * k), backend=backend)
        for g, w in zip(compiled(loc, low), eager(loc, low)):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
    assert compiled.trace_count == 1


def _twice(f, *args):
    """Call ``f`` twice: the first call of an xg.function runs eagerly, the second traces."""
    f(*args)
    return f(*args)


@pytest.mark.parametrize("backend", BACKENDS)
def test_choice_with_traced_probabilities_says_what_the_user_did(backend):
    rng = xg.random.default_rng(0, backend=backend)
    step = xg.function(lambda logits: rng.choice(3, size=4, p=xg.nn.softmax(logits)))
    with pytest.raises(xg.jit.TraceError) as info:
        _twice(step, xg.asarray([0.0, 1.0, 2.0], backend=backend))
    message = str(info.value)
    assert "choice(..., p=tensor)" in message and "probabilities" in message
    assert ".numpy()" not in message                    # the user never called it
    assert "test_function_random.py" in message         # the user's line


@pytest.mark.parametrize("backend", BACKENDS)
def test_integers_with_a_traced_bound_says_what_the_user_did(backend):
    rng = xg.random.default_rng(0, backend=backend)
    step = xg.function(lambda n: rng.integers(0, xg.max(n), size=(3,)))
    with pytest.raises(xg.jit.TraceError, match=r"integers\(low, high\).*bound") as info:
        _twice(step, xg.asarray([4, 7], backend=backend))
    assert ".numpy()" not in str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_advice_for_traced_probabilities_traces_and_replays(backend):
    """The message's inverse-CDF recipe: recorded once, fresh draws on each replay, and the
    eager calls' numbers; p made outside the function works as it is."""
    def make():
        rng = xg.random.default_rng(5, backend=backend)
        fixed = xg.asarray([0.2, 0.3, 0.5], backend=backend)

        def f(logits):
            c = xg.cumulative_sum(xg.nn.softmax(logits))
            u = rng.random(size=(6,), dtype=c.dtype)
            return xg.searchsorted(c, u * c[-1]), rng.choice(3, size=2, p=fixed)
        return f

    compiled, eager = xg.function(make()), make()
    logits = xg.asarray([0.0, 1.0, 2.0], dtype=xg.float64, backend=backend)
    seen = set()
    for _ in range(4):
        got, want = compiled(logits), eager(logits)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())
        assert 0 <= got[0].numpy().min() and got[0].numpy().max() <= 2
        seen.add(got[0].numpy().tobytes())
    assert compiled.trace_count == 1 and len(seen) > 1
