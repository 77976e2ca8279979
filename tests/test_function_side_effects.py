"""Python side effects a traced step would silently bake in or drop (issue 18). A draw from
NumPy's global random state, Python's ``random`` module or a NumPy Generator the step reaches
gave the same numbers on every replay before 2026-12-07 (a training run's noise a constant);
now the trace raises ``TraceError`` naming the source, the function and the line (a helper's
and the line calling it), and with ``on_trace_error="eager"`` that signature runs eagerly,
drawing afresh on every call. A print, a logging call or a read of the clock the trace makes
warns once (``SideEffectWarning``): it happens on the trace only."""
import datetime
import inspect
import logging
import random
import sys
import time
import warnings

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


def _noise_from_a_helper():
    return np.random.rand()


def _step_drawing_in_a_helper(x):
    scaled = x * 2.0
    return scaled * _noise_from_a_helper()


def test_a_draw_in_a_helper_names_the_helpers_line_and_the_steps_call():
    with pytest.raises(TraceError, match="NumPy's global random state") as error:
        xg.function(_step_drawing_in_a_helper, warmup=0)(_ones())
    helper = _line_of(_noise_from_a_helper, "np.random.rand()")
    call = _line_of(_step_drawing_in_a_helper, "_noise_from_a_helper()")
    assert (f"at {__file__}:{helper} in '_noise_from_a_helper', called at {__file__}:{call})"
            in str(error.value))

    class Augment:
        def noise(self):
            return random.random()

        def step(self, x):
            return x * self.noise()

    with pytest.raises(TraceError, match="Python's random module") as error:
        xg.function(Augment().step, warmup=0)(_ones())
    assert (f"{__file__}:{_line_of(Augment.noise, 'random.random()')} in 'noise', called at "
            f"{__file__}:{_line_of(Augment.step, 'self.noise()')}") in str(error.value)


def _report(value):
    print("loss", value)


def _step_printing(x, step):
    print(f"step {step}")
    return x * 2.0


def _step_printing_in_a_helper(x):
    _report(1.5)
    return x * 2.0


def _step_reading_the_clock(x):
    started = time.perf_counter()
    return x * started


def _step_reading_the_date(x):
    return x * datetime.datetime.now().year


def _step_logging(x):
    LOGGER.info("tracing a step")
    return x * 2.0


LOGGER = logging.getLogger("test_function_side_effects")
ADAPTER = logging.LoggerAdapter(LOGGER, {"run": 1})


def _step_logging_through_an_adapter(x):
    ADAPTER.info("tracing a step")
    return x * 2.0


@pytest.mark.parametrize("step, text, what", [
    (_step_printing, 'print(f"step', "called print()"),
    (_step_reading_the_clock, "time.perf_counter()", r"read the clock \(time.perf_counter\(\)\)"),
    (_step_reading_the_date, "datetime.now()", r"read the clock \(datetime.now\(\)\)"),
    (_step_logging, "LOGGER.info", "called logging"),
    (_step_logging_through_an_adapter, "ADAPTER.info", "called logging")])
def test_a_print_clock_read_or_log_warns_once_naming_the_line(step, text, what, capsys):
    compiled = xg.function(step)
    arguments = (_ones(), 3) if step is _step_printing else (_ones(),)
    with pytest.warns(SideEffectWarning, match=what) as seen:
        for _ in range(4):
            compiled(*arguments)
    assert len(seen) == 1 and seen[0].filename == __file__
    assert f"(in xg.function {step.__name__!r}, at {__file__}:{_line_of(step, text)})" \
        in str(seen[0].message)
    if step is _step_printing:      # the warm-up call and the trace printed; no replay did
        assert capsys.readouterr().out == "step 3\n" * 2
    assert compiled.trace_count == 1


def test_a_print_in_a_helper_names_the_helpers_line_and_the_steps_call(capsys):
    with pytest.warns(SideEffectWarning, match="called print()") as seen:
        xg.function(_step_printing_in_a_helper, warmup=0)(_ones())
    where = (f"at {__file__}:{_line_of(_report, 'print(')} in '_report', called at "
             f"{__file__}:{_line_of(_step_printing_in_a_helper, '_report(1.5)')})")
    assert where in str(seen[0].message)
    assert capsys.readouterr().out == "loss 1.5\n"


def test_a_print_outside_the_step_an_untaken_print_or_an_eager_call_does_not_warn(capsys):
    verbose = False
    layer, opt = xg.nn.Linear(3, 3, rng=0, dtype=xg.float64), xg.optim.Adam(0.1)

    def step(x):
        if verbose:
            print("never")
        with xg.GradientTape() as tape:     # xpgrad's own calls while watched: not the user's
            loss = xg.sum(layer(x) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, layer.trainable_variables),
                                layer.trainable_variables))
        return x * 2.0

    def eager_only(x):
        print("eager", float(xg.sum(x)))
        return x

    compiled = xg.function(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        for _ in range(3):
            print("outside", float(xg.sum(compiled(eager_only(_ones())))))
    assert compiled.trace_count == 1 and sys.getprofile() is None
    assert capsys.readouterr().out == "eager 3.0\noutside 6.0\n" * 3


def test_a_profiler_set_while_tracing_is_left_alone():
    seen = set()

    def profiler(frame, event, arg):
        seen.add(frame.f_code.co_name)

    sys.setprofile(profiler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SideEffectWarning)
            xg.function(_step_printing, warmup=0)(_ones(), 1)
        still = sys.getprofile()
    finally:
        sys.setprofile(None)
    assert still is profiler and "_step_printing" in seen   # it saw the trace: not watched


def test_a_profiler_the_step_sets_while_watched_is_kept_and_a_failed_trace_restores():
    def profiler(frame, event, arg):
        pass

    def step_starting_a_profiler(x):
        print("step")
        sys.setprofile(profiler)        # the user's: started inside, stopped outside
        return x * 2.0

    def step_failing(x):
        print("step")
        raise ValueError("failed mid-trace")

    try:
        with pytest.warns(SideEffectWarning, match="called print()"):
            xg.function(step_starting_a_profiler, warmup=0)(_ones())
        still = sys.getprofile()
    finally:
        sys.setprofile(None)
    assert still is profiler
    with pytest.raises(ValueError, match="failed mid-trace"):
        xg.function(step_failing, warmup=0)(_ones())
    assert sys.getprofile() is None


def test_printing_a_tensor_inside_the_step_still_raises():
    def step(x):
        print(x * 2.0)
        return x

    with pytest.raises(TraceError, match=r"repr\(\) or print\(\) of a tensor"):
        xg.function(step, warmup=0)(_ones())
