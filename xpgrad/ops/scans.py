"""Scans along an axis: cumulative_sum, cumulative_prod (exact gradients where entries are
zero) and diff; ``xpgrad.ops.reductions`` re-exports them beside the reductions.

>>> import xpgrad as xg
>>> xg.cumulative_sum(xg.asarray([[1.0, 2.0], [3.0, 4.0]]), 0).tolist()
[[1.0, 2.0], [4.0, 6.0]]
"""
from __future__ import annotations

import builtins

from .. import dtypes as _dt
from .._args import flag, refuse_extra_positional, refuse_keywords
from ..primitive import Primitive, apply
from ._define import as_tensor, conj_if_complex, native_dtype, norm_axis
from .linalg_helpers import readable


def _along(ndim, axis, index):
    return tuple(index if i == axis else slice(None) for i in range(ndim))


def _reverse_cumsum(xp, a, axis):
    """``out[i] = sum(a[j] for j >= i)`` along ``axis``."""
    return xp.flip(xp.cumulative_sum(xp.flip(a, axis=axis), axis=axis), axis=axis)


def _cumsum(xp, x, axis, include_initial, dtype=None):
    return xp.cumulative_sum(x, axis=axis, dtype=dtype, include_initial=include_initial)


def _cumsum_vjp(xp, g, ans, x, axis, include_initial, dtype=None):
    if include_initial:
        g = g[_along(g.ndim, axis, slice(1, None))]
    return _reverse_cumsum(xp, g, axis)


def _cumprod(xp, x, axis, include_initial, dtype=None):
    return xp.cumulative_prod(x, axis=axis, dtype=dtype, include_initial=include_initial)


def _cumprod_vjp(xp, g, ans, x, axis, include_initial, dtype=None):
    # grad_i = sum_{j >= i} g_j prod_{l <= j, l != i} x_l, with no division by a zero: the
    # first two zeros of each line (at k < m) are replaced by ones in the running product and
    # their values xk, xm (0, but with their derivatives) multiplied back in where they
    # belong, so the rule is exact to second order also where x has zeros
    if include_initial:
        g = g[_along(g.ndim, axis, slice(1, None))]
        ans = ans[_along(ans.ndim, axis, slice(1, None))]
    if x.dtype != g.dtype:
        x = xp.astype(x, g.dtype)
    x = conj_if_complex(xp, x)
    zero = x == 0
    if readable(x) and not bool(xp.any(zero)):
        # no zero (the usual case; not decided while xg.function traces): sum_{j >= i} g_j
        # cumprod(x)_j / x_i, a third of the passes below
        return _reverse_cumsum(xp, g * conj_if_complex(xp, ans), axis) / x
    seen = xp.cumulative_sum(xp.astype(zero, xp.int64), axis=axis)
    first = xp.logical_and(zero, seen == 1)
    second = xp.logical_and(zero, seen == 2)
    replaced = xp.where(xp.logical_or(first, second), 1.0, x)
    xk = xp.sum(xp.where(first, x, 0.0), axis=axis, keepdims=True)
    xm = xp.sum(xp.where(second, x, 0.0), axis=axis, keepdims=True)
    u = g * xp.cumulative_prod(replaced, axis=axis)
    after_m = xp.where(seen >= 2, xm, 1.0)
    with_m = u * after_m
    full = with_m * xp.where(seen >= 1, xk, 1.0)          # g * cumprod(x)
    safe = xp.where(zero, 1.0, x)
    return xp.where(first, _reverse_cumsum(xp, with_m, axis),
                    xp.where(second, xk * _reverse_cumsum(xp, u, axis),
                             _reverse_cumsum(xp, full, axis) / safe))


_cumsum_prim = Primitive("cumulative_sum", _cumsum, _cumsum_vjp)
_cumprod_prim = Primitive("cumulative_prod", _cumprod, _cumprod_vjp)


