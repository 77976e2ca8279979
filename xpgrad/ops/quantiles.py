"""Order statistics under NumPy's and JAX's names: ``quantile``, ``percentile``, ``median`` and
their NaN-ignoring twins ``nanquantile``, ``nanpercentile``, ``nanmedian``. ``np.median(t)``
and ``np.quantile(t, q)`` on a Tensor (``numpy_dispatch/statistics.py``) run the same code.

Each sorts along the axis (``xg.sort``, whose gradient goes back through the permutation) and
reads the values at the positions ``q * (n - 1)``, interpolated by ``method`` (NumPy's
``"linear"`` default, ``"lower"``, ``"higher"``, ``"nearest"``, ``"midpoint"``; "nearest"
breaks a tie toward the even index, as NumPy, where JAX takes the lower one). The
gradient goes to the one or two entries read (a median of an even count splits it between
the two middle values; ``torch.median`` gives it all to the lower one). A NaN along the axis
makes the result NaN; the ``nan*`` functions skip NaNs (their entries get no gradient) and
give NaN for an all-NaN slice. A Tensor ``q`` is computed with, not read: ``xg.function``
replays it and ``xg.vmap`` maps over it; the gradient in it is JAX's (the slope between the
two values read, for "linear"), and where its values cannot be checked (traced, vmapped) one
outside [0, 1] gives NaN where JAX clips it.

>>> import xpgrad as xg
>>> x = xg.asarray([[4.0, 1.0, 3.0, 2.0], [0.0, 9.0, 8.0, float("nan")]])
>>> xg.median(x[0]).item(), xg.nanmedian(x, axis=1).tolist()
(2.5, [2.5, 8.0])
>>> xg.quantile(x[0], xg.asarray([0.0, 0.5]), method="lower").tolist()
[1.0, 2.0]
"""
from __future__ import annotations

import math

import numpy as np

from .._args import flag
from ..tensor import Tensor
from ._define import as_tensor, norm_axes
from .reductions import _floating

_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def _ns():
    from .. import tensor_methods

    return tensor_methods._ns


def order_statistic(a, q, axis, keepdims, what, method="linear", skip_nan=False,
                    median=False, scale=1.0):
    """``q / scale`` (fractions in [0, 1]: a number or 1-D) of ``a`` along ``axis`` (None, an
    int or a tuple); the result's first axis is ``q``'s, as NumPy's."""
    xg = _ns()
    a = as_tensor(a, what, "a")
    if not xg.isdtype(a.dtype, ("real floating", "integral")):
        raise TypeError(f"{what}: a must be real numbers, got dtype {a.dtype}")
    a = _floating(a)               # integers: the default float, as xg.mean (NumPy: float64)
    if method not in _METHODS:
        raise ValueError(f"{what}: method must be one of {', '.join(map(repr, _METHODS))}, "
                         f"got {method!r}")
    keepdims = flag(keepdims, "keepdims", what)
    scalar, q = _fractions(q, what, scale)
    ndim, axes = a.ndim, norm_axes(axis, a.ndim, what)
    a = _along_last(xg, a, axes)
    n = a.shape[-1]
    if n == 0:
        raise ValueError(f"{what}: cannot take it over an empty axis (a has shape "
                         f"{tuple(a.shape)})")
    ordered = xg.sort(a, axis=-1)                          # NaNs last
    outside = None
    if isinstance(q, Tensor):  # values unread (traced, vmapped): NaN where outside [0, 1]
        outside = xg.logical_not(xg.logical_and(q >= 0, q <= 1))
        q = xg.where(outside, 0.0, q)
    if skip_nan:       # per-slice counts, as tensors: no value is read (xg.function, vmap)
        counts = xg.sum(xg.astype(xg.logical_not(xg.isnan(a)), xg.int64), axis=-1,
                        keepdims=True)                     # (rest..., 1)
        empty = counts == 0
        # in floats: the array API does not promote integers with floats (NumPy: float64)
        last = xg.astype(xg.maximum(counts, 1) - 1, xg.float64)
        if not isinstance(q, Tensor):
            q = xg.asarray(q, backend=a.backend)
    else:
        last = n - 1
    below, above, frac = _neighbours(xg, ordered, q * last, last,
                                     "midpoint" if median else method)
    if median:         # np.median: the middle value, or the mean of the two middle ones
        with np.errstate(invalid="ignore"):    # -inf + inf: NaN, as np.median
            values = (below + above) * 0.5
    elif frac is None:
        values = below
    else:              # NumPy's _lerp: from the nearer end, so an infinite far end is kept out
        frac = xg.astype(frac, a.dtype) if isinstance(frac, Tensor) else xg.asarray(
            frac, dtype=a.dtype, backend=a.backend)
        with np.errstate(invalid="ignore"):
            diff = above - below
            values = xg.where(frac >= 0.5, above - diff * (1.0 - frac), below + diff * frac)
    if skip_nan:
        values = xg.where(empty, math.nan, values)
    else:              # a NaN anywhere along the axis makes every value NaN
        values = xg.where(xg.isnan(ordered[..., -1:]), math.nan, values)
    if outside is not None:
        values = xg.where(outside, math.nan, values)
    values = xg.moveaxis(values, -1, 0)                    # (len(q), rest...)
    if keepdims:
        kept = tuple(1 if axes is None or i in axes else s for i, s in enumerate(
            _original_shape(a, ndim, axes)))
        values = xg.reshape(values, (values.shape[0],) + kept)
    return values[0] if scalar else values


