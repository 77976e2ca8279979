"""Statistical reductions: sum, prod, mean, max, min, var, std, logsumexp (+ any, all); the
scans cumulative_sum, cumulative_prod and diff are ``scans.py``'s, re-exported here, and prod's
gradient is ``prod_gradient.py``'s.

Each reduction takes ``axis`` (None, an int or a tuple; negative counts from the end; by
keyword or second positionally, as ``np.sum(x, 0)``) and ``keepdims`` (keyword-only, as every
parameter after ``axis``: NumPy's and PyTorch's third positional argument differs); sum, prod
and the cumulative functions take ``dtype=`` (the input is cast to it first; without it small
integers accumulate in int64/uint64, floats keep their dtype).
Complex inputs are differentiable where the standard allows them (sum, prod, mean, the
cumulative functions; also var, std and logsumexp, as PyTorch's), with PyTorch's convention:
the gradient of a holomorphic ``f`` is ``g * conj(f'(z))``.

>>> import xpgrad as xg
>>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
>>> xg.sum(x, -1).tolist(), xg.mean(x, axis=(0, 1), keepdims=True).shape
([3.0, 7.0], (1, 1))
"""
from __future__ import annotations

import builtins
import functools
import math

from .. import dtypes as _dt
from .._args import (ELEMENTWISE_TWINS, flag, is_operand, refuse_extra_positional,
                     refuse_keywords, refuse_tensor_axis)
from ..jit.whole import run_quietly
from ..primitive import Primitive, apply, apply_general
from ..tensor import Tensor
from ._define import (as_tensor, conj_if_complex, count, expand_to, kept_shape, native_dtype,
                      norm_axes)
from .casting import astype
from .moments import safe_std, safe_variance
from .prod_gradient import _prod_vjp
from .scans import cumulative_prod, cumulative_sum, diff  # noqa: F401 (re-exported)


#: the parameters a reduction takes positionally (the array API's ``x``; ``axis`` as NumPy's)
_X_AXIS = ("x", "axis")


def _over_axis(name, prim):
    """``name(x, /, axis=None, *, keepdims=False)``, applying ``prim`` over ``axis``: the
    reductions that take nothing else (the namespace function of ``_reducer`` and
    ``_no_grad_reducer``, which name and document it)."""
    def fn(x, /, axis=None, *extra, keepdims=False, **unexpected):
        if extra:
            refuse_extra_positional(name, _X_AXIS, extra, ("keepdims",))
        if unexpected:
            refuse_keywords(name, unexpected)
        x = as_tensor(x, name)
        return apply(prim, x, axis=norm_axes(axis, x.ndim, name),
                     keepdims=flag(keepdims, "keepdims", name))
    return fn


def _reducer(name, prim, doc, with_dtype=False):
    if with_dtype:
        def fn(x, /, axis=None, *extra, dtype=None, keepdims=False, **unexpected):
            if extra:
                refuse_extra_positional(name, _X_AXIS, extra, ("dtype", "keepdims"))
            if unexpected:
                refuse_keywords(name, unexpected)
            if x.__class__ is not Tensor:
                x = as_tensor(x, name)
            if dtype is None:       # apply's path for keywords, called as it is (a loss's sum)
                return apply_general(prim, (x,), {
                    "axis": None if axis is None else norm_axes(axis, x.ndim, name),
                    "keepdims": keepdims if keepdims is False else flag(keepdims, "keepdims",
                                                                        name)})
            return apply(prim, x, axis=norm_axes(axis, x.ndim, name),
                         keepdims=flag(keepdims, "keepdims", name), dtype=native_dtype(x, dtype))
    elif name in ELEMENTWISE_TWINS:
        def fn(x, /, axis=None, *extra, keepdims=False, **unexpected):
            if extra:
                refuse_extra_positional(name, _X_AXIS, extra, ("keepdims",))
            if unexpected:
                refuse_keywords(name, unexpected)
            if axis is not None and axis.__class__ is not int and is_operand(axis):
                refuse_tensor_axis(name, axis, method=False)   # torch.max(a, b): xg.maximum
            x = as_tensor(x, name)
            return apply(prim, x, axis=norm_axes(axis, x.ndim, name),
                         keepdims=flag(keepdims, "keepdims", name))
    else:
        fn = _over_axis(name, prim)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + (f" ``axis`` by keyword or positionally, as NumPy's; ``keepdims``"
                        f"{' and ``dtype``' if with_dtype else ''} by keyword only.\n\n"
                        f">>> import xpgrad as xg\n>>> xg.{name}(xg.asarray([[1.0, 2.0]]), "
                        f"1).shape == xg.{name}(xg.asarray([[1.0, 2.0]]), axis=1).shape\n"
                        f"True\n")
    fn.primitive = prim
    return fn