def _cumulative(prim, name, x, axis, dtype, include_initial):
    x = as_tensor(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} needs a tensor with at least one dimension")
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"{name} needs axis= for a {x.ndim}-D tensor")
        axis = 0
    params = {"axis": norm_axis(axis, x.ndim, f"{name}: axis"),
              "include_initial": flag(include_initial, "include_initial", name)}
    if dtype is not None:
        params["dtype"] = native_dtype(x, dtype)
    return apply(prim, x, **params)


def cumulative_sum(x, /, axis=None, *extra, dtype=None, include_initial=False, **unexpected):
    """Running sum along ``axis`` (optional for 1-D input; by keyword or positionally, as
    ``np.cumsum(x, 0)``); ``include_initial`` prepends the 0. ``dtype`` and
    ``include_initial`` by keyword only.

    >>> import xpgrad as xg
    >>> xg.cumulative_sum(xg.asarray([1.0, 2.0, 3.0])).tolist()
    [1.0, 3.0, 6.0]
    """
    if extra:
        refuse_extra_positional("cumulative_sum", ("x", "axis"), extra,
                                ("dtype", "include_initial"))
    if unexpected:
        refuse_keywords("cumulative_sum", unexpected)
    return _cumulative(_cumsum_prim, "cumulative_sum", x, axis, dtype, include_initial)


def cumulative_prod(x, /, axis=None, *extra, dtype=None, include_initial=False, **unexpected):
    """Running product along ``axis`` (optional for 1-D input); ``include_initial``
    prepends the 1. The gradient is exact (second order too) where entries are zero.
    ``axis`` by keyword or positionally, the rest by keyword only (as ``cumulative_sum``).

    >>> import xpgrad as xg
    >>> xg.cumulative_prod(xg.asarray([1.0, 2.0, 3.0]), include_initial=True).tolist()
    [1.0, 1.0, 2.0, 6.0]
    """
    if extra:
        refuse_extra_positional("cumulative_prod", ("x", "axis"), extra,
                                ("dtype", "include_initial"))
    if unexpected:
        refuse_keywords("cumulative_prod", unexpected)
    return _cumulative(_cumprod_prim, "cumulative_prod", x, axis, dtype, include_initial)


cumulative_sum.primitive, cumulative_prod.primitive = _cumsum_prim, _cumprod_prim


def diff(x, /, n=1, axis=-1, *, prepend=None, append=None, **unexpected):
    """The ``n``-th forward difference ``out[i] = x[i+1] - x[i]`` along ``axis``, after
    joining ``prepend`` and ``append`` to ``x`` there. Differentiable (slices and subtraction).
    Positionally ``n`` comes before ``axis``, as in NumPy and PyTorch (``diff(x, 1, 0)``); the
    array API lists ``axis`` first, by keyword.

    >>> import xpgrad as xg
    >>> xg.diff(xg.asarray([1.0, 4.0, 9.0, 16.0]), n=2).tolist()
    [2.0, 2.0]
    """
    if unexpected:
        refuse_keywords("diff", unexpected)
    from .joining import concat

    x = as_tensor(x, "diff")
    if x.ndim == 0:
        raise ValueError("diff needs a tensor with at least one dimension")
    axis = norm_axis(axis, x.ndim, "diff: axis")
    if isinstance(n, builtins.bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"diff: n must be a non-negative int, got {n!r}")
    parts = [as_tensor(p, "diff", what) for p, what in
             ((prepend, "prepend"), (x, "x"), (append, "append")) if p is not None]
    for p in parts:
        if p.ndim != x.ndim or builtins.any(p.shape[i] != x.shape[i]
                                            for i in range(x.ndim) if i != axis):
            raise ValueError(f"diff: prepend/append of shape {p.shape} does not match x of "
                             f"shape {x.shape} outside axis {axis}")
    if len(parts) > 1:
        x = concat(parts, axis=axis)
    if n > x.shape[axis]:
        n = x.shape[axis]
    for _ in range(n):
        if x.dtype == _dt.bool_:
            x = x[_along(x.ndim, axis, slice(1, None))] != x[_along(x.ndim, axis, slice(None, -1))]
        else:
            x = x[_along(x.ndim, axis, slice(1, None))] - x[_along(x.ndim, axis, slice(None, -1))]
    return x
