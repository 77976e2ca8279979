"""What an ``xg.function`` reaches other than through a model's structure and its arguments,
changed after the trace, is seen (jit/name_guards.py): a model or Variable of a Python module
(``settings.model``), a Variable held straight by a closure variable or a global and set to
another, a list or dict of Variables changed. Each compiled call equals the same call made
eagerly, and each change traces anew (before 2026-12-07 the replay ran the old model or
Variables: wrong numbers, no error)."""
import numpy as np
import pytest

import settings_for_guards as settings
import xpgrad as xg
from model_changes import agree, random_x, scaled

pytestmark = pytest.mark.usefixtures("numpy_default")

#: the Variable ``_global_forward`` multiplies by (set by the test)
GLOBAL_WEIGHTS = None


def _global_forward(x):
    return xg.tanh(x @ GLOBAL_WEIGHTS)


def _module_model_forward(x):
    return xg.tanh(settings.model(x))


def _module_weights_forward(x):
    return x @ settings.weights


def _weights(seed):
    return xg.Variable(np.random.default_rng(seed).normal(size=(3, 3)).astype(np.float32))


def test_a_python_modules_model_set_to_another_is_seen(monkeypatch):
    monkeypatch.setattr(settings, "model", scaled(0))
    first = settings.model
    compiled, x = xg.function(_module_model_forward), random_x()
    agree(compiled, _module_model_forward, x)
    monkeypatch.setattr(settings, "model", scaled(1))
    agree(compiled, _module_model_forward, x)
    assert compiled.trace_count == 2 and first is not settings.model


def test_a_python_modules_variable_set_to_another_is_seen(monkeypatch):
    monkeypatch.setattr(settings, "weights", _weights(0))
    compiled, x = xg.function(_module_weights_forward), random_x()
    agree(compiled, _module_weights_forward, x)
    monkeypatch.setattr(settings, "weights", _weights(1))
    agree(compiled, _module_weights_forward, x)
    assert compiled.trace_count == 2


def test_a_closure_variable_set_to_another_is_seen():
    weights = _weights(0)

    def forward(x):
        return xg.tanh(x @ weights)
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    first, weights = weights, _weights(1)       # the old one lives on
    agree(compiled, forward, x)
    weights = first
    agree(compiled, forward, x)
    assert compiled.trace_count == 3


def test_a_global_variable_set_to_another_is_seen():
    global GLOBAL_WEIGHTS
    first = GLOBAL_WEIGHTS = _weights(0)
    compiled, x = xg.function(_global_forward), random_x()
    agree(compiled, _global_forward, x)
    GLOBAL_WEIGHTS = _weights(1)
    agree(compiled, _global_forward, x)
    assert compiled.trace_count == 2 and first is not GLOBAL_WEIGHTS


def _gradients_of(variables):
    """The gradients of a tanh chain through the matrices ``variables`` (a closure list)."""
    def gradients(x):
        with xg.GradientTape() as tape:
            y = x
            for v in variables:
                y = xg.tanh(y @ v)
            loss = xg.sum(y * y)
        return tape.gradient(loss, variables)
    return gradients


def _agree_gradients(compiled, eager, x):
    for _ in range(3):
        got, want = compiled(x), eager(x)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)


def test_a_closure_list_of_variables_changed_is_seen():
    variables = [_weights(0), _weights(1)]
    gradients = _gradients_of(variables)
    compiled, x = xg.function(gradients), random_x()
    _agree_gradients(compiled, gradients, x)
    variables.append(_weights(2))
    _agree_gradients(compiled, gradients, x)
    variables[0] = _weights(3)
    _agree_gradients(compiled, gradients, x)
    variables.reverse()
    _agree_gradients(compiled, gradients, x)
    assert compiled.trace_count == 4


def test_a_closure_dict_of_variables_changed_is_seen():
    weights = {"first": _weights(0), "second": _weights(1)}

    def forward(x):
        return xg.tanh(x @ weights["first"]) @ weights["second"]
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x)
    weights["second"] = _weights(2)
    agree(compiled, forward, x)
    assert compiled.trace_count == 2


def test_unchanged_variables_and_modules_trace_once(monkeypatch):
    monkeypatch.setattr(settings, "weights", _weights(0))
    weights, variables = _weights(1), [_weights(2)]

    def forward(x):
        return (x @ settings.weights @ weights) @ variables[0]
    compiled, x = xg.function(forward), random_x()
    agree(compiled, forward, x, times=5)
    assert compiled.trace_count == 1 and compiled._fast is not None



class _OwnAdam(xg.optim.Adam):
    """A user's optimizer: xpgrad's Adam under another name."""


@pytest.mark.parametrize("optimizer_class", [xg.optim.Adam, _OwnAdam])
def test_an_optimizers_own_state_growing_traces_no_more(optimizer_class):
    variables, other = [_weights(0)], [_weights(1)]
    optimizer = optimizer_class(learning_rate=0.1)

    def step_of(variables):
        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.sum(xg.tanh(x @ variables[0]) ** 2)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss
        return step
    compiled, x = xg.function(step_of(variables)), random_x()
    for _ in range(3):
        compiled(x)
    step_of(other)(x)         # the optimizer's state gains the other Variable's slots
    for _ in range(3):
        compiled(x)
    assert compiled.trace_count == 1
