"""xg.special.gammainc / gammaincc for large a (Temme's uniform expansion, a >= 20 and x within
30% of a): values against an independent reference (mpmath quadrature of the density, 40
digits) for a up to 1e20, against mpmath.gammainc where its series still converges and SciPy
where its own asymptotic expansion is used (|x - a| < 4.5 sqrt(a)), the expansion's
coefficients against their definitions, and the boundaries of the region.

The tolerance is relative, 1e-12 for the smaller of P and Q (the function's own sensitivity to
rounding (x - a) / a is about (x - a)^2 / a ulps: 1.4e-13 at 38 standard deviations, where Q
reaches 1e-316), and 2e-15 absolute near 1/2."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import incomplete_gamma_temme as temme

sc = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")
mpmath = pytest.importorskip("mpmath")


def _tail_by_quadrature(a, x):
    """(P, Q) at float64 a > 1 and x: the smaller one as the integral of the density relative
    to its value at x (``t = x -+ s``), the other one minus it. The density at x (its log
    ~a log x, 4.6e21 at a = 1e20, wanted to 1e-14) takes 40 digits; the integrand (``(a - 1)
    log1p(s / x) -+ s`` cancels 1e12 to O(1)) 30, a third faster (the same float64 P and Q at
    every point of the test's grid)."""
    with mpmath.workdps(40):
        a, x = mpmath.mpf(float(a)), mpmath.mpf(float(x))
        at_x = mpmath.exp((a - 1) * mpmath.log(x) - x - mpmath.loggamma(a))
        slope = abs((a - 1) / x - 1)
        h = min(mpmath.sqrt(a), 1 / slope if slope else mpmath.inf)
        steps = [h * k for k in (0, 1, 2, 4, 8, 16, 32, 64, 128)]
    with mpmath.workdps(30):
        if x < a:
            tail = at_x * mpmath.quad(lambda s: mpmath.exp((a - 1) * mpmath.log1p(-s / x) + s),
                                      [s for s in steps if s < x] + [x])
            return float(tail), float(1 - tail)
        tail = at_x * mpmath.quad(lambda s: mpmath.exp((a - 1) * mpmath.log1p(s / x) - s),
                                  steps + [mpmath.inf])
        return float(1 - tail), float(tail)


def _both(a, x):
    a, x = xg.asarray(a, dtype=xg.float64), xg.asarray(x, dtype=xg.float64)
    return xg.special.gammainc(a, x).numpy(), xg.special.gammaincc(a, x).numpy()


def _assert_close(got, exact, what):
    exact = np.asarray(exact)
    small = np.abs(exact) < 0.25
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(got == exact, 0.0, np.abs(got - exact) / np.abs(exact))
    relative = np.where(small & (np.abs(exact) >= 1e-300), relative, 0.0)
    absolute = np.where(small, 0.0, np.abs(got - exact))
    worst = np.argmax(relative)
    assert relative[worst] <= 1e-12, f"{what}: relative error {relative[worst]:.3g} at {worst}"
    assert np.max(absolute) <= 2e-15, f"{what}: absolute error {np.max(absolute):.3g}"


def _grid(a_values):
    """x within 38 standard deviations of a (beyond, P or Q underflows) and at x / a from 0.5
    to 2, the edges of Temme's region (x / a = 0.7, 1.3) on both sides included."""
    a_out, x_out = [], []
    for a in a_values:
        x = np.concatenate([a + np.array([-38.0, -20.0, -6.0, -1.0, -0.1, 0.0, 0.5, 3.0, 12.0,
                                          38.0]) * np.sqrt(a),
                            a * np.array([0.5, 0.6999, 0.7, 0.7001, 0.95, 1.05, 1.2999, 1.3,
                                          1.3001, 2.0])])
        x = x[x > 0]
        a_out += [a] * len(x)
        x_out += list(x)
    return np.array(a_out), np.array(x_out)


def test_large_a_matches_quadrature_up_to_1e20():
    """a = 20 (the region's edge) is test_moderate_a_matches_mpmath_gammainc's: the same grid
    against mpmath.gammainc at 40 digits."""
    a, x = _grid([23.7, 150.0, 1e4, 3.3e5, 1e7, 1e10, 1e13, 1e16, 1e20])
    p, q = _both(a, x)
    exact = np.array([_tail_by_quadrature(ai, xi) for ai, xi in zip(a, x)])
    _assert_close(p, exact[:, 0], "gammainc")
    _assert_close(q, exact[:, 1], "gammaincc")


def test_moderate_a_matches_mpmath_gammainc():
    a, x = _grid([20.0, 55.0, 700.0, 4e3])
    p, q = _both(a, x)
    mpmath.mp.dps = 40
    exact_p = [float(mpmath.gammainc(mpmath.mpf(ai), 0, mpmath.mpf(xi), regularized=True))
               for ai, xi in zip(a, x)]
    exact_q = [float(mpmath.gammainc(mpmath.mpf(ai), mpmath.mpf(xi), mpmath.inf,
                                     regularized=True)) for ai, xi in zip(a, x)]
    _assert_close(p, exact_p, "gammainc")
    _assert_close(q, exact_q, "gammaincc")


def test_near_the_mean_matches_scipy_and_torch():
    # SciPy uses its own Temme expansion within 4.5 standard deviations; far out its series
    # stops short (SciPy's P(1e20, 1e20 - 6e10) is 1.2e-15, not 9.9e-10)
    a = np.repeat(np.geomspace(300.0, 1e20, 14), 7)
    x = a + np.tile([-4.0, -2.0, -0.5, 0.0, 0.7, 2.0, 4.0], 14) * np.sqrt(a)
    p, q = _both(a, x)
    np.testing.assert_allclose(p, sc.gammainc(a, x), rtol=2e-14, atol=0)
    np.testing.assert_allclose(q, sc.gammaincc(a, x), rtol=2e-14, atol=0)
    # PyTorch's own asymptotic series is up to 1.2e-9 relative off for a <= 1e12 (1.5e-6 at
    # a = 1e20, 4 standard deviations below the mean)
    few = a <= 1e12
    np.testing.assert_allclose(p[few], torch.special.gammainc(torch.tensor(a[few]),
                                                              torch.tensor(x[few])).numpy(),
                               rtol=2e-9)


def test_the_testers_cases():
    a = np.array([1e7, 1e20])
    p, _ = _both(a, a)                                  # 0.2365 and 8e-8 before
    np.testing.assert_allclose(p, sc.gammainc(a, a), rtol=1e-14)
    p = xg.distributions.Chi2(xg.asarray(2e6, dtype=xg.float64)).cdf(
        xg.asarray(2e6, dtype=xg.float64))
    want = torch.distributions.Chi2(torch.tensor(2e6, dtype=torch.float64)).cdf(
        torch.tensor(2e6, dtype=torch.float64)).item()
    assert abs(p.item() - want) < 1e-10                 # 0.4773 before


def test_p_plus_q_is_one_and_both_stay_in_the_unit_interval():
    a, x = _grid([20.0, 1e3, 1e9, 1e20])
    p, q = _both(a, x)
    assert np.all((p >= 0) & (p <= 1) & (q >= 0) & (q <= 1))
    np.testing.assert_allclose(p + q, 1.0, rtol=0, atol=4e-16)


def test_extreme_a_gives_no_nan():
    a = np.array([1e100, 1e100, 1e300, 1.7e308, 1e300, 1e20])
    x = np.array([0.99e100, 1.5e100, 1e300, 1.7e308, 1e-300, 1.0])
    p, q = _both(a, x)
    np.testing.assert_array_equal(p, sc.gammainc(a, x))
    np.testing.assert_array_equal(q, sc.gammaincc(a, x))


def test_expansion_coefficients_follow_their_definitions():
    table, stirling = temme.taylor_coefficients()
    # Stirling's series for Gamma, which the pole cancellation must reproduce
    assert [str(g) for g in stirling[:6]] == ["1", "1/12", "1/288", "-139/51840",
                                              "-571/2488320", "163879/209018880"]
    # c_0(eta) = 1 / (lambda - 1) - 1 / eta and c_1 = c_0'(eta) / eta - g_1 / (lambda - 1),
    # with lambda solved from eta numerically
    mpmath.mp.dps = 40

    def mu(eta):
        return mpmath.findroot(lambda m: m - mpmath.log1p(m) - eta ** 2 / 2, 1.5 * eta) \
            if eta else mpmath.mpf(0)

    def c0(eta):
        return 1 / mu(eta) - 1 / eta

    for eta in (mpmath.mpf("0.3"), mpmath.mpf("-0.25"), mpmath.mpf("0.05")):
        series = [sum(mpmath.mpf(c) * eta ** n for n, c in enumerate(row)) for row in table[:2]]
        assert abs(series[0] - c0(eta)) < 1e-15
        c1 = mpmath.diff(c0, eta) / eta - mpmath.mpf(1) / 12 / mu(eta)
        assert abs(series[1] - c1) < 1e-15


def test_region_is_where_the_iterations_would_be_long():
    assert bool(temme.in_region(np.float64(20.0), np.float64(14.0)))
    assert not bool(temme.in_region(np.float64(19.99), np.float64(19.99)))
    assert not bool(temme.in_region(np.float64(1e20), np.float64(0.69e20)))
