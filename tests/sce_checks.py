"""What the numba softmax cross-entropy kernel tests share (test_numba_short_rows.py,
test_numba_sce_registers.py): logits that reach every edge of the loops, and the comparison of
a kernel with the row-at-a-time one."""
from __future__ import annotations

import numpy as np


def awkward_logits(rng, n, classes, dt):
    """Normal logits times 3, with rows shifted by +-1e4, a masked class (-inf: the whole row
    when ``classes == 1``), a NaN, a +inf, a row of -inf, and an exponential that underflows
    to 0; ``n`` must exceed 8."""
    x = (rng.normal(size=(n, classes)) * 3).astype(dt)
    x[1] += 1e4
    x[5] -= 1e4
    x[2, 0] = -np.inf
    x[3, -1] = np.nan
    x[4, 0] = np.inf
    x[6, :] = -np.inf
    if classes > 1:
        x[8, 1] = -200.0
    return x


def assert_kernels_agree(kernel, block, x, target, tol, err_msg=""):
    """``kernel`` and the row kernel ``block`` give the same gradient (written over a buffer
    of 7s), row losses and returned float64 sum (NaN where the other has NaN) within ``tol``,
    at the mean's scale ``1 / len(x)``."""
    n = x.shape[0]
    scale = x.dtype.type(1.0 / n)
    grads = [np.full_like(x, 7.0) for _ in range(2)]
    losses = [np.empty(n, x.dtype) for _ in range(2)]
    totals = [kernel(x, target, grads[0], losses[0], scale),
              block(x, target, grads[1], losses[1], scale)]
    np.testing.assert_allclose(grads[0], grads[1], rtol=tol, atol=tol * float(scale),
                               err_msg=err_msg)
    np.testing.assert_allclose(losses[0], losses[1], rtol=tol, atol=tol, err_msg=err_msg)
    np.testing.assert_allclose(totals[0], totals[1], rtol=tol, err_msg=err_msg)
