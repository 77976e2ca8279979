"""Host arrays that start on a 64-byte boundary (a cache line, one AVX-512 register), as
PyTorch allocates its CPU tensors.

NumPy's allocator guarantees 16 bytes. MKL's ``sgemm`` runs a dense layer's forward product
about 10% slower when the weight matrix does not start on a cache line (784x256 weights, batch
32, one thread: 92 vs 83 us; ``benchmarks/blas_products.py --alignment``), so what stays
allocated for many steps, a Variable's value and a compiled program's buffers, is allocated
here. Short-lived arrays keep NumPy's allocator.

>>> import numpy as np
>>> a = aligned_copy(np.arange(6.0).reshape(2, 3))
>>> a.ctypes.data % ALIGNMENT, a.flags.c_contiguous, a.tolist()
(0, True, [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]])
"""
from __future__ import annotations

import math

import numpy as np

#: bytes; every array made here starts at a multiple of it
ALIGNMENT = 64
_PLAIN_KINDS = frozenset("biufcmM")     # dtypes a byte buffer can be viewed as


def aligned_empty(shape, dtype) -> np.ndarray:
    """An uninitialized C-ordered array starting on an ``ALIGNMENT``-byte boundary (a view of
    a slightly longer byte buffer; empty arrays, object and structured dtypes: plain
    ``np.empty``).

    >>> aligned_empty((3, 5), np.float32).ctypes.data % ALIGNMENT
    0
    """
    dtype = np.dtype(dtype)
    shape = tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    if dtype.kind not in _PLAIN_KINDS or dtype.fields is not None or nbytes == 0:
        return np.empty(shape, dtype)
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def aligned_copy(a) -> np.ndarray:
    """A C-ordered copy of NumPy array ``a`` starting on an ``ALIGNMENT``-byte boundary."""
    out = aligned_empty(a.shape, a.dtype)
    np.copyto(out, a, casting="no")
    return out


__all__ = ["ALIGNMENT", "aligned_copy", "aligned_empty"]
