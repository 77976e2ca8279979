"""The regularized incomplete beta function ``I_x(a, b)``, written once against ``xp`` in
float64: its continued fraction (DLMF 8.17.22, evaluated by the modified Lentz method), taken
where it converges fast, ``x < (a + 1) / (a + b + 2)``, and through the symmetry
``I_x(a, b) = 1 - I_(1-x)(b, a)`` elsewhere (so the complement, ``betaincc``, is computed
directly where it is small). The loop is ``incomplete_gamma_formulas.iterate``'s:
each element stops once converged; an element that has not within ``FRACTION_ITERATIONS``
steps is NaN, never a truncated fraction. The loops and the choice of side read the values,
so the formulas take arrays Python may read: under ``xg.function`` the primitives run them
as one step of the program (``incomplete_beta.py``), again on each replay's arrays.

>>> import array_api_compat.numpy as xp
>>> a, b, x = xp.asarray([1.0, 2.0]), xp.asarray([1.0, 3.0]), xp.asarray([0.25, 0.5])
>>> [round(v, 12) for v in regularized_beta(xp, a, b, x, upper=False).tolist()]  # x, 11/16
[0.25, 0.6875]
"""
from __future__ import annotations

import math

from .formulas import erfc
from .incomplete_gamma_formulas import _EPS, _TINY, _by_mask, iterate, log1pmx
from .special_formulas import digamma, gammaln, stirling_correction
from .special_gamma_shift import digamma_difference
from .student_t_large_df import student_t_cdf_by_df_large, uses_expansion

# Steps the fraction takes at most (each element stops once converged): 100 for a, b up to
# 100, 150 to 1e3, 300 to 1e4, 1000 to 1e5 next to the crossover (far from it fewer: 200 at
# most on random a, b up to 1e6)
FRACTION_ITERATIONS = 1500
_STIRLING_FROM = 10.0


def log_beta(xp, a, b):
    """``log B(a, b)`` for a, b > 0; where the larger is >= 10 the difference of the two large
    log-gammas is Stirling's series collected into one sum (as ``xg.special.betaln``). Each
    form on its own elements where Python may read the values (``_by_mask``)."""
    a, b = xp.broadcast_arrays(a, b)
    small, large = xp.minimum(a, b), xp.maximum(a, b)
    return _by_mask(xp, large >= _STIRLING_FROM, lambda s, big: _log_beta_series(xp, s, big),
                    lambda s, big: gammaln(xp, s) + gammaln(xp, big) - gammaln(xp, s + big),
                    (small, large), ((1.0, _STIRLING_FROM), (None, None)))


def _log_beta_series(xp, s, big):
    """``log B(s, big)`` for ``big >= 10``, ``s <= big``: Stirling's series of the difference
    of the two large log-gammas."""
    difference = (-(big - 0.5) * xp.log1p(s / big) - s * xp.log(big + s) + s
                  + stirling_correction(big) - stirling_correction(big + s))
    return gammaln(xp, s) + difference


def _log_power(xp, a, x):
    """``a log x``, 0 where a == 0 (also at x == 0)."""
    return xp.where(a == 0, 0.0, a * xp.log(xp.where(a == 0, 1.0, x)))


def density(xp, a, b, x):
    """``x^(a-1) (1-x)^(b-1) / B(a, b)``, ``I_x(a, b)``'s derivative in ``x`` (inf at an end
    where the exponent is negative); 0 outside [0, 1], NaN for a, b <= 0 or NaN."""
    a, b, x = xp.broadcast_arrays(a, b, x)
    valid = (a > 0) & (b > 0) & (a < xp.inf) & (b < xp.inf) & (x >= 0) & (x <= 1)
    ai, bi = xp.where(valid, a, 1.0), xp.where(valid, b, 1.0)
    xi = xp.where(valid, x, 0.5)
    log_value = (_log_power(xp, ai - 1.0, xi) + _log_power(xp, bi - 1.0, 1.0 - xi)
                 - log_beta(xp, ai, bi))
    outside = xp.where((a > 0) & (b > 0), xp.zeros_like(x), xp.nan)
    outside = xp.where((x != x) | (a != a) | (b != b), xp.nan, outside)
    return xp.where(valid, xp.exp(log_value), outside)


