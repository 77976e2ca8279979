"""The NumPy backend's sigmoid, tanh, softplus, leaky_relu, softmax and log_softmax kernels
past ``blocks.BLOCK_BYTES`` (by blocks, in cache) against the same kernels in one block;
softplus's against its generic rule and PyTorch; ``blas.subtract_column``, which the softmax
kernels' column subtractions take, against NumPy's."""
import numpy as np
import pytest

import xpgrad as xg
from blas_libraries import library  # noqa: F401
from xpgrad.backends import blas
from xpgrad.backends.numpy import blocks

pytestmark = pytest.mark.usefixtures("numpy_default")

EDGES = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30, 100.0, -100.0, 1e-40]


def _inputs(dtype, shape=(300, 70), scale=6.0):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    x.flat[:len(EDGES)] = EDGES
    g = rng.standard_normal(shape).astype(dtype)
    return x, g


def _whole_and_blocked(monkeypatch, run):
    """``run()`` in one block, then in blocks of 4 KiB (many, the last one short)."""
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1 << 30)
    whole = run()
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4096)
    return whole, run()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, params", [("sigmoid", {}), ("tanh", {}), ("softplus", {}),
                                          ("leaky_relu", {"negative_slope": 0.1})])
def test_elementwise_kernels_by_blocks_give_their_bits_in_one_block(name, params, dtype,
                                                                    monkeypatch):
    """Forward, vjp (a dense gradient and a broadcast one) and in-place vjp: the same bits
    by blocks as in one block, infinities, NaNs and signed zeros included."""
    kernel = xg.get_backend("numpy").kernels[name]
    x, g = _inputs(dtype)

    def run():
        with np.errstate(all="ignore"):
            y, saved = kernel.forward(x, **params)
            results = [y, kernel.vjp(g, saved, x, **params)[0],
                       kernel.vjp(dtype(0.75), saved, x, **params)[0]]
            if kernel.vjp_in_place is not None:
                results.append(kernel.vjp_in_place(g.copy(), saved, x, **params)[0])
        return results
    whole, blocked = _whole_and_blocked(monkeypatch, run)
    for a, b in zip(whole, blocked):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_kernel_gives_the_generic_rules_bits_and_pytorchs_values(dtype):
    """``max(x, 0) + log1p(exp(-|x|))`` and ``-g expm1(-y)`` in place: the generic rule's
    operations, so its bits (infinities and NaN included); against PyTorch in float64 within a
    few ulp of ``dtype``."""
    import array_api_compat.numpy as npx
    torch = pytest.importorskip("torch")
    from xpgrad.primitive import PRIMITIVES

    kernel, prim = xg.get_backend("numpy").kernels["softplus"], PRIMITIVES["softplus"]
    x, g = _inputs(dtype, (40, 30))
    y, saved = kernel.forward(x)
    want = prim.forward(npx, x)
    np.testing.assert_array_equal(y, want)
    np.testing.assert_array_equal(kernel.vjp(g, saved, x)[0], prim.vjp(npx, g, want, [True], [x],
                                                                       {})[0])
    finite = np.isfinite(x) & (np.abs(x) < 50)
    tx = torch.tensor(x[finite].astype(np.float64), requires_grad=True)
    ty = torch.nn.functional.softplus(tx)
    (ty * torch.tensor(g[finite].astype(np.float64))).sum().backward()
    tol = dict(rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)
    np.testing.assert_allclose(y[finite], ty.detach().numpy(), **tol)
    np.testing.assert_allclose(kernel.vjp(g, saved, x)[0][finite], tx.grad.numpy(),
                               rtol=8 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shift", [0.0, 30.0, -50.0])
def test_softmax_kernels_by_row_blocks_match_one_block(name, shift, dtype, monkeypatch):
    """By blocks of rows, the forward and vjp equal the one-block kernel's to a few ulp (row
    sums of blocks of another height may round differently): rows with +-inf or NaN give the
    same NaNs, and a row of -inf only is NaN."""
    kernel = xg.get_backend("numpy").kernels[name]
    x, g = _inputs(dtype, (300, 70), 4.0)
    x += dtype(shift)
    x[1, 3], x[2, :] = np.inf, -np.inf

    def run():
        with np.errstate(invalid="ignore"):
            y, saved = kernel.forward(x, axis=1)
            return y, kernel.vjp(g, saved, x, axis=1)[0]
    whole, blocked = _whole_and_blocked(monkeypatch, run)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    for a, b in zip(whole, blocked):
        assert a.dtype == dtype
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, **tol)
    assert np.isnan(blocked[0][2]).all() and np.isnan(blocked[0][1]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subtract_column_gives_numpys_bits(dtype, library):  # noqa: F811
    rng = np.random.default_rng(6)
    c = rng.standard_normal((50, 33)).astype(dtype)
    column = (rng.standard_normal((50, 1)) * 1e3).astype(dtype)
    c[0, :4], column[1:4, 0] = [np.inf, -np.inf, np.nan, -0.0], [np.inf, np.nan, 0.0]
    with np.errstate(invalid="ignore"):
        want = c - column
        mine = c.copy()
        assert blas.subtract_column(mine, column)
    np.testing.assert_array_equal(mine, want)
    np.testing.assert_array_equal(np.signbit(mine), np.signbit(want))
    # what BLAS cannot write in place, or another shape or dtype, is left alone
    fortran = np.asfortranarray(c)
    assert not blas.subtract_column(fortran, column)
    assert not blas.subtract_column(c, column[:10])
    assert not blas.subtract_column(c, column.astype(np.float16))
    np.testing.assert_array_equal(fortran, c)


def test_subtract_column_declines_without_a_blas():
    previous = blas.use("numpy")
    try:
        assert not blas.subtract_column(np.ones((3, 2)), np.ones((3, 1)))
    finally:
        blas.restore(previous)
