"""The ``linalg_solve_triangular`` primitive (``xg.linalg.solve_triangular``, and the two solves
of ``cholesky_solve``) for one float32/float64 matrix ``A`` and a 2-D ``B`` on the host BLAS's
``trsm`` (``../triangular_solve.py``), where the generic rule masks the triangle and runs a
general ``solve`` (LU): 256x256 float32, one core, 1.8 ms down to about 0.3, and the gradient's
solve with ``A^T`` likewise. Batches, complex and a zero on the diagonal (the generic rule's
named LinAlgError) take the generic rule.

>>> import numpy as np
>>> got = KERNELS["linalg_solve_triangular"].forward(
...     np.array([[2.0, 0.0], [1.0, 4.0]]), np.array([[2.0], [5.0]]), upper=False, left=True,
...     unitriangular=False)
>>> got is None or got[0].tolist() == [[1.0], [1.0]]
True
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from ..triangular_solve import trsm
from .kernel_common import _FLOAT_SET


def solve_triangular_forward(a, b, *, upper, left, unitriangular):
    if a.__class__ is not np.ndarray or a.ndim != 2 or a.dtype not in _FLOAT_SET \
            or b.__class__ is not np.ndarray or b.ndim != 2 or b.dtype != a.dtype:
        return None
    if not unitriangular and not np.diagonal(a).all():
        return None
    x = trsm(a, b, upper=upper, left=left, unit=unitriangular)
    return None if x is None else (x, x)


def solve_triangular_vjp(g, x, needs, a, b, *, upper, left, unitriangular):
    """``gb = A^-T g`` (``g A^-T`` with ``left=False``) by one more ``trsm``, and
    ``ga = -gb x^T`` (``-x^T gb``) on the triangle that was read."""
    gb = trsm(a, g, upper=upper, left=left, transpose=True, unit=unitriangular) \
        if g.__class__ is np.ndarray and g.dtype == a.dtype else None
    if gb is None:
        return NotImplemented, NotImplemented
    if not needs[0]:
        return None, gb
    ga = np.matmul(gb, x.T) if left else np.matmul(x.T, gb)
    np.negative(ga, out=ga)
    shift = (1 if upper else -1) if unitriangular else 0
    ga = np.triu(ga, shift) if upper else np.tril(ga, shift)
    return ga, (gb if needs[1] else None)


# the rule reads A and the output, which forward keeps (B only for its shape)
KERNELS = {"linalg_solve_triangular": Kernel(solve_triangular_forward, solve_triangular_vjp,
                                             saves=(0,), needs=True)}
