"""The gradient of ``prod`` (``reductions.py``): one division by each entry where none is 0, inf
or NaN (``_regular_entries``), else the products of the others by running products from both
sides, no division, exact where entries are zero (to second order).

>>> import xpgrad as xg
>>> x = xg.asarray([2.0, 0.0, 3.0], dtype=xg.float64)
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = xg.prod(x)
>>> tape.gradient(y, x).tolist()
[0.0, 6.0, 0.0]
"""
from __future__ import annotations

import math

import numpy as np

from ._define import conj_if_complex, expand_to, is_complex, kept_shape
from .linalg_helpers import readable
from .scans import _along


def _prod_vjp(xp, g, ans, x, axis, keepdims, dtype=None):
    if dtype is not None and x.dtype != ans.dtype:
        x = xp.astype(x, ans.dtype)
    x = conj_if_complex(xp, x)
    if _regular_entries(xp, ans, x):
        # no entry is 0, inf or NaN: the product of the others is the product over x_i, one
        # division
        others = xp.reshape(conj_if_complex(xp, ans), kept_shape(x.shape, axis)) / x
        return expand_to(xp, g, x.shape, axis, keepdims) * others
    with np.errstate(over="ignore", invalid="ignore"):     # IEEE's inf and NaN are the answer
        others = _products_of_the_others(xp, x, axis)
        others = _zero_where_the_others_hold_a_zero(xp, x, others, axis)
    return expand_to(xp, g, x.shape, axis, keepdims) * others


def _products_of_the_others(xp, x, axis):
    """``out[i]``: the product of every entry but ``x[i]`` over ``axis``, by no division: the
    exclusive running products from the left times those from the right, as PyTorch's rule
    at zeros. Exact to second order where entries are zero, a partial product that overflows
    meets a zero only where the exact product is one (``[1e200, 1e200, 0]``: ``[0, 0, inf]``),
    and a signed zero keeps its sign in its neighbours' products."""
    axes = tuple(range(x.ndim)) if axis is None else axis
    if len(axes) != 1:          # the reduced axes last, as one
        kept = [d for d in range(x.ndim) if d not in axes]
        moved = xp.moveaxis(x, axes, tuple(range(len(kept), x.ndim)))
        lines = xp.reshape(moved, tuple(x.shape[d] for d in kept)
                           + (math.prod(x.shape[d] for d in axes),))
        others = xp.reshape(_products_of_the_others(xp, lines, (lines.ndim - 1,)), moved.shape)
        return xp.moveaxis(others, tuple(range(len(kept), x.ndim)), axes)
    (d,) = axes
    head = _along(x.ndim, d, slice(None, -1))
    before = xp.cumulative_prod(x, axis=d, include_initial=True)[head]
    after = xp.flip(xp.cumulative_prod(xp.flip(x, axis=d), axis=d, include_initial=True)[head],
                    axis=d)
    return before * after


def _zero_where_the_others_hold_a_zero(xp, x, others, axis):
    """``others`` with its NaNs that stand for a zero made that zero: where an entry's others
    are finite and one is 0, their product is exactly 0 (signed by their signs), but a running
    product that overflowed can meet that zero (``[1e200, 1e200, 0, 0]``: inf * 0). Where an
    other is inf or NaN, NaN stays (0 * inf). Eagerly only when ``others`` has a NaN."""
    nans = xp.isnan(others)
    if readable(others) and not bool(xp.any(nans)):
        return others
    zero, infinite = x == 0, xp.logical_not(xp.isfinite(x))
    zeros = xp.sum(zero, axis=axis, keepdims=True)
    infinities = xp.sum(infinite, axis=axis, keepdims=True)
    holds_zero = xp.logical_or(zeros > 1, xp.logical_and(zeros == 1, xp.logical_not(zero)))
    all_finite = xp.logical_or(infinities == 0, xp.logical_and(infinities == 1, infinite))
    exact_zero = xp.logical_and(nans, xp.logical_and(holds_zero, all_finite))
    zeros = xp.zeros_like(others)
    if is_complex(xp, x):
        return xp.where(exact_zero, zeros, others)
    negative = xp.signbit(x)
    odd_negatives = xp.sum(negative, axis=axis, keepdims=True) % 2 == 1
    return xp.where(exact_zero, xp.where(xp.logical_xor(odd_negatives, negative), -zeros, zeros),
                    others)


def _regular_entries(xp, ans, x) -> bool:
    """Whether no entry of ``x`` is 0, inf or NaN, where a rule may read it (``readable``: not
    while ``xg.function`` traces, which then takes the general way): asked of the products
    first, finite and nonzero only without such entries, then (a product under- or
    overflowed) of ``x``."""
    if not readable(ans):
        return False
    if bool(xp.all(xp.isfinite(ans) & (ans != 0))):
        return True
    return bool(xp.all(xp.isfinite(x))) and not bool(xp.any(x == 0))
