"""``xg.special.betaincinv``, the inverse of ``betainc`` in ``x``: the quantile of a Beta(a, b)
variable (``scipy.special.betaincinv``). Differentiable in ``y`` to any order
(``dx/dy = 1 / (x^(a-1) (1-x)^(b-1) / B(a, b))``) and once in ``a`` and ``b`` by the implicit
function theorem, ``dx/da = -(dI/da) / (dI/dx)`` at the quantile (``betainc``'s continued
fraction derivative).

>>> import xpgrad as xg
>>> y = xg.asarray([0.25, 0.5], dtype=xg.float64)
>>> [round(v, 12) for v in xg.special.betaincinv(2.0, 1.0, y).tolist()]        # sqrt(y)
[0.5, 0.707106781187]
"""
from __future__ import annotations

from ..primitive import Primitive, apply
from . import incomplete_beta_formulas as ibf
from .incomplete_beta import (_beta_density, _in_float64, _no_second_derivative,
                              _same_dtype)
from .special import _call, _quiet

_NEWTON_STEPS = 60
_EPS = 2.0 ** -53
_LOG_TINY = -667.0                # log(1e-290)
_LOG_SMALLEST = -745.2            # log of the smallest subnormal


def _start(xp, a, b, y):
    """Numerical Recipes' first guess (section 6.14): for a, b >= 1 a normal approximation,
    otherwise the inverse of the two power-law tails ``x^a / (a w)`` and ``(1-x)^b / (b w)``."""
    t = xp.sqrt(-2.0 * xp.log(xp.where(y < 0.5, y, 1.0 - y)))
    z = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t
    z = xp.where(y < 0.5, -z, z)
    al = (z * z - 3.0) / 6.0
    h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0))
    w = (z * xp.sqrt(xp.abs(al + h)) / h
         - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (al + 5.0 / 6.0 - 2.0 / (3.0 * h)))
    normal = a / (a + b * xp.exp(xp.minimum(2.0 * w, 700.0)))
    log_total = xp.log(a + b)
    left = xp.exp(a * (xp.log(a) - log_total)) / a
    right = xp.exp(b * (xp.log(b) - log_total)) / b
    total = left + right
    tails = xp.where(y < left / total, (a * total * y) ** (1.0 / a),
                     1.0 - (b * total * (1.0 - y)) ** (1.0 / b))
    return xp.where((a >= 1.0) & (b >= 1.0), normal, tails)


def _solve(xp, a, b, p, q):
    """``x`` with ``I_x(a, b) = p`` (``= 1 - q``; the smaller of ``p`` and ``q`` given exactly),
    for x expected below about 1/2 (the caller swaps the other side), 1-D arrays of interior
    elements. Newton's steps in ``u = log x`` on ``log I = log p``, or on ``log(1 - I) =
    log q`` where q < p (each tail keeps its digits; ``log I`` is nearly linear in ``log x``
    in the lower tail, where ``I ~ x^a``), inside a bracket of ``u`` that every evaluation
    narrows: a step leaving it bisects it instead. Done when a step or the bracket is below 8
    ulps of ``max(1, |log x|)``, or a step below 1e-8 of it is no smaller than the last
    (``betainc``'s own rounding reached); NaN where none happens. Below
    p = 1e-8 the steps start from the tail's inverse ``(a B(a, b) p)^(1 / a)``."""
    upper = q < p
    target = xp.where(upper, xp.log(q), xp.log(p))
    log_beta = ibf.log_beta(xp, a, b)
    # I ~ x^a / (a B) far left: the inverse of that, exact to O(x) there
    tail = (xp.log(p) + xp.log(a) + log_beta) / a
    u = xp.log(xp.minimum(xp.maximum(_start(xp, a, b, p), 1e-300), 0.75))
    u = xp.minimum(xp.where(p < 1e-8, tail, u), -_EPS)
    low, high = xp.full_like(u, _LOG_SMALLEST), xp.zeros_like(u)
    done = xp.zeros(u.shape, dtype=xp.bool)
    last_size = xp.full_like(u, xp.inf)
    for _ in range(_NEWTON_STEPS):
        x = xp.exp(u)
        value = xp.where(upper, ibf.regularized_beta(xp, a, b, x, upper=True),
                         ibf.regularized_beta(xp, a, b, x, upper=False))
        log_value = xp.log(value)
        residual = xp.where(upper, target - log_value, log_value - target)  # increasing in u
        low, high = xp.where(residual < 0, u, low), xp.where(residual > 0, u, high)
        # d log I / d log x = x^a (1-x)^(b-1) / (B I), d log(1 - I) / d log x: minus that / (1 - I)
        slope = xp.exp(a * u + (b - 1.0) * xp.log1p(-x) - log_beta - log_value)
        new = u - residual / slope
        new = xp.where((new >= low) & (new <= high), new, 0.5 * (low + high))
        scale = xp.maximum(1.0, xp.abs(u))
        size = xp.abs(new - u)
        # a step no smaller than the last one, itself small: betainc's rounding reached
        converged = ((size <= 8.0 * _EPS * scale) | (high - low <= 8.0 * _EPS * scale)
                     | ((size >= last_size) & (size <= 1e-8 * scale)))
        last_size = xp.where(done, last_size, size)
        u = xp.where(done, u, new)
        done = done | converged
        if bool(xp.all(done)):
            break
    # where x is below 1e-290 the tail's inverse is exact to 1e-290 (and may underflow)
    return xp.where((tail < _LOG_TINY) & ~upper, xp.exp(tail),
                    xp.where(done, xp.exp(u), xp.nan))


