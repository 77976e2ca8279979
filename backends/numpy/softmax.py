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
(kept, with their row sums) by them. Past ``blocks.BLOCK_BYTES``, the backwards and
log_softmax's forward run over blocks of whole rows (``_row_blocks``), which stay in cache
between the passes, and subtract columns in place by ``blas.subtract_column`` (4096x256
float32: softmax's vjp 1.10 -> 0.81 ms, log_softmax's forward 1.9 -> 1.6, its vjp 0.97 ->
0.85); softmax's forward, by blocks, was no faster (its exponential and division dominate).

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

from .. import blas
from . import blocks
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


def _shifted_into(out, rows):
    """``out`` <- ``rows`` less their maxima (a row holding +inf, or only -inf: NaN, as
    PyTorch's, without NumPy's warning for inf - inf), both C-ordered: a copy and
    ``blas.subtract_column`` (128x256 float32: 10.5 us, where NumPy's broadcast subtraction
    into a new array took 12.5; the same bits), or NumPy's subtraction in place."""
    np.copyto(out, rows)
    maxima = _row_maxima(rows)
    if blas.subtract_column(out, maxima):
        return out
    with np.errstate(invalid="ignore"):
        return np.subtract(out, maxima, out=out)


def _less_column(a, column):
    """``a -= column`` (``a`` C-ordered, ``column`` (rows, 1)): ``blas.subtract_column``, or
    NumPy's broadcast subtraction where that declines."""
    if not blas.subtract_column(a, column):
        np.subtract(a, column, out=a)


def _row_blocks(rows):
    """Slices of ``rows``' rows, of at most ``blocks.BLOCK_BYTES`` each (one row at least), or
    None where all of them fit in one."""
    per_row = rows.shape[1] * rows.itemsize
    step = max(blocks.BLOCK_BYTES // per_row, 1)
    n = rows.shape[0]
    if n <= step:
        return None
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


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
    parts = _row_blocks(y_rows) if g_rows.dtype == y.dtype else None
    if parts is None:
        out = np.subtract(g_rows, _row_dots(g_rows, y_rows).reshape(-1, 1))
        out *= y_rows
        return (out.reshape(y.shape),)
    out = np.empty(y_rows.shape, y.dtype)
    for part in parts:
        g_part, y_part, out_part = g_rows[part], y_rows[part], out[part]
        np.copyto(out_part, g_part)
        _less_column(out_part, _row_dots(g_part, y_part).reshape(-1, 1))
        out_part *= y_part
    return (out.reshape(y.shape),)


def _log_softmax_forward(x, axis):
    rows = _rows(x, axis)
    if rows is None:
        return None
    parts = _row_blocks(rows)
    if parts is None:
        shifted = _shifted_into(np.empty(rows.shape, rows.dtype), rows)
        e = np.exp(shifted)
        sums = _row_sums(e)
        _less_column(shifted, np.log(sums))
        return shifted.reshape(x.shape), (e, sums)
    shifted, e = np.empty(rows.shape, rows.dtype), np.empty(rows.shape, rows.dtype)
    sums = np.empty((rows.shape[0], 1), rows.dtype)
    for part in parts:
        out = _shifted_into(shifted[part], rows[part])
        np.exp(out, out=e[part])
        sums[part] = _row_sums(e[part])
        _less_column(out, np.log(sums[part]))
    return shifted.reshape(x.shape), (e, sums)


def _log_softmax_vjp(g, saved, x, axis):
    """``g - softmax(x) sum(g)`` along the rows, the softmax as ``e (sum(g) / sums)`` from the
    forward's exponentials ``e`` and their row sums (one pass where ``exp(y)`` took two)."""
    e, sums = saved
    n = e.shape[-1]
    g_rows = np.broadcast_to(g, x.shape).reshape(-1, n)
    parts = _row_blocks(e) if g_rows.dtype == e.dtype else None
    if parts is None:
        g_rows = np.ascontiguousarray(g_rows)
        factor = _row_sums(g_rows)
        factor /= sums
        out = np.multiply(e, factor)
        np.subtract(g_rows, out, out=out)
        return (out.reshape(x.shape),)
    out = np.empty(e.shape, e.dtype)
    for part in parts:
        g_part = np.ascontiguousarray(g_rows[part])
        factor = _row_sums(g_part)
        factor /= sums[part]
        np.multiply(e[part], factor, out=out[part])
        np.subtract(g_part, out[part], out=out[part])
    return (out.reshape(x.shape),)


KERNELS = {
    "softmax": Kernel(_softmax_forward, _softmax_vjp, saves=()),
    "log_softmax": Kernel(_log_softmax_forward, _log_softmax_vjp, saves=()),
}
