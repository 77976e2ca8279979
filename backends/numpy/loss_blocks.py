"""The values of fused NumPy losses on inputs past ``blocks.BLOCK_BYTES``, when no gradient is
asked for, computed block by block in scratch buffers that stay in cache: the inputs cross
memory once, and no array of the inputs' size is made (4096x1000 float32, one core: softmax
cross-entropy's value read the logits 3 times and wrote and read back their exponentials;
sigmoid cross-entropy and the sigmoid's squared error made 3 and 2 arrays of that size).

>>> import numpy as np
>>> x = np.zeros((300, 300), np.float32)
>>> float(exponential_sums(x)[0, 0])
300.0
"""
from __future__ import annotations

import numpy as np

from . import blocks
from .kernel_common import _row_sums


def fits_one_block(a) -> bool:
    """Whether ``a`` fits in one scratch block (its loss then takes the unblocked kernels)."""
    return a.size * a.itemsize <= blocks.BLOCK_BYTES


#: the least row sum of unshifted exponentials ``exponential_sums`` accepts: a row's largest
#: term then is at least this / its length (normal in float32 to 1e31 classes), so exponentials
#: that underflow, shifted or not, weigh nothing in its sum
_LEAST_SUM = 1e-6


def exponential_sums(rows):
    """The row sums (n, 1) of ``exp(rows)`` unshifted, by blocks of whole rows (no maxima: the
    row maximum took one pass of three), or None where a sum overflowed, is NaN or is under
    ``_LEAST_SUM`` (the caller then shifts). The loss ``log(sum) - x_label`` is then taken in
    float64, as ``loss_kernels._unshifted_rows``' short rows."""
    n, c = rows.shape
    step = max(blocks.BLOCK_BYTES // (c * rows.itemsize), 1)
    scratch = np.empty((min(step, n), c), rows.dtype)
    sums = np.empty((n, 1), rows.dtype)
    with np.errstate(over="ignore"):
        for start in range(0, n, step):
            part = slice(start, min(start + step, n))
            e = scratch[:part.stop - start]
            np.exp(rows[part], out=e)
            sums[part] = _row_sums(e)
    if not (sums.min() >= _LEAST_SUM and sums.max() < np.inf):         # NaN: False
        return None
    return sums


def blocked_total(body, arrays, buffers, **params):
    """The sum over blocks of ``body(*parts, *scratch, **params)``, each the total of its
    block's losses (blocks of ``blocks.blocked``), added pairwise."""
    totals = []

    def run(*parts):
        totals.append(body(*parts, **params))

    blocks.blocked(run, arrays, buffers)
    return np.asarray(totals).sum()
