"""The copies a recurrent scan makes once per call, as Numba loops, faster than NumPy's strided
copies of the same (thread CPU time, min of 15 interleaved rounds on a shared machine: a
128x512 float32 transpose 36 us against 62; a (64, 50, 64) batch-first float32 sequence into
time-major rows 34 us against 41).

``transpose(w, out)``: ``out <- w.T``, the backward's ``dz_t @ w_hh.T`` operand, which BLAS
runs ~30% faster C-ordered than as a transposed view. ``to_time_major(x, xh)``:
``xh[t, b, :I] <- x[b, t]``, the input rows of ``lstm_layer``'s step products.
``one_hot_ids(x, ids)``: whether every input row is one-hot, and its hot columns.

>>> import numpy as np
>>> w, out = np.arange(6.0).reshape(2, 3), np.empty((3, 2))
>>> transpose(w, out); out.tolist()
[[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
"""
from __future__ import annotations

from numba import njit

from ._math import LOOP_OPTIONS

#: columns of ``w`` per pass of ``transpose``: one AVX-512 register of float32, so each of
#: ``w``'s rows is read a register at a time and ``out``'s rows are written in runs
_COLUMNS = 16


@njit(**LOOP_OPTIONS)
def transpose(w, out):
    """``out[j, i] <- w[i, j]`` for ``w`` (M, N) and ``out`` (N, M)."""
    M, N = w.shape
    for j0 in range(0, N, _COLUMNS):
        j1 = min(j0 + _COLUMNS, N)
        for i in range(M):
            wi = w[i]
            for j in range(j0, j1):
                out[j, i] = wi[j]


@njit(**LOOP_OPTIONS)
def to_time_major(x, xh):
    """``xh[t, b, :I] <- x[b, t]`` for ``x`` (B, T, I) and ``xh`` (T, B, >= I)."""
    B, T, I = x.shape
    for t in range(T):
        for b in range(B):
            src = x[b, t]
            dst = xh[t, b]
            for j in range(I):
                dst[j] = src[j]


@njit(**LOOP_OPTIONS)
def one_hot_ids(x, ids):
    """Whether each row ``x[b, t]`` of ``x`` (B, T, I) holds one 1 and zeros elsewhere; if so
    ``ids[t, b]`` (time-major) <- the column of its 1. Stops at the first other row."""
    B, T, I = x.shape
    one = x.dtype.type(1)
    zero = x.dtype.type(0)
    for b in range(B):
        for t in range(T):
            row = x[b, t]
            # counts and the 1's column summed over the row, no branch: the loop vectorizes
            # (a char-LM's 32x50 rows of 65: 85 -> 15 us against a scan that branched on each
            # value)
            ones = 0
            others = 0
            hot = 0
            for j in range(I):
                v = row[j]
                is_one = v == one
                ones += is_one
                others += (v != zero) and not is_one
                hot += j if is_one else 0
            if ones != 1 or others:
                return False
            ids[t, b] = hot
    return True
