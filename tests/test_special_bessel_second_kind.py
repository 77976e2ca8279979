"""xg.special's Bessel functions j0, j1, y0, y1, k0, k1, k0e, k1e: values against mpmath on
both sides of each switch of method (series / Miller's recurrence or the trapezoidal rule /
Hankel's expansion), against SciPy and PyTorch, SciPy's edges, float32, gradients against
finite differences (second order too) and mpmath's derivatives (PyTorch has none), and bad
input."""
from __future__ import annotations

import functools

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops import bessel_formulas
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")
torch = pytest.importorskip("torch")

NAMES = ["j0", "j1", "y0", "y1", "k0", "k1", "k0e", "k1e"]
TORCH_NAMES = {"j0": "bessel_j0", "j1": "bessel_j1", "y0": "bessel_y0", "y1": "bessel_y1",
               "k0": "modified_bessel_k0", "k1": "modified_bessel_k1",
               "k0e": "scaled_modified_bessel_k0", "k1e": "scaled_modified_bessel_k1"}
# each switch of method, both sides: K's series ends at 1, J's and Y's at 2, all at 25
SWITCHES = [bessel_formulas.K_SERIES_UP_TO, bessel_formulas.SERIES_UP_TO,
            bessel_formulas.ASYMPTOTIC_FROM]


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def exact(name, x):
    """mpmath's value at 30 digits, and the scale its error is measured against: the value,
    or for J and Y (oscillating) at least their amplitude ``sqrt(2 / (pi x))``."""
    order = int(name[1])
    with mpmath.workdps(30):
        if name[0] == "j":
            value = mpmath.besselj(order, x)
        elif name[0] == "y":
            value = mpmath.bessely(order, x)
        else:
            value = _besselk(order, x) * (mpmath.exp(x) if name.endswith("e") else 1)
    value = float(value)
    scale = abs(value) if name[0] == "k" else max(abs(value), (2.0 / (np.pi * abs(x))) ** 0.5)
    return value, scale


@functools.lru_cache(maxsize=None)
def _besselk(order, x):
    """mpmath's K at 30 digits (50 ms a point near x = 35), kept for the scaled case's test."""
    with mpmath.workdps(30):
        return mpmath.besselk(order, x)


def generic_formula(name, x):
    """The formula of ``bessel_formulas.py`` (the NumPy backend runs SciPy's K instead)."""
    order = int(name[1])
    if name[0] == "j":
        return bessel_formulas.first_kind(npx, x, order)
    if name[0] == "y":
        return bessel_formulas.second_kind(npx, x, order)
    return bessel_formulas.modified_second_kind(npx, x, order, name.endswith("e"))


def points():
    around = [s * f for s in SWITCHES for f in (1 - 1e-9, 1.0, 1 + 1e-9, 0.97, 1.03)]
    return np.concatenate([np.linspace(0.01, 40.0, 157), around, [1e-5, 80.0, 700.0, 1e4]])


@pytest.mark.parametrize("name", NAMES)
def test_values_match_mpmath_across_the_switches(name):
    x = points()
    with np.errstate(all="ignore"):
        ours = getattr(xg.special, name)(f64(x)).numpy()
        generic = generic_formula(name, x)      # what backends without a kernel run
    for at, values in zip(x, zip(ours, generic)):
        expected, scale = exact(name, at)       # once for both
        for value in values:
            if scale < 1e-300:          # k0, k1 underflow at 700
                assert value == expected or abs(value - expected) < 1e-300
                continue
            assert abs(value - expected) <= 4e-15 * scale, (name, at, value, expected)


@pytest.mark.parametrize("name", NAMES)
def test_agrees_with_scipy_and_torch_and_scipy_edges(name):
    x = np.concatenate([np.linspace(-30.0, 60.0, 901), [1e6]])
    expected = getattr(sc, name)(x)
    ours = getattr(xg.special, name)(f64(x)).numpy()
    finite = np.isfinite(expected)
    amplitude = np.maximum(np.abs(expected), 1.0 if name[0] in "jy" else 0.0)
    # SciPy's J and Y are 2e-14 off near x = 25 (mpmath, above); 1e-10 at 1e6
    tolerance = np.where(np.abs(x) > 100, 1e-9, 3e-14) * amplitude
    assert np.all(np.abs(ours[finite] - expected[finite]) <= tolerance[finite])
    np.testing.assert_array_equal(ours[~finite], expected[~finite])
    edges = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, 1e-300])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(getattr(xg.special, name)(f64(edges)).numpy(),
                                   getattr(sc, name)(edges), rtol=4e-16, atol=0)
    peer = getattr(torch.special, TORCH_NAMES[name])(torch.tensor(x[finite & (x > 0)]))
    # PyTorch's float64 J and Y are up to 7e-7 off just above x = 5 (SciPy and mpmath agree)
    np.testing.assert_allclose(ours[finite & (x > 0)], peer.numpy(), rtol=1e-6, atol=1e-6)


def test_second_kind_at_the_smallest_subnormal_is_mpmath_s():
    """SciPy's k0 and k1 are inf (k1: NaN) at 5e-324; they are 744.56 and 2e323 overflowing."""
    x = f64([5e-324])
    with np.errstate(all="ignore"):
        assert generic_formula("k0", np.array([5e-324]))[0] == xg.special.k0(x).item()
    assert xg.special.k0(x).item() == pytest.approx(float(mpmath.besselk(0, 5e-324)), rel=1e-15)
    assert xg.special.y0(x).item() == pytest.approx(float(mpmath.bessely(0, 5e-324)), rel=1e-15)
    assert xg.special.k1(x).item() == np.inf and xg.special.y1(x).item() == -np.inf


