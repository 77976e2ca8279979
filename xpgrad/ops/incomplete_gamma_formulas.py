"""The regularized incomplete gamma functions' iterative formulas, written once against ``xp``
in float64: ``P(a, x) = gamma(a, x) / Gamma(a)`` and ``Q(a, x) = 1 - P(a, x)``, for a > 0 and
x >= 0 (``incomplete_gamma_regions.py`` picks one per element; for large a near x = a,
``incomplete_gamma_temme.py``). The methods are those described in Numerical Recipes,
section 6.2:

- P's power series ``x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n))``;
- Q's continued fraction (modified Lentz);
- for small ``a`` and ``x <= 1.1``, Q's series ``1 - x^a / Gamma(a + 1) +
  x^a / Gamma(a) * sum_n>=1 -(-x)^n / (n! (a + n))``, whose leading part is one ``expm1``.

The factor ``x^a e^-x / Gamma(a)`` is taken for a >= 10 as
``sqrt(a / 2 pi) exp(a log1pmx((x - a) / a) - stirling_correction(a))``, so no digits cancel
between ``a log x`` and ``log Gamma(a)`` (both near 1e5 at a = 1e4). The loops (``iterate``)
end where every element has converged; an element that has not within their bound is NaN.

>>> import array_api_compat.numpy as xp
>>> a, x = xp.asarray([1.0, 0.5]), xp.asarray([0.5, 0.2])
>>> [round(v, 12) for v in lower_series(xp, a, x, eager=True).tolist()]  # 1 - e^-0.5, erf(0.2^0.5)
[0.393469340287, 0.472910743134]
"""
from __future__ import annotations

import math

from .formulas import horner
from .linalg_helpers import readable
from .special_formulas import (_LGAMMA_AT_1, _LGAMMA_AT_2, _shift_up, _stirling,
                               stirling_correction)

_EPS = 2.0 ** -53
_TINY = 1e-300                  # Lentz's stand-in for a zero denominator
# Outside Temme's region the series takes at most 100 terms (at x just under 0.7 a, the
# ratio of its terms), the fraction at most 92 steps (small a, x just over 1.1), on dense and
# random grids of a in [1e-300, 1e20]; the bounds leave half as much again
SERIES_ITERATIONS = 150
FRACTION_ITERATIONS = 150
_CHECK_EVERY = 8                # how often eager loops drop the elements that have converged
_STIRLING_FROM = 10.0
# log1pmx(t) = log(1 + t) - t = -u t + 2 u^3 sum_k u^(2k) / (2k + 3) with u = t / (2 + t)
_LOG1PMX_TERMS = tuple(2.0 / (2 * k + 3) for k in range(20))


def log1pmx(xp, t):
    """``log(1 + t) - t``, without cancellation near ``t = 0`` (where it is ``-t**2 / 2``)."""
    near = (t >= -0.5) & (t <= 1.0)
    s = xp.where(near, t, 0.0)
    u = s / (2.0 + s)
    series = -u * s + u * u * u * horner(_LOG1PMX_TERMS, u * u)
    far = xp.where(near, 0.5, t)
    return xp.where(near, series, xp.log1p(far) - far)


def _by_mask(xp, mask, inside, outside, args, stand_ins):
    """``inside(*args)`` where ``mask``, ``outside(*args)`` elsewhere. Eagerly (values Python
    may read) each on its own elements only, gathered and scattered back; while ``xg.function``
    traces, both on every element, the other side's arguments replaced by ``stand_ins``
    (``(inside's, outside's)``, each a tuple per argument or None to keep it), and ``where``
    picks: the same operations per element either way, so the same values. Inside
    ``xg.vmap`` (a batched array: ``_level``) as while tracing: the examples' masks differ."""
    if all(readable(v) and not hasattr(v, "_level") for v in (mask, *args)):
        out = xp.empty(mask.shape, dtype=args[0].dtype)
        for side, fn in ((mask, inside), (~mask, outside)):
            if bool(xp.any(side)):
                out[side] = fn(*(v[side] for v in args))
        return out
    kept = [tuple(v if s is None else xp.where(keep, v, s) for v, s in zip(args, subs))
            for keep, subs in ((mask, stand_ins[0]), (~mask, stand_ins[1]))]
    return xp.where(mask, inside(*kept[0]), outside(*kept[1]))