#: the keywords of a full reduction, which the rules (and the NumPy kernels) take as defaults:
#: a tape records ``sum(x)`` without them, a lean node (``Primitive``'s ``default_keywords``)
_FULL = {"axis": None, "keepdims": False}


def _sum_vjp(xp, g, ans, x, axis=None, keepdims=False, dtype=None):
    return expand_to(xp, g, x.shape, axis, keepdims)   # cast back to x's dtype centrally


def _sum(xp, x, axis=None, keepdims=False, dtype=None):
    if dtype is None:
        return xp.sum(x, axis=axis, keepdims=keepdims)
    return xp.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


sum = _reducer("sum", Primitive("sum", _sum, _sum_vjp, saves=(), default_keywords=_FULL),
               "Sum over ``axis`` (``dtype=``: the accumulation and result dtype).",
               with_dtype=True)


def _floating(x: Tensor) -> Tensor:
    """``x``, or integers and booleans cast to the default floating dtype (mean, var, std)."""
    if x.dtype.is_inexact:
        return x
    return astype(x, _dt.DEFAULTS["real floating"])


def _mean_forward(xp, x, axis, keepdims):
    """NumPy's mean, or over no entries NaN (the array standard's answer) without NumPy's
    'Mean of empty slice' warning: the empty sum (0) times NaN."""
    if count(x.shape, axis):
        return xp.mean(x, axis=axis, keepdims=keepdims)
    return xp.sum(x, axis=axis, keepdims=keepdims) * math.nan


_mean = Primitive(
    "mean", _mean_forward,
    lambda xp, g, ans, x, axis=None, keepdims=False:
        expand_to(xp, g, x.shape, axis, keepdims) / count(x.shape, axis), saves=(),
    default_keywords=_FULL)


def mean(x, /, axis=None, *extra, keepdims=False, **unexpected):
    """Arithmetic mean over ``axis`` (integers are averaged as float32; complex allowed);
    ``axis`` by keyword or positionally, ``keepdims`` by keyword only.

    >>> import xpgrad as xg
    >>> xg.mean(xg.asarray([[1.0, 2.0]]), 1).tolist()
    [1.5]
    """
    if extra:
        refuse_extra_positional("mean", _X_AXIS, extra, ("keepdims",))
    if unexpected:
        refuse_keywords("mean", unexpected)
    x = _floating(as_tensor(x, "mean"))
    return apply(_mean, x, axis=norm_axes(axis, x.ndim, "mean"), keepdims=flag(keepdims, "keepdims",
                                                                         "mean"))


mean.primitive = _mean


def _extremum_vjp(xp, g, ans, x, axis, keepdims):
    shape = kept_shape(x.shape, axis)
    hit = x == xp.reshape(ans, shape)
    share = xp.sum(xp.astype(hit, x.dtype), axis=axis, keepdims=True)
    # a NaN extremum (no entry equals it) gives its whole slice a NaN gradient, as PyTorch's
    # amax/amin and JAX do, never a silent zero that hides the NaN; unlike their 0 / 0, a zero
    # output gradient (a slice masked out further on) stays 0
    none = share == 0
    g = expand_to(xp, g, x.shape, axis, keepdims)
    return xp.where(hit, g / xp.where(none, 1.0, share),
                    xp.where(none & (g != 0), xp.full_like(g, float("nan")), 0.0))


max = _reducer("max", Primitive(
    "max", lambda xp, x, axis, keepdims: xp.max(x, axis=axis, keepdims=keepdims),
    _extremum_vjp), "Maximum over ``axis``; tied maxima share the gradient equally (a NaN "
    "maximum gives its slice a NaN gradient, where the output's gradient is not 0). "
    "``xg.max(x, 1)`` is NumPy's: the values alone (``torch.max(x, 1)`` adds their indices, "
    "``xg.argmax(x, 1)``).")
min = _reducer("min", Primitive(
    "min", lambda xp, x, axis, keepdims: xp.min(x, axis=axis, keepdims=keepdims),
    _extremum_vjp), "Minimum over ``axis``; tied minima share the gradient equally (a NaN "
    "minimum gives its slice a NaN gradient, where the output's gradient is not 0). "
    "``xg.min(x, 1)`` is NumPy's: the values alone (``torch.min(x, 1)`` adds their indices, "
    "``xg.argmin(x, 1)``).")


def _prod(xp, x, axis, keepdims, dtype=None):
    if dtype is None:
        return xp.prod(x, axis=axis, keepdims=keepdims)
    return xp.prod(x, axis=axis, dtype=dtype, keepdims=keepdims)


