"""xg.special.gammainc / gammaincc: values against mpmath (50 digits) over a in [1e-3, 1e4] and
x in [0, 1e4], edge values against SciPy, float32, gradients in x against PyTorch and finite
differences (to second order), the gradient in a (which PyTorch refuses) against finite
differences and its second order refused, and bad input (the a-derivative's accuracy:
test_special_incomplete_gamma_shape.py).

The tolerance is 1.5e-14 relative times ``max(1, |x - a|)``: rounding x / a (or x itself) to
float64 moves ``log P`` by about ``|x - a|`` ulps, for SciPy's values as for these."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")
mpmath = pytest.importorskip("mpmath")

FUNCTIONS = {"gammainc": (xg.special.gammainc, sc.gammainc, torch.special.gammainc),
             "gammaincc": (xg.special.gammaincc, sc.gammaincc, torch.special.gammaincc)}


def _grid():
    """Pairs (a, x): a log grid in both, plus x within a few standard deviations of a (where
    P is near 1/2 and the series and continued fraction need the most terms)."""
    a = np.geomspace(1e-3, 1e4, 22)
    x = np.concatenate([[0.0], np.geomspace(1e-3, 1e4, 22)])
    aa, xx = (v.ravel() for v in np.meshgrid(a, x))
    near_a = np.concatenate([a + k * np.sqrt(a) for k in (-3.0, -1.0, -0.1, 0.0, 0.5, 2.0)])
    keep = (near_a >= 0) & (near_a <= 1e4)
    return (np.concatenate([aa, np.tile(a, 6)[keep]]),
            np.concatenate([xx, near_a[keep]]))


def _exact(name, a, x):
    mpmath.mp.dps = 50
    upper = name == "gammaincc"
    out = []
    for ai, xi in zip(a, x):
        ai, xi = mpmath.mpf(float(ai)), mpmath.mpf(float(xi))
        bounds = (xi, mpmath.inf) if upper else (0, xi)
        out.append(float(mpmath.gammainc(ai, *bounds, regularized=True)))
    return np.array(out)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float64_values_match_mpmath(name):
    a, x = _grid()
    ours = FUNCTIONS[name][0](xg.asarray(a, dtype=xg.float64), xg.asarray(x, dtype=xg.float64))
    exact = _exact(name, a, x)
    ours = ours.numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(ours == exact, 0.0, np.abs(ours - exact) / exact)
    allowed = 1.5e-14 * np.maximum(1.0, np.abs(x - a))
    worst = np.argmax(error / allowed)
    assert error[worst] <= allowed[worst], (
        f"{name}({a[worst]!r}, {x[worst]!r}) = {ours[worst]!r}, exactly {exact[worst]!r}: "
        f"relative error {error[worst]:.3g}")
    near = np.abs(x - a) <= 1.0                 # well conditioned: no excuse there
    assert np.max(error[near]) <= 1.5e-14


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_edges_match_scipy(name):
    ours_fn, scipy_fn, _ = FUNCTIONS[name]
    a = np.array([0.0, 0.0, 1.0, 1.0, -1.0, 1.0, np.inf, np.inf, 1.0, np.nan, 2.0, 0.0])
    x = np.array([0.0, 1.0, 0.0, np.inf, 1.0, -1.0, 1.0, np.inf, np.nan, 1.0, 1e-300, np.inf])
    ours = ours_fn(xg.asarray(a, dtype=xg.float64), xg.asarray(x, dtype=xg.float64)).numpy()
    np.testing.assert_array_equal(ours, scipy_fn(a, x))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_tiny_a_matches_mpmath_and_stays_in_the_unit_interval(name):
    # Q(a, x) ~ a E1(x) as a -> 0: SciPy's Q(1e-300, 1) is 8.6e-14 off, its P 1 + 2.4e-14
    a, x = np.repeat([1e-300, 1e-20, 1e-8], 3), np.tile([0.1, 1.0, 5.0], 3)
    ours = FUNCTIONS[name][0](xg.asarray(a, dtype=xg.float64), xg.asarray(x, dtype=xg.float64))
    np.testing.assert_allclose(ours.numpy(), _exact(name, a, x), rtol=2e-15, atol=0.0)
    assert np.all(ours.numpy() <= 1.0)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_is_the_float64_value_rounded(name):
    fn = FUNCTIONS[name][0]
    a = np.float32([0.01, 0.7, 3.0, 250.0])
    x = np.float32([0.02, 2.5, 3.0, 260.0])
    got = fn(xg.asarray(a), xg.asarray(x))
    assert got.dtype == xg.float32
    wide = fn(xg.asarray(a, dtype=xg.float64), xg.asarray(x, dtype=xg.float64))
    np.testing.assert_array_equal(got.numpy(), wide.numpy().astype(np.float32))


def test_python_numbers_take_the_tensor_dtype_and_broadcast():
    x = xg.asarray([[0.5], [3.0]], dtype=xg.float64)
    out = xg.special.gammainc(xg.asarray([1.0, 2.0, 5.0]), x)        # float32 a, float64 x
    assert out.dtype == xg.float64 and out.shape == (2, 3)
    np.testing.assert_allclose(out.numpy(), sc.gammainc([1.0, 2.0, 5.0], [[0.5], [3.0]]),
                               rtol=1e-14)
    assert xg.special.gammaincc(2.0, x).dtype == xg.float64


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradient_in_x_matches_torch(name):
    ours_fn, _, torch_fn = FUNCTIONS[name]
    a = np.array([[1e-3], [0.5], [1.0], [7.5], [400.0]])
    x = np.array([1e-4, 0.3, 1.0, 6.0, 380.0, 420.0])
    grad = xg.grad(lambda x: xg.sum(ours_fn(xg.asarray(a, dtype=xg.float64), x)))(
        xg.asarray(x, dtype=xg.float64))
    tx = torch.tensor(x, requires_grad=True)
    torch_fn(torch.tensor(a), tx).sum().backward()
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("a", [0.3, 2.0, 45.0])
def test_gradients_in_x_match_finite_differences_to_second_order(name, a):
    fn = FUNCTIONS[name][0]
    x = xg.asarray(a * np.array([0.4, 0.9, 1.1, 2.5]), dtype=xg.float64)
    check_grads(lambda x: fn(a, x), (x,), order=2, rtol=1e-5, atol=1e-8)


def test_gradient_at_zero_is_the_density_limit():
    a = xg.asarray([0.5, 1.0, 2.0], dtype=xg.float64)
    grad = xg.grad(lambda x: xg.sum(xg.special.gammainc(a, x)))(xg.asarray(0.0, dtype=xg.float64))
    assert grad.item() == np.inf
    each = xg.grad(lambda x: xg.sum(xg.special.gammainc(a[1:], x)))(
        xg.asarray(0.0, dtype=xg.float64))
    assert each.item() == 1.0                       # e^-x at 0, plus 0 for a = 2


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradient_in_a_exists_where_torch_refuses_it_and_second_order_is_refused(name):
    ours_fn, scipy_fn, torch_fn = FUNCTIONS[name]
    ta = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    with pytest.raises(NotImplementedError):
        torch_fn(ta, torch.tensor([1.5], dtype=torch.float64)).sum().backward()
    x = xg.asarray([1.5], dtype=xg.float64)
    grad = xg.grad(lambda a: xg.sum(ours_fn(a, x)))(xg.asarray([2.0], dtype=xg.float64))
    h = 1e-5
    np.testing.assert_allclose(grad.numpy(), (scipy_fn(2.0 + h, 1.5) - scipy_fn(2.0 - h, 1.5))
                               / (2 * h), rtol=1e-8)
    with pytest.raises(NotImplementedError, match=rf"{name}: second derivatives involving a"):
        xg.grad(xg.grad(lambda a: xg.sum(ours_fn(a, x))))(xg.asarray([2.0], dtype=xg.float64))
    a = xg.Variable(xg.asarray([2.0], dtype=xg.float64))
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(ours_fn(xg.stop_gradient(a), x))
    assert tape.gradient(y, x).shape == (1,)


def test_scipy_ufuncs_on_a_tensor_differentiate():
    x = xg.asarray([0.5, 2.0], dtype=xg.float64)
    grad = xg.grad(lambda x: xg.sum(sc.gammainc(1.0, x)))(x)
    np.testing.assert_allclose(grad.numpy(), np.exp(-x.numpy()), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_bad_input_names_the_argument(name):
    fn = FUNCTIONS[name][0]
    x = xg.asarray([1.0])
    with pytest.raises(TypeError, match=rf"{name}: a must be real"):
        fn(xg.asarray([1.0 + 1.0j]), x)
    with pytest.raises(TypeError, match=rf"{name}: x must be a tensor or numbers"):
        fn(1.0, "three")