def log_power_factor(xp, a, x):
    """``log(x^a e^-x / Gamma(a + 1))`` for a > 0, x >= 0 (-inf at x = 0)."""
    a, x = xp.broadcast_arrays(a, x)
    return _by_mask(xp, a >= _STIRLING_FROM, lambda a, x: _log_power_stirling(xp, a, x),
                    lambda a, x: _log_power_direct(xp, a, x), (a, x),
                    ((_STIRLING_FROM, None), (1.0, None)))


def _log_power_stirling(xp, a, x):
    """``log_power_factor`` for a >= 10, through Stirling's series."""
    t = (x - a) / a
    # a log1pmx(t) = a log(x / a) - (x - a); away from t = 0 that form keeps x / a exact
    near = (t >= -0.5) & (t <= 1.0)
    exponent = xp.where(near, a * log1pmx(xp, t), a * xp.log(x / a) - (x - a))
    return exponent - 0.5 * xp.log(2.0 * math.pi * a) - stirling_correction(a)


def _log_power_direct(xp, a, x):
    return a * xp.log(x) - x - _log_gamma_1p(xp, a)


def _log_gamma_1p(xp, a):
    """``log Gamma(1 + a)`` for a >= 0, exact in ``a`` near 0 (no rounding of ``1 + a``)."""
    return _by_mask(xp, a < 0.3, lambda a: horner(_LGAMMA_AT_1, a),
                    lambda a: _gammaln_from_1_3(xp, a + 1.0), (a,), ((0.0,), (0.5,)))


def _gammaln_from_1_3(xp, y):
    """``special_formulas.gammaln`` for y >= 1.3 (and NaN), each of its three regions there
    on its own elements (it evaluates all five everywhere): the same operations per element,
    so the same values."""
    def below_2_6(y):
        return _by_mask(xp, y < 1.5, lambda y: _lgamma_at_2_from_below(xp, y),
                        lambda y: horner(_LGAMMA_AT_2, y - 2.0), (y,), ((1.4,), (2.0,)))

    def stirling(y):
        shifted, product, _ = _shift_up(xp, y)
        return _stirling(xp, shifted) - xp.log(product)
    return _by_mask(xp, y < 2.6, below_2_6, stirling, (y,), ((2.0,), (3.0,)))


def _lgamma_at_2_from_below(xp, y):
    e = y - 1.0
    return horner(_LGAMMA_AT_2, e) - xp.log1p(e)


def iterate(xp, advance, finished, value, variables, constants, iterations, eager):
    """Run ``variables = advance(n, variables, constants)`` for n = 1, 2, ... until
    ``finished(variables, constants)`` (a mask) holds, and give ``value(variables, constants)``
    per element, NaN where ``iterations`` steps did not get there (never a truncated sum); a
    ``value`` giving a tuple of arrays gives a tuple.

    ``eager`` (1-D arrays whose values Python may read): every ``_CHECK_EVERY`` steps the
    finished elements are written out and dropped, so the cost follows the average element,
    not the slowest. Otherwise (``xg.function`` traces the arrays) exactly ``iterations`` steps
    on every element, each frozen from the step it finished at: no branch on the values.

    >>> import array_api_compat.numpy as xp      # sum of 2^-n: 2
    >>> step = lambda xp, n, v, c: (v[0] * 0.5, v[1] + v[0] * 0.5)
    >>> done = lambda xp, v, c: v[0] <= 1e-16 * v[1]
    >>> [iterate(xp, step, done, lambda v, c: v[1], (xp.ones(2), xp.ones(2)), (), limit, True)
    ...  .tolist() for limit in (100, 10)]
    [[2.0, 2.0], [nan, nan]]
    """
    if eager:
        return _iterate_compacting(xp, advance, finished, value, variables, constants,
                                   iterations)
    done = finished(xp, variables, constants)
    for n in range(1, iterations + 1):
        stepped = advance(xp, n, variables, constants)
        variables = tuple(xp.where(done, old, new) for old, new in zip(variables, stepped))
        done = done | finished(xp, variables, constants)
    values = value(variables, constants)
    if isinstance(values, tuple):
        return tuple(xp.where(done, v, xp.nan) for v in values)
    return xp.where(done, values, xp.nan)


