"""What the fused NumPy kernels (``kernels.py``, ``loss_kernels.py``) and the backend's other
kernel modules share: the float dtypes they cover, the test for them, the product with an
incoming gradient that skips the usual seed of exactly 1, an overflow-safe sigmoid, and the
rows' maxima and exponentials of softmax and softmax cross-entropy.

>>> import numpy as np
>>> _float(np.ones(2, np.float32)), _float(np.ones(2, np.int64))
(True, False)
>>> _sigmoid(np.array([0.0, -1000.0])).tolist()
[0.5, 0.0]
"""
from __future__ import annotations

import numpy as np

from xpgrad.dtypes import FLOAT_NAMES


try:        # einsum's C function: np.einsum's dispatch and wrapper cost 1.4 of its 3.5 us
    from numpy._core.multiarray import c_einsum as einsum          # (32, 10) float32 rows
except ImportError:                                                 # NumPy 1.x
    einsum = np.einsum

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
    """``g * saved``, returning ``saved`` itself when ``g`` is exactly 1 (the usual seed;
    compared as a Python number: NumPy's 0-d comparison took 2.5 us, ``item()`` 0.3)."""
    if g.ndim == 0 and g.item() == 1:
        return saved
    return g * saved



def _sigmoid(x):
    # 1 / (1 + exp(-x)); exp overflows to inf below x ~ -88 (float32), giving 0 there (the true
    # value is subnormal), with no branches or np.where
    with np.errstate(over="ignore"):
        return _sigmoid_into(x, np.empty_like(x))     # an array also for 0-d x, not a scalar


def _sigmoid_into(x, out):
    """``_sigmoid(x)`` written into ``out`` (NumPy's overflow warning is the caller's to
    silence); returns ``out``."""
    one = _ONE.get(out.dtype, 1.0)          # a 0-d array: 0.4 us less than 1.0 at 128x10
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += one
    np.divide(one, out, out=out)
    return out



#: ``_exponentials`` takes ``exp(x)`` unshifted where every row's maximum lies in [0, this]
_UNSHIFTED_MAX = 64.0


def _row_maxima(rows):
    """The maxima of ``rows``' rows, shaped (rows, 1): picked by ``argmax``, which runs 3-4x
    faster than ``max`` along rows (128x256 float32: 3.6 us against 11.0) and takes a NaN as
    the maximum, as ``max`` does."""
    picked = rows[np.arange(rows.shape[0]), rows.argmax(axis=1)]
    return picked.reshape(-1, 1)


def _exponentials(rows, unshifted=True):
    """``(e, maxima, shifted)``: ``e`` in a new array is ``exp`` of ``rows`` less their
    ``maxima`` (rows, 1) (``shifted`` True), or ``exp(rows)`` itself, one pass fewer (the
    subtraction of a column runs 2.5x slower than a plain pass), where ``unshifted`` allows it
    and every row's maximum lies in [0, ``_UNSHIFTED_MAX``]: nothing overflows (the sums
    included), and an exponential that underflows there underflows shifted too, so quotients
    by the rows' sums are the shifted ones to a few ulp (without the rounding of ``x - max``).
    A row holding +inf, or only -inf, gives NaN, as PyTorch's, without NumPy's warning.
    ``rows`` must hold entries (NumPy's ``min`` of nothing raises): the callers hand empty
    inputs to the generic rules (``tests/test_empty_kernel_inputs.py``).

    >>> e, m, shifted = _exponentials(np.array([[0.0, 1.0], [-1.0, -2.0]]))
    >>> e.round(3).tolist(), m.ravel().tolist(), shifted
    ([[0.368, 1.0], [1.0, 0.368]], [1.0, -1.0], True)
    """
    maxima = _row_maxima(rows)
    low, high = maxima.min(), maxima.max()
    if unshifted and low >= 0.0 and high <= _UNSHIFTED_MAX:       # NaN: False
        return np.exp(rows), maxima, False
    if -np.inf < low and high < np.inf:
        e = np.subtract(rows, maxima)
    else:                       # inf - inf: NaN
        with np.errstate(invalid="ignore"):
            e = np.subtract(rows, maxima)
    return np.exp(e, out=e), maxima, True


#: entries of a row that ``_row_sums`` adds in one einsum chain (about 2 ulp of float32 error)
_SUM_CHUNK = 256


def _row_sums(a):
    """The sums of the rows of a C-contiguous (n, c) array, shaped (n, 1): einsum's SIMD sum
    (3x NumPy's pairwise sum along rows), in even chunks of at most ``_SUM_CHUNK`` for longer
    rows whose sums are then added pairwise, so the rounding does not grow with the row (float32
    rows of exponentials: 1.6e-7 relative at 1000 and at 1e5 entries, against NumPy's 1.1e-7
    and einsum's 1.6e-6 over whole rows of 1e5).

    >>> _row_sums(np.arange(6.0).reshape(2, 3)).tolist()
    [[3.0], [12.0]]
    """
    n, c = a.shape
    if c < 2 * _SUM_CHUNK:
        return einsum("ij->i", a).reshape(n, 1)
    parts = -(-c // _SUM_CHUNK)
    size = c // parts
    k = size * parts
    out = einsum("ijk->ij", a[:, :k].reshape(n, parts, size)).sum(axis=1)
    if k < c:
        out += einsum("ij->i", a[:, k:])
    return out.reshape(n, 1)
