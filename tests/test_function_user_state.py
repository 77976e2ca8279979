"""xg.function and the state a user's function makes or changes itself, compared with eager:
generators and optimizers made afresh in every call or made once and kept, a module's training
mode (read in a layer of the user's own, or set inside the function), and what a function keeps
per signature."""
import warnings

import numpy as np
import pytest

import xpgrad as xg


class _HalvedWhileTraining(xg.nn.Module):
    """A layer of the user's own that branches on ``self.training`` in Python."""

    def __init__(self):
        super().__init__()
        self.linear = xg.nn.Linear(2, 2, rng=0, dtype=xg.float64)

    def forward(self, x):
        y = self.linear(x)
        return y * 0.5 if self.training else y


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_module_s_own_training_branch_follows_train_and_eval(backend):
    # torch.compile guards on every module's training flag; so must the replay
    with xg.use_backend(backend):
        model = _HalvedWhileTraining()
        compiled = xg.function(model)
        x = xg.asarray([[1.0, -2.0]], dtype=xg.float64)
        for mode in ("train", "eval", "train", "eval"):
            getattr(model, mode)()
            for _ in range(3):
                np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
        assert compiled.trace_count == 2


def _seeded_noise(x):
    rng = xg.random.default_rng(7)          # made afresh, same seed, in every call
    return x + rng.normal(size=x.shape, dtype=x.dtype) + rng.uniform(size=x.shape, dtype=x.dtype)


class _LazyNoise:
    """A generator made on the first call and kept (as Dropout makes its own)."""

    def __init__(self):
        self.rng = None

    def __call__(self, x):
        if self.rng is None:
            self.rng = xg.random.default_rng(7)
        return x + self.rng.normal(size=x.shape, dtype=x.dtype)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("warmup", [0, 1])
def test_a_generator_made_afresh_in_every_call_draws_as_eager(backend, warmup):
    # as jax.random.PRNGKey(7) or torch.Generator().manual_seed(7) inside jit / compile: the
    # same numbers every call, not a continuation of the first call's generator
    with xg.use_backend(backend):
        compiled = xg.function(_seeded_noise, warmup=warmup)
        x = xg.zeros(3, dtype=xg.float64)
        for _ in range(4):
            np.testing.assert_array_equal(compiled(x).numpy(), _seeded_noise(x).numpy())
        assert compiled.trace_count == 1


@pytest.mark.parametrize("warmup", [0, 1])
def test_a_generator_made_by_the_first_call_and_kept_advances_as_eager(warmup):
    eager, layer = _LazyNoise(), _LazyNoise()
    compiled = xg.function(layer, warmup=warmup)
    x = xg.zeros(3, dtype=xg.float64)
    for _ in range(4):
        np.testing.assert_array_equal(compiled(x).numpy(), eager(x).numpy())


def test_concurrent_replays_each_draw_from_their_own_fresh_generator():
    import threading

    def noise(x):
        rng = xg.random.default_rng(5)
        for _ in range(20):
            x = x + rng.normal(size=x.shape, dtype=x.dtype)
        return x

    compiled, x = xg.function(noise), xg.zeros(50, dtype=xg.float64)
    expected = noise(x).numpy()
    compiled(x), compiled(x)
    wrong, barrier = [], threading.Barrier(4)

    def work():
        barrier.wait()
        wrong.extend(1 for _ in range(100) if not np.array_equal(compiled(x).numpy(), expected))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


def _step_with_its_own_optimizer(w, make_optimizer):
    def step(x):
        opt = make_optimizer()        # made afresh in every call: every call is its first step
        with xg.GradientTape() as tape:
            loss = xg.sum((x @ w) ** 2)       # a product: plain SGD is folded into its gemm
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        return loss

    return step


@pytest.mark.parametrize("make_optimizer", [
    lambda: xg.optim.Adam(0.1),
    lambda: xg.optim.SGD(xg.optim.ExponentialDecay(0.1, 1, 0.5)),
    lambda: xg.optim.SGD(0.1, momentum=0.9)])
