"""A training step that reads its model from its closure, ``step(x, y)`` (as the ``mlp_step``
bench workload and many ``tf.function`` users write it), never replays the model as it was
traced after its structure changed: a layer appended to a plain list, layers reordered, a
Variable or a layer set in another's place -- each call's loss and updates are those of the
same call made eagerly on a twin of the model."""
import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


class Stack(xg.nn.Module):
    """Layers of one width in a plain list, applied in its order; no guard of its own."""

    def __init__(self, width, depth, rng):
        super().__init__("stack")
        self.blocks = [xg.nn.Linear(width, width, rng=rng) for _ in range(depth)]

    def forward(self, x):
        for block in self.blocks:
            x = xg.tanh(block(x))
        return x


class Scaled(xg.nn.Module):
    """A module reading its own Variable straight from its attribute."""

    def __init__(self):
        super().__init__("scaled")
        self.scale = xg.Variable(np.full((3, 3), 0.5, np.float32))

    def forward(self, x):
        return x @ self.scale


def _closure_step(model, optimizer):
    """``step(x, y)``: one SGD step of ``model``, read from this closure."""
    def step(x, y):
        with xg.GradientTape() as tape:
            loss = xg.mean((model(x) - y) ** 2)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss
    return step


class Twins:
    """A model stepped by an ``xg.function`` that reads it from its closure, and its twin
    stepped eagerly: ``step()`` runs both and checks that the loss and every Variable agree."""

    def __init__(self, make, width=3, out_width=3):
        self.traced_model, self.eager_model = make(), make()
        self.function = xg.function(_closure_step(self.traced_model, xg.optim.SGD(0.1)))
        self.eager = _closure_step(self.eager_model, xg.optim.SGD(0.1))
        rng = np.random.default_rng(0)
        self.x = xg.asarray(rng.normal(size=(4, width)).astype(np.float32))
        self.y = xg.asarray(rng.normal(size=(4, out_width)).astype(np.float32))

    def step(self, times=3):
        for _ in range(times):
            traced = self.function(self.x, self.y)
            eager = self.eager(self.x, self.y)
            np.testing.assert_allclose(traced.numpy(), eager.numpy(), rtol=1e-5, atol=1e-6)
            for a, b in zip(self.traced_model.variables, self.eager_model.variables, strict=True):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)

    def both(self, change):
        change(self.traced_model)
        change(self.eager_model)


def _mlp():
    return xg.nn.MLP([3, 5, 2], rng=xg.random.default_rng(0))


def test_an_unchanged_closure_model_replays_the_short_way():
    twins = Twins(_mlp, out_width=2)
    twins.step(4)
    assert twins.function.trace_count == 1
    assert twins.function._fast is not None


def test_a_layer_appended_to_a_closure_models_list_is_seen():
    twins = Twins(_mlp, out_width=2)
    twins.step()
    twins.both(lambda m: m.layers.append(xg.nn.Linear(2, 2, rng=xg.random.default_rng(1))))
    twins.step()
    assert twins.function.trace_count == 2


def test_layers_of_a_closure_model_reordered_are_seen():
    twins = Twins(lambda: Stack(3, 3, xg.random.default_rng(0)))
    twins.step()
    twins.both(lambda m: m.blocks.reverse())
    twins.step()


def test_a_variable_of_a_closure_model_set_in_anothers_place_is_read_and_updated():
    twins = Twins(Scaled)
    twins.step()
    old = twins.traced_model.scale
    twins.both(lambda m: setattr(m, "scale", xg.Variable(np.eye(3, dtype=np.float32))))
    kept = old.numpy().copy()
    twins.step()
    np.testing.assert_array_equal(old.numpy(), kept)        # the old one no longer updated


def test_a_layer_of_a_closure_model_set_in_anothers_place_is_used():
    spare = {}

    def swap(model):
        spare.setdefault(id(model), Stack(3, 1, xg.random.default_rng(5)).blocks[0])
        model.blocks[1] = spare[id(model)]
    twins = Twins(lambda: Stack(3, 2, xg.random.default_rng(0)))
    twins.step()
    twins.both(swap)
    twins.step()


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
    model = _mlp()
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
    model = _mlp()
    step = xg.function(lambda model, x: model(x))
    x = xg.ones((2, 3))
    for _ in range(3):
        np.testing.assert_allclose(step(model, x).numpy(), model(x).numpy(), rtol=1e-6)
    assert step.trace_count == 1 and _structure_guards(step) == []
    closure = xg.function(lambda x: model(x))
    for _ in range(3):
        closure(x)
    assert _structure_guards(closure) == ["_structure_key"]      # the MLP, its layers within