def _fractions(q, what, scale):
    """``(scalar, q / scale 1-D)``: a float64 NumPy array, or for a Tensor ``q`` a float64
    Tensor; ValueError outside [0, 1] (a Tensor's values are read for it only where they are
    at hand: not under ``xg.function``'s trace or ``xg.vmap``)."""
    from ..random_checks import _values

    if isinstance(q, Tensor):
        if not _ns().isdtype(q.dtype, ("real floating", "integral")):
            raise TypeError(f"{what}: q must be real numbers, got dtype {q.dtype}")
        if q.ndim > 1:
            raise ValueError(f"{what}: q must be a number or 1-D, got {q.ndim} dimensions")
        known = _values(q)
        if known is not None:
            _check_range(np.asarray(known, dtype=np.float64) / scale, what)
        fractions = _ns().astype(q, _ns().float64) / scale
        return q.ndim == 0, _ns().reshape(fractions, (-1,))
    try:
        q = np.asarray(q, dtype=np.float64) / scale
    except (TypeError, ValueError):
        raise TypeError(f"{what}: q must be a number or a 1-D sequence of numbers, got "
                        f"{q!r:.60}") from None
    if q.ndim > 1:
        raise ValueError(f"{what}: q must be a number or 1-D, got {q.ndim} dimensions")
    _check_range(q, what)
    return q.ndim == 0, np.atleast_1d(q)


def _check_range(q, what):
    if np.any(np.isnan(q)) or np.any(q < 0) or np.any(q > 1):
        raise ValueError(f"{what}: q must be in [0, 1] (percentiles in [0, 100]), got "
                         f"{q.tolist()}")


def _along_last(xg, a, axes):
    """``a`` with the reduced ``axes`` (None: all) merged into one last axis."""
    if axes is None:
        return xg.reshape(a, (-1,))
    rest = [i for i in range(a.ndim) if i not in axes]
    a = xg.permute_dims(a, tuple(rest) + axes)
    return xg.reshape(a, tuple(a.shape[:len(rest)]) + (-1,))


def _original_shape(a, ndim, axes):
    """The shape, before merging, that ``keepdims`` keeps: the kept axes' sizes in order."""
    rest = iter(a.shape[:-1])
    return tuple(1 if axes is None or i in axes else next(rest) for i in range(ndim))


def _neighbours(xg, ordered, position, last, method):
    """The sorted values below and above each ``position`` (``(len(q),)``, or
    ``(rest..., len(q))`` for per-slice counts; ``last``: the last index of a value), and the
    interpolation fraction (None where the method reads one value). ``position`` is a NumPy
    array, or a Tensor (a Tensor ``q``, or per-slice counts), whose indices are computed in
    xpgrad operations. As NumPy's, "linear" reads the next value even at a whole position
    (weighted 0: an infinity there gives NaN)."""
    ns = xg if isinstance(position, Tensor) else np
    low = ns.floor(position)
    if method == "lower":
        low = high = low
    elif method == "higher":
        low = high = ns.ceil(position)
    elif method == "nearest":
        low = high = ns.round(position)        # half to even, as NumPy's (JAX's: down)
    else:
        high = ns.minimum(low + 1, last) if method == "linear" else ns.where(
            position == low, low, low + 1)
    frac = None
    if method == "linear":
        frac = position - low
    elif method == "midpoint":
        frac = ns.where(high > low, 0.5, 0.0)
    return _read(xg, ordered, low), _read(xg, ordered, high), frac


