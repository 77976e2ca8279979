"""Python side effects a traced step would silently bake in or drop (issue 18). A draw from
NumPy's global random state, Python's ``random`` module or a NumPy Generator the step reaches
gave the same numbers on every replay before 2026-12-07 (a training run's noise a constant);
now the trace raises ``TraceError`` naming the source, the function and the line, and with
``on_trace_error="eager"`` that signature runs eagerly, drawing afresh on every call."""
import inspect
import warnings
import random

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import SideEffectWarning, TraceError
from xpgrad.jit.host_state import HostState

GLOBAL_RNG = np.random.default_rng(0)


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


def _ones():
    return xg.asarray(np.ones(3))


def _step_numpy_global(x):
    noise = np.random.rand()
    return x * noise


def _step_python_random(x):
    noise = random.random()
    return x * noise


def _step_global_generator(x):
    noise = GLOBAL_RNG.normal()
    return x * noise


@pytest.mark.parametrize("step, source", [
    (_step_numpy_global, "NumPy's global random state"),
    (_step_python_random, "Python's random module"),
    (_step_global_generator, "the NumPy Generator 'GLOBAL_RNG'")])
def test_a_host_random_draw_raises_naming_the_source_the_function_and_the_line(step, source):
    compiled = xg.function(step)
    compiled(_ones())                               # the warm-up call runs eagerly
    with pytest.raises(TraceError) as error:
        compiled(_ones())
    message = str(error.value)
    line = _line_of(step, "noise = ")
    assert source in message and "xg.random" in message
    assert f"in xg.function {step.__name__!r}, at {__file__}:{line}" in message


def test_a_generator_in_a_closure_or_on_self_is_named():
    closure_rng = np.random.default_rng(1)

    def step(x):
        return x + closure_rng.normal(size=3)

    with pytest.raises(TraceError, match="NumPy Generator 'closure_rng'"):
        xg.function(step, warmup=0)(_ones())

    class Augment:
        def __init__(self):
            self.noise_rng = np.random.RandomState(2)

        def step(self, x):
            return x * self.noise_rng.uniform()

    augment = Augment()
    with pytest.raises(TraceError, match="NumPy RandomState 'noise_rng'") as error:
        xg.function(augment.step, warmup=0)(_ones())
    assert f"{__file__}:{_line_of(Augment.step, 'noise_rng.uniform')}" in str(error.value)


def test_on_trace_error_eager_warns_once_and_draws_afresh_on_every_call():
    compiled = xg.function(_step_numpy_global, on_trace_error="eager")
    np.random.seed(5)
    want = [np.random.rand() for _ in range(4)]
    np.random.seed(5)
    with pytest.warns(RuntimeWarning, match="runs eagerly for this signature: drew random"):
        got = [compiled(_ones()).numpy()[0] for _ in range(4)]
    np.testing.assert_array_equal(got, want)        # the traced call's own draw included
    assert compiled.trace_count == 0


def test_host_random_outside_the_step_and_xg_random_inside_it_pass():
    rng = xg.random.default_rng(3)
    unused = np.random.default_rng(4)

    def step(x, scale):
        if unused is None:          # reached, never drawn from
            return x
        return x * scale + rng.normal(size=3, dtype=xg.float64)

    compiled = xg.function(step)
    seen = {tuple(compiled(_ones(), float(np.random.rand() > 2)).numpy()) for _ in range(4)}
    assert compiled.trace_count == 1 and len(seen) == 4


def test_a_generator_of_a_users_layer_is_found_through_its_forward():
    class Noisy(xg.nn.Module):
        def __init__(self):
            super().__init__()
            self.noise_rng = np.random.default_rng(5)

        def forward(self, x):
            return x + self.noise_rng.normal(size=x.shape)

    for model in (Noisy(), xg.nn.Sequential(xg.nn.ReLU(), Noisy())):
        with pytest.raises(TraceError, match="NumPy Generator 'noise_rng'"):
            xg.function(lambda x: model(x), warmup=0)(_ones())


STEPS_TAKEN = 0


def _step_counting_a_global(x):
    global STEPS_TAKEN
    STEPS_TAKEN += 1
    return x * 2.0


def test_a_counter_the_step_sets_warns_once_naming_it_and_its_line():
    class Trainer:
        steps = 0

        def step(self, x):
            self.steps += 1
            return x * 2.0

    trainer = Trainer()
    compiled = xg.function(trainer.step)
    with pytest.warns(SideEffectWarning, match=r"set 'steps' \(1 -> 2\)") as seen:
        for _ in range(4):
            compiled(_ones())
    assert trainer.steps == 2               # the warm-up call and the trace: not the replays
    assert len(seen) == 1 and seen[0].filename == __file__
    assert f"at {__file__}:{_line_of(Trainer.step, 'self.steps += 1')}" in str(seen[0].message)

    counted = xg.function(_step_counting_a_global)
    with pytest.warns(SideEffectWarning, match="set 'STEPS_TAKEN'"):
        counted(_ones()), counted(_ones())

    calls = 0

    def step(x):
        nonlocal calls
        calls += 1
        return x * 2.0

    with pytest.warns(SideEffectWarning, match="set 'calls'"):
        xg.function(step, warmup=0)(_ones())


def test_a_value_read_and_not_set_or_set_back_does_not_warn():
    class Settings:
        scale = 2.0
        mode = "train"
        missing = float("nan")          # never equal to itself

    settings = Settings()

    def step(x):
        settings.mode = "eval"
        y = x * settings.scale + settings.missing * 0.0
        settings.mode = "train"
        return y

    compiled = xg.function(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        for _ in range(3):
            compiled(_ones())
    assert compiled.trace_count == 1


def test_appending_to_a_list_inside_the_step_warns_naming_it_and_its_line():
    losses = []

    def step(x):
        loss = xg.sum(x * 2.0)
        losses.append(loss)
        return loss

    compiled = xg.function(step, warmup=0)
    with pytest.warns(SideEffectWarning, match=r"length of 'losses' \(0 -> 1") as seen:
        compiled(_ones())
    assert f"at {__file__}:{_line_of(step, 'losses.append')}" in str(seen[0].message)
    compiled(_ones())
    assert len(losses) == 1                         # the replay appended nothing


@pytest.mark.parametrize("optimizer", [xg.optim.Adam, xg.optim.SGD])
def test_an_optimizer_making_its_slots_or_caches_in_the_trace_does_not_warn(optimizer):
    w = xg.Variable(np.ones(3))
    opt = optimizer(0.1 + np.random.rand())       # SGD caches each new rate (xpgrad's own dict)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum((x * w) ** 2)
        opt.apply_gradients([(tape.gradient(loss, w), w)])
        return loss

    compiled = xg.function(step, warmup=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        compiled(_ones()), compiled(_ones())
    assert int(opt.iterations) == 2


def test_a_draw_from_numpys_global_state_the_step_does_not_reach_passes():
    # another thread (a data loader) drawing while this step traces: not the step's draw
    def step(x):
        return x * 2.0

    state, naming = HostState(step, ()), HostState(_step_numpy_global, ())
    np.random.rand()
    random.random()
    assert state.drawn() is None and naming.drawn() is not None
