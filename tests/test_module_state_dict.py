"""``Module.state_dict`` / ``load_state_dict`` as PyTorch users write them (early stopping's
best weights, copying weights between models), with copies so training does not change a
saved state, and mismatches named before anything is changed."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg


def _train_a_step(model, backend):
    x = xg.asarray(np.ones((4, 3), np.float32), backend=backend)
    y = xg.asarray(np.array([0, 1, 0, 1]), backend=backend)
    opt = xg.optim.SGD(learning_rate=0.5)
    with xg.GradientTape() as tape:
        loss = xg.losses.softmax_cross_entropy(model(x), y)
    opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_saved_state_survives_training_and_restores_the_weights(backend):
    model = xg.nn.MLP([3, 5, 2], rng=0, backend=backend)
    best = model.state_dict()
    assert list(best) == list(model.named_variables())
    assert all(isinstance(v, np.ndarray) for v in best.values())
    frozen = {k: v.copy() for k, v in best.items()}
    _train_a_step(model, backend)
    for k in best:
        np.testing.assert_array_equal(best[k], frozen[k])      # not views of the weights
    assert any(not np.array_equal(v.numpy(), frozen[k])
               for k, v in model.named_variables().items())
    assert model.load_state_dict(best) == ([], [])
    for k, v in model.named_variables().items():
        np.testing.assert_array_equal(v.numpy(), frozen[k])
    _train_a_step(model, backend)
    np.testing.assert_array_equal(best["mlp/linear0/w"], frozen["mlp/linear0/w"])


@pytest.mark.usefixtures("numpy_default")
def test_weights_copied_between_models_and_backends():
    source = xg.nn.MLP([3, 5, 2], rng=1, backend="numba")
    target = xg.nn.MLP([3, 5, 2], rng=2, backend="numpy")
    target.load_state_dict({k: v for k, v in source.named_variables().items()})  # Tensors too
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(target(xg.asarray(x)).numpy(),
                               source(xg.asarray(x, backend="numba")).numpy(), rtol=1e-6)


def test_missing_unexpected_and_misshapen_entries_are_named_and_nothing_changes():
    model = xg.nn.MLP([3, 5, 2], rng=0)
    before = model.state_dict()
    state = dict(before)
    del state["mlp/linear1/b"]
    state["mlp/linear9/w"] = np.zeros(2, np.float32)
    state["mlp/linear0/w"] = np.zeros((5, 3), np.float32)
    with pytest.raises(ValueError) as err:
        model.load_state_dict(state)
    message = str(err.value)
    assert "missing 'mlp/linear1/b'" in message
    assert "unexpected 'mlp/linear9/w'" in message
    assert "shape of 'mlp/linear0/w': state (5, 3), model (3, 5)" in message
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_strict_false_loads_what_matches_and_reports_the_rest():
    model = xg.nn.MLP([3, 5, 2], rng=0)
    other = xg.nn.MLP([3, 5, 2], rng=7).state_dict()
    partial = {"mlp/linear0/w": other["mlp/linear0/w"], "extra": np.ones(1)}
    missing, unexpected = model.load_state_dict(partial, strict=False)
    assert unexpected == ["extra"]
    assert missing == ["mlp/linear0/b", "mlp/linear1/w", "mlp/linear1/b"]
    np.testing.assert_array_equal(model.state_dict()["mlp/linear0/w"], other["mlp/linear0/w"])
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict({"mlp/linear0/w": np.zeros((1, 1))}, strict=False)


def test_bad_arguments_are_named():
    model = xg.nn.MLP([3, 5, 2], rng=0)
    with pytest.raises(TypeError, match="state_dict must be a dict"):
        model.load_state_dict([np.zeros(3)])
    with pytest.raises(TypeError, match="strict"):
        model.load_state_dict(model.state_dict(), strict="yes")


def test_a_list_of_the_wrong_shape_is_refused_before_anything_is_assigned():
    model = xg.nn.Linear(2, 3, rng=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"shape of 'linear/b': state \(2,\), model \(3,\)"):
        model.load_state_dict({"linear/w": np.zeros((2, 3)), "linear/b": [1.0, 2.0]})
    np.testing.assert_array_equal(model.state_dict()["linear/w"], before["linear/w"])

