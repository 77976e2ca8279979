"""An xg.function whose backend kernel declines on every replay (each call replays up to it,
undoes that and runs eagerly) warns once, naming the function and the kernel, after
``declines.WARN_AFTER`` declines in a row; replays that run through in between start the
count again. Checked on the short way (positional tensors, ``fast_replay.py``) and the long
way (a keyword argument). (xpgrad/jit/declines.py)"""
import warnings

import numpy as np
import pytest

import xpgrad as xg
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


@pytest.mark.parametrize("keyword", [False, True], ids=["short-way", "long-way"])
def test_declines_in_a_row_warn_once_naming_the_function(values, keyword):
    untied, tied = values
    step, call = _traced(untied, keyword)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [call(xg.asarray(tied)).numpy() for _ in range(2 * WARN_AFTER)]
    declined = [w for w in caught if issubclass(w.category, KernelDeclinedWarning)]
    assert len(declined) == 1, [str(w.message) for w in caught]
    message = str(declined[0].message)
    assert "'_max_gradient'" in message and f"{WARN_AFTER} replays in a row" in message
    assert declined[0].filename == __file__     # the user's call, not xpgrad's
    assert step.trace_count == 1
    want = _max_gradient(xg.asarray(tied)).numpy()
    for got in results:
        np.testing.assert_array_equal(got, want)


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
