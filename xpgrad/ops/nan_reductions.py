"""NumPy's and JAX's reductions beyond the array API: the NaN-skipping ``nansum``, ``nanmean``,
``nanvar``, ``nanstd``, ``nanprod``, ``nanmax``, ``nanmin``, and the weighted mean
``average``. ``np.nansum(t)`` and
friends on a Tensor (``numpy_dispatch/statistics.py``) run these.

Compositions of differentiable functions: a NaN entry gets no gradient (as ``torch.nansum``
and JAX), an all-NaN slice is 0 for ``nansum``, 1 for ``nanprod`` and NaN for the others.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, float("nan")], [3.0, 5.0]])
>>> xg.nansum(x).item(), xg.nanmean(x, axis=1).tolist(), xg.nanmax(x, axis=0).tolist()
(9.0, [1.0, 4.0], [3.0, 5.0])
"""
from __future__ import annotations

import math

import numpy as np

from .._args import flag, refuse_keywords
from ..tensor import Tensor
from ._define import as_tensor, norm_axes
from .reductions import _correction, _floating


def _ns():
    from .. import tensor_methods

    return tensor_methods._ns


def _prepared(name, a, axis, keepdims, dtype, unexpected):
    if unexpected:
        refuse_keywords(name, unexpected)
    xg = _ns()
    a = as_tensor(a, name, "a")
    if dtype is not None:
        a = xg.astype(a, dtype)
    return xg, a, norm_axes(axis, a.ndim, name), flag(keepdims, "keepdims", name)


def _holds_no_nan(nan):
    """Whether the mask ``nan`` (of ``isnan``), a host array read eagerly, is all False; False
    under a trace (``xg.function``) or on a device, where the composition runs for any
    values. The plain reduction then equals the NaN-skipping one, gradient included."""
    raw = nan._data
    return raw.__class__ is np.ndarray and not raw.any()


def _nan_reduction(name, reduction, fill, empty_is_nan):
    def fn(a, /, axis=None, dtype=None, *, keepdims=False, **unexpected):
        xg, a, axes, keepdims = _prepared(name, a, axis, keepdims, dtype, unexpected)
        if not a.dtype.is_inexact:          # integers hold no NaN
            return getattr(xg, reduction)(a, axis=axes, keepdims=keepdims)
        nan = xg.isnan(a)
        if _holds_no_nan(nan):              # eagerly, no NaN: the plain reduction, no where
            return getattr(xg, reduction)(a, axis=axes, keepdims=keepdims)
        result = getattr(xg, reduction)(xg.where(nan, fill, a), axis=axes, keepdims=keepdims)
        if empty_is_nan:                    # an all-NaN slice is NaN, as NumPy's (it warns)
            result = xg.where(xg.all(nan, axis=axes, keepdims=keepdims), float("nan"), result)
        return result

    fn.__name__ = fn.__qualname__ = name
    return fn


nansum = _nan_reduction("nansum", "sum", 0.0, False)
nansum.__doc__ = """The sum over ``axis`` with NaNs taken as 0 (``numpy.nansum``); ``dtype=``
casts first. NaN entries get no gradient.

>>> import xpgrad as xg
>>> xg.nansum(xg.asarray([1.0, float("nan"), 2.0])).item()
3.0
"""
nanprod = _nan_reduction("nanprod", "prod", 1.0, False)
nanprod.__doc__ = """The product over ``axis`` with NaNs taken as 1 (``numpy.nanprod``).

>>> import xpgrad as xg
>>> xg.nanprod(xg.asarray([2.0, float("nan"), 3.0])).item()
6.0
"""
nanmax = _nan_reduction("nanmax", "max", -float("inf"), True)
nanmax.__doc__ = """The maximum over ``axis`` skipping NaNs (``numpy.nanmax``); NaN for an
all-NaN slice.

>>> import xpgrad as xg
>>> xg.nanmax(xg.asarray([2.0, float("nan"), 3.0])).item()
3.0
"""
nanmin = _nan_reduction("nanmin", "min", float("inf"), True)
nanmin.__doc__ = """The minimum over ``axis`` skipping NaNs (``numpy.nanmin``); NaN for an
all-NaN slice.

>>> import xpgrad as xg
>>> xg.nanmin(xg.asarray([2.0, float("nan"), 3.0])).item()
2.0
"""


