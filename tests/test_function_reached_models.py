"""A function that reaches its models other than through its own closure variables and globals
never replays the models it was traced with once it would reach others (jit/name_guards.py):
through a helper function's globals or closure, through an attribute of an object that is no
Module (``trainer.model``, a method's ``self.model``), through containers inside containers.
Each compiled call equals the same call made eagerly. The guards hold what they guard weakly
where it allows: a model replaced is freed."""
import gc
import weakref

import numpy as np
import pytest

import xpgrad as xg
from model_changes import Scaled, agree, random_x, scaled
from side_effects_on_purpose import ON_PURPOSE

pytestmark = pytest.mark.usefixtures("numpy_default")

#: the model ``_helper`` reads (set by the tests)
HELPER_MODEL = None


def _helper(x):
    return HELPER_MODEL(x)


def _calls_helper(x):
    return xg.tanh(_helper(x))


def test_a_helpers_global_set_to_another_model_is_seen():
    global HELPER_MODEL
    first = HELPER_MODEL = scaled(0)
    compiled, x = xg.function(_calls_helper), random_x()
    agree(compiled, _calls_helper, x)
    HELPER_MODEL = scaled(1)
    agree(compiled, _calls_helper, x)
    assert compiled.trace_count == 2 and first is not HELPER_MODEL


def _helper_over_closure(model):
    """``(helper, set_model)``: ``helper(x)`` applies the model of its closure, which
    ``set_model`` rebinds."""
    def helper(x):
        return model(x)

    def set_model(other):
        nonlocal model
        model = other
    return helper, set_model


def test_a_helpers_closure_variable_set_to_another_model_is_seen():
    first = scaled(0)
    helper, set_model = _helper_over_closure(first)

    def forward(x):
        return xg.tanh(helper(x))
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    set_model(scaled(1))
    agree(compiled, forward, x)
    assert compiled.trace_count == 2


class Trainer:
    """No Module: a plain object holding a model."""

    def __init__(self, model):
        self.model = model

    @xg.function
    def predict(self, x):
        return xg.tanh(self.model(x))


def test_an_attribute_of_a_plain_object_set_to_another_model_is_seen():
    trainer = Trainer(scaled(0))
    first = trainer.model

    def forward(x):
        return xg.tanh(trainer.model(x))
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    trainer.model = scaled(1)
    agree(compiled, forward, x)
    assert compiled.trace_count == 2 and first is not trainer.model


def test_self_model_in_a_decorated_method_of_a_plain_class_set_anew_is_seen():
    trainer = Trainer(scaled(0))
    first = trainer.model

    def eager(x):
        return xg.tanh(trainer.model(x))
    agree(trainer.predict, eager, random_x())
    trainer.model = scaled(1)
    agree(trainer.predict, eager, random_x())
    assert trainer.predict.__func__.trace_count == 2 and first is not trainer.model


def test_a_plain_object_given_as_an_argument_whose_model_is_set_anew_is_seen():
    trainer = Trainer(scaled(0))
    first = trainer.model
    compiled, x = xg.function(lambda trainer, x: trainer.model(x)), random_x()
    for model in (first, scaled(1)):
        trainer.model = model
        for _ in range(3):
            np.testing.assert_allclose(compiled(trainer, x).numpy(), model(x).numpy(),
                                       rtol=1e-6)
    assert compiled.trace_count == 2


def test_a_list_in_a_closure_dict_reordered_is_seen():
    layers = {"encoder": [scaled(0), scaled(1), scaled(2)]}

    def forward(x):
        for layer in layers["encoder"]:
            x = xg.tanh(layer(x))
        return x
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    layers["encoder"].reverse()
    agree(compiled, forward, x)
    layers["encoder"][1] = scaled(3)
    agree(compiled, forward, x)
    assert compiled.trace_count == 3


def test_a_tuple_in_a_closure_list_set_anew_is_seen():
    pairs = [(scaled(0), scaled(1))]

    def forward(x):
        first, second = pairs[0]
        return second(xg.tanh(first(x)))
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    pairs[0] = pairs[0][::-1]
    agree(compiled, forward, x)
    assert compiled.trace_count == 2


def test_a_closure_model_set_anew_is_freed():
    model = scaled(0)
    compiled, x = xg.function(lambda x: model(x)), random_x()
    agree(compiled, model, x)
    first = weakref.ref(model)
    model = scaled(1)
    agree(compiled, model, x)
    gc.collect()
    assert first() is None and compiled.trace_count == 2


def test_a_layer_replaced_in_a_closure_list_is_freed():
    layers = [scaled(0), scaled(1)]

    def forward(x):
        for layer in layers:
            x = xg.tanh(layer(x))
        return x
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    replaced = weakref.ref(layers[0])
    layers[0] = scaled(2)
    agree(compiled, forward, x)
    gc.collect()
    assert replaced() is None and compiled.trace_count == 2


def test_an_unchanged_helper_and_trainer_replay_without_new_traces():
    global HELPER_MODEL
    HELPER_MODEL, trainer = scaled(0), Trainer(scaled(1))

    def forward(x):
        return trainer.model(_calls_helper(x))
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x, times=5)
    assert compiled.trace_count == 1 and compiled._fast is not None


@ON_PURPOSE
def test_a_trace_leaves_module_attribute_reads_of_other_threads_alone():
    # main hooked Module.__getattribute__ while tracing: every thread's reads went through it
    seen = []
    layer = scaled(0)

    def forward(x):
        seen.append("__getattribute__" in vars(xg.nn.Module))
        return x @ layer.scale
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    assert compiled.trace_count == 1 and not any(seen)


def test_a_variable_read_from_a_layer_in_a_trainer_reached_by_a_helper_set_anew_is_read():
    trainer = Trainer(scaled(0))

    def helper(x):
        return x @ trainer.model.scale           # the layer neither called nor walked
    compiled, x = xg.function(lambda x: xg.tanh(helper(x))), random_x()
    agree(compiled, lambda x: xg.tanh(helper(x)), x)
    trainer.model.scale = xg.Variable(np.eye(3, dtype=np.float32))
    agree(compiled, lambda x: xg.tanh(helper(x)), x)
    assert compiled.trace_count == 2



class Runner:
    """No Module: ``run`` calls its own helper method, which reads ``self.layers``."""

    def __init__(self, layers):
        self.layers = layers

    def run(self, x):
        return self._through(x)

    def _through(self, x):
        for layer in self.layers["encoder"]:
            x = xg.tanh(layer(x))
        return x


def test_a_list_in_a_dict_read_by_a_method_of_an_object_a_closure_holds_is_seen():
    runner = Runner({"encoder": [scaled(0), scaled(1)]})
    compiled, x = xg.function(lambda x: runner.run(x)), random_x()
    agree(compiled, runner.run, x)
    runner.layers["encoder"].reverse()
    agree(compiled, runner.run, x)
    runner.layers = {"encoder": [scaled(2)]}
    agree(compiled, runner.run, x)
    assert compiled.trace_count == 3
