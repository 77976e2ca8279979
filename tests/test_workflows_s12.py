"""The scripts PyTorch and Keras users write, run with xpgrad: resuming a run with dropout
exactly, reaching the data helpers, loading a torch ``nn.Sequential`` into a Sequential, and
the errors such scripts meet."""
from __future__ import annotations

import json

import numpy as np
import pytest

import xpgrad as xg

BACKENDS = [b for b in ("numpy", "numba") if b in xg.available_backends()]

X = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
Y = np.random.default_rng(1).integers(0, 3, size=40)


def _dropout_model(backend):
    rng = xg.random.default_rng(0, backend=backend)
    dropout_rng = xg.random.default_rng(7, backend=backend)
    model = xg.nn.Sequential(xg.nn.Linear(6, 16, rng=rng), xg.nn.ReLU(),
                             xg.nn.Dropout(0.3, rng=dropout_rng), xg.nn.Linear(16, 3, rng=rng))
    return model, xg.optim.Adam(xg.optim.CosineDecay(1e-2, 40)), dropout_rng


def _epoch(model, opt, order_rng):
    for start in range(0, len(X), 10):
        idx = order_rng.permutation(len(X))[start:start + 10]
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(X[idx]), Y[idx])
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_with_dropout_resumed_from_a_checkpoint_continues_exactly(backend, tmp_path):
    model, opt, _ = _dropout_model(backend)
    order = np.random.default_rng(3)
    for _ in range(4):
        _epoch(model, opt, order)
    uninterrupted = model.state_dict()

    model, opt, dropout_rng = _dropout_model(backend)
    order = np.random.default_rng(3)
    for _ in range(2):
        _epoch(model, opt, order)
    path = tmp_path / "ckpt.npz"
    xg.save_checkpoint(path, model, opt, metadata={
        "dropout_rng": dropout_rng.get_state(), "order_rng": order.bit_generator.state})

    model, opt, dropout_rng = _dropout_model(backend)       # "a new process"
    xg.load_checkpoint(path, model, opt)
    meta = xg.checkpoint_metadata(path)
    dropout_rng.set_state(meta["dropout_rng"])
    order = np.random.default_rng()
    order.bit_generator.state = meta["order_rng"]
    for _ in range(2):
        _epoch(model, opt, order)
    resumed = model.state_dict()
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_generator_state_round_trips_through_json_and_repeats_the_draws(backend):
    rng = xg.random.default_rng(5, backend=backend)
    rng.normal(size=3)
    state = json.loads(json.dumps(rng.get_state()))
    first = rng.uniform(size=4).numpy()
    other = xg.random.default_rng(0, backend=backend)
    other.set_state(state)
    np.testing.assert_array_equal(other.uniform(size=4).numpy(), first)
    rng.set_state(state)
    np.testing.assert_array_equal(rng.uniform(size=4).numpy(), first)


def test_get_state_is_a_copy():
    rng = xg.random.default_rng(0)
    state = rng.get_state()
    rng.normal(size=2)
    assert state != rng.get_state()


@pytest.mark.parametrize("bad, match", [
    (42, "state must be a dict"),
    ({"bit_generator": "MT19937", "state": {"key": [0], "pos": 0}}, "state"),
    ({"bit_generator": "PCG64"}, "state"),
])
def test_set_state_refuses_what_is_not_a_state_naming_it(bad, match):
    rng = xg.random.default_rng(0)
    before = rng.get_state()
    with pytest.raises((TypeError, ValueError), match=match):
        rng.set_state(bad)
    assert rng.get_state() == before


@pytest.mark.parametrize("module, name", [("data", "batches"), ("training", "TrainConfig")])
def test_the_data_helpers_and_the_training_loop_are_reached_from_import_xpgrad(module, name):
    import subprocess
    import sys

    code = f"import xpgrad as xg; print(callable(xg.{module}.{name}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_a_missing_attribute_of_xpgrad_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        xg.no_such_thing
