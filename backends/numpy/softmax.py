"""NumPy kernels of ``softmax`` and ``log_softmax`` along the last axis of a float32/float64
array (another axis, another dtype, an empty array: the generic rule).

The generic rules (``ops/activations.py``) make a new array for every step; here the forward
writes the shifted values, their exponentials and the result into one or two arrays made once,
the rows' maxima are picked by ``argmax``, and the row sums of the exponentials are a
matrix-vector product with ones (on 128x256 float32, 2.6 us against 6.6 for NumPy's sum; rows
longer than ``_DOT_MAX`` take chunked einsum sums, whose rounding does not grow with the row).
Softmax skips the shift where no row needs it (``_exponentials``). The backward of ``softmax``
dots ``g`` with the output row by row (``loss_kernels._row_dots``: einsum, no ``g * y`` array),
that of ``log_softmax`` sums ``g``'s rows the same way and scales the forward's exponentials
(kept, with their row sums) by them.

>>> import numpy as np
>>> x = np.array([[0.0, np.log(3.0)], [-np.inf, 0.0]])
>>> y, _ = KERNELS["softmax"].forward(x, axis=1)
>>> y.round(12).tolist()
[[0.25, 0.75], [0.0, 1.0]]
>>> z, saved = KERNELS["log_softmax"].forward(x, axis=1)
>>> KERNELS["log_softmax"].vjp(np.array([[1.0, 0.0], [0.0, 0.0]]), saved, x, axis=1)[0].round(2)
array([[ 0.75, -0.75],
       [ 0.  ,  0.  ]])
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .activations import _FLOATS
from .kernel_common import _exponentials, _row_maxima
from .kernel_common import _row_sums as _chunked_row_sums
from .loss_kernels import _row_dots

#: the longest rows summed by a matrix-vector product (OpenBLAS's float32 chains round with
#: the row's length; the chunked sums do not)
_DOT_MAX = 512


def _rows(x, axis):
    """``x`` as a C-contiguous (rows, n) array, or None where the kernel declines."""
    if getattr(x, "dtype", None) not in _FLOATS or not x.ndim or axis != x.ndim - 1 \
            or not x.size:
        return None
    return np.ascontiguousarray(x).reshape(-1, x.shape[-1])


def _row_sums(a):
    """The sums of C-contiguous ``a``'s rows, shaped (rows, 1): longer rows than ``_DOT_MAX``
    by chunked einsum (``kernel_common._row_sums``: 4096x1000 float32 0.58 -> 0.29 ms against
    NumPy's pairwise sum along the rows, as accurate)."""
    if a.shape[1] > _DOT_MAX:
        return _chunked_row_sums(a)
    return np.matmul(a, np.ones(a.shape[1], a.dtype)).reshape(-1, 1)


def _shifted(rows):
    """``rows`` less their maxima, in a new array (a row holding +inf, or only -inf: NaN,
    as PyTorch's, without NumPy's warning for inf - inf)."""
    with np.errstate(invalid="ignore"):
        return np.subtract(rows, _row_maxima(rows))


def _softmax_forward(x, axis):
    rows = _rows(x, axis)
    if rows is None:
        return None
    e = _exponentials(rows)[0]
    e /= _row_sums(e)
    y = e.reshape(x.shape)
    return y, y


def _softmax_vjp(g, y, x, axis):
    """``y (g - sum(g y))`` along the rows, ``y`` the forward's output."""
    n = y.shape[-1]
    g_rows = np.broadcast_to(g, y.shape).reshape(-1, n)
    y_rows = y.reshape(-1, n)
    out = np.subtract(g_rows, _row_dots(g_rows, y_rows).reshape(-1, 1))
    out *= y_rows
    return (out.reshape(y.shape),)


def _log_softmax_forward(x, axis):
    rows = _rows(x, axis)
    if rows is None:
        return None
    shifted = _shifted(rows)
    e = np.exp(shifted)
    sums = _row_sums(e)
    shifted -= np.log(sums)
    return shifted.reshape(x.shape), (e, sums)


def _log_softmax_vjp(g, saved, x, axis):
    """``g - softmax(x) sum(g)`` along the rows, the softmax as ``e (sum(g) / sums)`` from the
    forward's exponentials ``e`` and their row sums (one pass where ``exp(y)`` took two)."""
    e, sums = saved
    n = e.shape[-1]
    g_rows = np.ascontiguousarray(np.broadcast_to(g, x.shape)).reshape(-1, n)
    factor = _row_sums(g_rows)
    factor /= sums
    out = np.multiply(e, factor)
    np.subtract(g_rows, out, out=out)
    return (out.reshape(x.shape),)


KERNELS = {
    "softmax": Kernel(_softmax_forward, _softmax_vjp, saves=()),
    "log_softmax": Kernel(_log_softmax_forward, _log_softmax_vjp, saves=()),
}
