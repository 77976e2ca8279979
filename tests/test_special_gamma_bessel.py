"""xg.special.gamma, gammaincinv and the modified Bessel functions i0, i0e, i1, i1e: values
against SciPy and mpmath (the generic formulas, which the non-NumPy backends run, called
directly, and the NumPy backend's SciPy kernels), gradients against finite differences and
PyTorch's where it has the function, and bad input."""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.ops.gamma_function import _gamma
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")
torch = pytest.importorskip("torch")


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def test_gamma_matches_scipy_mpmath_and_torch_gradient():
    x = np.array([0.0, -0.0, -1.0, -2.5, 171.7, -171.5, -200.5, np.inf, -np.inf, np.nan, 0.5,
                  5.0, -0.3, 30.2, 1e-3])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(xg.special.gamma(f64(x)).numpy(), sc.gamma(x))
        generic = _gamma(npx, x)
    finite = np.isfinite(sc.gamma(x)) & (np.abs(sc.gamma(x)) > 1e-300)
    np.testing.assert_allclose(generic[finite], sc.gamma(x)[finite], rtol=2e-14)
    assert np.isnan(generic[[2, 8, 9]]).all() and generic[0] == np.inf and generic[1] == -np.inf
    # SciPy flushes Gamma(-171.5) to 0; it is 1.9e-310, a subnormal
    assert generic[5] == pytest.approx(float(mpmath.gamma(-171.5)), rel=1e-6)
    points = [0.7, 3.2, -0.4, -2.6]
    check_grads(xg.special.gamma, [f64(points)], order=2)
    positive = torch.tensor([0.7, 3.2, 9.5], dtype=torch.float64, requires_grad=True)
    torch.exp(torch.lgamma(positive)).sum().backward()
    ours = xg.grad(lambda x: xg.sum(xg.special.gamma(x)))(f64([0.7, 3.2, 9.5])).numpy()
    np.testing.assert_allclose(ours, positive.grad.numpy(), rtol=1e-13)


# -- gammaincinv ---------------------------------------------------------------------------------
def test_gammaincinv_matches_scipy_and_inverts_gammainc():
    from xpgrad.ops.incomplete_gamma_inverse import _inverse

    rng = np.random.default_rng(11)
    a = 10.0 ** rng.uniform(-3, 5, 600)
    y = 10.0 ** rng.uniform(-300, 0, 600)
    y[::2] = 1.0 - 10.0 ** rng.uniform(-10, 0, 300) * 0.999
    with np.errstate(all="ignore"):
        generic = _inverse(npx, a, y)
    expected = sc.gammaincinv(a, y)
    keep = (expected > 1e-300) & np.isfinite(expected)
    np.testing.assert_allclose(generic[keep], expected[keep], rtol=1e-12)
    np.testing.assert_allclose(xg.special.gammaincinv(f64(a), f64(y)).numpy(), expected)
    edges_a, edges_y = np.array([2.0, 2.0, 0.0, 2.0, -1.0]), np.array([0.0, 1.0, 0.5, 1.5, 0.5])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(_inverse(npx, edges_a, edges_y),
                                      sc.gammaincinv(edges_a, edges_y))


def test_gammaincinv_gradients():
    y = f64([0.01, 0.5, 0.97])
    check_grads(lambda y: xg.special.gammaincinv(f64([0.4, 2.0, 30.0]), y), [y], order=2)
    grad = xg.grad(lambda y: xg.sum(xg.special.gammaincinv(2.0, y)))(y).numpy()
    x = sc.gammaincinv(2.0, y.numpy())
    np.testing.assert_allclose(grad, 1.0 / (x * np.exp(-x)), rtol=1e-13)    # 1 / density
    by_a = xg.grad(lambda a: xg.sum(xg.special.gammaincinv(a, y)))(f64(2.0)).item()
    h = 1e-6                                # the implicit function (test_..._shape.py: more)
    numeric = np.sum(sc.gammaincinv(2.0 + h, y.numpy()) - sc.gammaincinv(2.0 - h, y.numpy()))
    np.testing.assert_allclose(by_a, numeric / (2 * h), rtol=1e-8)
    with pytest.raises(TypeError, match=r"xg\.special\.gammaincinv: y must be"):
        xg.special.gammaincinv(2.0, "y")


# -- modified Bessel functions -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["i0", "i0e", "i1", "i1e"])
def test_bessel_values_and_gradients(name):
    from xpgrad.ops import bessel

    x = np.concatenate([np.linspace(-40.0, 40.0, 801),
                        [0.0, 1e-300, 29.99, 30.01, 700.0, 713.9, 800.0, 1e5, np.inf, -np.inf,
                         np.nan]])
    expected = getattr(sc, name)(x)
    with np.errstate(all="ignore"):
        generic = getattr(bessel, "_" + name)(npx, x)
    finite = np.isfinite(expected)
    np.testing.assert_allclose(generic[finite], expected[finite], rtol=3e-15, atol=0)
    np.testing.assert_array_equal(generic[~finite], expected[~finite])
    np.testing.assert_array_equal(getattr(xg.special, name)(f64(x)).numpy(), expected)
    points = [-3.0, -0.4, 0.0, 0.7, 5.0] + ([35.0] if name.endswith("e") else [])
    t = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    getattr(torch.special, name)(t).sum().backward()
    ours = xg.grad(lambda v: xg.sum(getattr(xg.special, name)(v)))(f64(points)).numpy()
    np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-13, atol=1e-300)
    check_grads(getattr(xg.special, name), [f64([p for p in points if p != 0.0])], order=2)
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: x must be"):
        getattr(xg.special, name)("x")
