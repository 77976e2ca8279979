"""The Numba backend's ``index_add`` for whole rows: ``target[ids] += values`` with repeated
ids accumulating, the gradient of ``take(x, ids, axis=0)``, ``x[ids]`` and
``xg.nn.embedding``. NumPy's ``np.add.at`` pays a per-element dispatch (measured, float32,
one core: 800 rows of 64 into 65, 0.36 ms; 65536 rows of 256 into 100, 114 ms); this loop
adds whole rows (0.006 and 4.8 ms). Rows of one entry, and any other key, dtype or layout, go
to the NumPy backend's ``index_add``.

>>> import numpy as np
>>> acc = np.zeros((3, 2))
>>> add_rows(acc, (np.array([2, 0, 2]),), np.ones((3, 2)))
True
>>> acc.tolist()
[[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._losses import FLOATS
from ._math import LOOP_OPTIONS


@njit(**LOOP_OPTIONS)
def index_add_rows(target, ids, values):
    """``target[ids[i]] += values[i]`` for each ``i``: 2-D C-contiguous ``target`` and
    ``values``, ``ids`` in ``[0, len(target))``."""
    for i in range(ids.shape[0]):
        row = target[ids[i]]
        v = values[i]
        for j in range(v.shape[0]):
            row[j] += v[j]


def _rows_key(key):
    """The 1-D integer array of a key that picks whole rows (``(ids,)``, ``(ids, ...)``,
    ``(ids, :, :)``), else None."""
    if not key or not isinstance(key[0], np.ndarray) or key[0].ndim != 1 \
            or key[0].dtype.kind not in "iu":
        return None
    for k in key[1:]:
        if not (k is Ellipsis or (isinstance(k, slice) and k == slice(None))):
            return None
    return key[0]


def add_rows(target, key, values) -> bool:
    """``target[key] += values`` through ``index_add_rows`` when ``key`` picks whole rows of a
    C-contiguous float32/float64 ``target``; False (nothing done) otherwise, and for arrays
    that are not NumPy's own (``xg.function``'s stand-ins: the compiled loop cannot be
    recorded, NumPy's ``np.add.at`` can)."""
    ids = _rows_key(key)
    if ids is None or type(target) is not np.ndarray or type(values) is not np.ndarray \
            or target.ndim < 1 or target.dtype not in FLOATS \
            or not target.flags.c_contiguous or values.dtype != target.dtype:
        return False
    n = target.shape[0]
    if values.shape != (ids.shape[0], *target.shape[1:]) or ids.shape[0] == 0 or n == 0:
        return False
    width = target.size // n
    if width == 1:
        # rows of one entry (a 1-D target: a mask's or a flat index's positions): NumPy's
        # 1-D ``np.add.at`` is faster than this loop (25k entries into 65536: 17 us against 37)
        return False
    if int(ids.min()) < 0 or int(ids.max()) >= n:
        return False                                  # np.add.at wraps or raises
    index_add_rows(target.reshape(n, width), np.ascontiguousarray(ids),
                   np.ascontiguousarray(values).reshape(ids.shape[0], width))
    return True
