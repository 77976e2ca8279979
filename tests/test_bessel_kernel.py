"""The NumPy backend's kernels for ``xg.special.j0``, ``j1``, ``y0``, ``y1``
(``xpgrad/backends/numpy/bessel.py``): against mpmath on a dense grid across every switch of
method and every edge of the Taylor table's intervals, and equal to the generic formulas'
values within their bound."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import bessel
from xpgrad.ops import bessel_formulas

mpmath = pytest.importorskip("mpmath")
pytestmark = pytest.mark.usefixtures("numpy_default")

KINDS = [("j", 0), ("j", 1), ("y", 0), ("y", 1)]
#: the kernel's bound; a platform whose long double is float64 gets the formulas' table values
BOUND = 1e-15 if np.finfo(np.longdouble).eps < 1e-18 else 4e-15


def grid():
    """Dense on [0.05, 45], and both sides of each interval's edge ``2 + k / 8`` and of 25."""
    edges = bessel_formulas.SERIES_UP_TO + bessel._STEP * np.arange(bessel._CENTERS + 1)
    return np.concatenate([np.linspace(0.05, 45.0, 700), np.nextafter(edges, 0.0), edges,
                           np.nextafter(edges, np.inf), [1e3, 1e6]])


def exact(kind, order, x):
    with mpmath.workdps(30):
        function = mpmath.besselj if kind == "j" else mpmath.bessely
        return np.array([float(function(order, v)) for v in x])


@pytest.mark.parametrize("kind,order", KINDS)
def test_kernel_within_its_bound_of_mpmath(kind, order):
    x = grid()
    expected = exact(kind, order, x)
    scale = np.maximum(np.abs(expected), np.sqrt(2.0 / (np.pi * x)))
    ours = getattr(xg.special, f"{kind}{order}")(xg.asarray(x, dtype=xg.float64)).numpy()
    error = np.abs(ours - expected) / scale
    assert error.max() <= BOUND, (x[error.argmax()], error.max())
    generic = (bessel_formulas.first_kind if kind == "j" else bessel_formulas.second_kind)(
        npx, x, order)
    np.testing.assert_array_less(np.abs(generic - ours) / scale, 4e-15)


def test_odd_j1_and_the_slope_near_zero():
    x = np.array([30.0, 7.3, 2.0625, 1e-300, 5e-324, 0.0])
    positive, negative = (xg.asarray(v, dtype=xg.float64) for v in (x, -x))
    np.testing.assert_array_equal(xg.special.j1(negative).numpy(), -xg.special.j1(positive).numpy())
    slopes = [xg.grad(lambda v: xg.sum(xg.special.j1(v)))(v).numpy() for v in (positive, negative)]
    np.testing.assert_array_equal(slopes[0], slopes[1])          # J1' is even
    assert slopes[0][3:].tolist() == [0.5] * 3        # 1/2 - 3 x^2 / 8, not 0 / x at 5e-324
