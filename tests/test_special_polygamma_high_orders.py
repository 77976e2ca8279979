"""xg.special.polygamma at orders n >= 164, where the reflection's coefficients (and from 171 on
n!) overflow float64: once an OverflowError, now the value itself, finite wherever it fits in
float64. SciPy's polygamma gives inf or NaN for n > 170 at every x (n! * zeta(n + 1, x) with
n! = inf), so the reference above 0 is mpmath's n! zeta(n + 1, x); below 0 SciPy is the
reference where the value does overflow."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import xpgrad as xg

sc = pytest.importorskip("scipy.special")

ORDERS = (164, 170, 171, 172, 200, 500)
POSITIVE = np.array([1e-3, 0.5, 1.0, 2.0, 3.7, 10.0, 50.0, 150.0, 1000.0, 1e5])


def _exact(n, x):
    """``(-1)^(n+1) n! zeta(n + 1, x)`` for x > 0 as a float64 (+-inf beyond its range)."""
    with mpmath.workdps(400):
        value = (-1) ** (n + 1) * mpmath.factorial(n) * mpmath.zeta(n + 1, mpmath.mpf(x))
        if abs(value) > mpmath.mpf(np.finfo(np.float64).max):
            return math.copysign(math.inf, value)
        return float(value)


@pytest.mark.parametrize("n", ORDERS)
def test_positive_arguments_match_mpmath(n):
    ours = xg.special.polygamma(n, xg.asarray(POSITIVE, dtype=xg.float64)).numpy()
    exact = np.array([_exact(n, x) for x in POSITIVE])
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(exact))
    assert np.all(np.isfinite(exact[-4:-1]))         # finite values out there, not just infs
    np.testing.assert_allclose(ours, exact, rtol=1e-12)


@pytest.mark.parametrize("n", (171, 200))
def test_float32_rounds_the_float64_value(n):
    ours = xg.special.polygamma(n, xg.asarray(POSITIVE, dtype=xg.float32))
    assert ours.dtype == xg.float32
    exact = np.array([_exact(n, float(np.float32(x))) for x in POSITIVE])
    with np.errstate(over="ignore"):
        expected = exact.astype(np.float32)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("n", ORDERS)
def test_negative_arguments_overflow_as_scipy(n):
    # the term of the nearest pole, n! / |x - pole|^(n+1), overflows; its sign is SciPy's
    x = np.array([-0.3, -2.7, -1000.25, -7.9, -1.0, -np.inf, 0.0])
    ours = xg.special.polygamma(n, xg.asarray(x, dtype=xg.float64)).numpy()
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(ours, sc.polygamma(n, x))


@pytest.mark.parametrize("n", (164, 172, 200))
def test_even_orders_at_negative_half_integers_are_finite(n):
    # the two nearest poles' terms cancel (as each further pair does): psi^(n)(1 - x) is left
    x = np.array([-0.5, -2.5, -1000.5])
    ours = xg.special.polygamma(n, xg.asarray(x, dtype=xg.float64)).numpy()
    np.testing.assert_allclose(ours, [_exact(n, 1.0 - v) for v in x], rtol=1e-12)
    assert np.isfinite(ours[1:]).all()
    odd = xg.special.polygamma(n + 1, xg.asarray(x, dtype=xg.float64)).numpy()
    assert (odd == np.inf).all()                      # odd n: both terms positive


@pytest.mark.parametrize("n", (163, 170, 200))
def test_gradient_is_the_next_order_and_matches_finite_differences(n):
    x = xg.asarray([3.7, 20.0, 50.0], dtype=xg.float64)
    grad = xg.grad(lambda t: xg.sum(xg.special.polygamma(n, t)))(x).numpy()
    np.testing.assert_allclose(grad, [_exact(n + 1, v) for v in x.numpy()], rtol=1e-12)
    h = 1e-6 * x.numpy()
    step = xg.asarray(h, dtype=xg.float64)
    central = (xg.special.polygamma(n, x + step) - xg.special.polygamma(n, x - step)).numpy()
    np.testing.assert_allclose(grad, central / (2 * h), rtol=1e-6)