def _read(xg, ordered, index):
    """``ordered``'s entries at ``index`` (whole numbers in floats) along the last axis,
    shaped ``(rest..., len(q))``."""
    if isinstance(index, Tensor):
        index = xg.astype(xg.stop_gradient(index), xg.int64)
    else:
        index = xg.asarray(index.astype(np.int64), backend=ordered.backend)
    if index.ndim == 1:
        return xg.take(ordered, index, axis=-1)
    return xg.take_along_axis(ordered, index, axis=-1)


def _public(name, doc, scale=1.0, skip_nan=False, median=False):
    if median:
        def fn(a, /, axis=None, *, keepdims=False, **unexpected):
            _refuse(name, unexpected)
            return order_statistic(a, 0.5, axis, keepdims, name, skip_nan=skip_nan,
                                   median=True)
    else:
        # q by keyword too (NumPy's, JAX's and torch's): xarray calls xp.nanquantile(a, q=q)
        def fn(a, /, q, axis=None, *, method="linear", keepdims=False, **unexpected):
            _refuse(name, unexpected)
            return order_statistic(a, q, axis, keepdims, name, method, skip_nan, scale=scale)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


def _refuse(name, unexpected):
    if unexpected:
        from .._args import refuse_keywords

        refuse_keywords(name, unexpected)


quantile = _public("quantile", """The ``q``-th quantiles (``q`` in [0, 1], a number or 1-D) of
``a`` along ``axis`` (None: all; an int or a tuple), as ``numpy.quantile`` /
``jax.numpy.quantile``: ``method`` one of "linear" (default), "lower", "higher", "nearest",
"midpoint"; the result's first axis is ``q``'s. Differentiable in ``a``.

>>> import xpgrad as xg
>>> xg.quantile(xg.asarray([[1.0, 2.0], [3.0, 5.0]]), [0.25, 1.0], axis=1).tolist()
[[1.25, 3.5], [2.0, 5.0]]
""")
percentile = _public("percentile", """``quantile(a, q / 100, ...)``: ``q`` in [0, 100].

>>> import xpgrad as xg
>>> xg.percentile(xg.asarray([1.0, 2.0, 3.0]), 50).item()
2.0
""", scale=100.0)
median = _public("median", """The median along ``axis`` (None: all; an int or a tuple): the
middle value, or the mean of the two middle ones, as ``numpy.median``; NaN where the axis
holds a NaN. The gradient goes to the middle value(s).

>>> import xpgrad as xg
>>> xg.median(xg.asarray([[3.0, 1.0], [2.0, 9.0]]), axis=0, keepdims=True).tolist()
[[2.5, 5.0]]
""", median=True)
nanquantile = _public("nanquantile", """``quantile`` skipping NaNs (``numpy.nanquantile``);
NaN for an all-NaN slice.

>>> import xpgrad as xg
>>> xg.nanquantile(xg.asarray([1.0, float("nan"), 3.0]), 0.5).item()
2.0
""", skip_nan=True)
nanpercentile = _public("nanpercentile", """``percentile`` skipping NaNs.

>>> import xpgrad as xg
>>> xg.nanpercentile(xg.asarray([1.0, float("nan"), 3.0]), 100).item()
3.0
""", scale=100.0, skip_nan=True)
nanmedian = _public("nanmedian", """``median`` skipping NaNs (``numpy.nanmedian``); NaN for
an all-NaN slice (NumPy warns there; xpgrad does not).

>>> import xpgrad as xg
>>> xg.nanmedian(xg.asarray([4.0, float("nan"), 1.0])).item()
2.5
""", median=True, skip_nan=True)

__all__ = ["quantile", "percentile", "median", "nanquantile", "nanpercentile", "nanmedian"]