def nanmean(a, /, axis=None, dtype=None, *, keepdims=False, **unexpected):
    """The mean over ``axis`` of the entries that are not NaN (``numpy.nanmean``); NaN for an
    all-NaN slice. NaN entries get no gradient.

    >>> import xpgrad as xg
    >>> xg.nanmean(xg.asarray([1.0, float("nan"), 2.0])).item()
    1.5
    """
    xg, a, axes, keepdims = _prepared("nanmean", a, axis, keepdims, dtype, unexpected)
    a = _floating(a)              # integers: the default float, as xg.mean (NumPy: float64)
    kept = xg.logical_not(xg.isnan(a))
    total = xg.sum(xg.where(kept, a, 0.0), axis=axes, keepdims=keepdims)
    count = xg.sum(xg.astype(kept, a.dtype), axis=axes, keepdims=keepdims)
    return total / xg.where(count == 0, float("nan"), count)      # 0 / 0 without a warning


def nanvar(a, /, axis=None, dtype=None, *, ddof=0, keepdims=False, correction=None,
           **unexpected):
    """The variance over ``axis`` of the entries that are not NaN (``numpy.nanvar``, with its
    ``ddof``, or the array API's name ``correction``): ``sum |a - m|**2 / (N - ddof)``, ``m``
    their mean, ``N`` their count; NaN where ``N - ddof <= 0`` (an all-NaN slice included),
    without NumPy's warning. NaN entries get no gradient. Integers give the default float, as
    ``xg.var`` (``np.nanvar`` of a Tensor gives NumPy's float64).

    >>> import xpgrad as xg
    >>> x = xg.asarray([[1.0, float("nan"), 3.0], [2.0, 2.0, 5.0]])
    >>> xg.nanvar(x, axis=1).tolist(), xg.nanvar(x, axis=1, ddof=1).tolist()
    ([1.0, 2.0], [2.0, 3.0])
    """
    xg, a, axes, keepdims = _prepared("nanvar", a, axis, keepdims, dtype, unexpected)
    ddof = _correction(0.0 if correction is None else correction, ddof or None)
    a = _floating(a)
    kept = xg.logical_not(xg.isnan(a))
    count = xg.sum(xg.astype(kept, a.real.dtype if a.dtype.is_complex else a.dtype),
                   axis=axes, keepdims=True)
    total = xg.sum(xg.where(kept, a, 0.0), axis=axes, keepdims=True)
    mean = total / xg.where(count == 0, 1.0, count)
    deviation = xg.where(kept, a - mean, 0.0)
    squares = xg.real(deviation * xg.conj(deviation)) if a.dtype.is_complex else \
        deviation * deviation
    sum_squares = xg.sum(squares, axis=axes, keepdims=keepdims)
    dof = count - ddof
    if not keepdims:
        dof = xg.reshape(dof, sum_squares.shape)
    return xg.where(dof > 0, sum_squares / xg.where(dof > 0, dof, 1.0), float("nan"))


def nanstd(a, /, axis=None, dtype=None, *, ddof=0, keepdims=False, correction=None,
           **unexpected):
    """The standard deviation over ``axis`` of the entries that are not NaN
    (``numpy.nanstd``): the square root of ``nanvar`` (same arguments). Where it is 0 its
    gradient is 0, as ``xg.std``'s.

    >>> import xpgrad as xg
    >>> xg.nanstd(xg.asarray([1.0, float("nan"), 3.0])).item()
    1.0
    """
    if unexpected:
        refuse_keywords("nanstd", unexpected)
    variance = nanvar(as_tensor(a, "nanstd", "a"), axis, dtype, ddof=ddof, keepdims=keepdims,
                      correction=correction)
    xg = _ns()
    zero = variance == 0
    return xg.where(zero, 0.0, xg.sqrt(xg.where(zero, 1.0, variance)))


