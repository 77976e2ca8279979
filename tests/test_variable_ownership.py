"""A Variable owns its value, as ``tf.Variable`` does: it copies what it is given
(``Variable(array)``, ``assign(array)``), and ``v.numpy()`` is a copy of the value at that
moment. Before, all three shared memory with the caller's arrays, and the optimizer's
in-place updates reached them: a ``best = v.numpy()`` snapshot kept changing with training,
and after ``v.assign(saved_weights)`` the optimizer trained ``saved_weights`` themselves."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

BACKENDS = ["numpy", "numba"]


def _sgd_step(opt, v, compiled=False):
    def step():
        with xg.GradientTape() as tape:
            loss = xg.sum(v * v)
        opt.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
    return xg.function(step) if compiled else step


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def test_the_array_given_to_the_constructor_is_copied(backend):
    given = np.ones(3, np.float32)
    v = xg.Variable(given, backend=backend)
    given[0] = 5.0
    np.testing.assert_array_equal(v.numpy(), [1.0, 1.0, 1.0])


def test_the_array_given_to_assign_is_copied(backend):
    v = xg.Variable(np.zeros(3, np.float32), backend=backend)
    given = np.ones(3, np.float32)
    v.assign(given)
    given[1] = 7.0
    np.testing.assert_array_equal(v.numpy(), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xg.function"])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_training_after_assign_leaves_the_assigned_array_alone(backend, compiled, optimizer):
    v = xg.Variable(np.ones((4, 3), np.float32), backend=backend)
    step = _sgd_step(getattr(xg.optim, optimizer)(learning_rate=0.1), v, compiled)
    step()
    step()                          # the optimizer's state exists, the program is traced
    saved = np.full((4, 3), 10.0, np.float32)
    v.assign(saved)
    step()
    np.testing.assert_array_equal(saved, np.full((4, 3), 10.0, np.float32))
    assert float(v.numpy()[0, 0]) < 10.0          # ... while the variable did train


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xg.function"])
def test_a_numpy_snapshot_does_not_follow_training(backend, compiled):
    v = xg.Variable(np.ones(3, np.float32), backend=backend)
    step = _sgd_step(xg.optim.SGD(learning_rate=0.1), v, compiled)
    step()
    best = v.numpy()
    before = best.copy()
    step()
    np.testing.assert_array_equal(best, before)
    assert not np.array_equal(v.numpy(), before)


def test_a_tensor_given_to_the_constructor_is_not_trained(backend):
    t = xg.ones((3,), backend=backend)
    view = t.numpy()
    v = xg.Variable(t)
    _sgd_step(xg.optim.SGD(learning_rate=0.1), v)()
    np.testing.assert_array_equal(t.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(view, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("source", ["constructor", "assign"])
def test_a_column_major_value_is_stored_row_major(backend, source):
    """So the Numba optimizer kernels (row-major only) take it, not the generic update."""
    value = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    if source == "constructor":
        v = xg.Variable(value, backend=backend)
    else:
        v = xg.Variable(np.zeros((2, 3), np.float32), backend=backend)
        v.assign(value)
    stored = np.asarray(v)
    assert stored.flags.c_contiguous
    np.testing.assert_array_equal(stored, value)


def test_in_place_operators_still_update_the_variable(backend):
    v = xg.Variable(np.ones(3, np.float32), backend=backend)
    v += 2.0
    v *= 3.0
    np.testing.assert_array_equal(v.numpy(), [9.0, 9.0, 9.0])
    assert isinstance(v, xg.Variable)


def test_a_plain_tensor_numpy_may_share_memory():
    """Tensors are immutable, so ``numpy()`` of a Tensor need not copy (as in TensorFlow and
    PyTorch); only a Variable's value changes under the caller's feet."""
    data = np.arange(3.0, dtype=np.float32)
    t = xg.asarray(data)
    assert np.shares_memory(t.numpy(), data)
