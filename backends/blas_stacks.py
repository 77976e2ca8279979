"""Products of two stacks of matrices, one gemm call (MKL's or NumPy's OpenBLAS, ``blas.py``)
per pair, its arguments made once for the stack: the per-example outer products of a vmapped
weight gradient (``xpgrad/batching/outer_products.py``), ``(B, k, 1) @ (B, 1, m)``. NumPy
writes those by a broadcast multiply whose inner loop runs row by row, or by a batched
``matmul`` that does not call BLAS for them: 64 examples of 784x256 float32, 13 ms of CPU time
by the multiply, 16 by ``matmul``, 7.5 by OpenBLAS's gemm call each (SkylakeX kernels, one
thread; PyTorch's ``bmm`` 7.5), with the bits of NumPy's multiply. Products of inner size 1 run
on NumPy's OpenBLAS where MKL is xpgrad's choice (``_outer_products_library``).

>>> import numpy as np
>>> a, b = np.ones((3, 40, 1), np.float32), np.full((3, 1, 30), 2.0, np.float32)
>>> out = stacked_matmul(a, b)
>>> out is None or (out.shape == (3, 40, 30) and bool(np.all(out == 2.0)))
True
"""
from __future__ import annotations

import numpy as np

from . import blas


def stacked_matmul(a, b):
    """A fresh C-ordered ``(B, k, m)`` array whose ``[i]`` is ``a[i] @ b[i]``, for 3-D NumPy
    arrays ``a`` ``(B, k, r)`` and ``b`` ``(B, r, m)`` of one float dtype that a gemm takes;
    None (nothing done) where no direct gemm is in use or it cannot take them. Operands that
    are not C-ordered are copied first (factors: smaller than the product they make).

    >>> import numpy as np
    >>> a = np.arange(24.0).reshape(2, 4, 3)
    >>> b = np.ones((2, 3, 5))
    >>> out = stacked_matmul(a, b)
    >>> out is None or bool(np.array_equal(out, np.matmul(a, b)))
    True
    """
    lib = blas._library()
    if lib is None or a.__class__ is not np.ndarray or b.__class__ is not np.ndarray \
            or a.ndim != 3 or b.ndim != 3 or a.dtype != b.dtype:
        return None
    count, k, r = a.shape
    if r == 1 and lib.name == "mkl":
        lib = _outer_products_library(lib)
    fn = lib.gemm.get(a.dtype)
    m = b.shape[2]
    if fn is None or b.shape[:2] != (count, r) or min(count, k, r, m) == 0:
        return None
    if max(k, r, m) > lib.int_max:
        return None
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    kinds = fn.argtypes
    head = tuple(kind(v) for kind, v in zip(kinds, (blas._ROW_MAJOR, blas._NO_TRANS,
                                                     blas._NO_TRANS, k, m, r)))
    lda, ldb, ldc = kinds[8](r), kinds[10](m), kinds[13](m)
    out = np.empty((count, k, m), a.dtype)
    size = a.itemsize
    address_a, address_b, address_out = a.ctypes.data, b.ctypes.data, out.ctypes.data
    if address_a % size or address_b % size or address_out % size:
        return None     # BLAS assumes aligned elements
    step_a, step_b, step_out = k * r * size, r * m * size, k * m * size
    for i in range(count):
        fn(*head, 1.0, address_a + i * step_a, lda, address_b + i * step_b, ldb, 0.0,
           address_out + i * step_out, ldc)
    return out


def _outer_products_library(mkl):
    """NumPy's OpenBLAS for products of inner size 1 where ``XPGRAD_BLAS`` leaves the choice
    to xpgrad (``auto``) and it loads, else ``mkl``: MKL's gemm writes them slower (64
    examples of 784x256 float32 into memory already mapped: 10.5 ms against OpenBLAS's 7.5, as
    fast as NumPy's ``fill``; PyTorch's ``bmm`` 7.5)."""
    if blas.choice() != "auto":
        return mkl
    try:
        return blas._load("openblas")
    except RuntimeError:
        return mkl