@pytest.mark.parametrize("name", NAMES)
def test_float32_rounds_the_float64_value(name):
    x = np.linspace(0.1, 40.0, 400).astype(np.float32)
    ours = getattr(xg.special, name)(xg.asarray(x)).numpy()
    assert ours.dtype == np.float32
    wide = getattr(xg.special, name)(f64(x.astype(np.float64))).numpy()
    np.testing.assert_array_equal(ours, wide.astype(np.float32))
    expected = getattr(sc, name)(x.astype(np.float64))
    np.testing.assert_allclose(ours, expected, rtol=1.2e-7, atol=1e-7)
    assert getattr(xg.special, name)(xg.asarray([2], dtype=xg.int32)).dtype == xg.float32


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_mpmath_and_finite_differences(name):
    x = [0.3, 0.9999, 1.0001, 1.7, 2.0001, 7.5, 24.9, 25.1, 40.0]
    grad = xg.grad(lambda v: xg.sum(getattr(xg.special, name)(v)))(f64(x)).numpy()
    for value, at in zip(grad, x):
        expected = float(mpmath.diff(lambda t: _mp(name, t), at))
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-14), (name, at)
    check_grads(getattr(xg.special, name), [f64(x)], order=2)


@pytest.mark.parametrize("name", ["k0e", "k1e", "i0e", "i1e"])
def test_scaled_gradients_for_large_x_match_mpmath(name):
    """Past x = 25 the scaled functions' slopes (~1/(2x) of their values) from their own
    asymptotic series: ``k0e - k1e`` and ``i1e - i0e`` kept ``eps x`` of them (2e-9 relative at
    1e8, 1e-4 at 1e12); i0e's and i1e's for negative x too, and second derivatives."""
    x = [25.1, 30.0, 1e3, 1e5, 1e8, 1e12] + ([-40.0, -1e8] if name[0] == "i" else [])
    fn = getattr(xg.special, name)

    def exact(t):
        if name[0] == "k":
            return mpmath.besselk(int(name[1]), t) * mpmath.exp(t)
        return mpmath.besseli(int(name[1]), t) * mpmath.exp(-abs(t))

    first = xg.grad(lambda v: xg.sum(fn(v)))(f64(x)).numpy()
    second = xg.grad(lambda v: xg.sum(xg.grad(lambda u: xg.sum(fn(u)))(v)))(f64(x)).numpy()
    if name[0] == "k":
        slopes, curvatures = zip(*[_scaled_k_derivatives(int(name[1]), at) for at in x])
    else:
        with mpmath.workdps(40):
            slopes = [float(mpmath.diff(exact, mpmath.mpf(at))) for at in x]
            curvatures = [float(mpmath.diff(exact, mpmath.mpf(at), 2)) for at in x]
    np.testing.assert_allclose(first, slopes, rtol=1e-14, atol=0)
    np.testing.assert_allclose(second, curvatures, rtol=1e-13, atol=0)


def _scaled_k_derivatives(order, x):
    """First and second derivatives of ``exp(x) K_order(x)`` from mpmath's K0 and K1 at 50
    digits through ``K0' = -K1``, ``K1' = -K0 - K1/x`` and Bessel's equation ``K'' = (1 +
    order**2/x**2) K - K'/x`` (mpmath.diff of the product took 2.5 s near x = 25). Their
    cancellation costs 2 log10(x) digits: 24 at 1e12, 26 left."""
    with mpmath.workdps(50):
        t = mpmath.mpf(x)
        k0, k1 = mpmath.besselk(0, t), mpmath.besselk(1, t)
        if order == 0:
            slope, curvature = k0 - k1, 2 * k0 - 2 * k1 + k1 / t
        else:
            slope = k1 - k0 - k1 / t
            curvature = 2 * k1 - 2 * k0 - 2 * k1 / t + k0 / t + 2 * k1 / t**2
        return float(mpmath.exp(t) * slope), float(mpmath.exp(t) * curvature)


def _mp(name, t):
    order = int(name[1])
    if name[0] == "j":
        return mpmath.besselj(order, t)
    if name[0] == "y":
        return mpmath.bessely(order, t)
    return mpmath.besselk(order, t) * (mpmath.exp(t) if name.endswith("e") else 1)


def test_first_kind_gradients_at_zero_and_below():
    x = f64([0.0, -1.3, -30.0])
    by_j0 = xg.grad(lambda v: xg.sum(xg.special.j0(v)))(x).numpy()
    by_j1 = xg.grad(lambda v: xg.sum(xg.special.j1(v)))(x).numpy()
    np.testing.assert_allclose(by_j0, -sc.j1(x.numpy()), rtol=1e-14)
    assert by_j1[0] == 0.5                      # J1'(0) = 1/2
    np.testing.assert_allclose(by_j1[1:], sc.jvp(1, x.numpy()[1:]), rtol=1e-13)
    check_grads(xg.special.j1, [f64([-1.3, 0.2])], order=2)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_names_the_function(name):
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: x must be"):
        getattr(xg.special, name)("x")
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: x must be real"):
        getattr(xg.special, name)(xg.asarray([1.0 + 1.0j]))



def test_scipy_ufuncs_on_a_tensor_record_on_the_tape():
    x = f64([0.7, 3.0, 30.0])
    grad = xg.grad(lambda v: xg.sum(sc.k0(v) + sc.j1(v)))(x).numpy()
    expected = -sc.k1(x.numpy()) + sc.jvp(1, x.numpy())
    np.testing.assert_allclose(grad, expected, rtol=1e-13)
