"""``dQ(a, x) / da``, the regularized upper incomplete gamma function's derivative in its shape
(``dP / da`` is its negative), in float64 against ``xp``. It has no closed form: each of the
four evaluations of ``incomplete_gamma_regions.py`` is carried with its derivative (forward
mode), in the same region, so the derivative is about as accurate as the value:

- P's power series: each term's derivative is the term times ``-sum_k<=n 1 / (a + k)``;
- Q's continued fraction: its recurrence (modified Lentz) differentiated step by step, as
  ``incomplete_beta_formulas.py`` does for ``betainc``'s;
- Q's series for small ``a``: term by term;
- Temme's expansion (a >= 20 near x = a): ``Q = erfc(eta sqrt(a / 2)) / 2 + R`` differentiated
  through ``eta``, whose derivative in ``a`` at fixed ``x`` is ``-(lambda - 1) / (a eta)``.

>>> import array_api_compat.numpy as xp
>>> a, x = xp.asarray([1.0, 2.0]), xp.asarray([1.0, 3.0])
>>> [round(v, 12) for v in upper_by_a(xp, a, x).tolist()]      # dQ/da, as mpmath's
[0.431729710635, 0.197425419579]
"""
from __future__ import annotations

import functools
import math

from . import incomplete_gamma_formulas as igf
from . import incomplete_gamma_temme as temme
from .formulas import horner
from .incomplete_gamma_regions import _regions
from .special_formulas import digamma

_EPS = igf._EPS
_TINY = igf._TINY
# the derivative's terms decay a little slower than the value's (times sum 1 / (a + k))
SERIES_ITERATIONS = igf.SERIES_ITERATIONS + 50
FRACTION_ITERATIONS = igf.FRACTION_ITERATIONS + 50


def _series_step(xp, n, variables, constants):
    term, total, harmonic, by_a = variables
    a, x = constants
    term = term * (x / (a + n))
    harmonic = harmonic + 1.0 / (a + n)
    return term, total + term, harmonic, by_a - term * harmonic


def _series_finished(xp, variables, constants):
    term, total, harmonic, by_a = variables
    return (term <= _EPS * total) & (term * harmonic <= _EPS * xp.abs(by_a) + 1e-300)


def lower_series_by_a(xp, a, x):
    """``dP/da`` from P's power series ``x^a e^-x / Gamma(a + 1) * S``:
    ``P (log x - psi(a + 1)) + x^a e^-x / Gamma(a + 1) dS/da``."""
    ones, zeros = xp.ones_like(x), xp.zeros_like(x)
    total, by_a = igf.iterate(xp, _series_step, _series_finished, lambda v, c: (v[1], v[3]),
                              (ones, ones, zeros, zeros), (a, x), SERIES_ITERATIONS, True)
    factor = xp.exp(igf.log_power_factor(xp, a, x))
    return factor * (total * (xp.log(x) - digamma(xp, a + 1.0)) + by_a)


def _fraction_step(xp, i, variables, constants):
    c, d, h, step, dc, dd, dlog, increment = variables
    a, x = constants
    an = -i * (i - a)                    # d an / da = i, d b / da = -1
    b = (x - a) + (2 * i + 1)
    denominator = an * d + b
    d_new = 1.0 / xp.where(xp.abs(denominator) < _TINY, _TINY, denominator)
    dd = -d_new * d_new * (i * d + an * dd - 1.0)
    c_new = b + an / c
    dc = -1.0 + i / c - (an * dc / c) / c
    c_new = xp.where(xp.abs(c_new) < _TINY, _TINY, c_new)
    increment = dd / d_new + dc / c_new
    step = d_new * c_new
    return c_new, d_new, h * step, step, dc, dd, dlog + increment, increment


def _fraction_finished(xp, variables, constants):
    step, dlog, increment = variables[3], variables[6], variables[7]
    return ((xp.abs(step - 1.0) <= 2.0 * _EPS)
            & (xp.abs(increment) <= 2.0 * _EPS * xp.abs(dlog) + 1e-300))


def upper_fraction_by_a(xp, a, x):
    """``dQ/da`` from Q's continued fraction ``x^a e^-x / Gamma(a) h``:
    ``Q (log x - psi(a) + d log h / da)``."""
    d = 1.0 / ((x - a) + 1.0)
    zeros = xp.zeros_like(x)
    start = (xp.full_like(x, 1.0 / _TINY), d, d, zeros, zeros, d * d, d, zeros)
    h, log_h_by_a = igf.iterate(xp, _fraction_step, _fraction_finished,
                                lambda v, c: (v[2], v[6]), start, (a, x),
                                FRACTION_ITERATIONS, True)
    value = xp.exp(igf.log_power_factor(xp, a, x)) * (a * h)
    return value * (xp.log(x) - digamma(xp, a) + log_h_by_a)


