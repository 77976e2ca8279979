"""NumPy's NaN-ignoring reductions, order statistics, ``np.pad`` and ``np.polyval`` on Tensors,
composed of xpgrad functions (so they stay on the tape): ``np.nansum``, ``np.nanmean``,
``np.nanvar``/``np.nanstd`` (``ddof``), ``np.nanmax``/``np.nanmin``, ``np.nanprod``,
``np.nancumsum``/``np.nancumprod``, ``np.nanargmax``/``np.nanargmin``,
``np.median``, ``np.percentile``, ``np.quantile`` and their ``nan*`` twins (the methods
"linear", NumPy's default, "lower", "higher", "nearest", "midpoint"), ``np.pad``
(``constant``, ``edge``, ``reflect``, ``symmetric``, ``wrap``) and ``np.polyval``.

Of integers, NumPy's dtypes: float64 (``np.median``, ``np.nanmean``, ``np.nanvar``, linear
interpolation), the input's where the method picks an entry ("lower", "higher", "nearest").

Gradients follow the composition: a NaN entry gets 0 from the NaN-ignoring reductions (as
``torch.nansum``), a median of an even count splits the gradient between the two middle values
(NumPy averages them; ``torch.median`` takes the lower one), a padded copy sends its gradient
back to the entry it copies.

>>> import numpy as np, xpgrad as xg
>>> x = xg.asarray([3.0, float("nan"), 1.0, 2.0], dtype=xg.float64)
>>> np.nansum(x).item(), np.median(xg.asarray([4.0, 1.0, 3.0])).item()
(6.0, 3.0)
>>> np.pad(xg.asarray([1.0, 2.0]), (1, 2), mode="reflect").tolist()
[2.0, 1.0, 2.0, 1.0, 2.0]
"""
from __future__ import annotations

import numpy as np

from .arguments import (_Unsupported, _axis_and_input, _cast, _fn, _keepdims, _norm_axes,
                        _numpy_float, _refuse, _tensor)
from .functions import numpy_function


# -- NaN-ignoring reductions ------------------------------------------------------------------
def _nan_reduction(np_name):
    """``np.nansum`` and friends: ``xg.nansum`` (``ops/nan_reductions.py``), ``where=`` and
    ``initial=`` not translated; ``np.nanmean`` of integers in float64, as NumPy's."""
    def adapter(a, axis=None, dtype=None, out=None, keepdims=False, **rest):
        _refuse(rest, f"np.{np_name}", where=True, initial=None)
        a = _tensor(a)
        if dtype is not None:
            a = _cast(a, dtype)
        elif np_name == "nanmean":
            a = _numpy_float(a)
        return _fn(np_name)(a, axis=_norm_axes(axis),
                            keepdims=_keepdims(keepdims, f"np.{np_name}"))
    return adapter


for _name in ("nansum", "nanprod", "nanmax", "nanmin", "nanmean"):
    numpy_function(_name)(_nan_reduction(_name))


def _nan_cumulative(xg_name, np_name, fill):
    """``np.nancumsum`` / ``np.nancumprod``: NaNs read as ``fill`` (0, 1), as NumPy's, so a NaN
    entry's gradient is 0; ``axis=None`` runs along the flattened input (xarray's
    ``.cumsum()`` and ``.cumprod()`` call these)."""
    def adapter(a, axis=None, dtype=None, out=None):
        a, axis = _axis_and_input(a, axis)
        if dtype is not None:
            a = _cast(a, dtype)
        if _fn("isdtype")(a.dtype, ("real floating", "complex floating")):
            a = _fn("where")(_fn("isnan")(a), fill, a)
        return _fn(xg_name)(a, axis=axis)
    return adapter


numpy_function("nancumsum")(_nan_cumulative("cumulative_sum", "nancumsum", 0.0))
numpy_function("nancumprod")(_nan_cumulative("cumulative_prod", "nancumprod", 1.0))


