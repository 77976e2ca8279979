"""xg.special's orthogonal polynomials eval_legendre, eval_chebyt, eval_chebyu, eval_hermite,
eval_hermitenorm, eval_laguerre: values against SciPy, mpmath and PyTorch, negative and array
degrees as SciPy's, gradients against the classical derivative identities, finite differences
(second order too), and bad degrees."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
mpmath = pytest.importorskip("mpmath")
torch = pytest.importorskip("torch")

NAMES = ["eval_legendre", "eval_chebyt", "eval_chebyu", "eval_hermite", "eval_hermitenorm",
         "eval_laguerre"]
TORCH_NAMES = {"eval_legendre": "legendre_polynomial_p", "eval_chebyt": "chebyshev_polynomial_t",
               "eval_chebyu": "chebyshev_polynomial_u", "eval_hermite": "hermite_polynomial_h",
               "eval_hermitenorm": "hermite_polynomial_he",
               "eval_laguerre": "laguerre_polynomial_l"}
MPMATH = {"eval_legendre": lambda n, x: mpmath.legendre(n, x),
          "eval_chebyt": lambda n, x: mpmath.chebyt(n, x),
          "eval_chebyu": lambda n, x: _chebyu(n, x),     # mpmath's chebyu fails at some x
          "eval_hermite": lambda n, x: mpmath.hermite(n, x),
          "eval_hermitenorm": lambda n, x: mpmath.hermite(n, x / mpmath.sqrt(2)) / 2 ** (n / 2),
          "eval_laguerre": lambda n, x: mpmath.fsum(mpmath.binomial(n, k) * (-x) ** k
                                                    / mpmath.factorial(k) for k in range(n + 1))}


def _chebyu(n, x):
    """U_n(x) as the sum ``sum_k (-1)^k C(n - k, k) (2x)^(n - 2k)`` (exact in mpmath)."""
    return mpmath.fsum((-1) ** k * mpmath.binomial(n - k, k) * (2 * x) ** (n - 2 * k)
                       for k in range(n // 2 + 1))


X = np.concatenate([np.linspace(-1.5, 1.5, 31), [-1.0, 1.0, 0.0, 4.0, -7.0]])


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def scale(name, n, x):
    """The size the recurrence's rounding is relative to: the largest |P_k(x)|, k <= n."""
    return max(abs(float(MPMATH[name](k, mpmath.mpf(x)))) for k in range(n + 1))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, 1, 2, 5, 17, 40])
def test_values_match_mpmath_scipy_and_torch(name, n):
    ours = getattr(xg.special, name)(n, f64(X)).numpy()
    with mpmath.workdps(40):
        for value, at in zip(ours, X):
            expected = float(MPMATH[name](n, mpmath.mpf(at)))
            assert abs(value - expected) <= 8e-16 * (n + 1) * scale(name, n, at), (n, at)
    np.testing.assert_allclose(ours, getattr(sc, name)(n, X), rtol=1e-12,
                               atol=1e-13 * np.abs(ours).max())
    peer = getattr(torch.special, TORCH_NAMES[name])(torch.tensor(X), n).numpy()
    np.testing.assert_allclose(ours, peer, rtol=1e-10, atol=1e-10 * np.abs(ours).max())


@pytest.mark.parametrize("name", NAMES)
def test_negative_and_array_degrees_as_scipy(name):
    degrees = np.array([[-4], [-2], [-1], [0], [3], [6]])
    x = np.array([-0.7, 0.2, 1.3])
    ours = getattr(xg.special, name)(degrees, f64(x))
    assert ours.shape == (6, 3)
    np.testing.assert_allclose(ours.numpy(), getattr(sc, name)(degrees, x), rtol=1e-14,
                               atol=1e-13)
    for n in (-3, -1):
        np.testing.assert_allclose(getattr(xg.special, name)(n, f64(x)).numpy(),
                                   getattr(sc, name)(n, x), rtol=1e-14, atol=1e-15)
    as_tensor = getattr(xg.special, name)(xg.asarray([2, 5, 0]), f64(x)).numpy()
    np.testing.assert_allclose(as_tensor, getattr(sc, name)([2, 5, 0], x), rtol=1e-14,
                               atol=1e-13)


def _derivative(name, n, x):
    """The classical identities (SciPy's values): P_n' = n (x P_n - P_(n-1)) / (x^2 - 1),
    T_n' = n U_(n-1), U_n' = ((n + 1) T_(n+1) - x U_n) / (x^2 - 1), H_n' = 2n H_(n-1),
    He_n' = n He_(n-1), L_n' = n (L_n - L_(n-1)) / x."""
    if name == "eval_legendre":
        return n * (x * sc.eval_legendre(n, x) - sc.eval_legendre(n - 1, x)) / (x * x - 1)
    if name == "eval_chebyt":
        return n * sc.eval_chebyu(n - 1, x)
    if name == "eval_chebyu":
        return ((n + 1) * sc.eval_chebyt(n + 1, x) - x * sc.eval_chebyu(n, x)) / (x * x - 1)
    if name == "eval_hermite":
        return 2 * n * sc.eval_hermite(n - 1, x)
    if name == "eval_hermitenorm":
        return n * sc.eval_hermitenorm(n - 1, x)
    return n * (sc.eval_laguerre(n, x) - sc.eval_laguerre(n - 1, x)) / x


