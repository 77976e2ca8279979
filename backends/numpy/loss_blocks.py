"""The values of fused NumPy losses on inputs past ``blocks.BLOCK_BYTES``, when no gradient is
asked for, computed block by block in scratch buffers that stay in cache: the inputs cross
memory once, and no array of the inputs' size is made (4096x1000 float32, one core: softmax
cross-entropy's value read the logits 3 times and wrote and read back their exponentials;
sigmoid cross-entropy and the sigmoid's squared error made 3 and 2 arrays of that size).

>>> import numpy as np
>>> x = np.zeros((300, 300), np.float32)
>>> sums, maxima, shifted = exponential_sums(x)
>>> float(sums[0, 0]), shifted
(300.0, False)
"""
from __future__ import annotations

import numpy as np

from . import blocks
from .kernel_common import _UNSHIFTED_MAX, _row_maxima, _row_sums


def fits_one_block(a) -> bool:
    """Whether ``a`` fits in one scratch block (its loss then takes the unblocked kernels)."""
    return a.size * a.itemsize <= blocks.BLOCK_BYTES


def exponential_sums(rows):
    """``(sums (n, 1), maxima (n, 1), shifted)``: the row sums of ``kernel_common.
    _exponentials(rows)``' exponentials, with its maxima and choice of shift, by blocks of whole
    rows (the same bits: each row's exponentials and chunked sum are computed as there)."""
    maxima = _row_maxima(rows)
    low, high = maxima.min(), maxima.max()
    shifted = not (low >= 0.0 and high <= _UNSHIFTED_MAX)         # NaN: shifted
    n, c = rows.shape
    step = max(blocks.BLOCK_BYTES // (c * rows.itemsize), 1)
    scratch = np.empty((min(step, n), c), rows.dtype)
    sums = np.empty((n, 1), rows.dtype)
    with np.errstate(invalid="ignore"):            # inf - inf: NaN, as _exponentials
        for start in range(0, n, step):
            part = slice(start, min(start + step, n))
            e = scratch[:part.stop - start]
            if shifted:
                np.subtract(rows[part], maxima[part], out=e)
                np.exp(e, out=e)
            else:
                np.exp(rows[part], out=e)
            sums[part] = _row_sums(e)
    return sums, maxima, shifted


def blocked_total(body, x, t, buffers):
    """The sum over blocks of ``body(x_part, t_part, *scratch)``, each the total of its block's
    losses (blocks of ``blocks.blocked``), added pairwise."""
    totals = []

    def run(x_part, t_part, *scratch):
        totals.append(body(x_part, t_part, *scratch))

    blocks.blocked(run, (x, t), buffers)
    return np.asarray(totals).sum()