prod = _reducer("prod", Primitive("prod", _prod, _prod_vjp),
                "Product over ``axis`` (its gradient is exact where entries are zero, to second "
                "order).", with_dtype=True)


def _logsumexp(xp, x, axis, keepdims):
    if 0 in [x.shape[d] for d in (range(x.ndim) if axis is None else axis)]:
        # an empty sum: log 0 = -inf, as SciPy and PyTorch (a max of nothing has no value)
        return xp.full(kept_shape(x.shape, axis) if keepdims
                       else _reduced_shape(x.shape, axis), -math.inf, dtype=x.dtype)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)
    # every entry -inf: log 0 = -inf, as PyTorch, without NumPy's warning (replays too)
    out = run_quietly(xp, functools.partial(_shifted_logsumexp, axis=axis), x, m,
                      divide="ignore")
    return out if keepdims else xp.reshape(out, _reduced_shape(x.shape, axis))


def _shifted_logsumexp(xp, x, m, axis):
    return xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m


def _softmax_weights(xp, x, ans):
    return xp.exp(x - ans)


def _reduced_shape(shape, axes):
    return () if axes is None else tuple(n for i, n in enumerate(shape) if i not in axes)


def _logsumexp_vjp(xp, g, ans, x, axis, keepdims):
    """``g`` times the softmax of ``x``, conjugated for a complex ``x`` (holomorphic)."""
    # every entry -inf: -inf - -inf, NaN, as PyTorch, without NumPy's warning (replays too)
    weights = run_quietly(xp, _softmax_weights, x, xp.reshape(ans, kept_shape(x.shape, axis)),
                          invalid="ignore")
    return expand_to(xp, g, x.shape, axis, keepdims) * conj_if_complex(xp, weights)


_plain_logsumexp = _reducer("logsumexp", Primitive("logsumexp", _logsumexp, _logsumexp_vjp),
                            "``log(sum(exp(x)))`` over ``axis``, stable for large |x|.")


def logsumexp(x, /, axis=None, *extra, keepdims=False, b=None, return_sign=False, where=None,
              **unexpected):
    """``log(sum(exp(x)))`` over ``axis``, stable for large |x| (integers in the default
    float, as ``mean``). JAX's and SciPy's ``b=``
    (scales each term; it may be negative), ``return_sign=True`` (``(log|sum|, sign)``) and
    JAX's ``where=`` (a boolean mask: masked terms left out) are ``xg.special.logsumexp``'s.
    ``axis`` by keyword or positionally; the rest by keyword only (SciPy's and JAX's third
    positional argument is ``b``: write ``b=``).

    >>> import xpgrad as xg
    >>> x = xg.asarray([0.0, 0.0, 9.0], dtype=xg.float64)
    >>> round(xg.logsumexp(x, where=xg.asarray([True, True, False])).item(), 6)
    0.693147
    """
    if extra:
        refuse_extra_positional("logsumexp", _X_AXIS, extra,
                                ("keepdims", "b", "return_sign", "where"))
    x = _floating(as_tensor(x, "logsumexp"))     # integers: the default float, as mean
    if where is not None:
        from .masked import masked_logsumexp

        if unexpected:
            refuse_keywords("logsumexp", unexpected)
        return masked_logsumexp(x, where, axis=axis, b=b, keepdims=keepdims,
                                return_sign=return_sign)
    if b is not None or return_sign is not False:
        from .special_more import logsumexp as scipy_logsumexp

        if unexpected:
            refuse_keywords("logsumexp", unexpected)
        return scipy_logsumexp(x, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)
    return _plain_logsumexp(x, axis=axis, keepdims=keepdims, **unexpected)


logsumexp.primitive = _plain_logsumexp.primitive


def _per_dof(x_shape, axis, correction):
    """``1 / (N - correction)``; NaN where there are no degrees of freedom left (the value
    is NaN there too)."""
    dof = count(x_shape, axis) - correction
    return 1.0 / dof if dof > 0 else float("nan")


def _var(xp, x, axis, keepdims, correction):
    if count(x.shape, axis) - correction <= 0:   # NaN, as the standard says (NumPy: inf)
        return xp.full_like(xp.sum(x, axis=axis, keepdims=keepdims), float("nan"))
    return safe_variance(xp, x, _all_axes(x, axis), keepdims, lambda xp, a: xp.var(
        a, axis=axis, keepdims=keepdims, correction=correction))


