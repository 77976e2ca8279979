"""xg.special.expn: values against mpmath on both sides of the switch at x = 1 and SciPy, SciPy's
edges, array orders, gradients (-E_(n-1), second order too) against mpmath and finite
differences, and bad input. PyTorch has no expn."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 30])
def test_values_match_mpmath_and_scipy(n):
    x = np.concatenate([np.linspace(0.02, 40.0, 120), [1.0 - 1e-9, 1.0, 1.0 + 1e-9, 1e-300,
                                                       700.0]])
    if n <= 1:
        x = x[x > 1e-300]
    ours = xg.special.expn(n, f64(x)).numpy()
    with mpmath.workdps(30):
        for value, at in zip(ours, x):
            expected = float(mpmath.expint(n, at))
            assert value == pytest.approx(expected, rel=2e-15), (n, at)
    np.testing.assert_allclose(ours, sc.expn(n, x), rtol=5e-15)


def test_edges_as_scipy():
    x = np.array([0.0, -1.0, np.inf, np.nan, 800.0])
    for n in (-1, 0, 1, 2, 5):
        np.testing.assert_array_equal(xg.special.expn(n, f64(x)).numpy(), sc.expn(n, x))


def test_array_orders_broadcast():
    n = np.array([[0], [1], [4], [-2]])
    x = np.array([0.5, 1.5, 9.0])
    ours = xg.special.expn(n, f64(x))
    assert ours.shape == (4, 3)
    np.testing.assert_allclose(ours.numpy(), sc.expn(n, x), rtol=1e-14)


def test_gradients():
    x = [0.3, 0.999, 1.001, 2.5, 12.0]
    for n in (0, 1, 2, 5):
        grad = xg.grad(lambda v: xg.sum(xg.special.expn(n, v)))(f64(x)).numpy()
        with mpmath.workdps(30):
            expected = [float(mpmath.diff(lambda t: mpmath.expint(n, t), p)) for p in x]
        np.testing.assert_allclose(grad, expected, rtol=1e-13)
        check_grads(lambda v: xg.special.expn(n, v), [f64(x)], order=2)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match=r"xg\.special\.expn: x must be"):
        xg.special.expn(1, "x")
    with pytest.raises(TypeError, match=r"xg\.special\.expn: n must be an int"):
        xg.special.expn(1.5, f64(1.0))
    with pytest.raises(TypeError, match=r"xg\.special\.expn: n must hold integers"):
        xg.special.expn(np.array([1.5]), f64(1.0))
