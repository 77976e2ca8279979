"""Long training runs: nothing may grow per step or survive the objects that own it.

Garbage that only Python's cyclic collector frees is a reference cycle made every step: the
collector then runs more often and its full walks grow with what the process holds. The checks
count what ``gc.collect()`` finds after steps run with the collector off, and hold weak
references to what must be freed once the user drops it.
"""
import gc
import weakref

import pytest

import xpgrad as xg


def _cyclic_garbage(fn, repeat=5):
    """How many objects only the cyclic GC frees after ``repeat`` calls of ``fn``."""
    fn()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            fn()
        return gc.collect()
    finally:
        gc.enable()


def test_module_variable_walks_make_no_reference_cycles():
    model = xg.nn.Sequential([xg.nn.MLP([3, 4, 2], rng=0), xg.nn.Linear(2, 1, rng=1)])
    assert _cyclic_garbage(lambda: model.trainable_variables) == 0
    assert _cyclic_garbage(lambda: model.named_variables()) == 0
    assert _cyclic_garbage(lambda: model.submodules()) == 0
    assert _cyclic_garbage(lambda: model.eval().train()) == 0
    assert len(model.trainable_variables) == 6 and len(model.submodules()) == 4


def test_eager_training_step_makes_no_reference_cycles():
    rng = xg.random.default_rng(0)
    model = xg.nn.MLP([8, 16, 3], activation="relu", rng=rng)
    opt = xg.optim.Adam(learning_rate=1e-3)
    x, y = rng.normal(size=(16, 8)), rng.integers(0, 3, size=16)

    def step():
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    assert _cyclic_garbage(step, repeat=20) == 0
