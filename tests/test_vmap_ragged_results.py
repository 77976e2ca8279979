"""Under xg.vmap, an operation whose result's length depends on the values (x[mask],
nonzero, repeat with per-example counts) and differs between the examples: a ValueError
naming the operation and saying that vmap needs one shape for every example (NumPy's stack
said only "all input arrays must have the same shape"). Same lengths still batch."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

RAGGED = np.array([[1.0, -1.0, 2.0], [1.0, 3.0, 2.0]])           # 2 and 3 positive entries


def _raises_ragged(name, call):
    with pytest.raises(ValueError, match=rf"{name} under xg.vmap: its result has shape") as e:
        call()
    message = str(e.value)
    assert "every example's must have the same shape" in message
    assert "xg.where(mask, x, 0)" in message
    assert "all input arrays" not in message


def test_boolean_mask():
    _raises_ragged("getitem", lambda: xg.vmap(lambda x: x[x > 0])(xg.asarray(RAGGED)))


def test_nonzero():
    _raises_ragged("nonzero", lambda: xg.vmap(lambda x: xg.nonzero(x > 0))(xg.asarray(RAGGED)))


def test_repeat_with_per_example_counts():
    counts = xg.asarray(np.array([[1, 2, 0], [2, 2, 1]]))
    _raises_ragged("repeat", lambda: xg.vmap(xg.repeat)(xg.asarray(RAGGED), counts))


def test_under_a_tape_and_xg_function_too():
    x = xg.asarray(RAGGED)
    mapped = xg.vmap(lambda x: x[x > 0])
    _raises_ragged("getitem", lambda: xg.grad(lambda t: xg.sum(mapped(t)))(x))
    _raises_ragged("getitem", lambda: xg.function(mapped)(x))


def test_equal_lengths_still_batch_with_gradients():
    data = np.array([[1.0, -1.0, 2.0], [-1.0, 3.0, 2.0]])           # 2 positive in each
    x = xg.asarray(data)
    out = xg.vmap(lambda x: x[x > 0])(x)
    np.testing.assert_array_equal(out.numpy(), [[1.0, 2.0], [3.0, 2.0]])
    grad = xg.grad(lambda t: xg.sum(xg.vmap(lambda x: x[x > 0] ** 2)(t)))(x)
    np.testing.assert_array_equal(grad.numpy(), np.where(data > 0, 2 * data, 0.0))


def test_the_suggested_fixed_size_form_works():
    x = xg.asarray(RAGGED)
    out = xg.vmap(lambda x: xg.where(x > 0, x, 0.0))(x)
    np.testing.assert_array_equal(out.numpy(), np.where(RAGGED > 0, RAGGED, 0.0))
