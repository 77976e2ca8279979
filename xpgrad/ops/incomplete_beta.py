"""``xg.special.betainc`` and ``betaincc``, the regularized incomplete beta function and its
complement (formulas in ``incomplete_beta_formulas.py``), and the distribution functions SciPy's
hypothesis tests take their p-values from: ``stdtr`` (Student's t CDF), ``fdtr`` and ``fdtrc``
(the F distribution's CDF and survival function). Differentiable in ``x`` (and ``t``) to any
order, and once in the shape parameters (``a``, ``b``, ``df``, ``dfn``, ``dfd``: as
``jax.scipy.special.betainc``), whose derivatives have no closed form: the continued fraction
is differentiated along its recurrence. A second derivative involving a shape parameter raises
NotImplementedError naming it, when the backward pass reaches it; a parameter no tape watches
(a Python number, a constant tensor, ``xg.stop_gradient(df)``) needs none, so nothing is
raised then.

>>> import xpgrad as xg
>>> x = xg.asarray([0.25, 0.5], dtype=xg.float64)
>>> [round(v, 12) for v in xg.grad(lambda x: xg.sum(betainc(2.0, 1.0, x)))(x).tolist()]  # 2x
[0.5, 1.0]
"""
from __future__ import annotations

import functools

from ..jit.whole import run_quietly
from ..primitive import Primitive, apply
from ..tensor import Tensor
from . import incomplete_beta_formulas as ibf
from .casting import astype
from .special import _call, _like, _quiet, _real


def _in_float64(formula, whole=None):
    """``formula(xp, *args)`` run in float64, its result rounded back to float32 inputs'
    dtype (the arguments share one dtype by then); the primitives' ``names`` unused.
    ``whole``: the formula loops until each element has converged, reading the values, so
    under ``xg.function`` it is one step of the program, run again whole on each replay's
    arrays (``run_whole``), not unrolled: ``whole`` is then the name it has in an ``xg.vmap``'s
    ``fallbacks`` where the examples take different branches."""
    def now(xp, *args, **params):
        if args[-1].dtype == xp.float32:
            return xp.astype(formula(xp, *(xp.astype(v, xp.float64) for v in args), **params),
                             xp.float32)
        return formula(xp, *args, **params)

    def forward(xp, *args, names, **params):
        if whole:
            return run_quietly(xp, functools.partial(now, **params), *args, name=whole,
                               all="ignore")
        return now(xp, *args, **params)
    return _quiet(forward)


def _no_second_derivative(position):
    """The rule of a shape parameter of a first derivative in one: NotImplementedError naming
    it (``names``: the function, then its arguments' names in order)."""
    def rule(xp, g, ans, *args, names, **params):
        raise NotImplementedError(
            f"xg.special.{names[0]}: second derivatives involving {names[position + 1]} are "
            "not implemented (the first derivative in it is); pass it as a constant or "
            f"through xg.stop_gradient({names[position + 1]}) to differentiate further in "
            f"{names[-1]} only")
    return rule


def _density_dx(xp, g, ans, a, b, x, names):
    return g * ans * ((a - 1.0) / x - (b - 1.0) / (1.0 - x))


def _shape_derivative_forward(xp, a, b, x, wrt):
    return ibf.regularized_beta_derivative(xp, a, b, x, wrt=wrt)


# x^(a-1) (1-x)^(b-1) / B(a, b), I's derivative in x; its own derivative in x from itself
_beta_density = Primitive("special_beta_density", _in_float64(ibf.density),
                          _no_second_derivative(0), _no_second_derivative(1),
                          _quiet(_density_dx), saves=(0, 1, 2, "output"))
# dI/da (wrt 0) or dI/db (wrt 1), the fraction differentiated along its recurrence
_beta_shape_derivative = Primitive(
    "special_betainc_shape_derivative", _in_float64(_shape_derivative_forward,
                                                            whole="betainc's a or b derivative"),
    _no_second_derivative(0), _no_second_derivative(1), _no_second_derivative(2),
    saves=(0, 1, 2))


def _shape_rule(wrt, sign):
    def rule(xp, g, ans, a, b, x, names):
        return sign * g * _call(_beta_shape_derivative, xp, a, b, x, wrt=wrt, names=names)
    return rule


_betainc = Primitive(
    "special_betainc", _in_float64(lambda xp, a, b, x: ibf.regularized_beta(xp, a, b, x,
                                                                            upper=False),
                                   whole="betainc"),
    _shape_rule(0, 1.0), _shape_rule(1, 1.0),
    lambda xp, g, ans, a, b, x, names: g * _call(_beta_density, xp, a, b, x, names=names),
    saves=(0, 1, 2))
