"""An xg.function trace captures every Variable alive on its backend, however it was made
(constructed, unpickled, copied, deep-copied, a subclass, made in another thread): its
registry (``xpgrad.variable.live_variables``) equals a scan of every object in the process,
and a compiled step updates such a Variable in place, as the eager step does."""
import copy
import gc
import pickle
import threading

import numpy as np

import xpgrad as xg
from xpgrad.jit.tracer import live_variables


class Scaled(xg.Variable):
    """A Variable subclass: made through Variable.__new__ too."""


def _made_every_way():
    v = xg.Variable([1.0, 2.0], name="constructed")
    made = [v, pickle.loads(pickle.dumps(v)), copy.copy(v), copy.deepcopy(v),
            Scaled([3.0], name="subclass")]
    box = []
    thread = threading.Thread(target=lambda: box.append(xg.Variable([4.0], name="thread")))
    thread.start()
    thread.join()
    return made + box


def _scanned(be):
    """The old definition: every object in the process that is a Variable on ``be``."""
    return [o for o in gc.get_objects() if isinstance(o, xg.Variable)
            and getattr(o, "_backend", None) is be]


def test_the_registry_holds_what_a_scan_of_every_object_finds():
    be = xg.current_backend()            # where a Variable made without backend= lives
    # the scan misses the Variables the suite's collection made (frozen for the run:
    # tests/collection_gc.py); those alive before the test are held, so that no id is reused
    before = live_variables(be)
    made = _made_every_way()
    # Variables of earlier tests held in reference cycles are freed now, not by a collection
    # that runs between the two lists (the registry's list then holds some the scan does not)
    gc.collect()
    gc.disable()
    try:
        found = {id(o) for o in live_variables(be)}
        scanned = {id(o) for o in _scanned(be)}
    finally:
        gc.enable()
    older = {id(v) for v in before}
    assert all(id(v) in found and id(v) in scanned for v in made)
    assert scanned <= found and found - older == scanned - older


def test_a_variable_whose_construction_fails_is_not_live():
    """A Variable registers in ``__new__``; one whose ``__init__`` raises has no value and
    must leave the registry at once (while the traceback still holds it), or a later trace
    or CUDA-graph capture reading every live Variable's array fails on it."""
    import pytest

    for bad in (dict(initial_value=[1, 2], trainable=True), dict(initial_value=[1.0],
                                                                  requires_grad=True)):
        with pytest.raises(TypeError) as caught:
            xg.Variable(**bad)
        assert caught.traceback                       # the half-built object is still held
        live = live_variables(xg.current_backend())
        assert all(hasattr(v, "_data") for v in live)


def test_a_dropped_variable_leaves_the_registry():
    be = xg.current_backend()            # where a Variable made without backend= lives
    v = xg.Variable([5.0], name="dropped")
    key = id(v)
    assert key in {id(o) for o in live_variables(be)}
    del v
    gc.collect()
    assert all(o.name != "dropped" for o in live_variables(be))


def test_a_compiled_step_updates_unpickled_and_copied_variables_in_place():
    made = _made_every_way()

    def step(x):
        for v in made:
            with xg.GradientTape() as tape:
                loss = xg.sum(v * x)
            v.assign_sub(0.5 * tape.gradient(loss, v))

    eager = [xg.Variable(v.numpy(), name=v.name) for v in made]

    def eager_step(x):
        for v in eager:
            with xg.GradientTape() as tape:
                loss = xg.sum(v * x)
            v.assign_sub(0.5 * tape.gradient(loss, v))

    before = [v.numpy().copy() for v in made]
    compiled = xg.function(step)
    x = xg.asarray(2.0)
    for _ in range(3):
        compiled(x)
        eager_step(x)
    for v, e, start in zip(made, eager, before):
        np.testing.assert_array_equal(v.numpy(), e.numpy())
        np.testing.assert_array_equal(v.numpy(), start - 3.0)    # 3 steps of 0.5 * x