def _fraction_step(xp, j, variables, constants):
    c, d, f, _ = variables
    a, b, x = constants
    m = j // 2
    if j == 1:      # the factor a / a cancelled (a (a + b) is inexact for a subnormal a)
        coefficient = -(a + b) * x / (a + 1.0)
    elif j % 2:
        coefficient = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
    else:
        coefficient = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
    d = 1.0 + coefficient * d
    d = 1.0 / xp.where(xp.abs(d) < _TINY, _TINY, d)
    c = 1.0 + coefficient / c
    c = xp.where(xp.abs(c) < _TINY, _TINY, c)
    step = c * d
    return c, d, f * step, step


def _fraction_finished(xp, variables, constants):
    return xp.abs(variables[3] - 1.0) <= 2.0 * _EPS


def _fraction(xp, a, b, x, y):
    """``I_x(a, b)`` for x below ``(a + 1) / (a + b + 2)``, with ``y = 1 - x`` given exactly:
    ``x^a y^b / (a B(a, b))`` over the continued fraction ``1 + d1 / (1 + d2 / (1 + ...))``."""
    start = (xp.ones_like(x), xp.zeros_like(x), xp.ones_like(x), xp.zeros_like(x))
    fraction = iterate(xp, _fraction_step, _fraction_finished, lambda v, c: v[2], start,
                       (a, b, x), FRACTION_ITERATIONS, True)
    return xp.exp(log_power_terms(xp, a, b, x, y)) / (a * fraction)


def log_power_terms(xp, a, b, x, y):
    """``log(x^a y^b / B(a, b))`` for a, b > 0 and ``y = 1 - x`` in (0, 1). Where both a and b
    are >= 10 it is taken around the mean ``p = a / (a + b)``: ``a log1pmx(x / p - 1) +
    b log1pmx(y / q - 1) + log(ab / (2 pi (a + b))) / 2`` and Stirling's corrections (the
    terms ``a (x / p - 1)`` and ``b (y / q - 1)`` cancel exactly), so no digits cancel
    between ``a log x`` and ``log B`` (both near -1400 at a = b = 1000)."""
    return _by_mask(xp, (a >= _STIRLING_FROM) & (b >= _STIRLING_FROM),
                    lambda a, b, x, y: _log_power_terms_around_mean(xp, a, b, x, y),
                    lambda a, b, x, y: a * xp.log(x) + b * xp.log(y) - log_beta(xp, a, b),
                    (a, b, x, y), ((_STIRLING_FROM, _STIRLING_FROM, None, None),
                                   (None, None, None, None)))


def _scaled_log1pmx(xp, a, ratio):
    """``a (log(ratio) - (ratio - 1))``: by ``log1pmx`` near ratio = 1, elsewhere with
    ``log(ratio)`` of the ratio itself (``log1p(ratio - 1)`` would take ratio's rounding to 1
    absolute: 1e-7 relative in I at x = 2e-8, a = 39, b = 48)."""
    t = ratio - 1.0
    near = (t >= -0.5) & (t <= 1.0)
    far = xp.where(near, 1.0, ratio)
    return a * xp.where(near, log1pmx(xp, xp.where(near, t, 0.0)), xp.log(far) - (far - 1.0))


def _log_power_terms_around_mean(xp, a, b, x, y):
    total = a + b
    return (_scaled_log1pmx(xp, a, x * total / a) + _scaled_log1pmx(xp, b, y * total / b)
            + 0.5 * xp.log(a * b / (total * (2.0 * math.pi)))
            - stirling_correction(a) - stirling_correction(b) + stirling_correction(total))


def _edges(xp, a, b, x):
    """SciPy's values outside 0 < x < 1 with finite a, b > 0: I_0 = 0, I_1 = 1; a == 0 or
    b == inf gives 1 and b == 0 or a == inf gives 0 (the mass sits at 0, at 1); NaN for
    negative or NaN arguments, x outside [0, 1], a == b == 0 and a == b == inf."""
    edge = xp.where(x == 1, 1.0, xp.zeros_like(x))
    # the mass at 0 (a == 0, or b == inf) or at 1 (b == 0, or a == inf)
    at_zero = ((a == 0) & (b > 0)) | ((b == xp.inf) & (a < xp.inf))
    at_one = ((b == 0) & (a > 0)) | ((a == xp.inf) & (b < xp.inf))
    edge = xp.where(at_zero & (x > 0), 1.0, xp.where(at_one & (x < 1), 0.0, edge))
    bad = ((a < 0) | (b < 0) | (x < 0) | (x > 1) | ((a == 0) & (b == 0))
           | (a != a) | (b != b) | (x != x) | ((a == xp.inf) & (b == xp.inf)))
    return xp.where(bad, xp.nan, edge)


