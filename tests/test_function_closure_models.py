"""A training step that reads its model from its closure, ``step(x, y)`` (as the ``mlp_step``
bench workload and many ``tf.function`` users write it), never replays the model as it was
traced after its structure changed: a layer appended to a plain list, layers reordered, a
Variable or a layer set in another's place -- each call's loss and updates are those of the
same call made eagerly on a twin of the model."""
import numpy as np
import pytest

import xpgrad as xg
from model_changes import CHANGES, Scaled, TwinModels, mlp

pytestmark = pytest.mark.usefixtures("numpy_default")


def _closure_step(model, optimizer):
    """``step(x, y)``: one SGD step of ``model``, read from this closure."""
    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.mean((model(x) - y) ** 2)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss
    return step


class Twins(TwinModels):
    """A model stepped by an ``xg.function`` that reads it from its closure, and its twin
    stepped eagerly: ``step()`` runs both and checks that the loss and every Variable agree."""

    def __init__(self, make, width=3, out_width=3):
        super().__init__(make)
        self.function = xg.function(_closure_step(self.traced_model, xg.optim.SGD(0.1)))
        self.eager = _closure_step(self.eager_model, xg.optim.SGD(0.1))
        rng = np.random.default_rng(0)
        self.x = xg.asarray(rng.normal(size=(4, width)).astype(np.float32))
        self.y = xg.asarray(rng.normal(size=(4, out_width)).astype(np.float32))

    def step(self, times=3):
        for _ in range(times):
            traced = self.function(self.x, self.y)
            eager = self.eager(self.x, self.y)
            self.agree(traced, eager)


def test_an_unchanged_closure_model_replays_the_short_way():
    twins = Twins(mlp, out_width=2)
    twins.step(4)
    assert twins.function.trace_count == 1
    assert twins.function._fast is not None


@pytest.mark.parametrize("what", list(CHANGES))
def test_a_change_of_a_closure_models_structure_is_seen(what):
    make, change = CHANGES[what]
    twins = Twins(make, out_width=2 if make is mlp else 3)
    twins.step()
    before = twins.traced_model.variables
    twins.both(change)
    now = {id(v) for v in twins.traced_model.variables}
    dropped = [(v, v.numpy().copy()) for v in before if id(v) not in now]
    twins.step()
    assert twins.function.trace_count == 2
    for variable, kept in dropped:           # no longer the model's: no longer updated
        np.testing.assert_array_equal(variable.numpy(), kept)


def test_a_variable_of_layers_called_from_a_closure_list_set_anew_is_read():
    layers = [Scaled(), Scaled()]
    x = xg.asarray(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))

    def forward(x):
        for layer in layers:
            x = xg.tanh(layer(x))
        return x
    compiled = xg.function(forward)
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), forward(x).numpy(), rtol=1e-6)
    layers[0].scale = xg.Variable(np.eye(3, dtype=np.float32))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), forward(x).numpy(), rtol=1e-6)


def test_a_closure_models_variables_read_without_calling_it_are_seen():
    model = mlp()
    penalty = xg.function(lambda: sum(xg.sum(v * v) for v in model.trainable_variables))

    def eager():
        return sum(float(np.sum(v.numpy() ** 2)) for v in model.trainable_variables)
    for _ in range(3):
        np.testing.assert_allclose(penalty().item(), eager(), rtol=1e-5)
    model.layers.append(xg.nn.Linear(2, 2, rng=xg.random.default_rng(1)))
    for _ in range(3):
        np.testing.assert_allclose(penalty().item(), eager(), rtol=1e-5)


def test_a_module_made_inside_the_function_does_not_retrace_it():
    weight = xg.Variable(np.ones((3, 3), np.float32))

    def forward(x):
        made = Scaled()
        made.scale = weight
        return made(x)
    compiled = xg.function(forward)
    x = xg.ones((2, 3))
    for _ in range(4):
        np.testing.assert_allclose(compiled(x).numpy(), forward(x).numpy())
    assert compiled.trace_count == 1


def _structure_guards(function):
    return [name for guards in function._guards.values() for _, name in guards
            if name == "_structure_key"]


def test_a_model_given_as_an_argument_is_keyed_not_guarded_again():
    model = mlp()
    step = xg.function(lambda model, x: model(x))
    x = xg.ones((2, 3))
    for _ in range(3):
        np.testing.assert_allclose(step(model, x).numpy(), model(x).numpy(), rtol=1e-6)
    assert step.trace_count == 1 and _structure_guards(step) == []
    closure = xg.function(lambda x: model(x))
    for _ in range(3):
        closure(x)
    assert _structure_guards(closure) == ["_structure_key"]      # the MLP, its layers within


def test_a_closure_variable_set_to_another_model_is_seen():
    model = Scaled()
    first = model                           # alive still: its structure has not changed
    compiled = xg.function(lambda x: model(x))
    x = xg.asarray(np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    model = Scaled()
    model.scale = xg.Variable(np.eye(3, dtype=np.float32))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled.trace_count == 2 and first is not model
