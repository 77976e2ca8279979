"""The NumPy backend's ``mean`` kernel (``sum``'s products with ones divided by the count; global
average pooling's): values against float64 means and PyTorch's, gradients against finite
differences and PyTorch's, the generic rule bit for bit below the products' size, and what it
leaves to the generic rule (empty axes, integers, complex)."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.kernels import _FILLED_MAX, _PRODUCTS_MIN, KERNELS
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
pytestmark = pytest.mark.usefixtures("numpy_default")
KERNEL_SIZES = (_PRODUCTS_MIN, _FILLED_MAX)     # the sizes past which the kernel takes its path

_CASES = [((32, 16, 14, 14), (2, 3)), ((8, 600), (1,)), ((600, 8), (0,)),
          ((4, 5, 300), None), ((3, 5), (1,)), ((2, 3, 4), (0, 2))]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", _CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mean_and_gradient_match_torch(dtype, shape, axis, keepdims):
    x0 = np.random.default_rng(0).normal(size=shape).astype(dtype)
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.mean(x, axis=axis, keepdims=keepdims)
        w = np.linspace(0.5, 1.5, y.size).reshape(y.shape).astype(dtype)
        total = xg.sum(y * xg.asarray(w))
    tx = torch.tensor(x0, requires_grad=True)
    dims = tuple(range(len(shape))) if axis is None else axis
    ty = torch.mean(tx, dim=dims, keepdim=keepdims)
    (ty * torch.tensor(w)).sum().backward()
    exact = x0.astype(np.float64).mean(axis=axis, keepdims=keepdims)
    tol = 1e-6 if dtype == "float32" else 1e-14
    assert y.dtype == dtype and y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), exact, rtol=0, atol=tol)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=0, atol=tol)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), tx.grad.numpy(), rtol=1e-6)


def test_global_average_pooling_gradient_matches_finite_differences():
    """4,212 elements, just past the products' size (``_PRODUCTS_MIN``, 4,096) and the filled
    gradient's (``_FILLED_MAX``, 256): finite differences take a pass per element, so 15,000
    took 13 times as long."""
    x = xg.asarray(np.random.default_rng(1).normal(size=(2, 3, 26, 27)))
    assert x.size >= max(KERNEL_SIZES)
    check_grads(lambda x: xg.mean(x * x, axis=(2, 3)), [x], order=1)
    check_grads(lambda x: xg.nn.adaptive_avg_pool2d(x, 1) ** 2, [x], order=2)


def test_small_means_equal_the_generic_rule(monkeypatch):
    x0 = np.random.default_rng(2).normal(size=(7, 9)).astype(np.float32)
    got = xg.mean(xg.asarray(x0), axis=1).numpy()
    monkeypatch.delitem(xg.get_backend("numpy").kernels, "mean")
    np.testing.assert_array_equal(got, xg.mean(xg.asarray(x0), axis=1).numpy())


def test_inf_and_nan_as_numpy():
    x0 = np.ones((4, 2000), np.float32)
    x0[0, 3], x0[1, 5], x0[2, :2] = np.inf, np.nan, (np.inf, -np.inf)
    with np.errstate(invalid="ignore"):
        want = x0.mean(axis=1)
    with pytest.warns(RuntimeWarning, match="invalid value"):       # from NumPy's frame
        got = xg.mean(xg.asarray(x0), axis=1).numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("x,axis", [(np.ones((0, 5000), np.float32), (0,)),
                                    (np.arange(5000, dtype=np.int32), None),
                                    (np.ones(5000, np.complex64), None)], ids=str)
def test_the_kernel_declines_what_the_generic_mean_handles(x, axis):
    assert KERNELS["mean"].forward(x, axis, False) is None


def test_bad_axis_is_refused_by_name():
    with pytest.raises(Exception, match="axis"):
        xg.mean(xg.ones((2, 3)), axis=5)
