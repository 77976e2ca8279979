"""xg.special.betaincinv: values against SciPy on both paths of the NumPy backend (SciPy's
kernel, and the generic bracketed Newton steps, also in the far tails and for shapes up to
1e4), the round trip through betainc, gradients in y, a and b against finite differences of
SciPy's betaincinv (the implicit function), y's second order, edges, traced replays equal
eager, the second derivative in a shape refused naming it, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads
from special_scipy_paths import path  # noqa: F401  (a fixture)

sc = pytest.importorskip("scipy.special")



def _random(low, high, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    a, b = 10 ** rng.uniform(low, high, n), 10 ** rng.uniform(low, high, n)
    y = rng.uniform(0.0, 1.0, n)
    y[: n // 6] = 10 ** rng.uniform(-300, -1, n // 6)
    y[n // 6: n // 3] = 1.0 - 10 ** rng.uniform(-15, -1, n // 6)
    return a, b, y


def test_values_match_scipy(path):
    a, b, y = _random(-1, 2)
    ours = xg.special.betaincinv(xg.asarray(a), xg.asarray(b), xg.asarray(y)).numpy()
    theirs = sc.betaincinv(a, b, y)
    normal = np.isfinite(theirs) & (theirs > 1e-300) & (theirs < 1.0)
    np.testing.assert_allclose(ours[normal], theirs[normal], rtol=3e-13)
    underflow = theirs <= 2.3e-308                  # SciPy clamps to 2.2e-308; ours is 0
    assert underflow.sum() > 10 and np.all(ours[underflow] <= 2.3e-308)
    if path == "generic":                           # SciPy's is NaN at some y below 1e-180
        missing = np.isnan(theirs)
        assert missing.sum() > 3 and not np.isnan(ours).any()
        np.testing.assert_allclose(sc.betainc(a, b, ours)[missing], y[missing], rtol=1e-10)


def test_generic_solution_is_betaincs_root_for_wide_shapes(path):
    if path == "scipy":
        pytest.skip("the generic steps only")
    a, b, y = _random(-3, 4, n=600, seed=1)
    ours = xg.special.betaincinv(xg.asarray(a), xg.asarray(b), xg.asarray(y)).numpy()
    assert not np.isnan(ours).any()
    inside = (ours > 1e-300) & (ours < 1.0 - 1e-12)   # next to 1, x's own ulps decide
    lower = y < 0.5
    # relative residual of the smaller tail, against betainc's own accuracy there
    residual = np.where(lower, sc.betainc(a, b, ours) / y, sc.betaincc(a, b, ours) / (1 - y))
    assert np.abs(residual - 1.0)[inside].max() < 1e-6
    assert np.median(np.abs(residual - 1.0)[inside]) < 1e-13   # x ulps times d log I / d log x


def test_gradients_are_the_implicit_function(path):
    a, b, y = np.array([0.3, 2.0, 15.0, 0.8]), np.array([4.0, 2.0, 0.7, 60.0]), \
        np.array([0.2, 0.5, 0.9, 1e-6])
    grads = xg.grad(lambda a, b, y: xg.sum(xg.special.betaincinv(a, b, y)), argnums=(0, 1, 2))(
        *(xg.asarray(v) for v in (a, b, y)))
    for k, grad in enumerate(grads):
        h = 1e-6 * (a, b, y)[k]
        up, down = [a, b, y], [a, b, y]
        up[k], down[k] = up[k] + h, down[k] - h
        numeric = (sc.betaincinv(*up) - sc.betaincinv(*down)) / (2 * h)
        np.testing.assert_allclose(grad.numpy(), numeric, rtol=2e-6)


def test_second_order_in_y_matches_finite_differences(path):
    check_grads(lambda y: xg.special.betaincinv(xg.asarray([0.7, 3.0]), 2.5, y),
                (np.array([0.3, 0.6]),), order=2, rtol=1e-5, atol=1e-8)


def test_second_derivative_in_a_shape_is_refused_naming_it():
    second = xg.grad(xg.grad(lambda b: xg.special.betaincinv(2.0, b, 0.3)))
    with pytest.raises(NotImplementedError, match="betaincinv: second derivatives involving b"):
        second(xg.asarray(3.0, dtype=xg.float64))


def test_edges_are_scipys(path):
    a = np.array([2.0, 2.0, -1.0, 2.0, 2.0, np.nan, 0.0])
    y = np.array([0.0, 1.0, 0.5, 1.5, -0.1, 0.5, 0.5])
    ours = xg.special.betaincinv(xg.asarray(a), 3.0, xg.asarray(y)).numpy()
    np.testing.assert_array_equal(ours[:6], sc.betaincinv(a, 3.0, y)[:6])
    assert np.isnan(ours[6])
    edge_grad = xg.grad(lambda a: xg.sum(xg.special.betaincinv(a, 3.0, xg.asarray([0.0, 1.0]))))(
        xg.asarray(2.0, dtype=xg.float64))
    assert edge_grad.item() == 0.0


def test_float32_in_float32_out(path):
    out = xg.special.betaincinv(xg.asarray([2.0]), 3.0, xg.asarray([0.4]))
    assert out.dtype == xg.float32
    np.testing.assert_allclose(out.numpy(), sc.betaincinv(2.0, 3.0, 0.4), rtol=1e-6)


def test_traced_values_and_gradients_equal_eager(path):
    step = xg.value_and_grad(lambda a, b, y: xg.sum(xg.special.betaincinv(a, b, y)),
                             argnums=(0, 1, 2))
    traced = xg.function(step)
    for a, b, y in (([0.5, 4.0], [3.0, 0.9], [0.1, 0.8]), ([7.0, 0.2], [1.5, 40.0], [1e-9, 0.5])):
        args = [xg.asarray(v, dtype=xg.float64) for v in (a, b, y)]
        (value, grads), (eager_value, eager_grads) = traced(*args), step(*args)
        assert value.item() == eager_value.item()
        for g, e in zip(grads, eager_grads):
            np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="betaincinv: b must be real"):
        xg.special.betaincinv(1.0, xg.asarray([1.0 + 1.0j]), 0.5)
    with pytest.raises(TypeError, match="betaincinv: y must be a tensor or numbers"):
        xg.special.betaincinv(1.0, 2.0, "half")


def test_generic_betainc_keeps_its_digits_far_from_the_mean():
    """The inverse's steps need ``log I`` to ~1e-14 in the far tails; the generic formula took
    ``log1p(x (a + b) / a - 1)`` there (1e-7 off at x = 2e-8, a = 39, b = 48)."""
    mpmath = pytest.importorskip("mpmath")
    import array_api_compat.numpy as xp
    from xpgrad.ops.incomplete_beta_formulas import regularized_beta

    a, b = np.array([38.86, 38.86, 12.0, 300.0]), np.array([47.83, 47.83, 900.0, 15.0])
    x = np.array([1.83e-8, 1e-3, 1e-5, 0.2])
    mpmath.mp.dps = 50
    exact = [float(mpmath.betainc(p, q, 0, v, regularized=True)) for p, q, v in zip(a, b, x)]
    # log I = -636 at the first: its rounding alone is 636 ulps
    np.testing.assert_allclose(regularized_beta(xp, a, b, x, upper=False), exact, rtol=2e-13)
