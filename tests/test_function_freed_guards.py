"""xg.function keeps no program, and no layer, for a model that is gone: the guards and keys of
its programs hold models, layers and Variables weakly (jit/held.py), and a program traced with
one freed since can never match again, so it is dropped on the next call or trace instead of
waiting for ``max_traces`` (with its buffers)."""
import gc
import weakref

import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


class _Trainer:
    """An object holding the model a traced function reaches (``trainer.model``)."""

    def __init__(self, model):
        self.model = model


def _x():
    return xg.asarray(np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(4, 3))


def test_a_program_of_a_replaced_model_is_dropped_on_the_next_call():
    trainer = _Trainer(xg.nn.MLP([3, 8, 2], rng=0))
    compiled = xg.function(lambda x: trainer.model(x), max_traces=16)
    x = _x()
    for _ in range(3):
        compiled(x)                         # eager, traced, replayed
    (old,) = compiled.programs()
    old_program, old_model = weakref.ref(old), weakref.ref(trainer.model)
    del old
    trainer.model = xg.nn.MLP([3, 8, 2], rng=1)
    gc.collect()
    assert old_model() is None              # no guard or key holds the model it replaced
    assert old_program() is not None        # (its Variables' reads keep them until dropped)
    np.testing.assert_allclose(compiled(x).numpy(), trainer.model(x).numpy(), rtol=1e-6)
    gc.collect()
    assert old_program() is None and compiled.programs() == []    # eager: its first call
    for _ in range(2):
        np.testing.assert_allclose(compiled(x).numpy(), trainer.model(x).numpy(), rtol=1e-6)
    assert compiled.trace_count == 2 and len(compiled.programs()) == 1


@pytest.mark.parametrize("as_argument", [False, True])
def test_a_layer_replaced_inside_a_model_is_freed_with_its_program(as_argument):
    model = xg.nn.MLP([3, 8, 2], rng=0)
    compiled = xg.function((lambda model, x: model(x)) if as_argument else
                           (lambda x: model(x)), max_traces=16)
    x = _x()
    call = (lambda: compiled(model, x)) if as_argument else (lambda: compiled(x))
    for _ in range(3):
        call()
    (old,) = compiled.programs()
    old_program = weakref.ref(old)
    old_layer = weakref.ref(model.layers[0])
    old_weights = [weakref.ref(v) for v in model.layers[0].trainable_variables]
    del old
    model.layers[0] = xg.nn.Linear(3, 8, rng=5)
    np.testing.assert_allclose(call().numpy(), model(x).numpy(), rtol=1e-6)
    gc.collect()
    # the old program's key held the old layer weakly, and the program is dropped
    assert old_layer() is None and all(ref() is None for ref in old_weights)
    assert old_program() is None
    for _ in range(2):
        np.testing.assert_allclose(call().numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled.trace_count == 2 and len(compiled.programs()) == 1


def test_programs_of_live_models_are_kept():
    # two models through one argument: each keeps its program while it lives
    models = [xg.nn.MLP([3, 4, 2], rng=k) for k in range(2)]
    compiled = xg.function(lambda model, x: model(x), max_traces=16)
    x = _x()
    for _ in range(3):
        for model in models:
            compiled(model, x)
    del model
    assert compiled.trace_count == 2 and len(compiled.programs()) == 2
    gone = weakref.ref(models.pop())
    gc.collect()
    assert gone() is None
    np.testing.assert_allclose(compiled(models[0], x).numpy(), models[0](x).numpy(), rtol=1e-6)
    assert len(compiled.programs()) == 2    # a replay: nothing looked for
    compiled(xg.nn.MLP([3, 4, 2], rng=3), x)     # a new model: its first call, eagerly
    assert len(compiled.programs()) == 1 and compiled.trace_count == 2


def _helper_of(model):
    return lambda x: model(x)


def test_a_model_in_a_replaced_helpers_closure_is_freed():
    """The guard of a helper's closure variable reads it through a weak reference to the
    helper (held.ClosureCell), not through its cell: the cell would keep the model alive."""
    helpers = {"run": _helper_of(xg.nn.MLP([3, 8, 2], rng=0))}
    compiled = xg.function(lambda x: helpers["run"](x), max_traces=16)
    x = _x()
    for _ in range(3):
        compiled(x)
    old_model = weakref.ref(helpers["run"].__closure__[0].cell_contents)
    helpers["run"] = _helper_of(xg.nn.MLP([3, 8, 2], rng=1))
    gc.collect()
    assert old_model() is None
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), helpers["run"](x).numpy(), rtol=1e-6)
    assert compiled.trace_count == 2