def _std(xp, x, axis, keepdims, correction):
    if count(x.shape, axis) - correction <= 0:
        return xp.full_like(xp.sum(x, axis=axis, keepdims=keepdims), float("nan"))
    return safe_std(xp, x, _all_axes(x, axis), keepdims, lambda xp, a: xp.std(
        a, axis=axis, keepdims=keepdims, correction=correction))


def _all_axes(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _var_vjp(xp, g, ans, x, axis, keepdims, correction):
    centered = x - xp.mean(x, axis=axis, keepdims=True)
    return expand_to(xp, g, x.shape, axis, keepdims) * centered * (
        2.0 * _per_dof(x.shape, axis, correction))


def _std_vjp(xp, g, ans, x, axis, keepdims, correction):
    # where the deviation is 0 every centered entry is 0 too: the gradient is 0 there (as in
    # PyTorch), not 0/0
    centered = x - xp.mean(x, axis=axis, keepdims=True)
    std = xp.reshape(ans, kept_shape(x.shape, axis))
    std = xp.where(std == 0, 1.0, std)
    return expand_to(xp, g, x.shape, axis, keepdims) * centered / std * _per_dof(
        x.shape, axis, correction)


_var_prim = Primitive("var", _var, _var_vjp)
_std_prim = Primitive("std", _std, _std_vjp)


def _correction(correction, ddof=None):
    """``correction``, or NumPy's and JAX's name for it, ``ddof`` (not both)."""
    if ddof is not None:
        if correction != 0.0:
            raise TypeError("give correction or ddof (NumPy's and JAX's name for it), not both")
        correction = ddof
    if isinstance(correction, builtins.bool) or not isinstance(correction, (int, float)):
        raise TypeError(f"correction must be an int or a float, got {correction!r}")
    if correction < 0:
        raise ValueError(f"correction must not be negative, got {correction}")
    return correction


def var(x, /, axis=None, *extra, correction=0.0, keepdims=False, ddof=None, **unexpected):
    """Variance over ``axis`` (``correction=1`` for the unbiased estimate, ``ddof=1`` as NumPy
    and JAX write it; NaN where ``N - correction <= 0``). Integers are taken as float32.
    ``axis`` by keyword or positionally; the rest by keyword only (NumPy's third positional
    argument is ``dtype``, PyTorch's ``unbiased``).

    >>> import xpgrad as xg
    >>> xg.var(xg.asarray([[1.0, 3.0]]), 1, correction=1).tolist()
    [2.0]
    """
    if extra:
        refuse_extra_positional("var", _X_AXIS, extra, ("correction", "keepdims", "ddof"))
    if unexpected:
        refuse_keywords("var", unexpected)
    x = _floating(as_tensor(x, "var"))
    return apply(_var_prim, x, axis=norm_axes(axis, x.ndim, "var"),
                 keepdims=flag(keepdims, "keepdims", "var"),
                 correction=_correction(correction, ddof))


def std(x, /, axis=None, *extra, correction=0.0, keepdims=False, ddof=None, **unexpected):
    """Standard deviation over ``axis`` (``correction``, or ``ddof``, as ``var``). Where it is 0
    its gradient is 0 (as in PyTorch). ``axis`` by keyword or positionally, the rest by keyword
    only, as ``var``.

    >>> import xpgrad as xg
    >>> xg.std(xg.asarray([1.0, 3.0])).item()
    1.0
    """
    if extra:
        refuse_extra_positional("std", _X_AXIS, extra, ("correction", "keepdims", "ddof"))
    if unexpected:
        refuse_keywords("std", unexpected)
    x = _floating(as_tensor(x, "std"))
    return apply(_std_prim, x, axis=norm_axes(axis, x.ndim, "std"),
                 keepdims=flag(keepdims, "keepdims", "std"),
                 correction=_correction(correction, ddof))


var.primitive, std.primitive = _var_prim, _std_prim


def _no_grad_reducer(name, doc):
    prim = Primitive(name, lambda xp, x, axis, keepdims:
                     getattr(xp, name)(x, axis=axis, keepdims=keepdims))
    fn = _over_axis(name, prim)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + (f" ``axis`` by keyword or positionally, ``keepdims`` by keyword only."
                        f"\n\n>>> import xpgrad as xg\n>>> xg.{name}(xg.asarray([[1, 0]]), 1)"
                        f".tolist()\n[{name == 'any'}]\n")
    fn.primitive = prim
    return fn


any = _no_grad_reducer("any", "Whether any entry is true (nonzero) along ``axis`` (no gradient).")
all = _no_grad_reducer("all", "Whether every entry is true (nonzero) along ``axis`` (no gradient).")

__all__ = ["sum", "mean", "prod", "max", "min", "var", "std", "logsumexp", "cumulative_sum",
           "cumulative_prod", "diff", "any", "all"]
