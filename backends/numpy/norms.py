"""NumPy kernel of ``linalg_vector_norm`` (``xpgrad/ops/linalg_norms.py``) for the 2-norm over
the trailing axes of a C-contiguous float array (all of them included: a Frobenius norm): each
row's sum of squares by einsum's SIMD dot (``loss_kernels._row_dots``, in chunks along long
rows), where ``np.linalg.vector_norm`` squares into a new array and sums along short rows with
NumPy's pairwise sum (float32 (256, 256): its rows' norms 15 us against 45, the whole matrix's
9 against 25). The norms are saved; the vjp is one division, ``x / (norm / g)`` (0 where the norm
is 0, PyTorch's subgradient), where the generic rule makes four passes over ``x``.

>>> x = np.array([[3.0, 4.0], [0.0, 0.0]])
>>> out, saved = KERNELS["linalg_vector_norm"].forward(x, axis=(1,), keepdims=False, ord=2)
>>> out.tolist(), KERNELS["linalg_vector_norm"].vjp(np.ones(2), saved, x, axis=(1,),
...                                                  keepdims=False, ord=2)[0].tolist()
([5.0, 0.0], [[0.6, 0.8], [0.0, 0.0]])
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .kernel_common import _FLOAT_SET
from .loss_kernels import _row_dots


def _trailing(x, axis):
    """The number of entries over the trailing axes ``axis`` (None: all), or None where
    ``axis`` is not such a block."""
    axes = tuple(range(x.ndim)) if axis is None else axis
    if not axes or axes != tuple(range(x.ndim - len(axes), x.ndim)):
        return None
    m = 1
    for a in axes:
        m *= x.shape[a]
    return m


def _forward(x, *, axis, keepdims, ord):
    if ord != 2 or x.__class__ is not np.ndarray or x.dtype not in _FLOAT_SET or not x.size \
            or not x.flags.c_contiguous:
        return None
    m = _trailing(x, axis)
    if m is None:
        return None
    rows = x.reshape(-1, m)
    norms = np.sqrt(_row_dots(rows, rows))
    shape = x.shape[:x.ndim - (x.ndim if axis is None else len(axis))]
    out = norms.reshape(shape + (1,) * (x.ndim - len(shape)) if keepdims else shape)
    return out, norms


def _vjp(g, norms, x, *, axis, keepdims, ord):
    rows = x.reshape(norms.shape[0], -1)
    # x / (norm / g): the generic rule's g * x / norm in one pass (exactly so where g is 1);
    # an infinite divisor where the norm is 0 (PyTorch's 0) or g is
    with np.errstate(divide="ignore", invalid="ignore"):    # inf / inf: NaN, as the rule's
        divisors = np.where(norms == 0, np.inf, norms / np.reshape(g, norms.shape))
        return (np.divide(rows, divisors.astype(x.dtype, copy=False)[:, None])
                .reshape(x.shape),)


# the vjp reads the input and the saved norms
KERNELS = {"linalg_vector_norm": Kernel(_forward, _vjp, saves=(0,))}
