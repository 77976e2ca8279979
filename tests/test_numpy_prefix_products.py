"""The NumPy backend's running products by blocks (``backends/numpy/prefix_products.py``):
NumPy's ``cumprod`` to rounding (against a float64 reference) for lengths with and without a
partial last block; NumPy's own where a block's products would leave the safe range (large or
small entries, inf, NaN); ``xg.cumulative_prod``'s values and gradients against PyTorch, with
and without zeros, to second order by finite differences, and under ``xg.function``."""
import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.backends.numpy import prefix_products
from xpgrad.testing import check_grads

pytestmark = pytest.mark.usefixtures("numpy_default")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 64), (3, 7, 200), (2, 43), (130, 32)])
def test_matches_cumprod_to_rounding(shape, dtype, rng):
    a = (rng.uniform(0.5, 1.8, shape) * rng.choice([-1, 1], shape)).astype(dtype)
    got = prefix_products.prefix_products(a, min_elements=0)
    exact = np.cumprod(a.astype(np.longdouble), axis=-1)      # (x86: 64-bit mantissa)
    eps = np.finfo(dtype).eps
    assert got.dtype == a.dtype and got.shape == a.shape
    np.testing.assert_allclose(got, exact, rtol=4 * eps * shape[-1], atol=0)
    ours = np.abs(got - exact) / np.abs(exact)
    theirs = np.abs(np.cumprod(a, axis=-1) - exact) / np.abs(exact)
    assert ours.max() <= 4 * max(theirs.max(), eps)          # no worse than NumPy's, loosely


@pytest.mark.parametrize("bad", [2.0 ** 101, 2.0 ** -101, np.inf, -np.inf, np.nan])
def test_values_a_block_could_not_carry_take_numpys_cumprod(bad, rng):
    a = rng.uniform(0.9, 1.1, (40, 70))
    a[7, 20] = bad
    got = prefix_products.prefix_products(a, min_elements=0)
    np.testing.assert_array_equal(got, np.cumprod(a, axis=-1))


def test_zeros_and_the_kernel_declining_by_layout(rng):
    a = rng.uniform(0.5, 1.5, (50, 96))
    a[3, 40] = 0.0
    a[4, 0] = -0.0
    got = prefix_products.prefix_products(a, min_elements=0)
    np.testing.assert_allclose(got, np.cumprod(a, axis=-1), rtol=1e-13)
    assert (got[3, 40:] == 0).all() and (got[4] == 0).all()
    assert not prefix_products._takes(a[:, ::2], -1, 0)          # strided
    assert not prefix_products._takes(a, 0, 0)                   # not the last axis
    assert not prefix_products._takes(a[:, :31], -1, 0)          # under two blocks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zeros", [False, True])
def test_values_and_gradients_match_torch(zeros, dtype, rng):
    a = rng.uniform(0.6, 1.5, (70, 90)).astype(dtype)
    if zeros:
        a[5, 10] = a[5, 60] = a[9, 33] = 0.0
    g = rng.standard_normal(a.shape).astype(dtype)
    x = xg.asarray(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.cumulative_prod(x, axis=1)
    gx = tape.gradient(y, x, output_gradients=xg.asarray(g))
    t = torch.tensor(a, requires_grad=True)
    torch.cumprod(t, 1).backward(torch.tensor(g))
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), torch.cumprod(torch.tensor(a), 1).numpy(), rtol=tol)
    scale = np.abs(t.grad.numpy()).max()
    np.testing.assert_allclose(gx.numpy(), t.grad.numpy(), rtol=tol, atol=tol * scale)


def test_second_order_and_a_replay(rng, monkeypatch):
    monkeypatch.setattr(prefix_products, "MIN_ELEMENTS", 0)
    x = xg.asarray(rng.uniform(0.7, 1.3, (2, 40)))
    check_grads(lambda v: xg.cumulative_prod(v, axis=1), [x], order=2)
    fn = xg.function(lambda v: xg.cumulative_prod(v, axis=-1))
    for scale in (1.0, 2.0 ** 110, 1.0):            # the middle one: NumPy's inside the step
        a = rng.uniform(0.7, 1.3, (3, 64)) * np.where(np.arange(64) == 50, scale, 1.0)
        np.testing.assert_allclose(fn(xg.asarray(a)).numpy(), np.cumprod(a, axis=-1),
                                   rtol=1e-13)
