"""xg.function's guards: a range check on a traced value (an index before ``take``/getitem,
labels before a loss) becomes a guard of the replay; where it fails, the call runs eagerly
instead. That is right only if the replay changed nothing before the guard: an optimizer
update, a write into a Variable or a random draw made before it would then happen twice (once
by the replay, once by the eager call). Each test runs the same step eagerly and compiled and
compares everything the step changes, call for call, across a guard that fails."""
import sys

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import TraceError



# -- the trace's instrumentation is undone exactly ----------------------------------------------

def _own_ranges(monkeypatch):
    """The numpy backend with ``index_range``/``value_range`` of its own (on the instance)."""
    be = xg.get_backend("numpy")
    own_index = be.index_range
    own_value = be.value_range
    monkeypatch.setattr(be, "index_range", lambda a: own_index(a), raising=False)
    monkeypatch.setattr(be, "value_range", lambda a, accepted: own_value(a, accepted),
                        raising=False)
    return be, vars(be)["index_range"], vars(be)["value_range"]


def test_a_backends_own_range_methods_are_restored_after_a_trace(monkeypatch):
    be, index_range, value_range = _own_ranges(monkeypatch)
    table = xg.asarray(np.arange(5.0))
    f = xg.function(lambda i, p: xg.sum(table[i]) + xg.losses.binary_cross_entropy(p, p))
    for _ in range(3):
        f(xg.asarray(np.array([1, 2])), xg.asarray([0.5, 0.25]))
    assert f.trace_count == 1
    assert vars(be)["index_range"] is index_range
    assert vars(be)["value_range"] is value_range


def test_a_backends_own_range_methods_are_restored_after_a_failed_trace(monkeypatch):
    be, index_range, value_range = _own_ranges(monkeypatch)
    table = xg.asarray(np.arange(5.0))

    def f(i):
        if xg.sum(table[i]) > 0:          # reads a value in Python: the trace raises
            return i
        return i

    f = xg.function(f, warmup=0)
    with pytest.raises(TraceError):
        f(xg.asarray(np.array([1, 2])))
    assert vars(be)["index_range"] is index_range
    assert vars(be)["value_range"] is value_range


def test_a_trace_whose_instrumentation_fails_midway_is_undone(monkeypatch):
    """The instrumentation is undone even where setting it up raised (after the backend's
    namespace and range methods were replaced, before the Variables were)."""
    capture_module = sys.modules["xpgrad.jit.capture"]     # the name `capture` is the function
    be, index_range, value_range = _own_ranges(monkeypatch)
    own = dict(vars(be))

    def fails(backend):
        raise RuntimeError("instrumentation failed")

    monkeypatch.setattr(capture_module, "live_variables", fails)
    f = xg.function(lambda x: x * 2.0, warmup=0)
    with pytest.raises(RuntimeError, match="instrumentation failed"):
        f(xg.asarray([1.0]))
    assert vars(be) == own
