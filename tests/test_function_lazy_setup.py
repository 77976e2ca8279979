"""A callable object that makes its optimizer (or a config) on its first call, ``if self.opt is
None: self.opt = Adam(...)``, traced on that call (``warmup=0``, as ``tf.function``, which lets
a function create its variables on the first call only): before 2026-12-08 the trace warned
``SideEffectWarning`` "set 'opt' (None -> Adam(...))", a false alarm, since later calls find it
set, eager or replayed. Now that setup is quiet (jit/lazy_setup.py), while a tensor computed
in the trace and kept on the object (``self.cached = x * 2``) still warns -- before, forming
that warning read the traced tensor's values and raised ``TraceError`` instead -- and so does
a number set where None was (a counter's start)."""
import collections
import dataclasses
import types
import warnings

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.jit import SideEffectWarning

pytestmark = pytest.mark.usefixtures("numpy_default")


class LazyStep:
    """A training step that makes its optimizer and settings on its first call."""

    def __init__(self, model):
        self.model, self.opt, self.settings = model, None, None

    def __call__(self, x):
        if self.opt is None:
            self.opt = xg.optim.Adam(1e-2)
            self.settings = {"scale": 2.0}
        with xg.GradientTape() as tape:
            loss = xg.sum(self.model(x) ** 2) * self.settings["scale"]
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss


def _model():
    return xg.nn.Linear(3, 2, rng=0, dtype=xg.float64)     # the same weights every time


def _x():
    return xg.asarray(np.arange(12.0).reshape(4, 3) / 10.0)


def test_an_optimizer_made_on_the_traced_first_call_is_quiet_and_replays_as_eagerly():
    eager, traced = LazyStep(_model()), LazyStep(_model())
    compiled = xg.function(traced, warmup=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SideEffectWarning)
        losses = [float(compiled(_x()).numpy()) for _ in range(4)]
    expected = [float(eager(_x()).numpy()) for _ in range(4)]
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    assert losses[-1] < losses[0] and compiled.trace_count == 1
    assert isinstance(traced.opt, xg.optim.Adam) and traced.settings == {"scale": 2.0}


def test_a_tensor_computed_in_the_trace_and_kept_on_the_object_warns():
    class Cache:
        def __init__(self):
            self.cached = None

        def __call__(self, x):
            if self.cached is None:
                self.cached = x * 2.0
            return xg.sum(self.cached + x)

    with pytest.warns(SideEffectWarning,
                      match="stored a tensor computed while tracing in 'cached'"):
        xg.function(Cache(), warmup=0)(_x())


def test_a_counter_started_from_none_in_the_trace_still_warns():
    class Counting:
        def __init__(self):
            self.steps = None

        def __call__(self, x):
            self.steps = (self.steps or 0) + 1
            return x * 2.0

    with pytest.warns(SideEffectWarning, match=r"set 'steps' \(None -> 1\)"):
        xg.function(Counting(), warmup=0)(_x())


@dataclasses.dataclass(slots=True)
class _SlottedHolder:
    held: object


class _PrivateSlots:
    __slots__ = ("__held",)

    def __init__(self, held):
        self.__held = held


@pytest.mark.parametrize("keep", [
    pytest.param(lambda t: _SlottedHolder(t), id="dataclass-slots"),
    pytest.param(lambda t: _PrivateSlots(t), id="private-slot"),
    pytest.param(lambda t: collections.deque([t], maxlen=3), id="deque"),
    pytest.param(lambda t: types.MappingProxyType({"t": t}), id="mapping"),
])
def test_a_traced_tensor_in_slots_or_a_deque_set_where_none_was_warns(keep):
    """Before 2026-12-08 holds_traced looked only into __dict__, dicts, lists, tuples and sets:
    a tensor of the trace kept in a dataclass(slots=True), a deque or a mapping was quiet."""
    class Keeper:
        def __init__(self):
            self.kept = None

        def __call__(self, x):
            if self.kept is None:
                self.kept = keep(x * 2.0)
            return xg.sum(x)

    with pytest.warns(SideEffectWarning,
                      match="stored a tensor computed while tracing in 'kept'"):
        xg.function(Keeper(), warmup=0)(_x())
