"""``xg.special.airy_ai`` (``torch.special.airy_ai``): values against mpmath on both sides of
each switch of method (Taylor about tabulated centers on [-12.25, 2.25], the K-integral beyond,
the oscillating expansion below), against SciPy and PyTorch over a wide grid on both backends,
the edges, float32, and gradients (``Ai'``, ``Ai'' = x Ai``) against mpmath and finite
differences. PyTorch's airy_ai has no derivative, so no autograd reference."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

mpmath = pytest.importorskip("mpmath")
sc = pytest.importorskip("scipy.special")
pytestmark = pytest.mark.usefixtures("numpy_default")

SWITCHES = [-12.25, 2.25]
POINTS = np.concatenate([np.linspace(-40.0, 20.0, 241), [s + d for s in SWITCHES
                                                          for d in (-1e-9, 0.0, 1e-9)],
                         [-1e3, -123.4, 50.0, 104.0]])


def f64(values, backend="numpy"):
    return xg.asarray(values, dtype=xg.float64, backend=backend)


@pytest.fixture(scope="module")
def reference():
    """mpmath's Ai and Ai' at POINTS (30 digits)."""
    with mpmath.workdps(30):
        return (np.array([float(mpmath.airyai(v)) for v in POINTS]),
                np.array([float(mpmath.airyai(v, 1)) for v in POINTS]))


def _scale(x, values):
    """The size errors are measured against: the amplitude ``|x|^(-1/4) / sqrt(pi)`` where Ai
    oscillates, |Ai| where it decays; times the condition ``1 + |x|^(3/2)``."""
    size = np.where(x < 0, np.abs(np.minimum(x, -1e-300)) ** -0.25 / np.sqrt(np.pi),
                    np.abs(values))
    return size * (1.0 + np.abs(x) ** 1.5)


def test_values_and_slopes_match_mpmath(reference):
    ai, ai_prime = reference
    got = xg.special.airy_ai(f64(POINTS)).numpy()
    assert np.max(np.abs(got - ai) / _scale(POINTS, ai)) < 4e-16
    slope = xg.grad(lambda t: xg.sum(xg.special.airy_ai(t)))(f64(POINTS)).numpy()
    slope_size = np.where(POINTS < 0, np.abs(POINTS) ** 0.5 * _scale(POINTS, ai),
                          _scale(POINTS, ai_prime))
    assert np.max(np.abs(slope - ai_prime) / slope_size) < 4e-16


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_backends_match_scipy_and_torch(backend):
    x = np.concatenate([np.linspace(-30.0, 30.0, 301), [0.0, -0.0, 1e-300, -1e-300]])
    got = xg.special.airy_ai(f64(x, backend)).numpy()
    scipy_ai = sc.airy(x)[0]
    np.testing.assert_allclose(got, scipy_ai, rtol=0, atol=5e-14)
    torch = pytest.importorskip("torch")
    # PyTorch 2.13's float64 airy_ai is 1.6e-6 off on [-4.8, -2.2] (SciPy's and mpmath's
    # agree with ours to 5e-14 there): a loose check of the same function
    np.testing.assert_allclose(got, torch.special.airy_ai(torch.tensor(x)).numpy(),
                               rtol=0, atol=2e-6)
    numpy_backend = xg.special.airy_ai(f64(x)).numpy()
    np.testing.assert_allclose(got, numpy_backend, rtol=1e-15, atol=1e-300)


def test_edges():
    x = np.array([np.inf, -np.inf, np.nan, 110.0, 1e300, -1e300])
    got = xg.special.airy_ai(f64(x)).numpy()
    np.testing.assert_array_equal(got[:2], [0.0, 0.0])
    assert np.isnan(got[2]) and got[3] == 0.0 and got[4] == 0.0
    assert np.isnan(got[5])      # the phase 2/3 |x|^(3/2) overflows: NaN, as SciPy's
    assert xg.special.airy_ai(f64(np.zeros((0, 2)))).shape == (0, 2)
    assert xg.special.airy_ai(f64(1.0)).shape == ()


def test_float32_is_float64_rounded_once():
    x = np.linspace(-20.0, 10.0, 61, dtype=np.float32)
    got = xg.special.airy_ai(xg.asarray(x))
    assert got.dtype == xg.float32
    wide = xg.special.airy_ai(f64(x.astype(np.float64))).numpy().astype(np.float32)
    np.testing.assert_array_equal(got.numpy(), wide)


def test_second_order_gradients_by_finite_differences():
    for x in ([-15.0, -3.7, -0.4], [0.3, 2.2, 2.3], [6.0, 12.5, -12.2]):
        check_grads(xg.special.airy_ai, (f64(x),), order=2)


def test_second_derivative_is_x_ai(reference):
    x = np.array([-20.0, -5.5, 0.0, 1.5, 7.0])
    second = xg.grad(lambda t: xg.sum(xg.grad(lambda u: xg.sum(xg.special.airy_ai(u)))(t)))(
        f64(x)).numpy()
    np.testing.assert_allclose(second, x * sc.airy(x)[0], rtol=1e-13, atol=1e-15)


def test_bad_input_names_the_function():
    with pytest.raises(TypeError, match="airy_ai: x"):
        xg.special.airy_ai("a")
    with pytest.raises(TypeError, match="airy_ai: x must be real"):
        xg.special.airy_ai(xg.asarray([1j]))
