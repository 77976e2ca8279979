"""The worked examples of backpropagation, exactly as the issue lists them."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads, numerical_vjp


def sigma(v):
    return 1.0 / (1.0 + math.exp(-v))


def test_sum_times_product():
    """f = (x + y) z at x=-2, y=5, z=-4: f=-12, df/dx=-4, df/dy=-4, df/dz=3."""
    x, y, z = (xg.asarray(v) for v in (-2.0, 5.0, -4.0))
    with xg.GradientTape() as tape:
        tape.watch([x, y, z])
        f = (x + y) * z
    dx, dy, dz = tape.gradient(f, [x, y, z])
    assert f.item() == -12.0
    assert (dx.item(), dy.item(), dz.item()) == (-4.0, -4.0, 3.0)


def test_sigmoid_neuron():
    """f = sigma(w0 x0 + w1 x1 + w2) with w=[2,-3,-3], x=[-1,-2]."""
    w = xg.Variable(xg.asarray([2.0, -3.0, -3.0], dtype=xg.float64), name="w")
    x = xg.asarray([-1.0, -2.0], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        f = xg.nn.sigmoid(w[0] * x[0] + w[1] * x[1] + w[2])
    dx, dw = tape.gradient(f, [x, w])

    dot = 2.0 * -1.0 + -3.0 * -2.0 + -3.0      # = 1
    s = sigma(dot)                               # 0.7311
    ds = s * (1.0 - s)                           # 0.1966
    assert dot == 1.0
    assert f.item() == pytest.approx(s, rel=1e-12)
    np.testing.assert_allclose(dx.numpy(), [2.0 * ds, -3.0 * ds], rtol=1e-12)
    np.testing.assert_allclose(dw.numpy(), [-1.0 * ds, -2.0 * ds, 1.0 * ds], rtol=1e-12)
    np.testing.assert_allclose(dx.numpy(), [0.3932, -0.5898], atol=1e-4)  # the worked numbers
    np.testing.assert_allclose(dw.numpy(), [-0.1966, -0.3932, 0.1966], atol=1e-4)


def test_sigmoid_neuron_as_one_dot_product():
    w = xg.asarray([2.0, -3.0, -3.0], dtype=xg.float64)
    x = xg.asarray([-1.0, -2.0, 1.0], dtype=xg.float64)     # bias as an input of 1
    dw, dx = xg.grad(lambda w, x: xg.nn.sigmoid(xg.vecdot(w, x)), argnums=(0, 1))(w, x)
    ds = sigma(1.0) * (1 - sigma(1.0))
    np.testing.assert_allclose(dw.numpy(), x.numpy() * ds, rtol=1e-12)
    np.testing.assert_allclose(dx.numpy(), w.numpy() * ds, rtol=1e-12)


def staged(x, y):
    """f = (x + sigma(y)) / (sigma(x) + (x + y)^2)."""
    num = x + xg.nn.sigmoid(y)
    den = xg.nn.sigmoid(x) + (x + y) ** 2
    return num / den


def test_staged_function_against_finite_differences():
    x, y = xg.asarray(3.0, dtype=xg.float64), xg.asarray(-4.0, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        f = staged(x, y)
    dx, dy = tape.gradient(f, [x, y])
    assert f.item() == pytest.approx((3 + sigma(-4)) / (sigma(3) + 1.0), rel=1e-12)
    num_dx, num_dy = numerical_vjp(staged, [x, y], xg.asarray(1.0, dtype=xg.float64))
    assert dx.item() == pytest.approx(float(num_dx), rel=1e-7)
    assert dy.item() == pytest.approx(float(num_dy), rel=1e-7)
    assert abs(dx.item()) > 0.1 and abs(dy.item()) > 0.1   # not trivially zero
    check_grads(staged, [x, y], order=2)


GRID = np.array([-3.0, -1.5, -0.2, 0.3, 1.0, 2.5])


def derivative(fn, values=GRID):
    x = xg.asarray(values, dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return y.numpy(), tape.gradient(y, x).numpy()


def test_sigmoid_derivative():
    s, ds = derivative(xg.nn.sigmoid)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-GRID)), rtol=1e-12)
    np.testing.assert_allclose(ds, s * (1 - s), rtol=1e-12)


def test_relu_derivative():
    r, dr = derivative(xg.nn.relu)
    np.testing.assert_array_equal(r, np.maximum(GRID, 0))
    np.testing.assert_array_equal(dr, (GRID > 0).astype(float))


@pytest.mark.parametrize("p", [0.01, 0.2])
def test_leaky_relu_derivative(p):
    r, dr = derivative(lambda x: xg.nn.leaky_relu(x, negative_slope=p))
    np.testing.assert_allclose(r, np.where(GRID > 0, GRID, p * GRID), rtol=1e-12)
    np.testing.assert_allclose(dr, np.where(GRID > 0, 1.0, p), rtol=1e-12)


def test_tanh_derivative():
    t, dt = derivative(xg.tanh)
    np.testing.assert_allclose(t, np.tanh(GRID), rtol=1e-12)
    np.testing.assert_allclose(dt, 1 - t ** 2, rtol=1e-12)


def test_softmax_jacobian():
    """dp_i/da_j = p_i (delta_ij - p_j), through tape.jacobian."""
    a = xg.asarray([1.0, -0.5, 2.0, 0.3], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(a)
        p = xg.nn.softmax(a)
    jac = tape.jacobian(p, a).numpy()
    pn = p.numpy()
    expected = np.array([[pn[i] * ((i == j) - pn[j]) for j in range(4)] for i in range(4)])
    assert jac.shape == (4, 4)
    np.testing.assert_allclose(jac, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jac.sum(axis=0), 0.0, atol=1e-15)    # probabilities sum to 1
