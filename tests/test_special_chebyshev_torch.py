"""xg.special's PyTorch-only Chebyshev polynomials (third and fourth kinds, and the four shifted
ones): values against PyTorch's on both backends and against their trigonometric forms,
integer-array degrees, gradients against finite differences (to second order), bad input."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("numpy_default")

NAMES = ["chebyshev_polynomial_v", "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
         "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
         "shifted_chebyshev_polynomial_w"]


def f64(values, backend="numpy"):
    return xg.asarray(values, dtype=xg.float64, backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("name", NAMES)
def test_values_match_torch(name, backend):
    x = np.concatenate([np.linspace(-1.5, 1.5, 31), [0.0, 1.0, -1.0]])
    for n in (-3, -1, 0, 1, 2, 5, 12):
        ours = getattr(xg.special, name)(f64(x, backend), n).numpy()
        theirs = getattr(torch.special, name)(torch.tensor(x), n).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-13)
        # NaN stays NaN, as eval_chebyt's (PyTorch gives 1 for n = 0 and 0 for n < 0)
        assert np.isnan(getattr(xg.special, name)(f64([np.nan], backend), n).item())


def test_values_match_the_trigonometric_forms():
    t = np.linspace(0.1, 3.0, 30)
    x = np.cos(t)
    for n in (0, 1, 4, 9):
        v = xg.special.chebyshev_polynomial_v(f64(x), n).numpy()
        w = xg.special.chebyshev_polynomial_w(f64(x), n).numpy()
        np.testing.assert_allclose(v, np.cos((n + 0.5) * t) / np.cos(t / 2), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(w, np.sin((n + 0.5) * t) / np.sin(t / 2), rtol=1e-12,
                                   atol=1e-12)
        shifted = xg.special.shifted_chebyshev_polynomial_t(f64((x + 1) / 2), n).numpy()
        np.testing.assert_allclose(shifted, np.cos(n * t), rtol=1e-12, atol=1e-12)
        shifted_v = xg.special.shifted_chebyshev_polynomial_v(f64((x + 1) / 2), n).numpy()
        np.testing.assert_allclose(shifted_v, v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_integer_array_degrees_float32_and_gradients(name):
    fn = getattr(xg.special, name)
    x = np.array([[0.2, -0.6, 1.3]])
    degrees = np.array([[0], [3], [-1]])
    ours = fn(f64(x), degrees).numpy()
    theirs = getattr(torch.special, name)(torch.tensor(x), torch.tensor(degrees)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-14)
    assert fn(xg.asarray(x, dtype=xg.float32), 3).dtype == xg.float32
    assert fn(f64(np.zeros((0, 2))), 3).shape == (0, 2)
    check_grads(lambda v: fn(v, 4), [f64(x)], order=2)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_named(name):
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: x must be"):
        getattr(xg.special, name)("x", 2)


@pytest.mark.parametrize("name", NAMES)
def test_bad_degree_is_named(name):
    """The shifted kinds borrow another family's recurrence: their errors named it
    (``xg.special.shifted_t: n must ...``, ``xg.special.chebyshev_polynomial_v: ...``)."""
    fn, x = getattr(xg.special, name), f64([0.3, 0.5])
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: n must hold integers"):
        fn(x, np.array([2.0, 3.0]))
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: n must be a whole number"):
        fn(x, 2.5)
    with pytest.raises(TypeError, match=rf"xg\.special\.{name}: n must hold integers"):
        fn(x, ["a"])


@pytest.mark.parametrize("name", NAMES)
def test_a_whole_float_degree_as_torch(name):
    """PyTorch takes ``n = 2.0`` as 2 (and truncates 2.5, which xpgrad refuses, above)."""
    x = np.linspace(-1.5, 1.5, 7)
    theirs = getattr(torch.special, name)(torch.tensor(x), 2.0).numpy()
    np.testing.assert_allclose(getattr(xg.special, name)(f64(x), 2.0).numpy(), theirs,
                               rtol=1e-13, atol=1e-13)


def _limit_at_infinity(torch_function, n):
    """PyTorch's polynomial's sign at +-1e30 times inf (its own value at +-inf is NaN from
    degree 3 on: ``inf - inf`` in the recurrence), 1 for n = 0."""
    big = torch_function(torch.tensor([-1e30, 1e30], dtype=torch.float64), n).numpy()
    return big if n == 0 else np.sign(big) * np.inf


@pytest.mark.parametrize("name", NAMES)
def test_at_infinity_the_leading_term(name):
    """Was NaN (``inf - inf``); PyTorch's inf where it has one, its limit everywhere."""
    for n in range(0, 7):
        ours = getattr(xg.special, name)(f64([-np.inf, np.inf]), n).numpy()
        theirs = getattr(torch.special, name)(torch.tensor([-np.inf, np.inf]), n).numpy()
        np.testing.assert_array_equal(ours[~np.isnan(theirs)], theirs[~np.isnan(theirs)])
        np.testing.assert_array_equal(ours, _limit_at_infinity(getattr(torch.special, name), n))
