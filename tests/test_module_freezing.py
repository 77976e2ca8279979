"""``module.trainable = False`` freezes a layer as Keras' ``layer.trainable`` and PyTorch's
``requires_grad_(False)`` do: its Variables leave ``trainable_variables`` (so an optimizer
leaves them alone), gradients still flow through it, and ``xg.function`` retraces when it
changes. Before, setting the attribute did nothing and the layer went on training."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


class WithBuffer(xg.nn.Module):
    def __init__(self):
        super().__init__(name="buffered")
        self.dense = xg.nn.Linear(3, 2, rng=0)
        self.count = xg.Variable(np.zeros(2, np.float32), trainable=False, name="count")

    def forward(self, x):
        return self.dense(x) + self.count


def _train(model, x, y, steps, compiled=False):
    opt = xg.optim.SGD(0.1)

    def step(x, y):
        params = model.trainable_variables
        with xg.GradientTape() as tape:
            loss = xg.mean((model(x) - y) ** 2)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    fn = xg.function(step) if compiled else step
    for _ in range(steps):
        fn(x, y)
    return fn


def _data(backend):
    rng = np.random.default_rng(0)
    return (xg.asarray(rng.normal(size=(8, 4)).astype(np.float32), backend=backend),
            xg.asarray(rng.normal(size=(8, 1)).astype(np.float32), backend=backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_frozen_layer_keeps_its_weights_and_the_others_train(backend, compiled):
    model = xg.nn.MLP([4, 5, 5, 1], rng=0, backend=backend)
    x, y = _data(backend)
    model.layers[1].trainable = False                  # the middle layer
    before = [v.numpy() for v in model.variables]
    _train(model, x, y, 3, compiled)
    after = [v.numpy() for v in model.variables]
    names = [v.name for v in model.variables]
    for name, b, a in zip(names, before, after):
        if "linear1" in name:
            np.testing.assert_array_equal(a, b)
        else:                            # the first layer trains through the frozen one
            assert not np.array_equal(a, b), name


@pytest.mark.parametrize("backend", BACKENDS)
def test_freezing_between_compiled_calls_retraces(backend):
    model = xg.nn.MLP([4, 5, 1], rng=0, backend=backend)
    x, y = _data(backend)
    fn = _train(model, x, y, 3, compiled=True)
    frozen = model.layers[0]
    frozen.trainable = False
    w = model.variables[0].numpy()           # the frozen layer's weight
    fn(x, y)
    fn(x, y)
    np.testing.assert_array_equal(model.variables[0].numpy(), w)
    frozen.trainable = True
    fn(x, y)
    assert not np.array_equal(model.variables[0].numpy(), w)


def test_setting_trainable_reaches_every_submodule_and_buffers_stay_untrained():
    model = WithBuffer()
    # named after their paths in the model (the Linear's own names were linear/w, linear/b)
    assert [v.name for v in model.trainable_variables] == ["buffered/dense/w", "buffered/dense/b"]
    assert model.count.name == "count"                  # a name its user gave is kept
    model.trainable = False
    assert model.trainable_variables == [] and model.dense.trainable is False
    model.trainable = True
    assert model.dense.trainable is True
    assert [v.name for v in model.trainable_variables] == ["buffered/dense/w", "buffered/dense/b"]
    assert len(model.variables) == 3                   # frozen or not, all are kept


def test_a_shared_variable_of_a_frozen_layer_is_frozen():
    shared = xg.nn.Linear(2, 2, rng=0)

    class Twice(xg.nn.Module):
        def __init__(self):
            super().__init__(name="twice")
            self.a, self.b = shared, xg.nn.Linear(2, 2, rng=1)
            self.again = [shared]

        def forward(self, x):
            return self.b(self.a(x))

    model = Twice()
    shared.trainable = False
    assert [v.name for v in model.trainable_variables] == ["twice/b/w", "twice/b/b"]
    assert all(v is not shared.w for v in model.trainable_variables)


@pytest.mark.parametrize("value", [0, 1, "False", None])
def test_trainable_takes_only_a_bool(value):
    with pytest.raises(TypeError, match="trainable"):
        xg.nn.Linear(2, 2).trainable = value


def test_pytorchs_requires_grad_points_at_trainable():
    with pytest.raises(AttributeError, match="trainable = False"):
        xg.nn.Linear(2, 2).requires_grad_(False)