def upper_series_by_a(xp, a, x):
    """``dQ/da`` for small a and x <= 1.1, from ``Q = 1 - e^u - a e^u T`` with
    ``u = log(x^a / Gamma(a + 1))`` and ``T = sum_n>=1 (-x)^n / (n! (a + n))``."""
    factor = xp.ones_like(x)
    total = xp.zeros_like(x)
    total_by_a = xp.zeros_like(x)
    for n in range(1, 31):
        factor = factor * (-x / n)
        total = total + factor / (a + n)
        total_by_a = total_by_a - factor / ((a + n) * (a + n))
    log_x = xp.log(x)
    power = xp.exp(a * log_x - igf._log_gamma_1p(xp, a))
    u_by_a = log_x - digamma(xp, a + 1.0)
    return -power * (u_by_a + (1.0 + a * u_by_a) * total + a * total_by_a)


@functools.cache
def _temme_derivative_table():
    """Temme's ``c_k(eta)`` Taylor coefficients and those of their derivatives in ``eta``."""
    table, _ = temme.taylor_coefficients()
    return table, tuple(tuple((j + 1) * row[j + 1] for j in range(len(row) - 1))
                        for row in table)


def temme_upper_by_a(xp, a, x):
    """``dQ/da`` where Temme's expansion is used. With ``t = x / a - 1``,
    ``phi = a eta^2 / 2`` and ``S = sum_k c_k(eta) a^-k``:
    ``e^-phi / sqrt(2 pi a) (t / eta - eta / 2 + (log(1 + t) - 1 / (2a)) S + dS/da)``,
    ``d eta / da = -(t / eta) / a`` (``t / eta`` is 1 at eta = 0)."""
    t = (x - a) / a
    half_eta_squared = -igf.log1pmx(xp, t)
    eta = xp.sqrt(2.0 * half_eta_squared)
    eta = xp.where(t < 0, -eta, eta)
    ratio = xp.where(eta == 0, 1.0, t / xp.where(eta == 0, 1.0, eta))
    table, slopes = _temme_derivative_table()
    inverse_a = 1.0 / a
    last = len(table) - 1
    series, by_eta = horner(table[-1], eta), horner(slopes[-1], eta)
    by_power = -last * horner(table[-1], eta)
    for k in range(last - 1, -1, -1):
        coefficient = horner(table[k], eta)
        series = series * inverse_a + coefficient
        by_eta = by_eta * inverse_a + horner(slopes[k], eta)
        by_power = by_power * inverse_a - k * coefficient
    # sum_k -k c_k a^-k-1 (by_power collects sum -k c_k a^-k) and sum c_k' a^-k d eta / da
    series_by_a = by_power * inverse_a - by_eta * ratio * inverse_a
    front = xp.exp(-a * half_eta_squared) / xp.sqrt(2.0 * math.pi * a)
    return front * (ratio - 0.5 * eta + (xp.log1p(t) - 0.5 * inverse_a) * series
                    + series_by_a)


def _lower_to_upper(xp, a, x):
    return -lower_series_by_a(xp, a, x)


def upper_by_a(xp, a, x):
    """``dQ(a, x) / da`` (``-dP/da``) for a > 0, x >= 0, each element in the region its value
    takes (``incomplete_gamma_regions._regions``); 0 at x = 0 and x = inf, NaN for a <= 0,
    x < 0, a NaN or a = inf."""
    a, x = xp.broadcast_arrays(a, x)
    valid, near, q_series, q_fraction, p_series = _regions(xp, a, x, True)
    edge = xp.where((a > 0) & (a < xp.inf) & ((x == 0) | (x == xp.inf)), xp.zeros_like(a),
                    xp.nan)
    shape = edge.shape
    out = xp.asarray(xp.reshape(edge, (-1,)), copy=True)
    flat_a, flat_x = xp.reshape(a, (-1,)), xp.reshape(x, (-1,))
    for mask, evaluate in ((near, temme_upper_by_a), (q_series, upper_series_by_a),
                           (q_fraction, upper_fraction_by_a), (p_series, _lower_to_upper)):
        mask = xp.reshape(mask, (-1,))
        if bool(xp.any(mask)):
            out[mask] = evaluate(xp, flat_a[mask], flat_x[mask])
    return xp.reshape(out, shape)


__all__ = ["lower_series_by_a", "temme_upper_by_a", "upper_by_a", "upper_fraction_by_a",
           "upper_series_by_a"]
