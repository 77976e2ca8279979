"""The host namespace's ``tril`` and ``triu`` by a cached bit mask
(``backends/numpy/triangle_masks.py``): NumPy's bits (NaN and infinities dropped to +0.0,
signed zeros kept) for every diagonal, batch, layout and size, and ``xg.tril``/``xg.triu``
with their gradients against PyTorch and finite differences."""
import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.backends.numpy import triangle_masks
from xpgrad.testing import check_grads

pytestmark = pytest.mark.usefixtures("numpy_default")


def _bits(a):
    return np.ascontiguousarray(a).view(f"i{a.dtype.itemsize}")


def _values(shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[:6] = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0]
    flat[-3:] = [np.nan, -np.inf, -0.0]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 5), (4, 7), (7, 4), (3, 2, 6, 5), (1, 0, 3), (0, 4)])
@pytest.mark.parametrize("k", [-8, -2, -1, 0, 1, 3, 9])
@pytest.mark.parametrize("upper", [False, True])
def test_gives_numpys_bits(dtype, shape, k, upper, rng):
    x = _values(shape, dtype, rng) if np.prod(shape) else np.zeros(shape, dtype)
    ours, numpys = (triangle_masks.triu, np.triu) if upper else (triangle_masks.tril, np.tril)
    got = ours(x, k=k, min_size=0)
    want = numpys(x, k)
    assert got.dtype == want.dtype and got.shape == want.shape and got.flags.writeable
    np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("upper", [False, True])
def test_strided_input_and_a_cached_mask_are_not_written(upper, rng):
    base = _values((9, 8, 12), np.float32, rng)
    x = base[::2, :, ::2].transpose(1, 0, 2)          # (8, 5, 6), no axis contiguous
    before = x.copy()
    ours, numpys = (triangle_masks.triu, np.triu) if upper else (triangle_masks.tril, np.tril)
    for _ in range(2):                                 # built, then from the cache
        got = ours(x, k=1, min_size=0)
        np.testing.assert_array_equal(_bits(got), _bits(numpys(x, 1)))
        got[...] = 7.0
    np.testing.assert_array_equal(_bits(x), _bits(before))
    assert all(not m.flags.writeable for m in triangle_masks._MASKS.values())


def test_other_dtypes_small_arrays_and_the_cache_bound(rng):
    for x in (np.arange(12).reshape(3, 4), (np.arange(12) + 1j).reshape(3, 4),
              rng.standard_normal((3, 3)).astype(np.float16), rng.standard_normal((2, 2))):
        np.testing.assert_array_equal(triangle_masks.tril(x, k=-1), np.tril(x, -1))
    for n in range(triangle_masks.MAX_CACHED + 3):
        triangle_masks.triu(np.ones((70, 60 + n), np.float32))
    assert len(triangle_masks._MASKS) <= triangle_masks.MAX_CACHED


@pytest.mark.parametrize("dtype", [xg.float32, xg.float64])
@pytest.mark.parametrize("name", ["tril", "triu"])
def test_values_and_gradient_match_torch(name, dtype, rng):
    a = rng.standard_normal((3, 70, 80)).astype(np.float32 if dtype == xg.float32
                                                 else np.float64)[:, ::-1]  # non-contiguous
    g = rng.standard_normal(a.shape).astype(a.dtype)
    x = xg.asarray(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = getattr(xg, name)(x, k=-2)
    (gx,) = tape.gradient(y, [x], output_gradients=xg.asarray(g))
    t = torch.from_numpy(a.copy()).requires_grad_(True)
    ty = getattr(torch, name)(t, -2)
    (tg,) = torch.autograd.grad(ty, [t], grad_outputs=torch.from_numpy(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(gx.numpy(), tg.numpy())


@pytest.mark.parametrize("name", ["tril", "triu"])
def test_gradient_matches_finite_differences(name, rng, monkeypatch):
    monkeypatch.setattr(triangle_masks, "MIN_SIZE", 0)
    x = xg.asarray(rng.standard_normal((2, 4, 5)))
    check_grads(lambda a: getattr(xg, name)(a, k=1) ** 2, [x], order=2)


def test_bad_k_and_rank_are_refused():
    with pytest.raises(ValueError, match="tril needs a tensor with at least 2 dimensions"):
        xg.tril(xg.ones(3))
    with pytest.raises(TypeError, match="k"):
        xg.triu(xg.ones((2, 2)), k=1.5)
