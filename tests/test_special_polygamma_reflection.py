"""xg.special.polygamma below 0 (the reflection ``(-1)^n psi^(n)(1 - x) - pi^(n+1) Q_n(cot(pi x))``)
against mpmath over orders 1 .. 163 and points at, next to and between the negative half-integers
and integers. ``cot(pi x)`` was ``1 / tan(pi r)``: 6e-17, not 0, at the half-integers, which
``Q_n``'s coefficients (up to 1e305) turned into errors of 1e34 relative at n = 100, and 2%
already at n = 10, x = -7.5. Both the NumPy kernel and the generic formula are checked, above 0
too (the kernel raised ``1 / (x + k)``, rounded, to the power n + 1 by products: (n + 1) / 2
ulp, 5e-15 relative at n = 100, x = 1.5; it takes NumPy's power now), and digamma's reflection
at the half-integers (``pi / tan(pi r)`` was 2e-16, not 0: 5e-15 relative at -0.5)."""
from __future__ import annotations

import functools
import math

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import special
from xpgrad.ops import special_formulas

mpmath = pytest.importorskip("mpmath")

ORDERS = (1, 2, 3, 10, 11, 40, 41, 80, 100, 101, 120, 140, 141, 162, 163)


def _points():
    """Negative half-integers, points 1 and 8 ulp and 1e-9 .. 0.1 from them, points next to
    the poles, and a spread between; never a pole itself."""
    points = []
    for k in (0, 1, 2, 7, 19):
        half = -k - 0.5
        points.append(half)
        for ulps in (1, 8):
            points += [half + ulps * math.ulp(half), half - ulps * math.ulp(half)]
        for offset in (1e-9, 1e-4, 0.01, 0.1):
            points += [half + offset, half - offset]
        points += [-k - 1e-12, -k - 1 + 1e-9, -k - 0.3, -k - 0.7]
    return np.array(points + list(np.random.default_rng(0).uniform(-20, 0, 40)))


POINTS = _points()


@functools.lru_cache(maxsize=None)
def _exact(n, x):
    """``psi^(n)(x) = (-1)^(n+1) n! (sum_{k<m} (x + k)^-(n+1) + zeta(n + 1, x + m))`` for the
    float ``x`` exactly, ``x + m`` > 0, with 40 digits more than the sum's cancellation can
    take: the nearest poles' terms are up to ``(2 (1 - x))^(n+1)`` times the value (at the
    half-integers, n even). +-inf beyond float64's range."""
    with mpmath.workdps(40 + int((n + 1) * math.log10(2.0 * (1.0 + abs(x))))):
        x = mpmath.mpf(float(x))
        shift = max(0, math.ceil(-x) + 1)
        total = sum((x + k) ** -(n + 1) for k in range(shift)) + mpmath.zeta(n + 1, x + shift)
        value = (-1) ** (n + 1) * mpmath.factorial(n) * total
        if abs(value) > mpmath.mpf(np.finfo(np.float64).max):
            return math.copysign(math.inf, value)
        return float(value)


def _kernel(n, x):
    return xg.special.polygamma(n, xg.asarray(x, dtype=xg.float64)).numpy()


def _generic(n, x):
    with np.errstate(all="ignore"):
        return special_formulas.polygamma(npx, n, npx.asarray(x))


@pytest.mark.parametrize("evaluate", [_kernel, _generic], ids=["numpy-kernel", "generic"])
@pytest.mark.parametrize("n", ORDERS)
def test_negative_arguments_match_mpmath(n, evaluate):
    ours = evaluate(n, POINTS)
    exact = np.array([_exact(n, x) for x in POINTS])
    infinite = np.isinf(exact)
    np.testing.assert_array_equal(ours[infinite], exact[infinite])
    # where psi^(n) crosses 0 between two poles its two reflection terms cancel: the error
    # is relative to the larger of the value and the first term, psi^(n)(1 - x)
    first_term = np.array([abs(_exact(n, 1.0 - x)) for x in POINTS])
    scale = np.maximum(np.abs(exact), first_term)[~infinite]
    err = np.abs(ours[~infinite] - exact[~infinite]) / scale
    if err.size:                          # n = 163: every value below 0 overflows
        worst = err.argmax()
        assert err[worst] <= 4e-16 * (n + 10), f"{err[worst]:.2e} at {POINTS[~infinite][worst]!r}"


@pytest.mark.parametrize("evaluate", [_kernel, _generic], ids=["numpy-kernel", "generic"])
@pytest.mark.parametrize("n", (2, 40, 100, 162))
def test_even_orders_at_negative_half_integers_are_the_first_term(n, evaluate):
    # the pole pairs' terms cancel exactly: psi^(n)(-k - 1/2) = psi^(n)(k + 3/2), to the bit
    x = np.array([-0.5, -1.5, -2.5, -7.5, -19.5])
    np.testing.assert_array_equal(evaluate(n, x), evaluate(n, 1.0 - x))


POSITIVE = np.concatenate([[1.5, 0.5, 1.0, 2.5, 10.0, 29.5, 60.0],
                           np.random.default_rng(1).uniform(0.05, 60.0, 40)])


@pytest.mark.parametrize("evaluate", [_kernel, _generic], ids=["numpy-kernel", "generic"])
@pytest.mark.parametrize("n", ORDERS)
def test_positive_arguments_match_mpmath(n, evaluate):
    ours = evaluate(n, POSITIVE)
    exact = np.array([_exact(n, x) for x in POSITIVE])
    infinite = np.isinf(exact)
    np.testing.assert_array_equal(ours[infinite], exact[infinite])
    err = np.abs(ours[~infinite] / exact[~infinite] - 1.0)
    worst = err.argmax()
    assert err[worst] <= 1.5e-15, f"{err[worst]:.2e} at {POSITIVE[~infinite][worst]!r}"


@pytest.mark.parametrize("digamma", [special.digamma,
                                     lambda x: special_formulas.digamma(npx, x)],
                         ids=["numpy-kernel", "generic"])
def test_digamma_at_and_next_to_negative_half_integers_matches_mpmath(digamma):
    # next to a half-integer psi(1 - x) and pi cot(pi x) cancel in part: a few ulp there
    for x, rtol in ((-np.arange(8.0) - 0.5, 4.5e-16),
                    (np.array([-0.5 + 1e-6, -1.5 - 1e-6, -7.5 + 1e-6, -0.25, -3.7, -100.5]),
                     2e-15)):
        with np.errstate(all="ignore"):
            ours = digamma(x)
        with mpmath.workdps(40):
            exact = np.array([float(mpmath.digamma(mpmath.mpf(float(v)))) for v in x])
        np.testing.assert_allclose(ours, exact, rtol=rtol, atol=0)


def test_cot_pi_is_exact_at_half_integers_and_accurate_next_to_them():
    r = np.array([0.5, -0.5, 0.5 - 2.0**-40, 0.25, -0.3, 1e-3])
    ours = special_formulas.cot_pi(npx, r)
    assert ours[0] == 0.0 and ours[1] == 0.0
    with mpmath.workdps(50):
        exact = [float(mpmath.cot(mpmath.pi * mpmath.mpf(v))) for v in r[2:]]
    np.testing.assert_allclose(ours[2:], exact, rtol=4e-16)
