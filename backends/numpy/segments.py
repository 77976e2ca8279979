"""The segment reductions ``segment_max``, ``segment_min`` and ``segment_prod``
(``xpgrad/ops/segment_rules.py``) for NumPy arrays: the rows sorted by id into blocks padded
with the reduction's identity, one ``np.max`` (``min``, ``prod``) per block width
(``scatter.Segments.reduce``, which the backend's scatter-add shares). One core, float32,
1e5 rows of 64 into 100 to 1e5 segments: a max took 15 to 24 ms (9 to 19 with sorted ids),
``np.maximum.at`` 95 to 210 and the generic doubling forward 85 to 210. The gradients are
the generic rules'. And ``embedding_scatter`` (``xpgrad/ops/nn.py``: rows added into ``n``
rows at ``ids``) where the ids never decrease (``embedding_bag``'s bags): one CSR product of
SciPy's over the rows in their order, without the scatter's sort and checks (float32, 2048 rows
of 64 into 129 bags: 93 -> ~40 us for ``embedding_bag``'s forward).

>>> import numpy as np
>>> out, _ = KERNELS["segment_max"].forward(np.array([[1.0], [4.0], [2.0]]),
...                                         ids=np.array([1, 1, 0]), num=3, identity=-np.inf,
...                                         fill=0.0, backend=None)
>>> out[:, 0].tolist()
[2.0, 4.0, 0.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.backend import Kernel

from .csr_rows import csr_matvecs
from .kernel_common import _FLOAT_SET
from .scatter import Segments, _non_decreasing


def _forward(reduction):
    def forward(data, *, ids, num, identity, fill, backend):
        if data.dtype.kind not in "iuf" or data.shape[0] == 0:
            return None
        rows = data.reshape(data.shape[0], -1)
        unique, reduced = Segments(ids, num).reduce(rows, reduction, identity)
        out = np.full((num, rows.shape[1]), fill, dtype=data.dtype)
        out[unique] = reduced
        return out.reshape((num,) + data.shape[1:]), None

    return forward


def _generic_vjp(g, saved, data, *, ids, num, identity, fill, backend):
    return (NotImplemented,)


def _sorted_scatter_forward(rows, *, ids, n, padding_idx, backend):
    """``embedding_scatter``'s zeros (n, dim) plus each row at its id, for ids that never
    decrease and lie in [0, n) (else None: the generic rule's scatter); the rows of one id
    added in their order, as ``np.add.at`` adds them."""
    matvecs = csr_matvecs()
    if padding_idx is not None or rows.__class__ is not np.ndarray or rows.ndim != 2 \
            or rows.dtype not in _FLOAT_SET or ids.ndim != 1 or ids.shape[0] != rows.shape[0] \
            or not ids.size or matvecs is None or ids.dtype.kind not in "iu" \
            or not (0 <= ids[0] and ids[-1] < n) or not _non_decreasing(ids):
        return None
    size, dim = rows.shape
    indptr = np.searchsorted(ids, np.arange(n + 1, dtype=ids.dtype)).astype(np.intp)
    out = np.zeros((n, dim), rows.dtype)
    matvecs(n, size, dim, indptr, np.arange(size, dtype=np.intp), np.ones(size, rows.dtype),
            np.ascontiguousarray(rows).reshape(-1), out.reshape(-1))
    return out, None


def _sorted_scatter_vjp(g, saved, rows, *, ids, n, padding_idx, backend):
    return (np.take(g, ids, axis=0),)


KERNELS = {name: Kernel(_forward(reduction), _generic_vjp)
           for name, reduction in (("segment_max", np.max), ("segment_min", np.min),
                                   ("segment_prod", np.prod))}
# the gradient gathers the output gradient's rows: nothing saved
KERNELS["embedding_scatter"] = Kernel(_sorted_scatter_forward, _sorted_scatter_vjp, saves=())
