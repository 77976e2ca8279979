"""``xg.hessian`` (as ``jax.hessian``) and ``xg.hvp`` (as ``torch.autograd.functional.hvp``):
second derivatives for function optimization, against PyTorch in float64 and against finite
differences of the gradient."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "numba"]


def _f(x):
    return xg.sum(xg.sin(x) ** 2 * x[::-1]) + xg.sum(x) ** 3 + xg.sum(xg.exp(x[:2] * x[1:]))


def _f_torch(x):
    return (torch.sin(x) ** 2 * x.flip(0)).sum() + x.sum() ** 3 + torch.exp(x[:2] * x[1:]).sum()


def _g(x, y):
    return xg.sum(xg.tanh(x @ y)) + xg.sum(x * x) * xg.sum(y)


def _g_torch(x, y):
    return torch.tanh(x @ y).sum() + (x * x).sum() * y.sum()


X0 = np.array([0.3, -1.2, 0.7])
A0 = np.array([[0.5, -0.3], [0.2, 0.9]])
B0 = np.array([[1.1, 0.4], [-0.6, 0.25]])


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def test_hessian_matches_pytorch(backend):
    hessian = xg.hessian(_f)(xg.asarray(X0, backend=backend))
    expected = torch.autograd.functional.hessian(_f_torch, torch.tensor(X0))
    assert hessian.shape == (3, 3) and hessian.backend.name == backend
    np.testing.assert_allclose(hessian.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_hessian_matches_finite_differences_of_the_gradient(backend):
    x = xg.asarray(X0, backend=backend)
    eps = 1e-6
    columns = []
    for j in range(3):
        step = np.zeros(3)
        step[j] = eps
        plus = xg.grad(_f)(xg.asarray(X0 + step, backend=backend)).numpy()
        minus = xg.grad(_f)(xg.asarray(X0 - step, backend=backend)).numpy()
        columns.append((plus - minus) / (2 * eps))
    np.testing.assert_allclose(xg.hessian(_f)(x).numpy(), np.stack(columns, axis=1),
                               rtol=1e-6, atol=1e-6)


def test_hessian_of_several_arguments_is_nested_as_in_jax(backend):
    a, b = (xg.asarray(v, backend=backend) for v in (A0, B0))
    blocks = xg.hessian(_g, argnums=(0, 1))(a, b)
    expected = torch.autograd.functional.hessian(_g_torch, (torch.tensor(A0), torch.tensor(B0)))
    assert len(blocks) == 2 and all(len(row) == 2 for row in blocks)
    for i in range(2):
        for j in range(2):
            assert blocks[i][j].shape == (2, 2, 2, 2)
            np.testing.assert_allclose(blocks[i][j].numpy(), expected[i][j].numpy(),
                                       rtol=1e-12, atol=1e-12)


def test_hessian_of_one_argument_among_several(backend):
    a, b = (xg.asarray(v, backend=backend) for v in (A0, B0))
    got = xg.hessian(_g, argnums=1)(a, b)
    expected = torch.autograd.functional.hessian(lambda y: _g_torch(torch.tensor(A0), y),
                                                 torch.tensor(B0))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_hvp_matches_pytorch_and_the_full_hessian(backend):
    v0 = np.array([1.0, -2.0, 0.5])
    value, product = xg.hvp(_f, xg.asarray(X0, backend=backend), xg.asarray(v0, backend=backend))
    t_value, t_product = torch.autograd.functional.hvp(_f_torch, torch.tensor(X0),
                                                       torch.tensor(v0))
    assert value.item() == pytest.approx(t_value.item(), rel=1e-14)
    np.testing.assert_allclose(product.numpy(), t_product.numpy(), rtol=1e-12, atol=1e-12)
    full = xg.hessian(_f)(xg.asarray(X0, backend=backend)).numpy()
    np.testing.assert_allclose(product.numpy(), full @ v0, rtol=1e-12, atol=1e-12)


def test_hvp_of_several_arguments(backend):
    va, vb = np.array([[1.0, 0.0], [0.5, -1.0]]), np.array([[0.2, 0.3], [-0.4, 1.0]])
    _, products = xg.hvp(_g, tuple(xg.asarray(v, backend=backend) for v in (A0, B0)),
                         tuple(xg.asarray(v, backend=backend) for v in (va, vb)))
    _, expected = torch.autograd.functional.hvp(
        _g_torch, (torch.tensor(A0), torch.tensor(B0)), (torch.tensor(va), torch.tensor(vb)))
    assert isinstance(products, tuple) and len(products) == 2
    for got, want in zip(products, expected):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def test_newton_steps_find_the_minimum_of_a_quadratic_bowl():
    """What a function-optimization user does with them: a Newton step solves a quadratic."""
    matrix = np.array([[3.0, 1.0], [1.0, 2.0]])
    center = np.array([0.5, -1.5])

    def bowl(x):
        d = x - xg.asarray(center)
        return 0.5 * xg.sum(d * (xg.asarray(matrix) @ d))

    x = xg.asarray([4.0, 4.0], dtype=xg.float64)
    step = xg.linalg.solve(xg.hessian(bowl)(x), xg.grad(bowl)(x))
    np.testing.assert_allclose((x - step).numpy(), center, rtol=1e-12)


def test_a_function_with_a_non_scalar_output_is_refused():
    with pytest.raises(TypeError, match="scalar output"):
        xg.hessian(lambda x: x * x)(xg.asarray(X0))
    with pytest.raises(TypeError, match="scalar output"):
        xg.hvp(lambda x: x * x, xg.asarray(X0), xg.asarray(X0))


def test_tangents_must_match_the_primals():
    x = xg.asarray(X0)
    with pytest.raises(ValueError, match="tangents"):
        xg.hvp(_f, x, xg.asarray([1.0, 2.0]))
    with pytest.raises(ValueError, match="tangents"):
        xg.hvp(_g, (xg.asarray(A0), xg.asarray(B0)), (xg.asarray(A0),))
    with pytest.raises(TypeError, match="hessian takes a callable"):
        xg.hessian(3.0)
