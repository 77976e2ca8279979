"""The values of fused NumPy losses on inputs past ``blocks.BLOCK_BYTES``, when no gradient is
asked for (and sigmoid MSE's gradient), computed block by block in scratch buffers that stay in
cache: the inputs cross memory once (4096x1000 float32, one core: sigmoid cross-entropy and
the sigmoid's squared error made 3 and 2 arrays of that size); and softmax cross-entropy's
value by unshifted exponentials, without the rows' maxima.

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
    """The row sums (n, 1) of ``exp(rows)`` unshifted (no row maxima: that pass took a third
    of the loss's time), or None where a sum overflowed, is NaN or is under ``_LEAST_SUM`` (the
    caller then shifts). The loss ``log(sum) - x_label`` is then taken in float64, as
    ``loss_kernels._unshifted_rows``' short rows. The exponentials are taken whole: by blocks
    of rows in cache they ran slower (4096x1000 float32 after another library's call evicted
    the cache, one core: 7.1 ms, whole 4.1, with the row maxima 6.2)."""
    with np.errstate(over="ignore"):
        sums = _row_sums(np.exp(rows))
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
