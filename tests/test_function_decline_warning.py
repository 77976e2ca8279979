"""An xg.function whose backend kernel declines on ``declines.WARN_AFTER`` replays in a row
(each call replays up to it, undoes that and runs eagerly) traces that signature anew, once:
traced with values the kernel declines for, the program has the generic rule and replays
them. Where it declines as often again after that retrace, it warns once, naming the function
and the kernel; replays that run through in between start the count again. Checked on the
short way (positional tensors, ``fast_replay.py``) and the long way (a keyword argument).
(xpgrad/jit/declines.py)"""
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import RetracingWarning
from xpgrad.jit.declines import WARN_AFTER, KernelDeclinedWarning


def _max_gradient(x):
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.max(x, axis=-1) ** 2)
    return tape.gradient(y, x)


def _traced(untied, keyword):
    """``(function, its call)``: traced while the kernel runs (the long way with a keyword)."""
    step = xg.function(_max_gradient)
    call = (lambda x: step(x=x)) if keyword else step
    for _ in range(3):
        call(xg.asarray(untied))
    return step, call


@pytest.fixture
def values():
    untied = np.random.default_rng(0).standard_normal((5, 4))
    tied = untied.copy()
    tied[:, 1] = tied[:, 2] = 3.0              # each row's maximum twice: the kernel declines
    return untied, tied


def _calls(call, values):
    """The results of ``call`` on each of ``values``, and the KernelDeclinedWarnings given."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [call(xg.asarray(v)).numpy() for v in values]
    return results, [w for w in caught if issubclass(w.category, KernelDeclinedWarning)]


def _check_eager(results, values):
    for got, v in zip(results, values, strict=True):
        np.testing.assert_array_equal(got, _max_gradient(xg.asarray(v)).numpy())


@pytest.mark.parametrize("keyword", [False, True], ids=["short-way", "long-way"])
def test_declines_in_a_row_trace_anew_then_replay(values, keyword):
    untied, tied = values
    step, call = _traced(untied, keyword)
    calls = [tied] * (3 * WARN_AFTER) + [untied, tied]
    results, declined = _calls(call, calls)
    assert declined == [] and step.trace_count == 2
    assert step.programs()[0].decline_streak == 0     # traced with ties: the generic rule
    _check_eager(results, calls)


@pytest.mark.parametrize("keyword", [False, True], ids=["short-way", "long-way"])
def test_declines_in_a_row_after_a_retrace_warn_once_naming_the_function(values, keyword):
    untied, tied = values
    step, call = _traced(untied, keyword)
    # the retrace takes untied values: the kernel is in the program again
    calls = [tied] * WARN_AFTER + [untied] + [tied] * (2 * WARN_AFTER)
    results, declined = _calls(call, calls)
    assert len(declined) == 1, [str(w.message) for w in declined]
    message = str(declined[0].message)
    assert "'_max_gradient'" in message and f"{WARN_AFTER} replays in a row" in message
    assert declined[0].filename == __file__     # the user's call, not xpgrad's
    assert step.trace_count == 2                 # traced anew once only
    _check_eager(results, calls)


@pytest.mark.parametrize("keyword", [False, True], ids=["short-way", "long-way"])
def test_declines_between_replays_that_run_through_do_not_warn(values, keyword):
    untied, tied = values
    _, call = _traced(untied, keyword)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KernelDeclinedWarning)
        for _ in range(3):
            for _ in range(WARN_AFTER - 1):
                call(xg.asarray(tied))
            call(xg.asarray(untied))


def test_a_retrace_for_declines_is_no_new_signature_to_warn_about(values):
    # two signatures traced under retrace_warning=2, then one traced anew for its declines:
    # three traces, but no signature met since, so no RetracingWarning ("each new argument
    # signature traces again" would send the user looking for one)
    untied, tied = values
    step = xg.function(_max_gradient, retrace_warning=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for rows in (5, 4):
            for _ in range(3):
                step(xg.asarray(untied[:rows]))
        results = [step(xg.asarray(tied)).numpy() for _ in range(2 * WARN_AFTER)]
    assert step.trace_count == 3 and [str(w.message) for w in caught] == []
    _check_eager(results, [tied] * (2 * WARN_AFTER))
    with pytest.warns(RetracingWarning, match="traced 4 times"):
        for _ in range(3):
            step(xg.asarray(untied[:3]))          # a third signature: past the limit