_betaincc = Primitive(
    "special_betaincc", _in_float64(lambda xp, a, b, x: ibf.regularized_beta(xp, a, b, x,
                                                                             upper=True),
                                    whole="betaincc"),
    _shape_rule(0, -1.0), _shape_rule(1, -1.0),
    lambda xp, g, ans, a, b, x, names: -g * _call(_beta_density, xp, a, b, x, names=names),
    saves=(0, 1, 2))


def _t_density_dt(xp, g, ans, df, t, names):
    return -g * ans * (df + 1.0) * t / (df + t * t)


# Student's t density, stdtr's derivative in t; its own derivative in t from itself
_t_density = Primitive("special_student_t_density", _in_float64(ibf.student_t_density),
                       _no_second_derivative(0), _quiet(_t_density_dt), saves=(0, 1, "output"))
_t_by_df = Primitive("special_stdtr_df_derivative",
                     _in_float64(ibf.student_t_cdf_by_df, whole="stdtr's df derivative"),
                     _no_second_derivative(0), _no_second_derivative(0), saves=(0, 1))
_stdtr = Primitive(
    "special_stdtr", _in_float64(ibf.student_t_cdf, whole="stdtr"),
    lambda xp, g, ans, df, t, names: g * _call(_t_by_df, xp, df, t, names=names),
    lambda xp, g, ans, df, t, names: g * _call(_t_density, xp, df, t, names=names),
    saves=(0, 1))


def _same_dtype(name, args, names):
    """``args`` as real floating tensors on one backend and of one dtype (the widest): Python
    numbers take a Tensor argument's backend and dtype, as ``xlogy``'s do."""
    first = next((i for i, v in enumerate(args) if isinstance(v, Tensor)), None)
    if first is None:
        out = [_real(name, v, what) for v, what in zip(args, names)]
    else:
        reference = _real(name, args[first], names[first])
        out = [_like(name, v, what, reference) for v, what in zip(args, names)]
    wide = max((v.dtype for v in out), key=lambda d: d.itemsize)
    return [v if v.dtype == wide else astype(v, wide, copy=False) for v in out]


def betainc(a, b, x, /):
    """The regularized incomplete beta function ``I_x(a, b) = integral_0^x t^(a-1)
    (1-t)^(b-1) dt / B(a, b)`` (``scipy.special.betainc``, ``jax.scipy.special.betainc``): the
    CDF at ``x`` of a Beta(a, b) variable, with broadcasting. For a, b > 0 and 0 <= x <= 1;
    SciPy's edge values elsewhere (NaN for negative arguments or x outside [0, 1], 1 for
    a == 0, 0 for b == 0). The gradient in ``x`` is the Beta density ``x^(a-1) (1-x)^(b-1) /
    B(a, b)``, in ``a`` and ``b`` the continued fraction's derivative (within ~1e-14 of
mpmath's); a second derivative involving ``a`` or ``b`` raises NotImplementedError naming it.

    >>> import xpgrad as xg
    >>> x = xg.asarray([0.0, 0.5, 1.0], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.betainc(2.0, 3.0, x).tolist()]
    [0.0, 0.6875, 1.0]
    """
    a, b, x = _same_dtype("betainc", [a, b, x], ("a", "b", "x"))
    return apply(_betainc, a, b, x, names=("betainc", "a", "b", "x"))


def betaincc(a, b, x, /):
    """``1 - I_x(a, b)``, the complement of ``betainc`` (``scipy.special.betaincc``): the
    Beta(a, b) survival function, computed directly where it is small (no ``1 - I``
    cancellation). Gradients as ``betainc``'s, of the opposite sign in ``x``.

    >>> import xpgrad as xg
    >>> f"{xg.special.betaincc(2.0, 3.0, xg.asarray(0.999, dtype=xg.float64)).item():.6e}"
    '3.997000e-09'
    """
    a, b, x = _same_dtype("betaincc", [a, b, x], ("a", "b", "x"))
    return apply(_betaincc, a, b, x, names=("betaincc", "a", "b", "x"))


def stdtr(df, t, /):
    """Student's t distribution function with ``df`` degrees of freedom at ``t``
    (``scipy.special.stdtr``): ``I_(df / (df + t^2))(df / 2, 1 / 2) / 2`` for t < 0, its
    complement above, accurate in both tails (the p-values of SciPy's ``ttest_*`` and
    ``pearsonr``-style tests come from here). The gradient in ``t`` is the t density, in ``df``
    (Welch's t-test: its df depends on the data) ``betainc``'s; second derivatives involving
    ``df`` raise NotImplementedError naming it.

    >>> import xpgrad as xg
    >>> t = xg.asarray([-2.0, 0.0], dtype=xg.float64)
    >>> [round(v, 12) for v in xg.special.stdtr(1.0, t).tolist()]   # Cauchy: 1/2 + atan(t)/pi
    [0.14758361765, 0.5]
    """
    df, t = _same_dtype("stdtr", [df, t], ("df", "t"))
    return apply(_stdtr, df, t, names=("stdtr", "df", "t"))