def average(a, /, axis=None, weights=None, returned=False, *, keepdims=False, **unexpected):
    """The weighted mean ``sum(a * weights) / sum(weights)`` over ``axis`` (``numpy.average``,
    ``jax.numpy.average``); ``weights`` has ``a``'s shape or that of the reduced axes (a 1-D
    one along an int ``axis``); without weights, the mean. ``returned=True`` also returns the
    sum of the weights, broadcast to the result's shape. Differentiable in ``a`` and
    ``weights``. Weights that sum to 0 are a ZeroDivisionError, as NumPy's, where that can be
    told without waiting for a device (an eager call on numpy or numba); on a GPU and under
    ``xg.function`` they give NaN or +-inf, as JAX's, without a warning.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
    >>> xg.average(x, axis=1, weights=xg.asarray([3.0, 1.0])).tolist()
    [1.25, 3.25]
    >>> avg, total = xg.average(x, weights=x, returned=True)
    >>> avg.item(), total.item()
    (3.0, 10.0)
    """
    xg, a, axes, keepdims = _prepared("average", a, axis, keepdims, None, unexpected)
    returned = flag(returned, "returned", "average")
    a = _floating(a)
    if weights is None:
        result = xg.mean(a, axis=axes, keepdims=keepdims)
        total = xg.full_like(result, a.size / max(result.size, 1) if a.size else 0.0)
        return (result, total) if returned else result
    w = _weights(xg, a, weights, axes)
    if w.shape == a.shape:
        total = xg.sum(w, axis=axes, keepdims=keepdims)
    else:   # weights along the reduced axes: one sum of them, not one per result entry
        total = xg.sum(w, axis=axes, keepdims=True)
        total = total if keepdims else xg.reshape(total, ())
    result = _quiet_quotient(xg, _weighted_sum(xg, a, w, axes, keepdims), total)
    return (result, xg.broadcast_to(total, result.shape)) if returned else result


def _weighted_sum(xg, a, w, axes, keepdims):
    """``sum(a * w)`` over ``axes``; weights along the last axis alone as one matrix-vector
    product (no ``a * w`` written out: 256x256 float32, forward 45 -> 29 us, with both
    gradients 157 -> 120; the sums associate as BLAS adds them, equal to rounding)."""
    if w.shape != a.shape and axes == (a.ndim - 1,) and a.ndim >= 1 and a.dtype == w.dtype:
        product = xg.matmul(a, xg.reshape(w, (a.shape[-1],)))
        return xg.expand_dims(product, axis=-1) if keepdims else product
    return xg.sum(a * w, axis=axes, keepdims=keepdims)


def _quiet_quotient(xg, weighted, total):
    """``weighted / total``. A zero ``total`` is NumPy's ZeroDivisionError where the values
    are in host memory (an eager call on numpy or numba); elsewhere (a GPU array, whose reading
    waits for the device, an ``xg.function`` trace) it gives what the division gives, NaN or
    +-inf, without NumPy's RuntimeWarning."""
    zero = total == 0
    raw = zero._data
    if isinstance(raw, (np.ndarray, np.generic)):
        if raw.any():
            raise ZeroDivisionError("average: weights sum to zero, can't be normalized "
                                    "(as numpy.average)")
        return weighted / total
    infinity = xg.where(weighted > 0, math.inf, -math.inf)
    at_zero = xg.where(xg.logical_or(weighted == 0, xg.isnan(weighted)), math.nan, infinity)
    return xg.where(zero, at_zero, weighted / xg.where(zero, 1.0, total))


def _weights(xg, a, weights, axes):
    """``weights`` as a Tensor that broadcasts against ``a``; errors name the argument."""
    w = weights if isinstance(weights, Tensor) else xg.asarray(weights, backend=a.backend)
    if not w.dtype.is_inexact:
        w = xg.astype(w, a.dtype)
    if w.shape == a.shape:
        return w
    if axes is None:
        raise ValueError(f"average: weights of shape {w.shape} differ from a's {a.shape}; "
                         "give axis= for weights along some axes")
    along = tuple(a.shape[i] for i in axes)
    if w.shape != along:
        raise ValueError(f"average: weights of shape {w.shape} fit neither a's shape {a.shape} "
                         f"nor that of axis={axes if len(axes) > 1 else axes[0]} ({along})")
    return xg.reshape(w, tuple(a.shape[i] if i in axes else 1 for i in range(a.ndim)))


__all__ = ["nansum", "nanmean", "nanvar", "nanstd", "nanprod", "nanmax", "nanmin", "average"]
