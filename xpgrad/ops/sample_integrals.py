"""Sums over samples that scientific code takes from NumPy, JAX and PyTorch: the trapezoidal
rule (``trapezoid``) and covariance and correlation matrices (``cov``, ``corrcoef``), composed
of differentiable xpgrad operations, so their gradients reach every sample (and the sample
points ``x`` of ``trapezoid``).

>>> import xpgrad as xg
>>> trapezoid(xg.asarray([1.0, 2.0, 3.0]), dx=0.5).item()
2.0
>>> cov(xg.asarray([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
[[1.0, -1.0], [-1.0, 1.0]]
"""
from __future__ import annotations

import numbers

from .._args import flag, refuse_keywords
from ..conversion import named_asarray
from ..tensor import Tensor
from ._define import as_tensor, norm_axis
from .reductions import _floating


def _ns():
    from .. import tensor_methods

    return tensor_methods._ns


def _along(ndim, axis, piece):
    """The index picking ``piece`` (a slice) on ``axis`` and everything elsewhere."""
    return (slice(None),) * axis + (piece,)


def trapezoid(y, x=None, dx=1.0, axis=-1, **unexpected):
    """The integral of samples ``y`` along ``axis`` by the trapezoidal rule (``numpy.trapezoid``,
    ``jax.numpy.trapezoid``, ``torch.trapezoid``): ``sum((x[i+1] - x[i]) (y[i+1] + y[i]) / 2)``,
    the points ``x`` a 1-D array as long as that axis or an array of ``y``'s shape, else evenly
    spaced by ``dx``. Integers are integrated in the default float. Differentiable in ``y``,
    ``x`` and ``dx``.

    >>> import xpgrad as xg
    >>> t = xg.linspace(0.0, 1.0, 101, dtype=xg.float64)
    >>> round(xg.trapezoid(t ** 2, t).item(), 5)
    0.33335
    >>> xg.trapezoid(xg.asarray([[1.0, 3.0], [2.0, 2.0]]), axis=0).tolist()
    [1.5, 2.5]
    """
    if unexpected:
        refuse_keywords("trapezoid", unexpected)
    xg = _ns()
    y = _floating(as_tensor(y, "trapezoid", "y"))
    if y.ndim == 0:
        raise ValueError("trapezoid: y must have at least one axis, got a 0-d array")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"trapezoid: axis must be an int, got {axis!r}")
    axis = norm_axis(axis, y.ndim)
    upper = y[_along(y.ndim, axis, slice(1, None))]
    lower = y[_along(y.ndim, axis, slice(None, -1))]
    if x is None:
        if isinstance(dx, Tensor) and dx.ndim:
            raise ValueError(f"trapezoid: dx must be a number or a 0-d array, got shape "
                             f"{dx.shape}; give the sample points as x")
        return xg.sum(upper + lower, axis=axis) * dx / 2
    x = x if isinstance(x, Tensor) else named_asarray(x, "trapezoid: x", backend=y.backend)
    x = _floating(x)
    if x.ndim == 1:
        if x.shape[0] != y.shape[axis]:
            raise ValueError(f"trapezoid: x has {x.shape[0]} points but y has {y.shape[axis]} "
                             f"along axis {axis}")
        steps = xg.reshape(xg.diff(x), (-1,) + (1,) * (y.ndim - 1 - axis))
    elif x.shape == y.shape:
        steps = xg.diff(x, axis=axis)
    else:
        raise ValueError(f"trapezoid: x of shape {x.shape} fits neither y's shape {y.shape} "
                         f"nor its axis {axis} (1-D, {y.shape[axis]} points)")
    return xg.sum(steps * (upper + lower), axis=axis) / 2


