"""What the fused NumPy kernels (``kernels.py``, ``loss_kernels.py``) and the backend's other
kernel modules share: the float dtypes they cover, the test for them, the product with an
incoming gradient that skips the usual seed of exactly 1, and an overflow-safe sigmoid.

>>> import numpy as np
>>> _float(np.ones(2, np.float32)), _float(np.ones(2, np.int64))
(True, False)
>>> _sigmoid(np.array([0.0, -1000.0])).tolist()
[0.5, 0.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.dtypes import FLOAT_NAMES

#: the native dtypes fused kernels cover (the Numba backend's too)
FLOATS = tuple(np.dtype(name) for name in FLOAT_NAMES)


_FLOAT_SET = frozenset(FLOATS)
#: 1 as a 0-d array of each of those dtypes: ``1 - d`` with it skips NumPy's slower path for a
#: Python scalar operand (same value: NumPy casts the scalar 1.0 to d's dtype)
_ONE = {dt: np.ones((), dt) for dt in FLOATS}


def _float(*arrays):
    for a in arrays:
        if getattr(a, "dtype", None) not in _FLOAT_SET:
            return False
    return True


def _times(g, saved):
    """``g * saved``, returning ``saved`` itself when ``g`` is exactly 1 (the usual seed)."""
    if g.ndim == 0 and g == 1:
        return saved
    return g * saved



def _sigmoid(x):
    # 1 / (1 + exp(-x)); exp overflows to inf below x ~ -88 (float32), giving 0 there (the true
    # value is subnormal), with no branches or np.where
    with np.errstate(over="ignore"):
        s = np.negative(x, out=np.empty_like(x))     # an array also for 0-d x, not a scalar
        np.exp(s, out=s)
        s += 1.0
        np.divide(1.0, s, out=s)
    return s

