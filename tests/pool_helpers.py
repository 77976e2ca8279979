"""Helpers the max-pool kernel tests share (``test_pool_kernels.py``: Numba's kernel;
``test_numpy_max_pool_kernel.py``: NumPy's): sample data with ties, NaN and -inf, the kernel's
parameters for a geometry, and the channels-last layout."""
import numpy as np

import xpgrad as xg
from xpgrad.nn.pooling import _window_pads


def pool_data(shape, dtype, rng):
    """Small integers (many ties), a NaN and a -inf."""
    x = rng.integers(-2, 3, size=shape).astype(dtype)
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
