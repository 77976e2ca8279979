"""xg.special.polygamma with an array of orders ``n`` (as scipy.special.polygamma takes):
values against SciPy with broadcasting, gradients in x against finite differences and against
SciPy's polygamma(n + 1, x), and bad orders refused with errors naming n."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")

X = np.array([0.6, 3.0, 11.0, -2.4])


@pytest.mark.parametrize("make_n", [np.asarray, xg.asarray, list], ids=["ndarray", "Tensor",
                                                                       "list"])
def test_orders_array_matches_scipy_elementwise(make_n):
    orders = [0, 3, 1, 2]
    ours = xg.special.polygamma(make_n(orders), xg.asarray(X)).numpy()
    np.testing.assert_allclose(ours, sc.polygamma(orders, X), rtol=1e-13)


def test_orders_broadcast_against_x():
    orders = np.array([[1], [0], [4]])
    ours = xg.special.polygamma(orders, xg.asarray(X))
    assert ours.shape == (3, 4)
    np.testing.assert_allclose(ours.numpy(), sc.polygamma(orders, X), rtol=1e-13)
    larger_n = xg.special.polygamma(np.full((2, 4), 2), xg.asarray(3.0, dtype=xg.float64))
    np.testing.assert_allclose(larger_n.numpy(), np.full((2, 4), sc.polygamma(2, 3.0)),
                               rtol=1e-14)


def test_float32_x_stays_float32():
    ours = xg.special.polygamma(np.array([1, 2]), xg.asarray([1.5, 2.5]))
    assert ours.dtype == xg.float32
    np.testing.assert_allclose(ours.numpy(), sc.polygamma([1, 2], [1.5, 2.5]), rtol=1e-6)


def test_gradient_in_x_is_the_next_order():
    orders = xg.asarray([[0, 1, 2, 3], [2, 2, 0, 1]])
    x = xg.asarray(X)
    grad = xg.grad(lambda x: xg.sum(xg.special.polygamma(orders, x)))(x).numpy()
    expected = sc.polygamma(orders.numpy() + 1, X).sum(axis=0)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)


def test_gradients_match_finite_differences_to_second_order():
    orders = np.array([[1, 0, 2, 1], [3, 3, 0, 2]])
    check_grads(lambda x: xg.special.polygamma(orders, x), [xg.asarray(X)], order=2, rtol=1e-4)


def test_negative_orders_give_nan_as_scipy():
    orders = np.array([-1, 2, -3, 0])
    x = xg.asarray(X)
    ours = xg.special.polygamma(orders, x).numpy()
    np.testing.assert_allclose(ours, sc.polygamma(orders, X), rtol=1e-13)
    assert np.isnan(ours[[0, 2]]).all()
    grad = xg.grad(lambda x: xg.sum(xg.special.polygamma(orders, x)))(x).numpy()
    np.testing.assert_allclose(grad, [0.0, sc.polygamma(3, 3.0), 0.0, sc.polygamma(1, -2.4)],
                               rtol=1e-12)


def test_a_0d_order_array_follows_the_array_rules():
    x = xg.asarray(X)
    np.testing.assert_allclose(xg.special.polygamma(xg.asarray(2), x).numpy(),
                               sc.polygamma(2, X), rtol=1e-13)
    assert np.isnan(xg.special.polygamma(np.array(-4), x).numpy()).all()
    with pytest.raises(ValueError, match="n must be >= 0, got -4"):   # a Python int: as torch
        xg.special.polygamma(-4, x)


def test_empty_orders_give_an_empty_result():
    assert xg.special.polygamma(np.zeros((0, 1), dtype=np.int64), xg.asarray(X)).shape == (0, 4)


@pytest.mark.parametrize("n, error, words", [
    (np.array([1.0, 2.0]), TypeError, "n must hold integers"),
    (np.array([True, False]), TypeError, "n must hold integers"),
    (xg.asarray([0.5, 1.0]), TypeError, "n must hold integers"),
    (np.array([1, 2, 3]), ValueError, "n's shape (3,) does not broadcast"),
    ([1, "a"], TypeError, "n must hold integers"),
])
def test_bad_orders_are_refused_naming_n(n, error, words):
    with pytest.raises(error) as info:
        xg.special.polygamma(n, xg.asarray(X))
    assert words in str(info.value)