def _on_interior(xp, a, b, x, y, evaluate, out):
    """``out`` with its elements inside the domain (a, b > 0 finite, x, y = 1 - x > 0: y decides
    where x has rounded to 1) replaced by
    ``evaluate(xp, a', b', x', y', swapped)`` (1-D arrays of those elements only), where
    ``(a', b', x', y')`` is ``(a, b, x, y)``, or ``(b, a, y, x)`` past the fraction's
    crossover ``x > (a + 1) / (a + b + 2)`` (``swapped`` says which)."""
    inside = (a > 0) & (b > 0) & (a < xp.inf) & (b < xp.inf) & (x > 0) & (y > 0)
    swap = x * (a + b + 2.0) > a + 1.0
    args = [xp.where(swap, b, a), xp.where(swap, a, b), xp.where(swap, y, x),
            xp.where(swap, x, y), swap]
    shape = out.shape
    flat_inside = xp.reshape(inside, (-1,))
    out = xp.asarray(xp.reshape(out, (-1,)), copy=True)
    if bool(xp.any(flat_inside)):
        picked = [xp.reshape(v, (-1,))[flat_inside] for v in args]
        out[flat_inside] = evaluate(xp, *picked)
    return xp.reshape(out, shape)


def regularized_beta(xp, a, b, x, y=None, *, upper):
    """``1 - I_x(a, b)`` if ``upper`` else ``I_x(a, b)`` (SciPy's ``betaincc`` /
    ``betainc``), each computed directly on the side of the fraction's crossover where it is
    the smaller of the two. ``y``: ``1 - x`` where the caller has it more accurately than the
    subtraction (``stdtr``'s ``t**2 / (df + t**2)`` for small t)."""
    a, b, x, y = xp.broadcast_arrays(a, b, x, 1.0 - x if y is None else y)
    edge = _edges(xp, a, b, x)

    def evaluate(xp, a, b, x, y, swapped):
        value = _fraction(xp, a, b, x, y)
        return xp.where(swapped == upper, value, 1.0 - value)

    out = _on_interior(xp, a, b, x, y, evaluate, 1.0 - edge if upper else edge)
    return xp.minimum(xp.maximum(out, 0.0), 1.0)


# -- the derivatives in a and b: the fraction differentiated along its recurrence ---------------
def _coefficient_and_log_derivatives(j, a, b, x):
    """The fraction's ``d_j`` and its derivatives in a and in b."""
    m = j // 2
    if j == 1:
        # d_1 = -(a + b) x / (a + 1), the factor a / a cancelled: its log-derivative in a
        # 1 / a + ... - 1 / a was 1e-20 + 0.5 - 1e-20 rounded (nbdtr's n gradient 24% off at
        # n = 1e-20), and a (a + b) is inexact for a subnormal a
        coefficient = -(a + b) * x / (a + 1.0)
        return coefficient, coefficient * (1.0 / (a + b) - 1.0 / (a + 1.0)), \
            coefficient / (a + b)
    if j % 2:
        coefficient = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        by_a = coefficient * (1.0 / (a + m) + 1.0 / (a + b + m) - 1.0 / (a + 2 * m)
                              - 1.0 / (a + 2 * m + 1))
        return coefficient, by_a, coefficient / (a + b + m)
    denominator = (a + 2 * m - 1) * (a + 2 * m)
    coefficient = m * (b - m) * x / denominator
    by_a = -coefficient * (1.0 / (a + 2 * m - 1) + 1.0 / (a + 2 * m))
    return coefficient, by_a, m * x / denominator


def _derivative_step(xp, j, variables, constants):
    """One step of the fraction (``c``, ``d``, its value ``f``) carried with the derivatives
    of ``c``, ``d`` and ``log f`` in a, or in b where ``in_b``."""
    c, d, f, _, dc, dd, dlog, _ = variables
    a, b, x, in_b = constants
    coefficient, by_a, by_b = _coefficient_and_log_derivatives(j, a, b, x)
    dcoefficient = xp.where(in_b, by_b, by_a)
    d_new = 1.0 + coefficient * d
    d_new = 1.0 / xp.where(xp.abs(d_new) < _TINY, _TINY, d_new)
    dd = -d_new * d_new * (dcoefficient * d + coefficient * dd)
    c_new = 1.0 + coefficient / c
    dc = dcoefficient / c - coefficient * dc / (c * c)
    c_new = xp.where(xp.abs(c_new) < _TINY, _TINY, c_new)
    increment = dc / c_new + dd / d_new
    step = c_new * d_new
    return c_new, d_new, f * step, step, dc, dd, dlog + increment, increment