def _iterate_compacting(xp, advance, finished, value, variables, constants, iterations):
    first = value(variables, constants)
    several = isinstance(first, tuple)
    outs = tuple(xp.full(variables[0].shape, xp.nan, dtype=variables[0].dtype)
                 for _ in (first if several else (first,)))
    active = xp.ones(variables[0].shape, dtype=xp.bool)    # still iterating, of all elements
    for n in range(1, iterations + 1):
        variables = advance(xp, n, variables, constants)
        if n % _CHECK_EVERY and n != iterations:
            continue
        done = finished(xp, variables, constants)
        if not bool(xp.any(done)):
            continue
        values = value(variables, constants)
        # boolean masks, not integer positions: the array API's setitem takes no integer array
        finished_now = xp.zeros_like(active)
        finished_now[active] = done
        for out, v in zip(outs, values if several else (values,)):
            out[finished_now] = v[done]
        left = ~done
        if not bool(xp.any(left)):
            break
        active = active & ~finished_now
        variables = tuple(v[left] for v in variables)
        constants = tuple(c[left] for c in constants)
    return outs if several else outs[0]


def _series_step(xp, n, variables, constants):
    term, total = variables
    a, x = constants
    term = term * (x / (a + n))
    return term, total + term


def _series_finished(xp, variables, constants):
    term, total = variables
    return term <= _EPS * total


def lower_series(xp, a, x, eager):
    """``P(a, x)`` by its power series (for x <= max(a + 1, 1.1), outside Temme's region:
    at most ``SERIES_ITERATIONS`` terms)."""
    total = iterate(xp, _series_step, _series_finished, lambda v, c: v[1],
                    (xp.ones_like(x), xp.ones_like(x)), (a, x), SERIES_ITERATIONS, eager)
    return xp.exp(log_power_factor(xp, a, x)) * total


def _fraction_step(xp, i, variables, constants):
    c, d, h, _ = variables
    a, x = constants
    an = -i * (i - a)
    b = (x - a) + (2 * i + 1)
    d = an * d + b
    d = 1.0 / xp.where(xp.abs(d) < _TINY, _TINY, d)
    c = b + an / c
    c = xp.where(xp.abs(c) < _TINY, _TINY, c)
    step = d * c
    return c, d, h * step, step


def _fraction_finished(xp, variables, constants):
    return xp.abs(variables[3] - 1.0) <= 2.0 * _EPS


def upper_fraction(xp, a, x, eager):
    """``Q(a, x)`` by its continued fraction (for x > max(a + 1, 1.1), outside Temme's
    region: at most ``FRACTION_ITERATIONS`` steps), modified Lentz."""
    d = 1.0 / ((x - a) + 1.0)
    start = (xp.full_like(x, 1.0 / _TINY), d, d, xp.zeros_like(x))
    h = iterate(xp, _fraction_step, _fraction_finished, lambda v, c: v[2], start, (a, x),
                FRACTION_ITERATIONS, eager)
    return xp.exp(log_power_factor(xp, a, x)) * (a * h)


def upper_series(xp, a, x):
    """``Q(a, x)`` for small a and x <= 1.1 (30 terms reach 1.1**30 / 30! < 1e-30)."""
    factor = xp.ones_like(x)
    total = xp.zeros_like(x)
    for n in range(1, 31):
        factor = factor * (-x / n)
        total = total + factor / (a + n)
    log_x = xp.log(x)
    lead = -xp.expm1(a * log_x - _log_gamma_1p(xp, a))
    return lead - a * xp.exp(a * log_x - _log_gamma_1p(xp, a)) * total


def density(xp, a, x):
    """``x^(a-1) e^-x / Gamma(a)``, P's derivative in ``x``: at x = 0 inf for a < 1, 1 for
    a = 1, 0 for a > 1; NaN where P is."""
    a, x = xp.broadcast_arrays(a, x)
    inside = (a > 0) & (x > 0) & (x < xp.inf) & (a < xp.inf)
    xs = xp.where(inside, x, 1.0)
    ai = xp.where(inside, a, 1.0)
    # log(a / x) as log a - log x where the quotient overflows or is subnormal: at a = 1e10,
    # x = 1e-300 it was inf, and the density inf where it is 0
    ratio = ai / xs
    in_range = (ratio >= 2.2250738585072014e-308) & (ratio < xp.inf)
    log_ratio = xp.where(in_range, xp.log(xp.where(in_range, ratio, 1.0)),
                         xp.log(ai) - xp.log(xs))
    value = xp.exp(log_power_factor(xp, ai, xs) + log_ratio)
    at_zero = xp.where(a < 1.0, xp.inf, xp.astype(a == 1.0, a.dtype))
    edge = xp.where((x == 0) & (a > 0) & (a < xp.inf), at_zero, 0.0)
    edge = xp.where((a < 0) | (x < 0) | (a != a) | (x != x), xp.nan, edge)
    return xp.where(inside, value, edge)