def _inverse(xp, a, b, y):
    """SciPy's edges: 0 at y = 0, 1 at y = 1; NaN for a, b <= 0, y outside [0, 1] or a NaN.
    Where the first guess is above 1/2 it solves ``I_(1-x)(b, a) = 1 - y`` for ``1 - x``, so x
    next to 1 keeps its digits as x next to 0 does."""
    a, b, y = xp.broadcast_arrays(a, b, y)
    inside = (a > 0) & (b > 0) & (a < xp.inf) & (b < xp.inf) & (y > 0) & (y < 1)
    edge = xp.where(y == 1, 1.0, xp.zeros_like(y))
    edge = xp.where((a <= 0) | (b <= 0) | (y < 0) | (y > 1) | (a != a) | (b != b) | (y != y),
                    xp.nan, edge)
    shape = edge.shape
    out = xp.asarray(xp.reshape(edge, (-1,)), copy=True)
    flat = [xp.reshape(v, (-1,)) for v in (a, b, y, inside)]
    picked = [v[flat[3]] for v in flat[:3]]
    if picked[0].shape[0]:
        ai, bi, yi = picked
        complement = 1.0 - yi
        swap = _start(xp, ai, bi, yi) > 0.5
        solved = _solve(xp, xp.where(swap, bi, ai), xp.where(swap, ai, bi),
                        xp.where(swap, complement, yi), xp.where(swap, yi, complement))
        out[flat[3]] = xp.where(swap, 1.0 - solved, solved)
    return xp.reshape(out, shape)


def _quantile_by_shape(xp, a, b, x, wrt):
    """``dx/da`` (``wrt`` 0) or ``dx/db`` (1) of the quantile at fixed ``y``:
    ``-(dI/da) / I'(x)``; 0 where the quantile is 0 or 1 (at every a, b)."""
    inside = (x > 0) & (x < 1)
    xs = xp.where(inside, x, 0.5)
    value = (-ibf.regularized_beta_derivative(xp, a, b, xs, wrt=wrt)
             / ibf.density(xp, a, b, xs))
    return xp.where(inside, value, xp.where(x == x, xp.zeros_like(x), xp.nan))


_quantile_shape = Primitive(
    "special_betaincinv_shape_derivative", _in_float64(
        _quantile_by_shape, whole="betaincinv's a or b derivative"),
    _no_second_derivative(0), _no_second_derivative(1), _no_second_derivative(2),
    saves=(0, 1, 2))


def _shape_rule(wrt):
    def rule(xp, g, ans, a, b, y, names):
        return g * _call(_quantile_shape, xp, a, b, ans, wrt=wrt, names=names)
    return rule


_betaincinv = Primitive(
    "special_betaincinv", _in_float64(_inverse, whole="betaincinv"), _shape_rule(0),
    _shape_rule(1),
    _quiet(lambda xp, g, ans, a, b, y, names:
           g / _call(_beta_density, xp, a, b, ans, names=names)),
    saves=(0, 1, "output"))


def betaincinv(a, b, y, /):
    """``x`` with ``betainc(a, b, x) = y`` (``scipy.special.betaincinv``), the Beta(a, b)
    quantile, with broadcasting: 0 at y = 0, 1 at y = 1, NaN for a, b <= 0 or y outside
    [0, 1]. On the NumPy backend SciPy's ufunc where SciPy imports; elsewhere Newton's steps
    in ``log x`` on ``log betainc`` (or its complement's) from Numerical Recipes' guess,
    bracketed: within 3e-13 relative of SciPy for a, b in [0.1, 100] and y down to 1e-300
    (finite where SciPy's is NaN, at some y below 1e-180), for shapes to 1e4 as accurate as
    ``betainc`` itself there. The gradient in ``y``
    is ``1 / betainc``'s density at the result (to any order); in ``a`` and ``b`` (once)
    ``-(dI/da) / (dI/dx)`` there; second derivatives involving ``a`` or ``b`` raise
    NotImplementedError naming them.

    >>> import xpgrad as xg
    >>> y = xg.asarray(0.5, dtype=xg.float64)
    >>> round(xg.grad(lambda y: xg.special.betaincinv(2.0, 2.0, y))(y).item(), 12)  # 1 / 1.5
    0.666666666667
    """
    a, b, y = _same_dtype("betaincinv", [a, b, y], ("a", "b", "y"))
    return apply(_betaincinv, a, b, y, names=("betaincinv", "a", "b", "y"))


__all__ = ["betaincinv"]
