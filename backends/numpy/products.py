"""NumPy kernel of the ``prod`` reduction (``xpgrad/ops/reductions.py``) over the last axis of
a C-contiguous float array of rows of at least ``_TREE_MIN`` entries: the halves of the rows
multiplied entry by entry, then the halves of those, down to 8 columns that NumPy multiplies
along (pairwise products, each level one SIMD pass). NumPy's ``prod`` along rows is one
dependent chain of multiplications per row (float32 (256, 256): 52 us against 35 by halves);
the pairwise products round no worse. The gradient is the generic rule's.

>>> x = np.arange(1.0, 41.0).reshape(1, 40)
>>> out, _ = KERNELS["prod"].forward(x, axis=(1,), keepdims=False)
>>> bool(np.isclose(out[0], np.prod(x)))
True
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import _FLOAT_SET

#: rows shorter than this are NumPy's ``prod`` (the halving's calls cost more there)
_TREE_MIN = 32


def _halved_products(rows):
    """The product of each row of a 2-D array with at least 16 columns, by halving."""
    c = rows.shape[1]
    half = c // 2
    buf = np.multiply(rows[:, :half], rows[:, half:2 * half])
    if c % 2:
        buf[:, 0] *= rows[:, -1]
    width = half
    while width > 8:
        half = width // 2
        np.multiply(buf[:, :half], buf[:, half:2 * half], out=buf[:, :half])
        if width % 2:
            buf[:, 0] *= buf[:, width - 1]
        width = half
    return np.multiply.reduce(buf[:, :width], axis=1)


def _forward(x, *, axis, keepdims, dtype=None):
    if dtype is not None or x.__class__ is not np.ndarray or x.dtype not in _FLOAT_SET \
            or x.ndim == 0 or axis != (x.ndim - 1,) or x.shape[-1] < _TREE_MIN or not x.size \
            or not x.flags.c_contiguous:
        return None
    with np.errstate(all="ignore"):     # over/underflow and inf * 0: IEEE's, as np.prod's
        out = _halved_products(x.reshape(-1, x.shape[-1]))
    return out.reshape(x.shape[:-1] + ((1,) if keepdims else ())), None


def _vjp(g, saved, x, *, axis, keepdims, dtype=None):
    return (NotImplemented,)


KERNELS = {"prod": Kernel(_forward, _vjp)}
