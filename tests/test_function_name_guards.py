"""A function that reads its models other than through its arguments never replays the models
it was traced with once it would reach others (jit/name_guards.py): a
Variable read straight from a closure layer's attribute set anew, a closure list of layers
reordered, a global set to another model while the old one lives on. Each compiled call
equals the same call made eagerly."""
import numpy as np
import pytest

import xpgrad as xg
from model_changes import Scaled, agree, random_x, scaled

pytestmark = pytest.mark.usefixtures("numpy_default")

#: the model ``_global_forward`` reads (set by the test)
GLOBAL_MODEL = None


def _global_forward(x):
    return GLOBAL_MODEL(x)


def test_a_variable_read_from_a_closure_layers_attribute_set_anew_is_read():
    layer = Scaled()

    def forward(x):
        return xg.tanh(x @ layer.scale)          # the layer is neither called nor walked
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    layer.scale = xg.Variable(np.eye(3, dtype=np.float32))
    agree(compiled, forward, x)
    assert compiled.trace_count == 2


def _tanh_chain(layers):
    """A forward through the closure's list ``layers``."""
    def forward(x):
        for layer in layers:
            x = xg.tanh(layer(x))
        return x
    return forward


def test_a_closure_list_of_layers_reordered_is_seen():
    layers = [scaled(0), scaled(1), scaled(2)]
    forward = _tanh_chain(layers)
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    layers.reverse()
    agree(compiled, forward, x)
    layers[1] = scaled(3)
    agree(compiled, forward, x)
    assert compiled.trace_count == 3


def test_a_closure_dict_of_layers_set_anew_is_seen():
    layers = {"first": scaled(0), "second": scaled(1)}

    def forward(x):
        return layers["second"](xg.tanh(layers["first"](x)))
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    layers["first"], layers["second"] = layers["second"], layers["first"]
    agree(compiled, forward, x)
    assert compiled.trace_count == 2


def test_a_closure_list_traced_empty_then_filled_is_seen():
    # built up later (a model grown a layer at a time): the empty list held no model to guard
    layers = []
    forward = _tanh_chain(layers)
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    layers.append(scaled(0))
    agree(compiled, forward, x)
    layers.append(scaled(1))
    agree(compiled, forward, x)
    assert compiled.trace_count == 3


def test_a_global_set_to_another_model_while_the_old_one_lives_is_seen():
    global GLOBAL_MODEL
    first = GLOBAL_MODEL = scaled(0)
    compiled, x = xg.function(_global_forward), random_x()
    agree(compiled, _global_forward, x)
    GLOBAL_MODEL = scaled(1)
    agree(compiled, _global_forward, x)
    assert compiled.trace_count == 2 and first is not GLOBAL_MODEL


def _keyed_structures(compiled):
    """The structures a replay the short way compares with: its guards' and its model
    arguments' (fast_replay.same_object's)."""
    fast = compiled._fast
    guarded = [value for (_, name), value in fast.guards if name == "_structure_key"]
    for same in fast.objects or ():
        guarded += [cell.cell_contents for cell in same.__closure__
                    if type(cell.cell_contents).__name__ == "ModuleStructure"]
    return guarded


@pytest.mark.parametrize("as_argument", [False, True])
def test_a_replay_checks_a_models_structure_by_identity_after_another_module_is_made(
        as_argument):
    model = xg.nn.MLP([3, 4, 2], rng=0)
    compiled = xg.function((lambda model, x: model(x)) if as_argument else
                           (lambda x: model(x)))
    x = random_x()
    call = (lambda: compiled(model, x)) if as_argument else (lambda: compiled(x))
    for _ in range(3):
        np.testing.assert_allclose(call().numpy(), model(x).numpy(), rtol=1e-6)
    xg.nn.Linear(2, 2, rng=0)         # a new structure version: structures are cached anew
    for _ in range(3):
        np.testing.assert_allclose(call().numpy(), model(x).numpy(), rtol=1e-6)
    (keyed,) = _keyed_structures(compiled)
    assert keyed is model._structure_key      # one `is` per replay, not a comparison of parts


def test_an_unchanged_closure_reads_no_new_trace():
    layers, layer = [scaled(0), scaled(1)], scaled(2)

    def forward(x):
        for each in layers:
            x = each(x)
        return x @ layer.scale
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x, times=5)
    assert compiled.trace_count == 1 and compiled._fast is not None


def test_a_variable_read_from_a_layer_the_function_makes_is_no_guard():
    def forward(x):
        layer = xg.nn.Linear(3, 3, rng=0)       # made anew on every call, with the same values
        return x @ layer.w
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x, times=4)
    assert compiled.trace_count == 1


def test_a_traces_key_holds_the_models_cached_structure():
    model = xg.nn.MLP([3, 4, 2], rng=0)
    compiled, x = xg.function(lambda x: model(x)), random_x()
    agree(compiled, model, x)
    ((_, values),) = compiled._programs       # (signature, guarded values): the long way's key
    assert any(value is model._structure_key for value in values)