def _f_argument(dfn, dfd, x):
    """``dfn x / (dfn x + dfd)`` and ``dfd / (dfn x + dfd)``, each without a subtraction."""
    from .selection import where

    scaled = dfn * where(x > 0, x, 0.0)     # x < 0 is NaN (_f_edges), without a NaN gradient
    return scaled / (scaled + dfd), dfd / (scaled + dfd)


def fdtr(dfn, dfd, x, /):
    """The F distribution's CDF with ``dfn`` and ``dfd`` degrees of freedom at ``x >= 0``
    (``scipy.special.fdtr``): ``I_(dfn x / (dfn x + dfd))(dfn / 2, dfd / 2)``. The gradient
    in ``x`` is the F density, in ``dfn`` and ``dfd`` through ``betainc``'s; second
    derivatives involving them raise NotImplementedError naming the argument.

    >>> import xpgrad as xg
    >>> round(xg.special.fdtr(2.0, 2.0, xg.asarray(1.0, dtype=xg.float64)).item(), 12)
    0.5
    """
    dfn, dfd, x = _same_dtype("fdtr", [dfn, dfd, x], ("dfn", "dfd", "x"))
    w, y = _f_argument(dfn, dfd, x)
    out = _beta_from_the_smaller_side(0.5 * dfn, 0.5 * dfd, w, y, ("fdtr", "dfn", "dfd", "x"))
    return _f_edges(dfn, dfd, x, out)


def fdtrc(dfn, dfd, x, /):
    """The F distribution's survival function ``1 - fdtr(dfn, dfd, x)``
    (``scipy.special.fdtrc``; ``scipy.stats.f_oneway``'s p-value), computed as
    ``I_(dfd / (dfn x + dfd))(dfd / 2, dfn / 2)``, so small p-values keep their relative
    accuracy. Gradients as ``fdtr``'s, of the opposite sign in ``x``.

    >>> import xpgrad as xg
    >>> round(xg.special.fdtrc(2.0, 2.0, xg.asarray(3.0, dtype=xg.float64)).item(), 12)
    0.25
    """
    dfn, dfd, x = _same_dtype("fdtrc", [dfn, dfd, x], ("dfn", "dfd", "x"))
    w, y = _f_argument(dfn, dfd, x)
    out = _beta_from_the_smaller_side(0.5 * dfd, 0.5 * dfn, y, w, ("fdtrc", "dfd", "dfn", "x"))
    return _f_edges(dfn, dfd, x, out)


#: below this complement, fdtr and fdtrc pass it to the fraction rather than its argument
_FLIP_BELOW = 2.0 ** -10


def _beta_from_the_smaller_side(a, b, w, y, names):
    """``I_w(a, b)`` given ``w`` and ``y = 1 - w`` each without a subtraction: from ``w``,
    except where ``y`` is below 2^-10, as ``betaincc(b, a, y)``: ``w`` has rounded toward 1
    there, and ``1 - w`` keeps only ``2e-16 / y`` of y's digits (``fdtr(4, 1e-20, 0.5)`` was 1
    for 2.3e-19, ``fdtrc(2, 2e5, 1e-5)`` 8e-13 off). The branch not taken gets ``(1, 1, 0)``,
    I's edge (finite gradients, and no fraction to run: a branch no element takes costs
    a few array passes, not a second loop; from y < 1/2 on, fdtr's value and gradient took
    1.9x the time on uniform data)."""
    from .selection import where

    flip = y < _FLIP_BELOW
    lower = apply(_betainc, where(flip, 1.0, a), where(flip, 1.0, b), where(flip, 0.0, w),
                  names=names)
    upper = apply(_betaincc, where(flip, b, 1.0), where(flip, a, 1.0), where(flip, y, 0.0),
                  names=(names[0], names[2], names[1], names[3]))
    return where(flip, upper, lower)


def _f_edges(dfn, dfd, x, out):
    """NaN where SciPy's F functions give it: x < 0, dfn or dfd <= 0, or a NaN."""
    from .selection import where

    bad = (x < 0) | (dfn <= 0) | (dfd <= 0) | (x != x) | (dfn != dfn) | (dfd != dfd)
    return where(bad, float("nan"), out)


__all__ = ["betainc", "betaincc", "fdtr", "fdtrc", "stdtr"]
