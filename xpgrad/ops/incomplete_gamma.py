"""``xg.special.gammainc`` and ``gammaincc``, the regularized incomplete gamma functions (their
formulas in ``incomplete_gamma_formulas.py``), differentiable in ``x`` to any order and once in
``a``.

The derivative in ``a`` has no closed form (PyTorch's raises; JAX's is a series): each region's
series or continued fraction is carried with its derivative (``incomplete_gamma_shape.py``),
within ~1e-13 relative of mpmath. A second derivative involving ``a`` raises
NotImplementedError naming it, when the backward pass reaches it; an ``a`` that no tape
watches (a Python number, a constant tensor, or ``xg.stop_gradient(a)``) needs none.

>>> import xpgrad as xg
>>> x = xg.asarray([0.5, 2.0], dtype=xg.float64)
>>> [round(v, 12) for v in xg.grad(lambda x: xg.sum(gammainc(1.0, x)))(x).tolist()]  # exp(-x)
[0.606530659713, 0.135335283237]
>>> round(xg.grad(lambda a: gammaincc(a, 1.0))(xg.asarray(1.0, dtype=xg.float64)).item(), 12)
0.431729710635
"""
from __future__ import annotations

from ..jit.whole import run_quietly
from ..primitive import Primitive, apply
from .casting import astype
from . import incomplete_gamma_formulas as igf
from .incomplete_gamma_shape import upper_by_a
from .incomplete_gamma_regions import regularized_gamma
from .special import _call, _pair, _quiet
from .special_formulas import digamma


def _in_float64(formula, whole=None):
    """``formula(xp, a, x)`` run in float64, its result rounded back to float32 inputs' dtype
    (``gammainc`` gives both arguments one dtype first). ``whole``: the formula picks its
    series by range and loops until each element has converged, reading the values, so under
    ``xg.function`` it is one step of the program, run again whole on each replay's arrays
    (``run_whole``), not unrolled to a fixed number of steps: ``whole`` is then the name it
    has in an ``xg.vmap``'s ``fallbacks`` where the examples take different branches."""
    def now(xp, a, x):
        if x.dtype == xp.float32:
            return xp.astype(formula(xp, xp.astype(a, xp.float64), xp.astype(x, xp.float64)),
                             xp.float32)
        return formula(xp, a, x)

    def forward(xp, a, x):
        if whole:
            return run_quietly(xp, now, a, x, name=whole, all="ignore")
        return now(xp, a, x)
    return _quiet(forward)


def _no_second_derivative(name, what="a"):
    """The rule of ``what`` in a first derivative in ``a``: NotImplementedError naming it."""
    def rule(xp, g, ans, *args):
        raise NotImplementedError(
            f"xg.special.{name}: second derivatives involving {what} are not implemented (the "
            f"first derivative in a is); pass a as a constant or through xg.stop_gradient(a) "
            "to differentiate further in x only")
    return rule


def _density_by_a(xp, a, x):
    """``d/da x^(a-1) e^-x / Gamma(a) = density (log x - psi(a))`` (0 where the density is)."""
    value = igf.density(xp, a, x)
    log_x = xp.log(xp.where(value == 0, 1.0, x))
    return xp.where(value == 0, value, value * (log_x - digamma(xp, a)))


_density_a = Primitive("special_gamma_density_a_derivative", _in_float64(_density_by_a),
                       _no_second_derivative("gammainc"),
                       _no_second_derivative("gammainc", "x"), saves=(0, 1))
# x^(a-1) e^-x / Gamma(a), P's derivative in x; its own derivative is itself times (a-1)/x - 1
_density = Primitive(
    "special_gamma_density", _in_float64(igf.density),
    lambda xp, g, ans, a, x: g * _call(_density_a, xp, a, x),
    _quiet(lambda xp, g, ans, a, x: g * ans * ((a - 1.0) / x - 1.0)), saves=(0, 1, "output"))


