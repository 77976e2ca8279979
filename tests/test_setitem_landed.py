"""The gradient of the values of ``x[key] = v`` / ``x.at[key].set(v)`` goes to the writes
that landed (the last of each repeated index): for a key of one integer array among whole
axes the landed writes are found over the indices alone (``indexing._landed``), not over an
array of ``x``'s shape; repeated, negative, 2-D and empty indices, every axis, float32 and
float64, against the last occurrence of each index counted in Python."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import indexing


def _last_writes(ids, n):
    """1 where an entry of ``ids`` is the last one naming its (wrapped) index, else 0."""
    flat = [i % n for i in np.ravel(ids).tolist()]
    last = {i: j for j, i in enumerate(flat)}
    return np.array([last[i] == j for j, i in enumerate(flat)], float).reshape(np.shape(ids))


KEYS = [  # (shape of x, axis of the array, the array's shape, what follows it)
    ((7, 3), 0, (9,), ()), ((4, 6, 2), 1, (5,), (Ellipsis,)), ((4, 6, 2), 2, (3,), ()),
    ((5, 4), 0, (2, 3), (slice(None),)), ((6,), 0, (0,), ()), ((5, 3), 1, (4,), ()),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis, ids_shape, after", KEYS)
def test_values_gradient_goes_to_the_writes_that_landed(shape, axis, ids_shape, after, dtype,
                                                         rng):
    n = shape[axis]
    ids = rng.integers(-n, n, size=ids_shape)
    key = (slice(None),) * axis + (ids,) + after
    region = np.zeros(shape)[key].shape
    x = xg.asarray(rng.standard_normal(shape).astype(dtype))
    v = xg.asarray(rng.standard_normal(region).astype(dtype))
    g = rng.standard_normal(shape).astype(dtype)
    with xg.GradientTape() as tape:
        tape.watch([x, v])
        y = x.at[key].set(v)
    gx, gv = tape.gradient(y, [x, v], output_gradients=xg.asarray(g))
    landed = _last_writes(ids, n).reshape((1,) * axis + ids_shape + (1,) * (len(shape) - axis - 1))
    np.testing.assert_array_equal(gv.numpy(), g[key] * landed)
    written = np.ones(shape, bool)
    written[key] = False
    np.testing.assert_array_equal(gx.numpy(), np.where(written, g, 0))
    want = x.numpy().copy()
    want[key] = v.numpy()
    np.testing.assert_array_equal(y.numpy(), want)


def test_only_keys_of_one_array_among_whole_axes_take_the_short_way():
    ids = np.array([1, 0])
    assert indexing._lone_array_axis((ids,)) == 0
    assert indexing._lone_array_axis((slice(None), ids, Ellipsis)) == 1
    for key in ((ids, ids), (1, ids), (slice(1, None), ids), (Ellipsis, ids),
                (np.array([True, False]),), (np.array(1),)):
        assert indexing._lone_array_axis(key) is None


def test_other_keys_keep_the_general_rule(rng):
    x = xg.asarray(rng.standard_normal((4, 5)))
    v = xg.asarray(rng.standard_normal(3))
    rows, cols = np.array([1, 1, 2]), np.array([0, 0, 4])
    with xg.GradientTape() as tape:
        tape.watch(v)
        loss = xg.sum(x.at[rows, cols].set(v) * xg.arange(20.0, dtype=xg.float64).reshape(4, 5))
    (gv,) = tape.gradient(loss, [v])
    np.testing.assert_array_equal(gv.numpy(), [0.0, 5.0, 14.0])   # the first (1, 0) is lost
