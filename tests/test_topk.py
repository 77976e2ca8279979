"""xg.topk against torch.topk: the same values (NaN above everything), valid indices (each
the position of its value, none twice), gradients back to the picked entries, both backends;
bad k refused by name."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("axis", [1, 0, -1])
@pytest.mark.parametrize("k", [0, 1, 3, 5])
@pytest.mark.parametrize("ties", [False, True])
def test_topk_equals_torch(backend, largest, axis, k, ties):
    rng = np.random.default_rng(k)
    a = rng.integers(0, 4, size=(5, 7)).astype(np.float64) if ties else rng.normal(size=(5, 7))
    a[1, 2] = np.nan
    x = xg.asarray(a, backend=backend)
    seed = rng.normal(size=tuple(k if d == axis % 2 else a.shape[d] for d in range(2)))
    with xg.GradientTape() as tape:
        tape.watch(x)
        values, indices = xg.topk(x, k, axis=axis, largest=largest)
    grad = tape.gradient(values, x, output_gradients=xg.asarray(seed, backend=backend))
    want, _ = torch.topk(torch.tensor(a), k, dim=axis, largest=largest)
    np.testing.assert_array_equal(values.numpy(), want.numpy())
    assert indices.dtype == xg.int64 and indices.shape == values.shape
    idx = indices.numpy()
    np.testing.assert_array_equal(np.take_along_axis(a, idx, axis=axis), want.numpy())
    assert all(len(set(line)) == k for line in np.moveaxis(idx, axis, -1).reshape(-1, k)) \
        if k else idx.size == 0
    expected = np.zeros_like(a)
    np.put_along_axis(expected, idx, seed, axis=axis)
    np.testing.assert_array_equal(grad.numpy(), expected)


@pytest.mark.parametrize("k", [-1, 8, 2.0, True])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match=r"topk: k must be an integer in \[0, 7\]"):
        xg.topk(xg.ones((2, 7)), k)
