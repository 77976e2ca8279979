"""The host namespace's ``take_along_axis`` by raveled positions
(``backends/numpy/take_along.py``): NumPy's values for every axis, rank, dtype and index dtype,
negative indices, NumPy's IndexError out of range, the inputs it leaves to NumPy, and
``xg.take_along_axis``'s gradient against PyTorch."""
import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.backends.numpy import take_along

pytestmark = pytest.mark.usefixtures("numpy_default")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.bool_])
@pytest.mark.parametrize("shape, axis, taken", [((7, 9), 1, 4), ((7, 9), 0, 3), ((7, 9), -1, 12),
                                                ((3, 5, 6), 1, 2), ((3, 5, 6), 2, 6),
                                                ((3, 5, 6), 0, 1), ((11,), 0, 20),
                                                ((4, 1, 3), 2, 5), ((4, 0, 3), 0, 2)])
def test_gives_numpys_values(shape, axis, taken, dtype, rng):
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    ishape = list(shape)
    ishape[axis] = taken
    n = shape[axis]
    for index_dtype in (np.int64, np.int32, np.uint8):
        low = 0 if index_dtype == np.uint8 else -n
        ids = rng.integers(low, n, size=ishape).astype(index_dtype)
        got = take_along.take_along_axis(x, ids, axis=axis, min_size=0)
        want = np.take_along_axis(x, ids, axis=axis)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_out_of_range_and_the_inputs_left_to_numpy_keep_numpys_behaviour(rng):
    x = rng.standard_normal((6, 5))
    for bad in (5, -6):
        ids = np.zeros((6, 2), int)
        ids[3, 1] = bad
        with pytest.raises(IndexError):
            take_along.take_along_axis(x, ids, axis=1, min_size=0)
    ids = rng.integers(0, 5, (1, 3))                     # broadcasts over the rows
    np.testing.assert_array_equal(take_along.take_along_axis(x, ids, axis=1, min_size=0),
                                  np.take_along_axis(x, ids, axis=1))
    strided = x[:, ::-1]
    ids = rng.integers(0, 5, (6, 3))
    np.testing.assert_array_equal(take_along.take_along_axis(strided, ids, axis=1, min_size=0),
                                  np.take_along_axis(strided, ids, axis=1))
    assert not take_along._flat_fits(x, ids, 1, 10 ** 6)     # small: NumPy's


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xg_take_along_axis_gradient_matches_torch(dtype, rng):
    a = rng.standard_normal((64, 40)).astype(dtype)
    ids = rng.integers(-40, 40, (64, 25))
    g = rng.standard_normal(ids.shape).astype(dtype)
    x = xg.asarray(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.take_along_axis(x, xg.asarray(ids), axis=1)
    gx = tape.gradient(y, x, output_gradients=xg.asarray(g))
    t = torch.tensor(a, requires_grad=True)
    ty = torch.take_along_dim(t, torch.tensor(ids % 40), 1)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(gx.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-6)
