"""Temme's uniform asymptotic expansion of the regularized incomplete gamma functions, for
large ``a`` with ``x`` near ``a`` (where the power series and the continued fraction need about
``sqrt(a)`` terms: 1e10 at a = 1e20). With ``lambda = x / a`` and
``eta = sign(lambda - 1) sqrt(2 (lambda - 1 - log lambda))`` (Temme 1979; DLMF 8.12.3-8.12.10):

    Q(a, x) = erfc(eta sqrt(a / 2)) / 2 + R,    P(a, x) = erfc(-eta sqrt(a / 2)) / 2 - R,
    R = exp(-a eta^2 / 2) / sqrt(2 pi a) * sum_k c_k(eta) a^-k,
    c_0 = 1 / (lambda - 1) - 1 / eta,
    c_k = c_{k-1}'(eta) / eta + (-1)^k g_k / (lambda - 1),

``g_k`` the coefficients of Stirling's series for Gamma (1, 1/12, 1/288, ...). Each ``c_k`` is
summed as its Taylor series in ``eta`` (as DiDonato and Morris 1986 do), whose coefficients
``taylor_coefficients`` derives exactly, in rational arithmetic, from the definitions above:
``mu = lambda - 1`` as a series in ``eta`` from ``mu mu' = eta (1 + mu)`` (the derivative of
``eta^2 / 2 = mu - log(1 + mu)``), and each ``g_k`` as the value that cancels ``c_k``'s pole at
``eta = 0`` (the known 1/12, 1/288, -139/51840 come out; a test checks them).

Used for ``a >= MIN_A`` and ``|x / a - 1| <= MAX_OFFSET``; there ``|eta| <= 0.34``, a tenth of
the Taylor series' radius of convergence (``2 sqrt(pi)``), and the kept terms reach 1e-20
of ``c_0`` at a = 20, fewer than 1e-16 of the result.

>>> import array_api_compat.numpy as xp
>>> q = temme_upper(xp, xp.asarray([1e7, 1e20]), xp.asarray([1e7, 1e20]))
>>> [round(v, 12) for v in (1.0 - q).tolist()]   # P(a, a) -> 1/2 + 1 / (3 sqrt(2 pi a))
[0.500042052209, 0.500000000013]
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

from .formulas import erfc, horner
from .incomplete_gamma_formulas import log1pmx
from .special_formulas import erf

MIN_A = 20.0
MAX_OFFSET = 0.3
A_TERMS = 15                    # c_0 .. c_14: c_15 / 20^15 is below 1e-21 for |eta| <= 0.34
ETA_TERMS = 20                  # eta^20 terms are below 1e-22 at |eta| = 0.34


@functools.cache
def taylor_coefficients(a_terms=A_TERMS, eta_terms=ETA_TERMS):
    """``(table, stirling)``: ``table[k][n]`` the coefficient of ``eta^n`` in ``c_k(eta)`` (as
    floats), ``stirling[k]`` the exact ``g_k`` (Fractions) that cancel the poles.

    >>> table, stirling = taylor_coefficients(3, 3)
    >>> [str(g) for g in stirling]
    ['1', '1/12', '1/288']
    >>> [round(c, 6) for c in table[0]]              # -1/3, 1/12, -2/135
    [-0.333333, 0.083333, -0.014815]
    """
    length = eta_terms + 2 * a_terms + 2      # each c_k step spends two orders of eta
    mu = [Fraction(0), Fraction(1)]           # mu = lambda - 1 = eta + eta^2 / 3 + ...
    for n in range(2, length + 1):
        cross = sum((n - i + 1) * mu[i] * mu[n - i + 1] for i in range(2, n))
        mu.append((mu[n - 1] - cross) / (n + 1))
    ratio = mu[1:]                            # mu / eta
    inverse = [Fraction(1)]                   # eta / mu
    for j in range(1, length):
        inverse.append(-sum(ratio[i] * inverse[j - i] for i in range(1, j + 1)))
    c = inverse[1:]                           # 1 / mu - 1 / eta
    table, stirling = [c], [Fraction(1)]
    for k in range(1, a_terms):
        g = (-1) ** (k + 1) * c[1]            # (c' / eta) has the pole c[1] / eta
        stirling.append(g)
        c = [(j + 2) * c[j + 2] + (-1) ** k * g * inverse[j + 1] for j in range(len(c) - 2)]
        table.append(c)
    return (tuple(tuple(float(v) for v in row[:eta_terms]) for row in table),
            tuple(stirling))


def in_region(a, x):
    """Whether ``(a, x)`` is where this expansion is used (elementwise, on any backend)."""
    return (a >= MIN_A) & (x >= (1.0 - MAX_OFFSET) * a) & (x <= (1.0 + MAX_OFFSET) * a)


def _parts(xp, a, x):
    offset = (x - a) / a
    half_eta_squared = -log1pmx(xp, offset)
    eta = xp.sqrt(2.0 * half_eta_squared)
    eta = xp.where(offset < 0, -eta, eta)
    table, _ = taylor_coefficients()
    inverse_a = 1.0 / a
    series = horner(table[-1], eta)
    for row in table[-2::-1]:
        series = series * inverse_a + horner(row, eta)
    remainder = xp.exp(-a * half_eta_squared) / xp.sqrt(2.0 * math.pi * a) * series
    return eta * xp.sqrt(0.5 * a), remainder


def _half_erfc(xp, v):
    """``erfc(v) / 2``, by erf's Taylor series where |v| < 0.5 (erfc's fit is 1.8e-15 off at
    0, which P + Q = 1 would show at x = a)."""
    near = xp.abs(v) < 0.5
    return xp.where(near, 0.5 - 0.5 * erf(xp, xp.where(near, v, 0.0)), 0.5 * erfc(xp, v))


def temme_upper(xp, a, x):
    """``Q(a, x)`` for ``(a, x)`` where ``in_region``, in float64."""
    scaled, remainder = _parts(xp, a, x)
    return _half_erfc(xp, scaled) + remainder


def temme_lower(xp, a, x):
    """``P(a, x)`` for ``(a, x)`` where ``in_region``, in float64."""
    scaled, remainder = _parts(xp, a, x)
    return _half_erfc(xp, -scaled) - remainder


__all__ = ["in_region", "taylor_coefficients", "temme_lower", "temme_upper"]
