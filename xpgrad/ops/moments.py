"""Means and variances that do not overflow: the fast formula first, and where a sum of
squares overflowed (a float32 variance over N entries passes inf once N * std**2 > 3.4e38,
e.g. std 1e19 over 1000 entries), the same formula again on ``x / s``, ``s`` a power of two
near each slice's largest magnitude (exact scaling), the results scaled back. Ordinary data
pays one finiteness check on the reduced statistics.

>>> import numpy as np
>>> import array_api_compat.numpy as xp
>>> x = np.array([1e19, -1e19, 2e19, -2e19], np.float32)
>>> f"{float(safe_variance(xp, x, (0,), False, lambda xp, a: xp.var(a, axis=0))):.3g}"
'2.5e+38'
"""
from __future__ import annotations

import numpy as np

from ..jit.traced import Traced
from ..jit.whole import run_quietly


def power_of_two_scale(xp, x, axes):
    """Per slice over ``axes`` (kept as length 1): the power of two at or below the largest
    magnitude; 1 where that is 0, inf or NaN (nothing to rescale)."""
    top = xp.max(xp.abs(x), axis=axes, keepdims=True)
    top = xp.where((top > 0) & (top < float("inf")), top, 1.0)
    return 2.0 ** xp.floor(xp.log2(top))


def overflowed(xp, stat):
    """Whether any entry of ``stat`` is inf or NaN (NaN inputs answer yes too: the rescaled
    pass then gives NaN again). A NumPy or CuPy array is asked; so is a value ``xg.function``
    traces (``_overflowed_in_trace``). A Tensor of a higher-order rule answers no (no branch
    on data there; it keeps the plain formula)."""
    if type(stat) in (np.ndarray,) or isinstance(stat, np.generic):
        return not np.isfinite(stat).all()
    if type(stat).__module__.partition(".")[0] == "cupy":
        return not bool(xp.all(xp.isfinite(stat)))
    if type(stat) is Traced and stat._tracer.active:
        return _overflowed_in_trace(xp, stat)
    return False


def _overflowed_in_trace(xp, stat):
    """``overflowed`` of the traced value's array. Yes: the rescaled way is recorded, right for
    any data. No: the plain one, with a guard that the statistics stay finite, so a replay
    where they overflow (or are NaN) runs eagerly and rescales, as an eager call does."""
    from ..jit.capture import _unrecorded

    tracer, real = stat._tracer, stat._real
    if _unrecorded(tracer, overflowed, xp, real):
        return True
    if real.size:
        largest = float(np.finfo(real.dtype).max)
        tracer.be.value_range(stat, (-largest, largest))       # records the guard
    return False


#: NumPy's warnings that the plain formula's overflow (and inf - inf after it) would give: the
#: statistic is checked, and recomputed where it overflowed. Off for the statistic's own step
#: only, also in an ``xg.function`` replay, whose guard then runs the call eagerly
_OVERFLOW_EXPECTED = {"over": "ignore", "invalid": "ignore"}


def safe_variance(xp, x, axes, keepdims, variance):
    """``variance(xp, x)`` (reducing ``axes``, kept as length 1 if ``keepdims``), or where it
    overflowed ``variance(xp, x / s) * s * s`` (still inf where the variance itself passes the
    dtype's largest number)."""
    v = run_quietly(xp, variance, x, **_OVERFLOW_EXPECTED)
    if not overflowed(xp, v):
        return v

    def rescaled(xp, a):
        s = _scale_like(xp, a, axes, keepdims)
        return variance(xp, a / _scale_like(xp, a, axes, True)) * s * s
    return run_quietly(xp, rescaled, x, **_OVERFLOW_EXPECTED)


def safe_std(xp, x, axes, keepdims, std):
    """``std(xp, x)`` as ``safe_variance``: ``std(xp, x / s) * s`` where ``std(xp, x)``
    overflowed."""
    v = run_quietly(xp, std, x, **_OVERFLOW_EXPECTED)
    if not overflowed(xp, v):
        return v

    def rescaled(xp, a):
        return std(xp, a / _scale_like(xp, a, axes, True)) * _scale_like(xp, a, axes, keepdims)
    return run_quietly(xp, rescaled, x, **_OVERFLOW_EXPECTED)


def _scale_like(xp, x, axes, keepdims):
    s = power_of_two_scale(xp, x, axes)
    if keepdims:
        return s
    return xp.reshape(s, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def mean_kept(xp, a, axes):
    """``a``'s mean over ``axes``, kept as length 1; 0 over slices of no entries (a
    normalization's rows of none, whose results are empty as PyTorch's: nothing reads the 0,
    and NumPy's mean would warn of an empty slice)."""
    if all(a.shape[i] for i in axes):
        return xp.mean(a, axis=axes, keepdims=True)
    return xp.sum(a, axis=axes, keepdims=True)


def below_float64(xp, dtype) -> bool:
    """Whether the real floating ``dtype`` is narrower than float64: NumPy's and CuPy's
    dtypes say it by their itemsize, the array API's only through ``isdtype``.

    >>> import array_api_strict as strict
    >>> below_float64(np, np.dtype("float32")), below_float64(strict, strict.float32)
    (True, True)
    >>> below_float64(np, np.dtype("float64")), below_float64(strict, strict.float64)
    (False, False)
    """
    itemsize = getattr(dtype, "itemsize", None)
    if itemsize is not None:
        return itemsize < 8
    return xp.isdtype(dtype, "real floating") and dtype != xp.float64


def centred_moments(xp, x, axes, correct_mean):
    """``(xc, var)``: ``x`` less its mean over ``axes``, and the biased variance (kept
    axes). With ``correct_mean``, below float64, the first mean's rounding is taken out by the
    mean of the centred values, which are small and so summed accurately."""
    xc = x - mean_kept(xp, x, axes)
    if correct_mean and below_float64(xp, x.dtype):
        xc = xc - mean_kept(xp, xc, axes)
    return xc, mean_kept(xp, xc * xc, axes)


def normalized(xp, x, axes, eps, correct_mean=False):
    """``(xhat, rstd)``: ``x`` normalized over ``axes`` and ``1 / sqrt(var + eps)``. Where
    the variance overflowed, from ``x / s``: ``rstd = 1 / (s * sqrt(var(x / s) + eps / s**2))``,
    right even where the variance itself passes the dtype's largest number."""
    with np.errstate(over="ignore", invalid="ignore"):
        xc, var = centred_moments(xp, x, axes, correct_mean)
        if not overflowed(xp, var):
            rstd = 1.0 / xp.sqrt(var + eps)
            return xc * rstd, rstd
        s = power_of_two_scale(xp, x, axes)
        xc, var = centred_moments(xp, x / s, axes, correct_mean)
        scaled_rstd = 1.0 / xp.sqrt(var + eps / s / s)
        return xc * scaled_rstd, scaled_rstd / s


__all__: list = []
