"""The NumPy backend's ``cumulative_prod`` of float32/float64 along the last axis, by blocks of
``BLOCK``: every block's running products at once (``BLOCK - 1`` multiplies of strided columns,
each over all the blocks), then each block times the product of the blocks before it (a
running product of the blocks' totals, ``BLOCK`` times shorter). The gradient is the generic
rule's (``xpgrad/ops/scans.py``) from the saved output, its running sums by blocks
(``prefix_sums.py``) where ``x`` has no zero.

NumPy's ``cumprod`` multiplies one element at a time, waiting on the previous product (about 3
ns an element: float32 (256, 256), one core, 194 us along the last axis); by blocks 120. The
products are associated differently (within a block, then across blocks), so they agree with
NumPy's to rounding. Where a block's running product could overflow or underflow while the
whole one does not (its entries beyond [2^-100, 2^100], or an inf or NaN among them), NumPy's
``cumprod`` runs: the kernel declines by dtype and shape only, never by the values (an
``xg.function`` replay runs the step its trace took).

>>> import numpy as np
>>> a = np.linspace(0.5, 1.5, 64).reshape(2, 32)
>>> np.allclose(prefix_products(a, min_elements=0), np.cumprod(a, axis=1), rtol=1e-14)
True
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel
from xpgrad.ops.scans import _cumprod_vjp

from .prefix_sums import prefix_sums

#: elements per block (float32 (256, 256), one core: 8: 135 us, 16: 117, 32: 125)
BLOCK = 16

#: below this many elements ``np.cumprod`` is as fast
MIN_ELEMENTS = 4096

#: a block's running products stay within [1 / this, this] (or are 0)
_SAFE = 2.0 ** 100

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def prefix_products(a, min_elements=None):
    """``np.cumprod(a, axis=-1)`` by blocks (module docstring), or NumPy's where a block's
    products leave the safe range."""
    if not _takes(a, -1, min_elements):
        return np.cumprod(a, axis=-1)
    n = a.shape[-1]
    rows = a.reshape(-1, n)
    whole = n - n % BLOCK
    out = np.empty(rows.shape, a.dtype)
    blocks = rows[:, :whole].reshape(rows.shape[0], -1, BLOCK)
    into = out[:, :whole].reshape(blocks.shape)        # (a view: out is C-contiguous)
    into[:, :, 0] = blocks[:, :, 0]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):   # checked below
        for k in range(1, BLOCK):
            np.multiply(into[:, :, k - 1], blocks[:, :, k], out=into[:, :, k])
    size = np.abs(into)
    if not (np.all(size <= _SAFE) and np.all((size >= 1.0 / _SAFE) | (size == 0.0))):
        return np.cumprod(a, axis=-1)                   # (NaN fails both: NumPy's NaNs)
    before = np.cumprod(into[:, :-1, -1], axis=1)      # each block's predecessors' product
    into[:, 1:] *= before[:, :, None]
    for k in range(whole, n):                          # the last, partial block
        np.multiply(out[:, k - 1], rows[:, k], out=out[:, k])
    return out.reshape(a.shape)


def _takes(a, axis, min_elements=None) -> bool:
    """Whether the kernel takes an array of ``a``'s dtype, layout and shape along ``axis``."""
    return (a.__class__ is np.ndarray and a.dtype in _FLOATS and a.ndim >= 1
            and axis in (-1, a.ndim - 1) and a.flags.c_contiguous
            and a.size >= (MIN_ELEMENTS if min_elements is None else min_elements)
            and a.shape[-1] >= 2 * BLOCK)


def _cumulative_prod_forward(x, axis, include_initial, dtype=None):
    if include_initial or (dtype is not None and np.dtype(dtype) != x.dtype) \
            or not _takes(x, axis):
        return None
    out = prefix_products(x)
    return out, out


def _cumulative_prod_vjp(g, out, x, axis, include_initial, dtype=None):
    """The generic rule's: without a zero in ``x``, the running sums of ``g * out`` from the
    end (by blocks, ``prefix_sums``) over ``x``; with one, the rule itself."""
    if g.__class__ is not np.ndarray or g.dtype != x.dtype or g.shape != x.shape \
            or np.any(x == 0):
        return (_cumprod_vjp(np, g, out, x, axis, include_initial, dtype),)
    sums = prefix_sums(g * out, axis, reverse=True)
    if sums is None:
        sums = np.flip(np.cumsum(np.flip(g * out, axis), axis=axis), axis)
    sums /= x
    return (sums,)


KERNELS = {"cumulative_prod": Kernel(_cumulative_prod_forward, _cumulative_prod_vjp)}