def _nan_arg_reduction(xg_name, np_name, fill):
    """``np.nanargmax`` / ``np.nanargmin``: the index ignoring NaNs (an integer Tensor, no
    gradient); a slice of NaNs only is NumPy's ValueError (xarray's ``.argmax()``,
    ``.idxmax()`` call these)."""
    def adapter(a, axis=None, out=None, *, keepdims=False):
        a = _tensor(a)
        if _fn("isdtype")(a.dtype, "real floating"):
            nan = _fn("isnan")(a)
            if bool(_fn("any")(_fn("all")(nan, axis=axis))):
                raise ValueError(f"np.{np_name}: All-NaN slice encountered")
            a = _fn("where")(nan, fill, a)
        return _fn(xg_name)(a, axis=axis, keepdims=_keepdims(keepdims, f"np.{np_name}"))
    return adapter


numpy_function("nanargmax")(_nan_arg_reduction("argmax", "nanargmax", -np.inf))
numpy_function("nanargmin")(_nan_arg_reduction("argmin", "nanargmin", np.inf))


def _nan_moment(np_name):
    """``np.nanvar`` / ``np.nanstd``: ``xg.nanvar`` / ``xg.nanstd`` with ``ddof`` (or
    ``correction``); integers in float64, as NumPy's; ``where=`` and ``mean=`` not
    translated."""
    def adapter(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                correction=None, **rest):
        _refuse(rest, f"np.{np_name}", where=True, mean=None)
        a = _tensor(a)
        a = _numpy_float(a) if dtype is None else _cast(a, dtype)
        return _fn(np_name)(a, axis=_norm_axes(axis), ddof=ddof, correction=correction,
                            keepdims=_keepdims(keepdims, f"np.{np_name}"))
    return adapter


for _name in ("nanvar", "nanstd"):
    numpy_function(_name)(_nan_moment(_name))


# -- order statistics ---------------------------------------------------------------------------
def _quantiles(a, q, axis, keepdims, what, median=False, method="linear", skip_nan=False,
               scale=1.0):
    """``q / scale`` (a number, a 1-D list or a Tensor) of ``a`` along ``axis`` by ``method``
    (``median``: np.median's middle value or mean of the two), NaN wherever the axis holds one
    (as NumPy) or, with ``skip_nan``, ignoring NaNs: ``xg.quantile``, ``xg.median`` and their
    ``nan*`` twins (``ops/quantiles.py``), for the arguments they share with NumPy."""
    from ..ops.quantiles import _METHODS, order_statistic

    a = _tensor(a)
    if not _fn("isdtype")(a.dtype, ("real floating", "integral")):
        raise _Unsupported(f"{what} of dtype {a.dtype}")
    if method not in _METHODS:
        raise _Unsupported(f"{what} with method={method!r}")
    if (q.ndim if hasattr(q, "ndim") else np.ndim(q)) > 1:
        raise _Unsupported(f"{what} with q of more than one dimension")
    axes = _norm_axes(axis)
    if 0 in (a.shape if axes is None else [a.shape[i] for i in np.atleast_1d(axes)]):
        raise _Unsupported(f"{what} of an empty axis")
    # NumPy's dtype for integers: float64, theirs where the method picks an entry
    integers = a.dtype if _fn("isdtype")(a.dtype, "integral") else None
    out = order_statistic(_numpy_float(a), q, axes, keepdims, what, method, skip_nan, median,
                          scale)
    picks = not median and method in ("lower", "higher", "nearest")
    return _cast(out, integers) if integers is not None and picks else out


def _order_statistic(np_name, scale, skip_nan=False):
    """``np.quantile`` (``scale`` 1) or ``np.percentile`` (100), and their ``nan*`` twins:
    NumPy's five classic methods ("linear", its default, "lower", "higher", "nearest",
    "midpoint"); the others (``weights=``, "weibull", ...) are NumPy's."""
    def adapter(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, **rest):
        _refuse(rest, f"np.{np_name}", weights=None, interpolation=None)
        return _quantiles(a, q, axis, _keepdims(keepdims, f"np.{np_name}"), f"np.{np_name}",
                          method=method, skip_nan=skip_nan, scale=scale)
    return adapter


numpy_function("quantile")(_order_statistic("quantile", 1.0))
numpy_function("percentile")(_order_statistic("percentile", 100.0))
numpy_function("nanquantile")(_order_statistic("nanquantile", 1.0, skip_nan=True))
numpy_function("nanpercentile")(_order_statistic("nanpercentile", 100.0, skip_nan=True))


@numpy_function("median")
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantiles(a, 0.5, axis, _keepdims(keepdims, "np.median"), "np.median", median=True)