@pytest.mark.parametrize("name", NAMES)
def test_gradients_follow_the_derivative_identities(name):
    x = np.array([-1.7, -0.6, 0.3, 0.95, 2.2])
    for n in (1, 4, 9):
        grad = xg.grad(lambda v: xg.sum(getattr(xg.special, name)(n, v)))(f64(x)).numpy()
        np.testing.assert_allclose(grad, _derivative(name, n, x), rtol=1e-12,
                                   atol=1e-12 * np.abs(grad).max())
    check_grads(lambda v: getattr(xg.special, name)(5, v), [f64(x)], order=2)
    degrees = np.array([0, 3, 7, 2, 1] if "hermite" in name else [0, 3, 7, -2, 1])  # H_-2: NaN
    check_grads(lambda v: getattr(xg.special, name)(degrees, v), [f64(x)], order=2)


@pytest.mark.parametrize("name", NAMES)
def test_float32_and_integer_x(name):
    x = np.linspace(-1.0, 1.0, 9).astype(np.float32)
    ours = getattr(xg.special, name)(4, xg.asarray(x))
    assert ours.dtype == xg.float32
    np.testing.assert_allclose(ours.numpy(), getattr(sc, name)(4, x.astype(np.float64)),
                               rtol=2e-6, atol=2e-6)
    assert getattr(xg.special, name)(2, xg.asarray([1, 2])).dtype == xg.float32


@pytest.mark.parametrize("name", NAMES)
def test_bad_degrees_and_x_are_named(name):
    fn = getattr(xg.special, name)
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: n must be an int"):
        fn(2.5, f64([0.5]))
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: n must be an int, got a bool"):
        fn(True, f64([0.5]))
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: n must hold integers"):
        fn(np.array([1.5]), f64([0.5]))
    with pytest.raises(ValueError, match=rf"xg\.special\.{name}: n's shape \(2,\) does not"):
        fn(np.array([1, 2]), f64([0.5, 0.1, 0.2]))
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: x must be"):
        fn(2, "x")


def test_scipy_ufuncs_on_a_tensor_record_on_the_tape():
    x = f64([0.3, 0.6])
    grad = xg.grad(lambda v: xg.sum(sc.eval_legendre(3, v)))(x).numpy()
    np.testing.assert_allclose(grad, _derivative("eval_legendre", 3, x.numpy()), rtol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_at_infinity_the_leading_term(name):
    """Was NaN (``inf - inf`` in the recurrence); now PyTorch's and SciPy's +-inf where they
    have one, and everywhere the limit, the sign of PyTorch's value at +-1e30 (SciPy and
    PyTorch give NaN from degree 3 on, SciPy's eval_chebyt(0, inf) too), 1 for n = 0; integer
    array degrees the same."""
    fn, peer = getattr(xg.special, name), getattr(torch.special, TORCH_NAMES[name])
    ends = np.array([-np.inf, np.inf])
    for n in range(0, 7):
        ours = fn(n, f64(ends)).numpy()
        big = peer(torch.tensor([-1e30, 1e30], dtype=torch.float64), n).numpy()
        np.testing.assert_array_equal(ours, big if n == 0 else np.sign(big) * np.inf)
        for theirs in (peer(torch.tensor(ends), n).numpy(), getattr(sc, name)(n, ends)):
            np.testing.assert_array_equal(ours[np.isinf(theirs)], theirs[np.isinf(theirs)])
        by_array = fn(xg.asarray(np.array([[n], [1]])), f64(ends)).numpy()
        np.testing.assert_array_equal(by_array[0], ours)


# NumPy's own series classes: an independent reference for the derivative's limit
SERIES = {"eval_legendre": np.polynomial.Legendre, "eval_chebyt": np.polynomial.Chebyshev,
          "eval_hermite": np.polynomial.Hermite, "eval_hermitenorm": np.polynomial.HermiteE,
          "eval_laguerre": np.polynomial.Laguerre}


@pytest.mark.parametrize("name", sorted(SERIES))
def test_derivative_at_infinity_is_the_derivatives_limit(name):
    """The gradient at +-inf was +-1 for every degree (the limit's ``+-x``, at first NaN): it
    is the derivative's limit, +-inf by the sign of NumPy's series derivative at +-1e30 from
    degree 2 on, the constant slope at degree 1; no warning (``inf - inf``, ``0 * inf``)."""
    fn = getattr(xg.special, name)
    for n in range(0, 6):
        slope = SERIES[name].basis(n).deriv()
        for end in (-np.inf, np.inf):
            ours = xg.grad(lambda t: xg.sum(fn(n, t)))(f64([end])).numpy()[0]
            at_big = slope(np.copysign(1e30, end))
            want = slope(0.0) if n <= 1 else np.sign(at_big) * np.inf
            assert ours == want, (n, end, ours, want)
