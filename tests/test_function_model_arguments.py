"""A training step taking the model, ``step(model, x, y)``, replays the short way
(``fast_replay.py``) as a step over plain tensors does, and a replay never reads a model as it
was: a layer appended to a list, a Variable or a layer set in another's place, a trainable flag
flipped, another model, a dict or list of Variables changed in place -- each call's results and
updates are those of the same call made eagerly on a twin of the model."""
import numpy as np
import pytest

import xpgrad as xg
from model_changes import Scaled, Stack, TwinModels, mlp

pytestmark = pytest.mark.usefixtures("numpy_default")


def _sgd_step(model, x, y, optimizer):
    with xg.GradientTape() as tape:
        loss = xg.mean((model(x) - y) ** 2)
    variables = model.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss


class Twins(TwinModels):
    """A model traced through ``xg.function`` and its twin stepped eagerly: ``step()`` runs
    both and checks that the loss and every Variable agree."""

    def __init__(self, make):
        super().__init__(make)
        traced_optimizer, eager_optimizer = xg.optim.SGD(0.1), xg.optim.SGD(0.1)
        self.function = xg.function(
            lambda model, x, y: _sgd_step(model, x, y, traced_optimizer))
        self.eager = lambda model, x, y: _sgd_step(model, x, y, eager_optimizer)
        rng = np.random.default_rng(0)
        width = self.traced_model.variables[0].shape[0]
        self.x = xg.asarray(rng.normal(size=(4, width)).astype(np.float32))
        self.y = xg.asarray(rng.normal(size=(4, self.out_width())).astype(np.float32))

    def out_width(self):
        return self.eager_model(xg.zeros((1, self.traced_model.variables[0].shape[0]))).shape[1]

    def step(self, times=3):
        for _ in range(times):
            traced = self.function(self.traced_model, self.x, self.y)
            eager = self.eager(self.eager_model, self.x, self.y)
            self.agree(traced, eager)


def test_a_step_taking_the_model_replays_the_short_way():
    twins = Twins(mlp)
    twins.step(4)
    assert twins.function.trace_count == 1
    assert twins.function._fast is not None


def test_a_layer_appended_to_a_models_list_is_seen():
    twins = Twins(mlp)
    twins.step()
    twins.both(lambda m: m.layers.append(xg.nn.Linear(2, 2, rng=xg.random.default_rng(1))))
    twins.step()
    assert twins.function.trace_count == 2


def test_layers_reordered_in_a_list_are_seen():
    twins = Twins(lambda: Stack(3, 3, xg.random.default_rng(0)))
    twins.step()
    twins.both(lambda m: m.blocks.reverse())
    twins.step()


def test_a_variable_set_in_anothers_place_is_read_and_updated():
    twins = Twins(Scaled)
    twins.step()
    old = twins.traced_model.scale
    twins.both(lambda m: setattr(m, "scale", xg.Variable(np.eye(3, dtype=np.float32))))
    kept = old.numpy().copy()
    twins.step()
    np.testing.assert_array_equal(old.numpy(), kept)        # the old one no longer updated


def test_a_layer_set_in_anothers_place_is_used():
    spare = {}

    def swap(model):
        spare.setdefault(id(model), Stack(3, 1, xg.random.default_rng(5)).blocks[0])
        model.blocks[1] = spare[id(model)]
    twins = Twins(lambda: Stack(3, 2, xg.random.default_rng(0)))
    twins.step()
    twins.both(swap)
    twins.step()


def test_a_trainable_flag_flipped_freezes_and_thaws():
    twins = Twins(mlp)
    twins.step()
    twins.both(lambda m: setattr(m.layers[0].w, "trainable", False))
    twins.step()
    twins.both(lambda m: setattr(m.layers[0], "trainable", True))
    twins.both(lambda m: setattr(m.layers[0].w, "trainable", True))
    twins.step()


def test_another_model_instance_is_its_own():
    first, second = Twins(mlp), Twins(mlp)
    second.function = first.function        # one function, two models, alternately
    second.x = second.x * 2.0
    for _ in range(3):
        first.step(1)
        second.step(1)
    assert first.function.trace_count == 2


@pytest.mark.parametrize("container", [dict, list])
def test_variables_given_in_a_container_changed_in_place_are_read(container):
    v = xg.Variable(np.ones(3, np.float32))
    w = xg.Variable(np.full(3, 2.0, np.float32))
    x = xg.asarray(np.arange(3.0, dtype=np.float32))
    total = xg.function(lambda held, x: xg.sum(list(held.values())[0] * x) if container is dict
                        else xg.sum(held[0] * x))
    held = {"a": v} if container is dict else [v]
    for _ in range(3):
        assert total(held, x).item() == 3.0
    assert total._fast is not None
    if container is dict:
        held["a"] = w
    else:
        held[0] = w
    assert [total(held, x).item() for _ in range(3)] == [6.0] * 3


def test_a_variable_argument_swapped_for_another_is_read():
    v = xg.Variable(np.ones(3, np.float32))
    w = xg.Variable(np.full(3, 2.0, np.float32))
    x = xg.asarray(np.arange(3.0, dtype=np.float32))
    total = xg.function(lambda v, x: xg.sum(v * x))
    assert [total(v, x).item() for _ in range(3)] == [3.0] * 3
    assert total._fast is not None
    assert [total(w, x).item() for _ in range(3)] == [6.0] * 3
    assert total(v, x).item() == 3.0


def test_a_compiled_model_follows_a_layer_appended_to_it():
    model = Stack(3, 2, xg.random.default_rng(0))
    compiled = xg.function(model)
    x = xg.asarray(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled._fast is not None
    model.blocks.append(xg.nn.Linear(3, 3, rng=xg.random.default_rng(2)))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled.trace_count == 2


class Predicting(Stack):
    @xg.function
    def predict(self, x):
        return self(x)


def test_a_models_decorated_method_follows_a_layer_appended_to_it():
    model = Predicting(3, 2, xg.random.default_rng(0))
    x = xg.asarray(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))
    for _ in range(3):
        np.testing.assert_allclose(model.predict(x).numpy(), model(x).numpy(), rtol=1e-6)
    model.blocks.append(xg.nn.Linear(3, 3, rng=xg.random.default_rng(2)))
    for _ in range(3):
        np.testing.assert_allclose(model.predict(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert model.predict.__func__.trace_count == 2


def test_a_compiled_model_made_of_plain_tensors_replays_the_short_way():
    model = xg.tree_map(lambda v: v * 1.0, Stack(3, 2, xg.random.default_rng(0)))
    compiled = xg.function(model)
    x = xg.ones((2, 3))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled._fast is not None
