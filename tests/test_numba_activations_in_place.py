"""The Numba activation kernels' in-place backward (``Kernel.vjp_in_place``, which the tape uses
when nothing else holds the incoming gradient) against their ordinary backward and, through the
tape, against the NumPy backend; and the residuals they declare."""
import numpy as np
import pytest

import xpgrad as xg

pytest.importorskip("numba")
from xpgrad.backends.numba._activations import KERNELS  # noqa: E402

PARAMS = {"leaky_relu": {"negative_slope": 0.1},
          "elu": {"alpha": 1.5, "scale": 1.2, "input_scale": 0.5},
          "hardtanh": {"min_val": -0.5, "max_val": 2.0},
          "softplus_beta": {"beta": 1.5, "threshold": 4.0}}


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_backward_equals_the_backward_and_writes_into_g(name, dtype, threaded,
                                                                 monkeypatch):
    from xpgrad.backends.numba import _config

    if threaded:        # every size runs the block-parallel loops
        monkeypatch.setattr(_config, "PAR_MIN", 0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(37, 5)) * 3).astype(dtype)
    x[0, :3] = [0.0, -0.0, np.nan]
    kernel, params = KERNELS[name], PARAMS.get(name, {})
    out, saved = kernel.forward(x, **params)
    g = rng.normal(size=x.shape).astype(dtype)
    expected = kernel.vjp(g.copy(), saved, x, **params)[0]
    g_in = g.copy()
    got = kernel.vjp_in_place(g_in, saved, x, **params)[0]
    np.testing.assert_array_equal(got, expected)
    assert np.shares_memory(got, g_in)          # nothing the size of x allocated
    strided = np.repeat(g, 2, axis=1)[:, ::2]   # a non-contiguous g: still the right values
    np.testing.assert_array_equal(kernel.vjp_in_place(strided, saved, x, **params)[0], expected)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "log_sigmoid", "relu6"])
def test_the_output_alone_is_kept_and_gradients_match_numpy(name):
    assert KERNELS["hardtanh" if name == "relu6" else name].saves == ()
    rng = np.random.default_rng(1)
    data = rng.normal(size=(300, 7))            # above the size the tape keeps regardless
    grads = {}
    for backend in ("numpy", "numba"):
        x = xg.asarray(data, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = getattr(xg.nn, name)(x * 2.0)
            loss = xg.sum(y * y)
        grads[backend] = np.asarray(tape.gradient(loss, x).numpy())
    np.testing.assert_allclose(grads["numba"], grads["numpy"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_one_dimensional_backward_equals_the_two_dimensional_one(name):
    """1-D contiguous inputs skip the flattening views (the small-array fast path); strided
    ones do not: both give the values of the same entries laid out in 2-D."""
    rng = np.random.default_rng(1)
    x2 = (rng.normal(size=(6, 5)) * 3).astype(np.float32)
    g2 = rng.normal(size=x2.shape).astype(np.float32)
    kernel, params = KERNELS[name], PARAMS.get(name, {})
    out2, saved2 = kernel.forward(x2, **params)
    expected = kernel.vjp(g2.copy(), saved2, x2, **params)[0].reshape(-1)
    x, g = x2.reshape(-1), g2.reshape(-1)
    out, saved = kernel.forward(x, **params)
    got = kernel.vjp(g.copy(), saved, x, **params)[0]
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, expected)
    g_in = g.copy()
    got = kernel.vjp_in_place(g_in, saved, x, **params)[0]
    assert got.shape == x.shape and np.shares_memory(got, g_in)
    np.testing.assert_array_equal(got, expected)
    strided = np.repeat(g, 2)[::2]
    np.testing.assert_array_equal(kernel.vjp_in_place(strided, saved, x, **params)[0], expected)
