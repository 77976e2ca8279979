"""Training scripts that change a setting between compiled steps, compared step by step with
the same script run eagerly on a twin model (same init, same data): a layer's hyperparameter
set on the layer (``bn.momentum = 0.5``, ``layer.eps``), a loss's Python-float hyperparameter
held by a config object, a closure variable or a global, as ``torch.compile`` guards on
them."""
import numpy as np
import pytest

import xpgrad as xg
from side_effects_on_purpose import ON_PURPOSE


def _batch_norm_model():
    return xg.nn.Sequential(xg.nn.Linear(5, 7, rng=0), xg.nn.BatchNorm1d(7),
                            xg.nn.ReLU(), xg.nn.Linear(7, 3, rng=1), xg.nn.LayerNorm(3))


def _update(model, opt, x, y, label_smoothing=0.0):
    """One training step of ``model`` on ``(x, y)``: its loss."""
    with xg.GradientTape() as tape:
        loss = xg.losses.softmax_cross_entropy(model(x), y, label_smoothing=label_smoothing)
    variables = model.trainable_variables
    opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss


def _train_step(model, opt):
    return lambda x, y: _update(model, opt, x, y)


def _change_settings(model, call):
    batch_norm, layer_norm = model.layers[1], model.layers[4]
    if call == 3:
        batch_norm.momentum = 0.7
    if call == 5:
        layer_norm.eps = 0.5
    if call == 7:
        batch_norm.momentum = 0.1


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_layer_setting_changed_between_compiled_steps_is_read_as_eager(backend):
    rng = np.random.default_rng(0)
    with xg.use_backend(backend):
        eager_model, compiled_model = _batch_norm_model(), _batch_norm_model()
        eager = _train_step(eager_model, xg.optim.SGD(0.1, momentum=0.9))
        compiled = xg.function(_train_step(compiled_model, xg.optim.SGD(0.1, momentum=0.9)))
        for call in range(9):
            _change_settings(eager_model, call)
            _change_settings(compiled_model, call)
            x = xg.asarray(rng.standard_normal((8, 5)).astype(np.float32))
            y = xg.asarray(rng.integers(0, 3, 8))
            np.testing.assert_allclose(compiled(x, y).numpy(), eager(x, y).numpy(), rtol=1e-6)
            for ours, theirs in zip(compiled_model.variables, eager_model.variables):
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7,
                                           err_msg=f"{theirs.name} after call {call}")


class _ScaledLogits(xg.nn.Module):
    """A layer of the user's own with a setting (``temperature``) and a counter its forward
    keeps itself (a Python side effect, not a setting)."""

    def __init__(self):
        super().__init__()
        self.linear = xg.nn.Linear(4, 3, rng=2, dtype=xg.float64)
        self.temperature = 1.0
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.linear(x) / self.temperature


@pytest.mark.parametrize("as_argument", [False, True])
def test_a_user_layer_s_setting_is_followed_and_its_own_counter_traces_once(as_argument):
    eager_model, compiled_model = _ScaledLogits(), _ScaledLogits()
    compiled = xg.function(lambda model, x: model(x)) if as_argument else \
        xg.function(lambda x: compiled_model(x))
    x = xg.asarray(np.random.default_rng(1).standard_normal((2, 4)))
    temperatures = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0]
    for temperature in temperatures:
        eager_model.temperature = compiled_model.temperature = temperature
        result = compiled(compiled_model, x) if as_argument else compiled(x)
        np.testing.assert_array_equal(result.numpy(), eager_model(x).numpy())
    # one program per temperature, replayed: the counter set by the forward keys nothing
    assert compiled.trace_count == 2
    assert compiled_model.calls < len(temperatures)


class _Config:
    label_smoothing = 0.0


LABEL_SMOOTHING = 0.0


# each step reads its hyperparameter in its own code (a helper's globals are not guarded)
def _closure_step(model, opt):
    smoothing = 0.0

    def step(x, y):
        return _update(model, opt, x, y, smoothing)

    def set_smoothing(value):
        nonlocal smoothing
        smoothing = value
    return step, set_smoothing


def _config_step(model, opt, config):
    return lambda x, y: _update(model, opt, x, y, config.label_smoothing)


def _global_step(model, opt):
    return lambda x, y: _update(model, opt, x, y, LABEL_SMOOTHING)


def _made(where, model, opt):
    """``(step, set_smoothing)``: a train step reading its label smoothing from ``where``."""
    if where == "closure":
        return _closure_step(model, opt)
    if where == "attribute":
        config = _Config()
        return _config_step(model, opt, config), \
            lambda value: setattr(config, "label_smoothing", value)

    def set_global(value):
        global LABEL_SMOOTHING
        LABEL_SMOOTHING = value
    return _global_step(model, opt), set_global


@pytest.mark.parametrize("where", ["closure", "attribute", "global"])
def test_a_python_hyperparameter_changed_between_compiled_steps_is_read_as_eager(where):
    rng = np.random.default_rng(2)
    eager_model, compiled_model = xg.nn.MLP([5, 7, 3], rng=0), xg.nn.MLP([5, 7, 3], rng=0)
    eager, set_eager = _made(where, eager_model, xg.optim.Adam(0.01))
    compiled, set_compiled = _made(where, compiled_model, xg.optim.Adam(0.01))
    compiled = xg.function(compiled)
    for call, smoothing in enumerate([0.0, 0.0, 0.0, 0.2, 0.2, 0.0, 0.3]):
        x = xg.asarray(rng.standard_normal((8, 5)).astype(np.float32))
        y = xg.asarray(rng.integers(0, 3, 8))
        set_compiled(smoothing)
        ours = compiled(x, y)
        set_eager(smoothing)
        np.testing.assert_allclose(ours.numpy(), eager(x, y).numpy(), rtol=1e-6,
                                   err_msg=f"call {call}")
        for mine, theirs in zip(compiled_model.variables, eager_model.variables):
            np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)
    set_eager(0.0)
    # a program per value, the one of 0.0 replayed again
    assert compiled.trace_count == 2, [p.source[:0] for p in compiled.programs()]


class _Trainer:
    """A trainer object counting its own steps in the traced method (a side effect)."""

    def __init__(self):
        self.model = xg.nn.Linear(3, 1, rng=0, dtype=xg.float64)
        self.steps = 0

    def step(self, x):
        self.steps += 1
        return xg.sum(self.model(x))


@ON_PURPOSE
def test_a_counter_the_function_keeps_itself_does_not_retrace():
    trainer = _Trainer()
    compiled = xg.function(trainer.step)
    x = xg.ones((2, 3), dtype=xg.float64)
    for _ in range(6):
        np.testing.assert_array_equal(compiled(x).numpy(), xg.sum(trainer.model(x)).numpy())
    assert compiled.trace_count == 1