@numpy_function("nanmedian")
def _nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    return _quantiles(a, 0.5, axis, _keepdims(keepdims, "np.nanmedian"), "np.nanmedian",
                      median=True, skip_nan=True)


# -- np.pad ------------------------------------------------------------------------------------
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_pairs(pad_width, ndim):
    """``pad_width`` as one ``(before, after)`` pair of ints per axis, as NumPy reads it."""
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"np.pad: pad_width must be integers, got {pad_width!r}")
    if np.any(widths < 0):
        raise ValueError(f"np.pad: pad_width must not be negative, got {pad_width!r}")
    return np.broadcast_to(widths, (ndim, 2)).tolist()


@numpy_function("pad")
def _pad(array, pad_width, mode="constant", **kwargs):
    a = _tensor(array)
    if not isinstance(mode, str) or mode not in _PAD_MODES:
        raise _Unsupported(f"np.pad with mode={mode!r}")
    values = kwargs.pop("constant_values", 0)
    _refuse(kwargs, "np.pad", reflect_type="even")
    if mode != "constant" and not np.all(np.asarray(values) == 0):
        raise TypeError(f"np.pad: constant_values is for mode='constant', not {mode!r}")
    constants = np.broadcast_to(np.asarray(values), (a.ndim, 2)) if mode == "constant" else None
    for axis, (before, after) in enumerate(_pad_pairs(pad_width, a.ndim)):
        if before == after == 0:
            continue
        n = a.shape[axis]
        if n == 0 and mode != "constant":
            raise ValueError(f"np.pad: cannot pad an empty axis with mode={mode!r}")
        # the padded index of each output position along this axis, NumPy's own rule
        source = np.pad(np.arange(n), (before, after), mode=mode,
                        **({"constant_values": -1} if mode == "constant" else {}))
        taken = _fn("take")(a, _fn("asarray")(np.maximum(source, 0), backend=a.backend),
                            axis=axis) if n else None
        if mode != "constant":
            a = taken
            continue
        shape = [1] * a.ndim
        shape[axis] = -1
        fill = np.pad(np.zeros(n), (before, after), constant_values=constants[axis].tolist())
        fill = _fn("reshape")(_fn("asarray")(fill, dtype=a.dtype, backend=a.backend),
                              tuple(shape))
        if taken is None:
            out_shape = list(a.shape)
            out_shape[axis] = before + after
            a = _fn("broadcast_to")(fill, tuple(out_shape)) + 0
            continue
        inside = _fn("reshape")(_fn("asarray")(source >= 0, backend=a.backend), tuple(shape))
        a = _fn("where")(inside, taken, fill)
    return a


# -- np.polyval --------------------------------------------------------------------------------
@numpy_function("polyval")
def _polyval(p, x):
    """Horner's rule; ``p`` a sequence or 1-D array (highest power first), as NumPy's."""
    coefficients = [p[i] for i in range(len(p))]
    if not coefficients:
        return _fn("zeros_like")(_tensor(x))
    y = coefficients[0] + 0 * _tensor(x)
    for c in coefficients[1:]:
        y = y * x + c
    return y


# -- np.trapezoid, np.cov, np.corrcoef ------------------------------------------------------
@numpy_function("trapezoid", "trapz")
def _trapezoid(y, x=None, dx=1.0, axis=-1):
    """``xg.trapezoid``; integers integrated in float64, as NumPy's."""
    y = _numpy_float(_tensor(y))
    return _fn("trapezoid")(y, x, dx=dx, axis=axis)


def _sample_matrix(xg_name):
    """``np.cov`` / ``np.corrcoef``: ``xg.cov`` / ``xg.corrcoef`` in float64 at least, as
    NumPy's (which computes ``result_type(m, y, float64)``); ``dtype=`` casts first."""
    def adapter(m, y=None, rowvar=True, *args, dtype=None, **kwargs):
        m = _tensor(m)
        y = None if y is None else _tensor(y)
        if dtype is None:
            dtype = np.result_type(*(np.dtype(str(a.dtype)) for a in (m, y) if a is not None),
                                   np.float64)
        y = None if y is None else _cast(y, dtype)
        return _fn(xg_name)(_cast(m, dtype), y, rowvar, *args, **kwargs)
    return adapter


numpy_function("cov")(_sample_matrix("cov"))
numpy_function("corrcoef")(_sample_matrix("corrcoef"))
