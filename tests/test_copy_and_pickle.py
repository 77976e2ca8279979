"""Models, Variables and optimizers survive ``copy.deepcopy`` and ``pickle`` as PyTorch's do
(target networks, best-model snapshots, multiprocessing): the copy computes on the same backend
instance, and a copied optimizer keeps its per-variable state."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


def _pickled(obj):
    return pickle.loads(pickle.dumps(obj))


COPIES = [copy.deepcopy, _pickled]


def _models(backend):
    rng = xg.random.default_rng(0, backend=backend)
    return {
        "linear": (xg.nn.Linear(5, 3, rng=rng, backend=backend), (4, 5)),
        "mlp": (xg.nn.MLP([5, 7, 3], rng=rng, backend=backend), (4, 5)),
        "lstm": (xg.nn.LSTM(5, 6, rng=rng, backend=backend), (2, 3, 5)),
        "gru": (xg.nn.GRU(5, 6, rng=rng, backend=backend), (2, 3, 5)),
    }


def _loss(model, x):
    out = model(x)
    if isinstance(out, tuple):
        out = out[0]
    return xg.sum(xg.tanh(out))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("copier", COPIES, ids=["deepcopy", "pickle"])
@pytest.mark.parametrize("name", ["linear", "mlp", "lstm", "gru"])
def test_a_copied_model_computes_on_the_same_backend(backend, copier, name):
    model, shape = _models(backend)[name]
    twin = copier(model)
    be = xg.get_backend(backend)
    assert all(v._backend is be for v in twin.trainable_variables)
    assert all(a is not b and a._data is not b._data
               for a, b in zip(model.trainable_variables, twin.trainable_variables))
    x = xg.asarray(np.random.default_rng(1).normal(size=shape).astype(np.float32),
                   backend=backend)
    with xg.GradientTape() as tape:              # an input of this backend meets the copy
        loss = _loss(twin, x)
    grads = tape.gradient(loss, twin.trainable_variables)
    with xg.GradientTape() as tape:
        expected = _loss(model, x)
    expected_grads = tape.gradient(expected, model.trainable_variables)
    assert float(loss) == float(expected)
    for g, e in zip(grads, expected_grads):
        np.testing.assert_array_equal(g.numpy(), e.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("copier", COPIES, ids=["deepcopy", "pickle"])
@pytest.mark.parametrize("make", [lambda: xg.optim.Adam(0.01),
                                  lambda: xg.optim.SGD(0.1, momentum=0.9),
                                  lambda: xg.optim.RMSprop(0.01)], ids=["adam", "sgd", "rms"])
def test_a_copied_model_and_optimizer_train_on_as_the_original(backend, copier, make):
    model, shape = _models(backend)["mlp"]
    opt = make()
    x = xg.asarray(np.random.default_rng(2).normal(size=shape).astype(np.float32),
                   backend=backend)

    def step(m, o):
        params = m.trainable_variables
        with xg.GradientTape() as tape:
            loss = _loss(m, x)
        o.apply_gradients(zip(tape.gradient(loss, params), params))

    for _ in range(3):
        step(model, opt)
    twin_model, twin_opt = copier((model, opt))
    assert twin_opt.iterations == opt.iterations == 3
    for _ in range(2):
        step(model, opt)
        step(twin_model, twin_opt)
    for a, b in zip(model.trainable_variables, twin_model.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_tensor_and_variable_pickle_with_their_values():
    v = xg.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    t = xg.asarray([1.0, 2.0])
    v2, t2 = _pickled((v, t))
    assert v2.name == "w" and v2.numpy().tolist() == v.numpy().tolist()
    assert t2.tolist() == [1.0, 2.0] and t2._backend is t._backend


@pytest.mark.parametrize("copier", COPIES, ids=["deepcopy", "pickle"])
def test_a_copy_made_after_a_tape_saw_the_original_is_another_tensor_to_tapes(copier):
    """The copy's gradient is its own: a target network copied from a model a tape has
    differentiated (copies kept the tape key, and the two gradients were summed)."""
    v = xg.Variable([1.0])
    with xg.GradientTape() as tape:
        tape.watch(v)
        _ = v * 2.0
    twin = copier(v)
    with xg.GradientTape() as tape:
        y = v * 2.0 + twin * 10.0
    assert [g.tolist() for g in tape.gradient(y, [v, twin])] == [[2.0], [10.0]]


def test_layers_cloned_from_a_differentiated_layer_have_their_own_gradients():
    layer = xg.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, dtype="float64", rng=0)
    x = xg.asarray(np.random.default_rng(0).standard_normal((3, 5, 8)))
    with xg.GradientTape() as tape:
        loss = xg.sum(layer(x) ** 2)
    tape.gradient(loss, layer.trainable_variables)
    stack = xg.nn.TransformerEncoder(layer, 2)           # two deep copies of the layer
    biases = [stack.layers[k].linear2.b for k in (0, 1)]
    with xg.GradientTape() as tape:
        loss = xg.sum(stack(x) ** 2)
    grads = tape.gradient(loss, biases)

    def loss_at(b, value):
        saved = b.numpy()
        shifted = saved.copy()
        shifted[0] = value
        b.assign(shifted)
        out = float(xg.sum(stack(x) ** 2).numpy())
        b.assign(saved)
        return out

    for b, g in zip(biases, grads):
        b0, eps = float(b.numpy()[0]), 1e-4
        numeric = (loss_at(b, b0 + eps) - loss_at(b, b0 - eps)) / (2 * eps)
        assert g.numpy()[0] == pytest.approx(numeric, rel=1e-4)
    assert grads[0].numpy()[0] != grads[1].numpy()[0]
