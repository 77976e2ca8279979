"""The NumPy backend's tanh kernel: its backward is ``g * (1 - y * y)`` bit for bit, in each
float dtype the kernels cover and for 0-d arrays (it subtracts from a 0-d one, not 1.0)."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.kernels import FLOATS, KERNELS


@pytest.mark.parametrize("shape", [(), (7,), (3, 5)])
@pytest.mark.parametrize("dtype", FLOATS, ids=str)
def test_tanh_vjp_is_g_times_one_minus_y_squared(dtype, shape):
    rng = np.random.default_rng(0)
    x = np.asarray(rng.normal(size=shape) * 2, dtype)
    g = np.asarray(rng.normal(size=shape), dtype)
    kernel = KERNELS["tanh"]
    y, saved = kernel.forward(x)
    (got,) = kernel.vjp(g, saved, x)
    expected = g * (1.0 - y * y)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_array_equal(got, expected)


def test_tanh_gradient_through_the_tape_matches_finite_differences():
    x = xg.asarray(np.linspace(-2, 2, 9), dtype=xg.float64, backend="numpy")
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.tanh(x))
    h = 1e-6
    xs = np.linspace(-2, 2, 9)
    fd = (np.tanh(xs + h) - np.tanh(xs - h)) / (2 * h)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), fd, rtol=1e-7, atol=1e-9)