def test_an_optimizer_made_afresh_in_every_call_updates_as_eager(make_optimizer):
    w_eager = xg.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=xg.float64)
    w = xg.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=xg.float64)
    eager = _step_with_its_own_optimizer(w_eager, make_optimizer)
    compiled = xg.function(_step_with_its_own_optimizer(w, make_optimizer))
    x = xg.asarray([[1.0, 0.5], [-1.0, 2.0]], dtype=xg.float64)
    for _ in range(5):
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-12)
        np.testing.assert_allclose(w.numpy(), w_eager.numpy(), rtol=1e-12)
    assert compiled.trace_count == 1


class _LazyTrainer:
    """An optimizer made on the first call and kept (warmup=0: made while tracing)."""

    def __init__(self, w):
        self.w, self.opt = w, None

    def __call__(self, x):
        if self.opt is None:
            self.opt = xg.optim.Adam(0.1)
        with xg.GradientTape() as tape:
            loss = xg.sum(self.w * self.w * x)
        self.opt.apply_gradients(zip(tape.gradient(loss, [self.w]), [self.w]))
        return loss


@pytest.mark.parametrize("warmup", [0, 1])
def test_an_optimizer_made_by_the_first_call_and_kept_advances_as_eager(warmup):
    eager = _LazyTrainer(xg.Variable([1.0, 2.0], dtype=xg.float64))
    trainer = _LazyTrainer(xg.Variable([1.0, 2.0], dtype=xg.float64))
    compiled = xg.function(trainer, warmup=warmup)
    x = xg.asarray([1.0, -1.0], dtype=xg.float64)
    for _ in range(5):
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).numpy(), rtol=1e-12)
    np.testing.assert_allclose(trainer.w.numpy(), eager.w.numpy(), rtol=1e-12)
    assert trainer.opt.iterations == eager.opt.iterations == 5


def test_what_a_function_remembers_per_signature_stays_bounded():
    # a Python number that changes every call retraces every call (and warns); what is kept
    # for those signatures must not grow with the calls (each entry holds its arguments)
    dropout = xg.nn.Dropout(0.5, rng=0)
    guarded = xg.function(lambda x, s: dropout(x) * s, max_traces=2, retrace_warning=None)
    untraceable = xg.function(lambda x, s: x * x[0].item() * s, max_traces=2,
                              on_trace_error="eager", retrace_warning=None)
    # 12 signatures: past the largest bound (4 * max_traces = 8). Each trace scans the
    # process's objects, so in a full suite run 40 of them took 16 s
    signatures = 12
    x = xg.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in range(signatures):
            for _ in range(2):
                guarded(x, float(i))
                assert untraceable(x, float(i)).tolist() == [float(i)] * 3
    assert len(guarded._guards) <= 2 and len(untraceable._eager) <= 8
    assert len(guarded._seen) <= 8 and len(untraceable._seen) <= 8
    guarded(x, signatures - 2.0), guarded(x, signatures - 1.0)
    assert guarded.trace_count == signatures       # the programs kept still replay


def test_a_function_that_sets_the_mode_itself_replays():
    # model.eval() inside the step (as a PyTorch evaluation step does): the program reads the
    # mode the function set, whatever the mode was when the call began
    model = xg.nn.Sequential(xg.nn.Linear(3, 3, rng=0, dtype=xg.float64),
                             xg.nn.Dropout(0.5, rng=1))

    def evaluate(x):
        model.eval()
        out = model(x)
        model.train()
        return out

    compiled = xg.function(evaluate)
    x = xg.ones((2, 3), dtype=xg.float64)
    for _ in range(6):
        np.testing.assert_array_equal(compiled(x).numpy(), evaluate(x).numpy())
        assert model.training
    assert compiled.trace_count == 1


def test_a_generator_made_afresh_without_a_seed_draws_new_numbers_every_replay():
    # eager: fresh entropy every call; a replay must not repeat the trace's numbers
    compiled = xg.function(lambda x: x + xg.random.default_rng().normal(size=x.shape))
    x = xg.zeros(4, dtype=xg.float64)
    draws = [tuple(compiled(x).tolist()) for _ in range(5)]
    assert len(set(draws)) == 5
