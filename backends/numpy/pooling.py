"""The ``adaptive_max_pool`` primitive (``xg.nn.adaptive_max_pool1d`` / ``2d`` with windows of
several sizes) for float32/float64 NumPy arrays: the generic rule's search for each window's
maximum (``xpgrad.ops.adaptive_max_pooling.adaptive_argmax``, PyTorch's rule: the first of
tied maxima, the last NaN), done once: the positions are saved, and the backward adds each
window's gradient there with one ``bincount`` instead of searching again and scattering.

>>> import numpy as np
>>> y, pick = KERNELS["adaptive_max_pool"].forward(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]),
...                                                  out=(2,), backend=None)
>>> y.tolist(), pick.tolist()
([[[3.0, 5.0]]], [[[1, 3]]])
"""
from __future__ import annotations

import math

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops.adaptive_max_pooling import adaptive_argmax

from .kernel_common import FLOATS


def adaptive_max_pool_forward(x, *, out, backend):
    if x.dtype not in FLOATS or x.ndim not in (3, 4) or 0 in x.shape[2:]:
        return None
    rows = x.shape[:2]
    pick = adaptive_argmax(np, x, out)                            # (N, C, prod(out))
    y = np.take_along_axis(x.reshape(rows + (math.prod(x.shape[2:]),)), pick, axis=2)
    return y.reshape(rows + tuple(out)), pick


def adaptive_max_pool_vjp(g, pick, x, *, out, backend):
    rows, plane = x.shape[:2], math.prod(x.shape[2:])
    count = math.prod(rows)
    flat = (pick.reshape(count, math.prod(out)) + (np.arange(count) * plane)[:, None]).ravel()
    g = np.broadcast_to(g, rows + tuple(out)).reshape(-1)
    dx = np.bincount(flat, weights=g, minlength=count * plane)
    return (dx.astype(x.dtype, copy=False).reshape(x.shape),)


# the rule reads nothing but the saved positions (the input only for its shape and dtype)
KERNELS = {"adaptive_max_pool": Kernel(adaptive_max_pool_forward, adaptive_max_pool_vjp,
                                       saves=())}