def cov(m, y=None, rowvar=True, bias=False, ddof=None, *, correction=None, **unexpected):
    """The covariance matrix of the variables in ``m``'s rows (``rowvar=False``: columns),
    each column an observation (``numpy.cov``, ``jax.numpy.cov``, ``torch.cov``): ``y``'s
    variables are appended to ``m``'s; normalized by ``N - 1``, or ``N`` with ``bias=True``,
    or ``N - ddof`` (``correction=``, torch's and the array API's name for it). A 0-d result
    for one variable, as NumPy's. Integers in the default float. Differentiable in ``m`` and
    ``y``. NumPy's ``fweights`` / ``aweights`` are not taken (a TypeError): weight the
    centred samples yourself.

    >>> import xpgrad as xg
    >>> round(xg.cov(xg.asarray([1.0, 2.0, 4.0])).item(), 6)
    2.333333
    >>> xg.cov(xg.asarray([[1.0, 2.0], [2.0, 4.0], [3.0, 7.0]]), rowvar=False).tolist()
    [[1.0, 2.5], [2.5, 6.333333492279053]]
    """
    if unexpected:
        refuse_keywords("cov", unexpected)
    xg = _ns()
    rowvar, bias = _numpy_flag(rowvar, "rowvar"), _numpy_flag(bias, "bias")
    rows = _variables(xg, m, rowvar, "m")
    if y is not None:
        extra = _variables(xg, y, rowvar, "y")
        if extra.shape[1] != rows.shape[1]:
            raise ValueError(f"cov: y has {extra.shape[1]} observations, m has {rows.shape[1]}")
        rows = xg.concat([rows, extra], axis=0)
    if correction is not None:
        if ddof is not None:
            raise TypeError("cov: give ddof or correction (torch's name for it), not both")
        ddof = correction
    if ddof is None:
        ddof = 0 if bias else 1
    elif isinstance(ddof, bool) or not isinstance(ddof, numbers.Integral):
        raise TypeError(f"cov: ddof must be an int, got {ddof!r}")
    count = rows.shape[1] - ddof
    if count <= 0:
        raise ValueError(f"cov: {rows.shape[1]} observations leave {count} degrees of "
                         f"freedom with ddof={ddof}")
    centred = rows - xg.mean(rows, axis=1, keepdims=True)
    result = centred @ xg.matrix_transpose(centred) / count
    return xg.reshape(result, ()) if result.shape == (1, 1) else result


def _numpy_flag(value, name):
    """``cov``'s switches as NumPy reads them: a bool, or the ints 0 and 1 (SciPy's
    ``spearmanr`` passes ``rowvar=0``); anything else is a TypeError naming ``name``."""
    if type(value) is int and value in (0, 1):
        return bool(value)
    return flag(value, name, "cov")


def _variables(xg, a, rowvar, name):
    """``a`` as a 2-D (variables, observations) array in floats; errors name ``name``."""
    a = _floating(as_tensor(a, "cov", name))
    if a.ndim > 2:
        raise ValueError(f"cov: {name} must be 1-D or 2-D, got shape {a.shape}")
    if a.ndim < 2:
        return xg.reshape(a, (1, -1))
    return a if rowvar else xg.matrix_transpose(a)


def corrcoef(x, y=None, rowvar=True, **unexpected):
    """Pearson correlation coefficients of the variables in ``x``'s rows (``numpy.corrcoef``,
    ``jax.numpy.corrcoef``, ``torch.corrcoef``): ``cov`` divided by the outer product of the
    standard deviations, clipped to [-1, 1] as NumPy's (a constant variable gives NaN, as
    NumPy's, without its warning). Differentiable in ``x`` and ``y``.

    >>> import xpgrad as xg
    >>> xg.corrcoef(xg.asarray([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])).tolist()
    [[1.0, -0.5], [-0.5, 1.0]]
    """
    if unexpected:
        refuse_keywords("corrcoef", unexpected)
    xg = _ns()
    c = cov(as_tensor(x, "corrcoef"), y, rowvar)
    if c.ndim == 0:
        return c / c
    std = xg.sqrt(xg.linalg.diagonal(c))
    return xg.clip(c / std[:, None] / std[None, :], -1.0, 1.0)


__all__ = ["trapezoid", "cov", "corrcoef"]