def _a_derivative(name):
    """dQ/da (= -dP/da) as a primitive whose second derivatives name ``name``: each region's
    series or fraction carried with its derivative."""
    return Primitive(f"special_{name}_a_derivative", _in_float64(upper_by_a,
                                                                   whole=f"{name}'s a derivative"),
                     _no_second_derivative(name), _no_second_derivative(name, "x"),
                     saves=(0, 1))


_upper_by_a = {name: _a_derivative(name) for name in ("gammainc", "gammaincc")}
_gammainc = Primitive(
    "special_gammainc", _in_float64(lambda xp, a, x: regularized_gamma(xp, a, x,
                                                                           upper=False),
                                    whole="gammainc"),
    lambda xp, g, ans, a, x: -g * _call(_upper_by_a["gammainc"], xp, a, x),
    lambda xp, g, ans, a, x: g * _call(_density, xp, a, x), saves=(0, 1))
_gammaincc = Primitive(
    "special_gammaincc", _in_float64(lambda xp, a, x: regularized_gamma(xp, a, x,
                                                                            upper=True),
                                     whole="gammaincc"),
    lambda xp, g, ans, a, x: g * _call(_upper_by_a["gammaincc"], xp, a, x),
    lambda xp, g, ans, a, x: -g * _call(_density, xp, a, x), saves=(0, 1))


def _arguments(name, a, x, names=("a", "x")):
    """``a`` and ``x`` as real floating tensors of one dtype (the wider one)."""
    a, x = _pair(name, a, x, names)
    if a.dtype != x.dtype:
        wide = a.dtype if a.dtype.itemsize > x.dtype.itemsize else x.dtype
        a, x = astype(a, wide, copy=False), astype(x, wide, copy=False)
    return a, x


def gammainc(a, x, /):
    """The regularized lower incomplete gamma function ``P(a, x) = gamma(a, x) / Gamma(a)``,
    ``integral_0^x t^(a-1) e^-t dt / Gamma(a)`` (``scipy.special.gammainc``,
    ``torch.special.gammainc``): the CDF at ``x`` of a Gamma(a, 1) variable. For a > 0 and
    x >= 0, with broadcasting; ``P(0, x) = 1`` for x > 0, NaN for a < 0, x < 0 or ``a = x = 0``
    (as SciPy). float64 results are within about 1e-14 relative of the exact value (more
    where the function itself is ill-conditioned, far in its tails: relative errors grow as
    ``|x - a|`` times 1e-16, as SciPy's, and for large a as ``(x - a)**2 / a`` ulps: 3e-13 at
    38 standard deviations), for every a up to 1e20 (Temme's expansion for a >= 20 near
    x = a). Works under ``xg.function``. The gradient in ``x`` is ``x^(a-1) e^-x / Gamma(a)``;
    the gradient in ``a`` raises NotImplementedError, as PyTorch's.

    >>> import xpgrad as xg
    >>> [round(v, 12) for v in xg.special.gammainc(1.0, xg.asarray([0.0, 1.0], dtype=xg.float64))
    ...  .tolist()]                                  # 1 - exp(-x)
    [0.0, 0.632120558829]
    >>> round(xg.special.gammainc(1e20, xg.asarray(1e20, dtype=xg.float64)).item(), 13)
    0.5000000000133
    """
    return apply(_gammainc, *_arguments("gammainc", a, x))


def gammaincc(a, x, /):
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``
    (``scipy.special.gammaincc``, ``torch.special.gammaincc``), computed directly where it is
    small, so it keeps its relative accuracy far in the right tail (until it underflows).
    Gradients as ``gammainc``'s, of the opposite sign in ``x``.

    >>> import xpgrad as xg
    >>> q = xg.special.gammaincc(0.5, xg.asarray(30.0, dtype=xg.float64))   # erfc(sqrt(30))
    >>> f"{q.item():.10e}"
    '9.4857375711e-15'
    """
    return apply(_gammaincc, *_arguments("gammaincc", a, x))


__all__ = ["gammainc", "gammaincc"]
