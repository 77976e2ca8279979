"""Piecewise-linear interpolation (``numpy.interp`` / ``jax.numpy.interp``), composed of
differentiable xpgrad operations, so its gradient reaches the query points ``x``, the knots
``xp`` and the values ``fp``, as JAX's does.

>>> import xpgrad as xg
>>> interp(xg.asarray([0.5, 2.5]), xg.asarray([0.0, 1.0, 2.0]), xg.asarray([0.0, 10.0, 0.0])).tolist()
[5.0, 0.0]
"""
from __future__ import annotations

from .._args import refuse_keywords
from ._define import as_tensor
from .reductions import _floating

__all__ = ["interp"]


def _ns():
    from .. import tensor_methods

    return tensor_methods._ns


def interp(x, xp, fp, left=None, right=None, period=None, **unexpected):
    """The piecewise-linear interpolant through ``(xp, fp)`` at ``x`` (``numpy.interp``,
    ``jax.numpy.interp``): ``xp`` 1-D and increasing, ``fp`` as long; points left of
    ``xp[0]`` give ``left`` (default ``fp[0]``), right of ``xp[-1]`` ``right`` (default
    ``fp[-1]``). Differentiable in ``x``, ``xp`` and ``fp`` by JAX's formula: at a knot the
    segment to its right is used, and a zero-width segment gives its left value without a NaN
    gradient. ``period`` is not supported (a TypeError): wrap ``x`` with ``x % period`` and
    extend the knots by one period on each side.

    >>> import xpgrad as xg
    >>> knots = xg.asarray([0.0, 1.0, 3.0], dtype=xg.float64)
    >>> values = xg.asarray([1.0, 3.0, 2.0], dtype=xg.float64)
    >>> xg.interp(xg.asarray([-1.0, 0.25, 2.0, 5.0], dtype=xg.float64), knots, values).tolist()
    [1.0, 1.5, 2.5, 2.0]
    >>> xg.grad(lambda t: xg.interp(t, knots, values))(xg.asarray(2.0, dtype=xg.float64)).item()
    -0.5
    """
    if unexpected:
        refuse_keywords("interp", unexpected)
    if period is not None:
        raise TypeError("interp: period is not supported; wrap x with x % period and extend "
                        "xp and fp by one period on each side")
    xg = _ns()
    x = _floating(as_tensor(x, "interp", "x"))
    xp = _floating(as_tensor(xp, "interp", "xp"))
    fp = _floating(as_tensor(fp, "interp", "fp"))
    if xp.ndim != 1 or fp.ndim != 1 or xp.shape[0] != fp.shape[0] or xp.shape[0] == 0:
        raise ValueError(f"interp: xp and fp must be 1-D and of one nonzero length, got shapes "
                         f"{tuple(xp.shape)} and {tuple(fp.shape)}")
    n = xp.shape[0]
    if n == 1:
        below, above = fp[0], fp[0]
        f = xg.broadcast_to(fp[0], x.shape) + 0 * x
    else:
        i = xg.clip(xg.searchsorted(xg.stop_gradient(xp), xg.stop_gradient(x), side="right"),
                    1, n - 1)
        f0, x0 = fp[i - 1], xp[i - 1]
        dx = xp[i] - x0
        tiny = xg.abs(dx) <= _spacing_of_eps(dx.dtype)      # JAX's threshold
        step = (x - x0) / xg.where(tiny, xg.asarray(1.0, dtype=dx.dtype), dx)
        f = xg.where(tiny, f0, f0 + step * (fp[i] - f0))
        below, above = fp[0], fp[n - 1]
    below = below if left is None else as_tensor(left, "interp", "left")
    above = above if right is None else as_tensor(right, "interp", "right")
    f = xg.where(x < xp[0], xg.astype(below, f.dtype), f)
    return xg.where(x > xp[n - 1], xg.astype(above, f.dtype), f)


def _spacing_of_eps(dtype) -> float:
    """``np.spacing(finfo(dtype).eps)``: the segment width below which JAX's ``interp`` takes
    the left value."""
    import numpy as np

    eps = np.asarray(_ns().finfo(dtype).eps, dtype=np.float32 if dtype.itemsize <= 4
                     else np.float64)
    return float(np.spacing(eps))
