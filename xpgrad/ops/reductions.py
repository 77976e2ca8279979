"""Reductions: sum, mean, prod, max, min, var, std, logsumexp, cumulative_sum (+ argmax, any...).

Each takes ``axis`` (None, an int or a tuple; negative counts from the end) and ``keepdims``.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
>>> xg.sum(x, axis=-1).tolist(), xg.mean(x, axis=(0, 1), keepdims=True).shape
([3.0, 7.0], (1, 1))
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from ._define import as_tensor, count, expand_to, kept_shape, norm_axes, norm_axis


def _reducer(name, prim, doc):
    def fn(x, /, *, axis=None, keepdims=False):
        x = as_tensor(x)
        return apply(prim, x, axis=norm_axes(axis, x.ndim), keepdims=bool(keepdims))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + (f"\n\n>>> import xpgrad as xg\n>>> xg.{name}(xg.asarray([[1.0, 2.0]]), "
                        f"axis=1).shape\n(1,)\n")
    fn.primitive = prim
    return fn


def _sum_vjp(xp, g, ans, x, axis, keepdims):
    return expand_to(xp, g, x.shape, axis, keepdims)


sum = _reducer("sum", Primitive(
    "sum", lambda xp, x, axis, keepdims: xp.sum(x, axis=axis, keepdims=keepdims), _sum_vjp),
    "Sum over ``axis``.")

mean = _reducer("mean", Primitive(
    "mean", lambda xp, x, axis, keepdims: xp.mean(x, axis=axis, keepdims=keepdims),
    lambda xp, g, ans, x, axis, keepdims:
        expand_to(xp, g, x.shape, axis, keepdims) / count(x.shape, axis)),
    "Mean over ``axis``.")


def _extremum_vjp(xp, g, ans, x, axis, keepdims):
    shape = kept_shape(x.shape, axis)
    hit = x == xp.reshape(ans, shape)
    share = xp.sum(xp.astype(hit, x.dtype), axis=axis, keepdims=True)
    return xp.where(hit, expand_to(xp, g, x.shape, axis, keepdims) / share, 0.0)


max = _reducer("max", Primitive(
    "max", lambda xp, x, axis, keepdims: xp.max(x, axis=axis, keepdims=keepdims),
    _extremum_vjp), "Maximum over ``axis``; tied maxima share the gradient equally.")
min = _reducer("min", Primitive(
    "min", lambda xp, x, axis, keepdims: xp.min(x, axis=axis, keepdims=keepdims),
    _extremum_vjp), "Minimum over ``axis``; tied minima share the gradient equally.")


def _prod_vjp(xp, g, ans, x, axis, keepdims):
    # product of the other entries, exact to second order also where x has zeros: the product
    # of the nonzero entries over x_i (1 at a zero), times the product of the *other* zeros --
    # 1 if there is none, that zero's x if one (a 0 that keeps its derivative), else 0
    zero = x == 0
    nonzero = xp.where(zero, 1.0, x)
    p = xp.prod(nonzero, axis=axis, keepdims=True)
    zero_n = xp.astype(zero, x.dtype)
    zero_x = xp.where(zero, x, 0.0)
    other_n = xp.sum(zero_n, axis=axis, keepdims=True) - zero_n
    other_x = xp.sum(zero_x, axis=axis, keepdims=True) - zero_x
    others = p / nonzero * xp.where(other_n == 0, 1.0, xp.where(other_n == 1, other_x, 0.0))
    return expand_to(xp, g, x.shape, axis, keepdims) * others


prod = _reducer("prod", Primitive(
    "prod", lambda xp, x, axis, keepdims: xp.prod(x, axis=axis, keepdims=keepdims), _prod_vjp),
    "Product over ``axis`` (its gradient is exact where entries are zero).")


def _logsumexp(xp, x, axis, keepdims):
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else xp.reshape(out, _reduced_shape(x.shape, axis))


def _reduced_shape(shape, axes):
    return () if axes is None else tuple(n for i, n in enumerate(shape) if i not in axes)


logsumexp = _reducer("logsumexp", Primitive(
    "logsumexp", _logsumexp,
    lambda xp, g, ans, x, axis, keepdims: expand_to(xp, g, x.shape, axis, keepdims) * xp.exp(
        x - xp.reshape(ans, kept_shape(x.shape, axis)))),
    "``log(sum(exp(x)))`` over ``axis``, stable for large |x|.")


def _var(xp, x, axis, keepdims, correction):
    return xp.var(x, axis=axis, keepdims=keepdims, correction=correction)


def _var_vjp(xp, g, ans, x, axis, keepdims, correction):
    centered = x - xp.mean(x, axis=axis, keepdims=True)
    return expand_to(xp, g, x.shape, axis, keepdims) * centered * (
        2.0 / (count(x.shape, axis) - correction))


def _std_vjp(xp, g, ans, x, axis, keepdims, correction):
    centered = x - xp.mean(x, axis=axis, keepdims=True)
    std = xp.reshape(ans, kept_shape(x.shape, axis))
    return expand_to(xp, g, x.shape, axis, keepdims) * centered / (
        std * (count(x.shape, axis) - correction))


_var_prim = Primitive("var", _var, _var_vjp)
_std_prim = Primitive(
    "std", lambda xp, x, axis, keepdims, correction:
        xp.std(x, axis=axis, keepdims=keepdims, correction=correction), _std_vjp)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Variance over ``axis`` (``correction=1`` for the unbiased estimate).

    >>> import xpgrad as xg
    >>> xg.var(xg.asarray([1.0, 3.0])).item()
    1.0
    """
    x = as_tensor(x)
    return apply(_var_prim, x, axis=norm_axes(axis, x.ndim), keepdims=bool(keepdims),
                 correction=correction)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Standard deviation over ``axis``.

    >>> import xpgrad as xg
    >>> xg.std(xg.asarray([1.0, 3.0])).item()
    1.0
    """
    x = as_tensor(x)
    return apply(_std_prim, x, axis=norm_axes(axis, x.ndim), keepdims=bool(keepdims),
                 correction=correction)


def _cumsum(xp, x, axis, include_initial):
    return xp.cumulative_sum(x, axis=axis, include_initial=include_initial)


def _cumsum_vjp(xp, g, ans, x, axis, include_initial):
    rev = xp.flip(xp.cumulative_sum(xp.flip(g, axis=axis), axis=axis), axis=axis)
    if include_initial:
        n = x.shape[axis]
        index = tuple(slice(1, n + 1) if i == axis else slice(None) for i in range(x.ndim))
        rev = rev[index]
    return rev


_cumsum_prim = Primitive("cumulative_sum", _cumsum, _cumsum_vjp)


def cumulative_sum(x, /, *, axis=None, include_initial=False):
    """Running sum along ``axis`` (optional for 1-D input).

    >>> import xpgrad as xg
    >>> xg.cumulative_sum(xg.asarray([1.0, 2.0, 3.0])).tolist()
    [1.0, 3.0, 6.0]
    """
    x = as_tensor(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"cumulative_sum needs axis= for a {x.ndim}-D tensor")
        axis = 0
    return apply(_cumsum_prim, x, axis=norm_axis(axis, x.ndim),
                 include_initial=bool(include_initial))


def _no_grad_reducer(name, method, doc):
    prim = Primitive(name, lambda xp, x, axis, keepdims:
                     getattr(xp, method)(x, axis=axis, keepdims=keepdims))

    def fn(x, /, *, axis=None, keepdims=False):
        x = as_tensor(x)
        axes = norm_axes(axis, x.ndim)
        if name in ("argmax", "argmin") and axes is not None:
            if len(axes) != 1:
                raise ValueError(f"{name} takes a single axis")
            axes = axes[0]
        return apply(prim, x, axis=axes, keepdims=bool(keepdims))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + f"\n\n>>> import xpgrad as xg\n>>> xg.{name}(xg.asarray([1, 0])).ndim\n0\n"
    return fn


argmax = _no_grad_reducer("argmax", "argmax", "Index of the maximum (no gradient).")
argmin = _no_grad_reducer("argmin", "argmin", "Index of the minimum (no gradient).")
any = _no_grad_reducer("any", "any", "Whether any entry is true (no gradient).")
all = _no_grad_reducer("all", "all", "Whether every entry is true (no gradient).")

__all__ = ["sum", "mean", "prod", "max", "min", "var", "std", "logsumexp", "cumulative_sum",
           "argmax", "argmin", "any", "all"]
