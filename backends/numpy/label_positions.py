"""Where a batch's labelled logits lie, for the fused NumPy losses: flat positions of a
C-ordered (n, c) array's labelled entries, or the stacked ``(rows, labels)``; the row numbers
and row starts are kept per shape, read-only.

>>> import numpy as np
>>> _label_positions(np.zeros((3, 4)), np.array([1, 0, 3])).tolist()
[1, 4, 11]
"""
from __future__ import annotations

import numpy as np

#: ``np.arange(n)`` of the batch sizes met and the rows' flat starts of the shapes met (by
#: shape), read-only (a call costs ~1 us, and several in a step whose cache the products have
#: just emptied)
_ROWS: dict = {}
_ROWS_KEPT = 64         # sizes kept at most
_ROWS_LONGEST = 1 << 16


def _row_numbers(n):
    """``np.arange(n)``, for indexing only (read-only where it is kept)."""
    rows = _ROWS.get(n)
    return _kept(n, np.arange, n) if rows is None else rows


def _label_positions(logits, labels):
    """Where the labelled logits of (n, c) ``logits`` lie: their flat positions (1-D) where
    ``logits`` is C-contiguous (an index of a flat view: 3x faster than ``logits[rows,
    labels]``, and the gradient's C-ordered ``e`` takes the same positions), else the stacked
    ``(rows, labels)`` (2-D). uint64 labels are taken as intp first: with the int64 row
    positions they would promote to float64, which does not index."""
    if labels.dtype == np.uint64:
        labels = labels.astype(np.intp)
    if logits.flags.c_contiguous:
        return _row_starts(logits.shape) + labels
    return np.stack((_row_numbers(logits.shape[0]), labels))


def _row_starts(shape):
    """The flat positions of the rows of a C-ordered array of 2-D ``shape``, for indexing
    only (read-only where they are kept)."""
    starts = _ROWS.get(shape)
    return _kept(shape, _starts, shape) if starts is None else starts


def _starts(shape):
    return np.arange(shape[0]) * shape[1]


def _kept(key, make, arg):
    """``make(arg)``, kept under ``key`` (read-only) unless it is long."""
    rows = make(arg)
    if rows.size <= _ROWS_LONGEST:
        rows.flags.writeable = False
        if len(_ROWS) >= _ROWS_KEPT:
            _ROWS.clear()
        _ROWS[key] = rows
    return rows
