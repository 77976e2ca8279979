"""The row scatter-add ``target[ids] += rows`` (repeated ids accumulating) as one compiled
loop, SciPy's CSR-times-dense product, where SciPy is installed (it is no dependency of
xpgrad): ``scatter.add_rows`` takes it first, its NumPy paths where SciPy is missing.

The ids become a 0/1 matrix in CSR form, row ``i`` listing the positions of ``i`` among the
ids in their order (a stable sort), and SciPy's ``csr_matvecs`` adds ``1 * rows[j]`` into
``target[i]`` for each, in that order: the same additions in the same order as
``np.add.at`` (bitwise the same result), with no padded buffer and no per-element dispatch.
Float32, one core: 1024 rows of 256 into 256, 42 us against 156 by the padded sums; 2048
rows of 64 into 10000 (an embedding's gradient), 43 against 200; 4096 rows of 512 into 65,
226 against 690; along a middle axis, (64, 1000, 16) at 800 ids, 321 against 1241.

``csr_matvecs`` is SciPy's compiled routine behind ``csr_array @ dense`` (``scipy.sparse.
_sparsetools``, private): it is checked once on a small case on first use (with the import
of ``scipy.sparse``, about 80 ms, once a process), and anything else than the expected sums
(or a failed import) leaves the NumPy paths in charge.

>>> import numpy as np
>>> acc = np.zeros((3, 2))
>>> rows = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> csr_add_rows(acc[None], np.array([2, 0, 2]), rows[None])
True
>>> acc.tolist()
[[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]]
"""
from __future__ import annotations

import numpy as np

_FLOATS = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_MISSING = False
#: SciPy's ``csr_matvecs`` once found and checked; None before the first use, ``_MISSING``
#: where SciPy does not import or the routine does not add as expected
_MATVECS = None
#: behind a leading axis, slices of fewer elements than this are left to the NumPy paths: one
#: call per leading index costs more there (float32, (512, 256, 1) along the middle axis at
#: 300 sorted ids: 643 us, 334 by ``scatter._add_runs``; (16, 1000, 4) at 800 ids, 53 against
#: 142 by the padded sums)
MIN_SLICE = 4


def csr_matvecs():
    """SciPy's ``csr_matvecs(n_row, n_col, n_vecs, indptr, indices, data, x, y)`` (``y +=
    A @ x`` on raveled C-order arrays), or None where SciPy cannot be imported or the routine
    fails its check (looked up once)."""
    global _MATVECS
    if _MATVECS is None:
        _MATVECS = _checked_matvecs() or _MISSING
    return _MATVECS or None


def _checked_matvecs():
    try:
        from scipy.sparse import _sparsetools

        matvecs = _sparsetools.csr_matvecs
        target = np.zeros((2, 2))
        # rows 0 and 2 into target row 1, row 1 into target row 0
        matvecs(2, 3, 2, np.array([0, 1, 3]), np.array([1, 0, 2]), np.ones(3),
                np.array([1.0, 2.0, 10.0, 20.0, 100.0, 200.0]), target.reshape(-1))
    except Exception:       # noqa: BLE001 (an ImportError, or a changed private routine)
        return None
    return matvecs if target.tolist() == [[10.0, 20.0], [101.0, 202.0]] else None


def csr_add_rows(target, ids, rows) -> bool:
    """``target[:, ids] += rows`` for a C-contiguous, writeable 3-D float32/float64 ``target``
    (before, n, after), 1-D integer ``ids`` in ``[0, n)`` (else IndexError, nothing done)
    and ``rows`` (before, len(ids), after) of its dtype, by SciPy's CSR product (the
    module's docstring), one call per leading index; False (nothing done) without SciPy, for
    other arrays, and for slices of fewer than ``MIN_SLICE`` elements behind a leading axis.

    >>> import numpy as np
    >>> acc = np.ones((1, 2, 1), np.float32)
    >>> csr_add_rows(acc, np.array([1, 1]), np.full((1, 2, 1), 0.5, np.float32))
    True
    >>> acc.ravel().tolist()
    [1.0, 2.0]
    """
    if target.ndim != 3 or target.dtype not in _FLOATS or rows.dtype != target.dtype \
            or not (target.flags.c_contiguous and target.flags.writeable) or ids.ndim != 1 \
            or rows.shape != (target.shape[0], ids.size, target.shape[2]) \
            or (target.shape[0] > 1 and target.shape[2] < MIN_SLICE):
        return False
    matvecs = csr_matvecs()
    if matvecs is None:
        return False
    before, n, after = target.shape
    ids = ids.astype(np.intp, copy=False)
    order = _stable_order(ids, n)
    try:
        counts = np.bincount(ids, minlength=n)
    except ValueError:                  # a negative id: the compiled loop must never see it
        counts = None
    if counts is None or counts.size != n:
        raise IndexError(f"csr_add_rows: ids must lie in [0, {n}) (the target's axis 1), got "
                         f"ids from {int(ids.min())} to {int(ids.max())}")
    indptr = np.zeros(n + 1, np.intp)
    np.cumsum(counts, out=indptr[1:])
    ones = np.ones(ids.size, target.dtype)
    rows = np.ascontiguousarray(rows)
    for b in range(before):
        matvecs(n, ids.size, after, indptr, order, ones, rows[b].reshape(-1),
                target[b].reshape(-1))
    return True


def _stable_order(ids, n):
    """The positions of ``ids`` sorted by id, each id's in their order (stable): ``arange``
    where the ids never decrease, else ``scatter.stable_order``."""
    from .scatter import _non_decreasing, _stable_order as sort

    return np.arange(ids.size) if _non_decreasing(ids) else sort(ids, n)


__all__ = ["csr_add_rows", "csr_matvecs"]