def _derivative_finished(xp, variables, constants):
    step, dlog, increment = variables[3], variables[6], variables[7]
    return ((xp.abs(step - 1.0) <= 2.0 * _EPS)
            & (xp.abs(increment) <= 2.0 * _EPS * xp.abs(dlog) + 1e-300))


def _fraction_derivative(xp, a, b, x, y, in_b, with_value=False):
    """``d I_x(a, b) / da``, or ``/ db`` where ``in_b``, for x below the crossover: I times
    the derivative of ``log(x^a y^b / (a B(a, b)))`` less that of the fraction's log (one
    loop gives the fraction and that derivative)."""
    zeros = xp.zeros_like(x)
    start = (xp.ones_like(x), zeros, xp.ones_like(x), zeros, zeros, zeros, zeros, zeros)
    fraction, log_fraction = iterate(xp, _derivative_step, _derivative_finished,
                                     lambda v, c: (v[2], v[6]), start, (a, b, x, in_b),
                                     FRACTION_ITERATIONS, True)
    value = xp.exp(log_power_terms(xp, a, b, x, y)) / (a * fraction)
    log_front = xp.zeros_like(x)
    # in b: log y + psi(a + b) - psi(b), the difference as its series where a is below 1e-3
    # of b (it was 0 for a = 1e-20), log y as log1p(-x) below 1/2 (y = 1 - x rounds to 1 at
    # x = 1e-20: fdtr's gradient in dfd was 2.5x off at dfn = 1e-20); in a:
    # log x - psi(a) - 1/a + psi(a + b), as psi(a + 1), no cancelling
    log_y = xp.where(x < 0.5, xp.log1p(-xp.where(x < 0.5, x, 0.0)), xp.log(y))
    for side, log_side in ((in_b, lambda: log_y[in_b]
                            + digamma_difference(xp, b[in_b], a[in_b])),
                           (~in_b, lambda: xp.log(x[~in_b]) - digamma(xp, a[~in_b] + 1.0)
                            + digamma(xp, a[~in_b] + b[~in_b]))):
        if bool(xp.any(side)):
            log_front[side] = log_side()
    derivative = value * (log_front - log_fraction)
    return (value, derivative) if with_value else derivative


#: a value above ``1 - this`` takes its derivative from its complement (fdtr's threshold)
_FLIP_BELOW = 2.0 ** -10
#: ... where x is above this fraction of the crossover (the complement's fraction, then on its
#: far side, converges there: to 1e-12 of mpmath at a = 1e-12..1e-3, b = 10..1e3)
_FLIP_RATIO = 0.01


def regularized_beta_derivative(xp, a, b, x, y=None, *, wrt):
    """``d I_x(a, b) / da`` (``wrt`` 0) or ``/ db`` (``wrt`` 1): the continued fraction's
    recurrence carried with its derivative (forward mode), so as accurate as the value
    itself; 0 at x = 0 and 1, NaN where ``I`` is."""
    a, b, x, y = xp.broadcast_arrays(a, b, x, 1.0 - x if y is None else y)
    edge = _edges(xp, a, b, x)
    edge = xp.where(edge != edge, xp.nan, xp.zeros_like(edge))

    def evaluate(xp, a2, b2, x2, y2, swapped):
        # past the crossover I = 1 - I_y(b, a): a's derivative is minus b's there, and so on
        in_b = swapped != bool(wrt)
        value, derivative = _fraction_derivative(xp, a2, b2, x2, y2, in_b, with_value=True)
        # a value near 1 (a tiny a below the crossover: I_x(1e-7, 443) ~ 1 - 1e-7) is the
        # difference of two near terms' derivatives there (1e-7 relative off in b, 1e-2 at
        # a = 1e-12): its complement's derivative, from the other side's fraction, has no
        # such cancelling; kept where that fraction gives no finite number
        near_one = (value > 1.0 - _FLIP_BELOW) & (
            x2 * (a2 + b2 + 2.0) > _FLIP_RATIO * (a2 + 1.0))
        if bool(xp.any(near_one)):
            flipped = -_fraction_derivative(xp, b2[near_one], a2[near_one], y2[near_one],
                                            x2[near_one], ~in_b[near_one])
            derivative[near_one] = xp.where(xp.isfinite(flipped), flipped,
                                            derivative[near_one])
        return xp.where(swapped, -derivative, derivative)

    return _on_interior(xp, a, b, x, y, evaluate, edge)


