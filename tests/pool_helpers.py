"""Helpers the max-pool kernel tests share (``test_pool_kernels.py``: Numba's kernel;
``test_numpy_max_pool_kernel.py``: NumPy's): sample data with ties, NaN and -inf, the kernel's
parameters for a geometry, the channels-last layout, and the check of a backend's kernels
against the primitive's generic rule."""
import numpy as np

import xpgrad as xg
from xpgrad.nn.pooling import _window_pads
from xpgrad.ops.max_pooling import argmax_positions
from xpgrad.primitive import PRIMITIVES


def pool_data(shape, dtype, rng):
    """Small integers (many ties, zeros of both signs), a NaN and a -inf."""
    x = rng.integers(-2, 3, size=shape).astype(dtype)
    x[x == 0] *= rng.choice([-1, 1], size=int((x == 0).sum()))
    x.flat[3] = np.nan
    x.flat[-2] = -np.inf
    return x


def pool_params(x, kernel, stride, padding, dilation, ceil_mode):
    """The ``max_pool`` primitive's parameters for ``x`` and a window geometry."""
    pads, n = _window_pads(x.shape[2:], kernel, stride, tuple((p, p) for p in padding),
                           dilation, ceil_mode, "test")
    return {"kernel": kernel, "stride": stride, "dilation": dilation,
            "pads": tuple(pads), "n_out": n, "backend": xg.get_backend("numpy")}


def channels_last(a):
    """``a`` (N, C, ...) as a contiguous (N, ..., C) array."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def check_kernel_against_generic_rule(kernels, case, dtype, last):
    """A backend's ``max_pool`` and ``max_pool_positions`` kernels (``kernels``) against the
    generic rule on one geometry (``case``: x shape, kernel, stride, padding, dilation,
    ceil mode): values and positions exactly (and the ``value`` of a call no tape records,
    where the kernel has one), a C-contiguous result, and the gradient."""
    rng = np.random.default_rng(0)
    x = pool_data(case[0], dtype, rng)
    params = pool_params(x, *case[1:])
    positions = argmax_positions(np, x, params["kernel"], params["stride"], params["dilation"],
                                 params["pads"], params["n_out"])
    if last:
        x, positions, params = channels_last(x), channels_last(positions), \
            {**params, "last": True}
    prim, kernel = PRIMITIVES["max_pool"], kernels["max_pool"]
    want = prim.forward(np, x, **params)
    got, pick = kernel.forward(x, **params)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype and got.flags.c_contiguous
    np.testing.assert_array_equal(pick, positions)
    if kernel.value is not None:              # a call no tape records: the maxima alone
        alone, _ = kernel.value(x, **params)
        np.testing.assert_array_equal(alone, want)
        np.testing.assert_array_equal(np.signbit(alone), np.signbit(want))
        assert alone.dtype == want.dtype and alone.flags.c_contiguous
    no_backend = {k: v for k, v in params.items() if k != "backend"}
    at, _ = kernels["max_pool_positions"].forward(x, **no_backend)
    np.testing.assert_array_equal(at, positions)
    np.testing.assert_array_equal(PRIMITIVES["max_pool_positions"].forward(np, x, **no_backend),
                                  positions)
    g = rng.standard_normal(want.shape).astype(dtype)
    dx, = kernel.vjp(g, pick, x, **params)
    dense = prim.vjp(np, g, want, (True,), (x,), params)[0]
    assert dx.dtype == x.dtype and dx.shape == x.shape
    np.testing.assert_allclose(dx, dense, rtol=1e-6, atol=1e-6)
