"""xg.special.factorial, comb, perm, powm1 and softplus: values and edges against SciPy (SciPy's
exact=False), gradients against PyTorch's where it has the function and finite differences
(second order too), and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

sc = pytest.importorskip("scipy.special")
torch = pytest.importorskip("torch")


def f64(values):
    return xg.asarray(values, dtype=xg.float64)


def test_factorial_matches_scipy_and_torch_gradient():
    n = np.array([-1.0, -0.5, 0.0, 3.0, 2.5, np.nan, 170.0, 171.0, 0.3, 20.0])
    ours = xg.special.factorial(f64(n)).numpy()
    np.testing.assert_allclose(ours, sc.factorial(n, exact=False), rtol=1e-14)
    points = [0.3, 2.5, 7.0]
    t = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    torch.exp(torch.lgamma(t + 1)).sum().backward()
    grad = xg.grad(lambda v: xg.sum(xg.special.factorial(v)))(f64(points)).numpy()
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-13)
    check_grads(xg.special.factorial, [f64(points)], order=2)
    assert xg.grad(lambda v: xg.sum(xg.special.factorial(v)))(f64([-2.0])).item() == 0.0


def test_comb_and_perm_match_scipy():
    N = np.array([5.0, 5.0, 5.0, -1.0, 5.5, np.nan, 30.0, 7.0, 60.0, 10.0, 0.0])
    k = np.array([2.0, 6.0, -1.0, 1.0, 2.0, 1.0, 12.5, 7.0, 25.0, 3.5, 0.0])
    # binom past k = 20 (its beta form) is ~1e-14 off: comb(60, 25)
    np.testing.assert_allclose(xg.special.comb(f64(N), f64(k)).numpy(), sc.comb(N, k),
                               rtol=2e-14)
    np.testing.assert_allclose(xg.special.comb(f64(N), f64(k), repetition=True).numpy(),
                               sc.comb(N, k, repetition=True), rtol=1e-14)
    np.testing.assert_allclose(xg.special.perm(f64(N), f64(k)).numpy(), sc.perm(N, k),
                               rtol=1e-14)
    whole = np.arange(0.0, 19.0)
    np.testing.assert_array_equal(xg.special.perm(f64(18.0), f64(whole)).numpy(),
                                  sc.perm(18.0, whole))        # a product: exact integers


def test_comb_and_perm_gradients():
    N, k = f64([6.5, 9.0, 12.3]), f64([2.0, 3.5, 4.0])
    check_grads(lambda N: xg.special.comb(N, k), [N], order=2)
    check_grads(lambda N: xg.special.perm(N, k), [N], order=2)
    check_grads(lambda k: xg.special.perm(N, k), [f64([2.5, 3.5, 4.5])], order=2)
    # perm(N, 2) = N (N - 1): derivative 2N - 1
    grad = xg.grad(lambda N: xg.sum(xg.special.perm(N, 2.0)))(N).numpy()
    np.testing.assert_allclose(grad, 2 * N.numpy() - 1, rtol=1e-14)


def test_powm1_matches_scipy_and_torch_gradient():
    x = np.array([2.0, 0.0, 0.0, -2.0, -2.0, 1.0, np.inf, 1.0000001, np.nan, 1.0, -3.0, 0.0])
    y = np.array([3.0, 0.0, -1.0, 2.0, 0.5, np.inf, 0.0, 1e-3, 0.0, np.nan, 3.0, 2.0])
    np.testing.assert_allclose(xg.special.powm1(f64(x), f64(y)).numpy(), sc.powm1(x, y),
                               rtol=1e-15)
    # where x**y rounds near 1, pow(x, y) - 1 keeps few digits; powm1 keeps them all
    assert xg.special.powm1(f64(1.0 + 2.0 ** -40), 1e-6).item() == pytest.approx(
        1e-6 * 2.0 ** -40, rel=1e-12)
    xs, ys = [0.5, 1.7, 3.0], [0.3, -1.2, 2.0]
    tx = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(ys, dtype=torch.float64, requires_grad=True)
    (torch.pow(tx, ty) - 1).sum().backward()
    gx, gy = xg.grad(lambda a, b: xg.sum(xg.special.powm1(a, b)), argnums=(0, 1))(f64(xs),
                                                                                  f64(ys))
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(gy.numpy(), ty.grad.numpy(), rtol=1e-13)
    check_grads(xg.special.powm1, [f64(xs), f64(ys)], order=2)


def test_softplus_matches_scipy_and_torch():
    x = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 30.0, 800.0, np.inf, -np.inf])
    np.testing.assert_allclose(xg.special.softplus(f64(x)).numpy(), sc.softplus(x),
                               rtol=1e-15)
    points = [-3.0, 0.2, 5.0]
    t = torch.tensor(points, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.softplus(t).sum().backward()
    grad = xg.grad(lambda v: xg.sum(xg.special.softplus(v)))(f64(points)).numpy()
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-14)
    check_grads(xg.special.softplus, [f64(points)], order=2)


@pytest.mark.parametrize("call", [lambda: xg.special.factorial(f64(3.0), exact=True),
                                  lambda: xg.special.comb(5.0, f64(2.0), exact=True),
                                  lambda: xg.special.perm(5.0, f64(2.0), exact=True)])
def test_exact_is_refused_with_the_math_module_named(call):
    with pytest.raises(ValueError, match=r"xg\.special\.(factorial|comb|perm): exact=True .* "
                                         r"use math\."):
        call()


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match=r"xg\.special\.factorial: n must be"):
        xg.special.factorial("n")
    with pytest.raises(TypeError, match=r"xg\.special\.comb: k must be"):
        xg.special.comb(f64(5.0), "k")
    with pytest.raises(TypeError, match=r"exact"):
        xg.special.factorial(f64(3.0), exact="no")
    with pytest.raises(TypeError, match=r"xg\.special\.powm1: y must be"):
        xg.special.powm1(f64(2.0), "y")


def test_scipy_powm1_and_softplus_on_a_tensor_record_on_the_tape():
    x = f64([1.5, 2.5])
    grad = xg.grad(lambda v: xg.sum(sc.powm1(v, 2.0) + sc.softplus(v)))(x).numpy()
    np.testing.assert_allclose(grad, 2.0 * x.numpy() + sc.expit(x.numpy()), rtol=1e-14)