def student_t_density(xp, df, t):
    """Student's t density ``(1 + t^2 / df)^(-(df + 1) / 2) / (sqrt(df) B(df / 2, 1 / 2))``,
    ``stdtr``'s derivative in ``t``; NaN for df <= 0."""
    df, t = xp.broadcast_arrays(df, t)
    valid = (df > 0) & (df < xp.inf)
    d = xp.where(valid, df, 1.0)
    log_value = (-0.5 * (d + 1.0) * xp.log1p(t * t / d) - 0.5 * xp.log(d)
                 - log_beta(xp, 0.5 * d, xp.full_like(d, 0.5)))
    normal = xp.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)       # the limit df -> inf
    return xp.where(valid, xp.exp(log_value), xp.where(df == xp.inf, normal, xp.nan))


def student_t_cdf(xp, df, t):
    """Student's t CDF: ``I_w(df / 2, 1 / 2) / 2`` with ``w = df / (df + t^2)`` for t < 0 and
    its complement above (``1 - w = t^2 / (df + t^2)`` given exactly to the fraction); 0 and 1
    at -inf and inf, NaN for df <= 0 (as SciPy's ``stdtr``)."""
    df, t = xp.broadcast_arrays(df, t)
    valid = (df > 0) & (df < xp.inf) & (t == t) & (xp.abs(t) < xp.inf)
    d = xp.where(valid, df, 1.0)
    s = xp.where(valid, t, 1.0)
    square = s * s
    total = d + square
    tail = 0.5 * regularized_beta(xp, 0.5 * d, xp.full_like(d, 0.5), d / total, square / total,
                                  upper=False)
    value = xp.where(s < 0, tail, 1.0 - tail)
    edge = xp.where(t == xp.inf, 1.0, xp.where(t == -xp.inf, xp.zeros_like(t), xp.nan))
    edge = xp.where((df == xp.inf) & (t == t), 0.5 * erfc(xp, -t / math.sqrt(2.0)), edge)
    edge = xp.where((df <= 0) | (df != df), xp.nan, edge)
    return xp.where(valid, value, edge)



def student_t_cdf_by_df(xp, df, t):
    """``d stdtr(df, t) / d df``: with ``w = df / (df + t^2)``, ``+-(dI/da / 2 + I' dw/d df) / 2``
    at ``(df / 2, 1 / 2, w)``, minus for t > 0 (the complement); 0 at t = 0 and +-inf; the
    expansion in ``1 / df`` (``student_t_large_df``) where those two cancel."""
    df, t = xp.broadcast_arrays(df, t)
    valid = (df > 0) & (df < xp.inf) & (t != 0) & (xp.abs(t) < xp.inf)
    d = xp.where(valid, df, 1.0)
    s = xp.where(valid, t, 1.0)
    total = d + s * s
    w, y = d / total, s * s / total
    half = xp.full_like(d, 0.5)
    by_a = regularized_beta_derivative(xp, 0.5 * d, half, w, y, wrt=0)
    # I's density times dw/d df = y / total, as one power: w^(a-1) y^(1/2) / (B total)
    density_term = xp.exp((0.5 * d - 1.0) * xp.log(w) + 0.5 * xp.log(y)
                          - log_beta(xp, 0.5 * d, half)) / total
    tail = 0.5 * (0.5 * by_a + density_term)
    by_betainc = xp.where(s < 0, tail, -tail)
    # past 300 (and 4 t^4) the two terms above cancel (2e-6 relative at df = 1e5, the wrong
    # sign at 1e10): the expansion in 1 / df there
    large = uses_expansion(xp, d, s)
    by_df = xp.where(large, student_t_cdf_by_df_large(xp, xp.where(large, d, 1e3),
                                                      xp.where(large, s, 0.0)), by_betainc)
    edge = xp.where((df > 0) & (df == df) & (t == t), xp.zeros_like(t), xp.nan)
    return xp.where(valid, by_df, edge)
