"""``x[mask]`` on the NumPy backend: a lone mask over the leading axes is read through its
flat positions (``ops/indexing.py``'s ``_read``) and its gradient scattered through them
(``backends/numpy/scatter.py``'s ``add_elements``). Values against NumPy's ``x[mask]``
exactly (several ranks, trailing axes, non-contiguous inputs, empty and full masks, dtypes);
gradients against PyTorch and float64 finite differences; keys it leaves to NumPy; a wrong
mask's IndexError."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import scatter
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _cases(rng):
    x3 = rng.standard_normal((5, 6, 4))
    wide = rng.standard_normal((7, 12))
    return {
        "2d": (rng.standard_normal((9, 8)), rng.uniform(size=(9, 8)) < 0.4),
        "2d_over_3d": (x3, rng.uniform(size=(5, 6)) < 0.5),
        "3d": (x3, rng.uniform(size=(5, 6, 4)) < 0.3),
        "1d_over_2d": (x3[:, :, 0], rng.uniform(size=5) < 0.5),
        "transposed": (wide.T, rng.uniform(size=(12, 7)) < 0.5),
        "strided": (wide[::2, 1::3], rng.uniform(size=(4, 4)) < 0.5),
        "none_true": (x3, np.zeros((5, 6), bool)),
        "all_true": (x3, np.ones((5, 6, 4), bool)),
        "empty": (np.zeros((0, 3)), np.zeros((0, 3), bool)),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64, np.bool_])
@pytest.mark.parametrize("name", sorted(_cases(np.random.default_rng(0))))
def test_values_equal_numpys_boolean_index(name, dtype):
    x, mask = _cases(np.random.default_rng(0))[name]
    x = (x * 3).astype(dtype)
    got = xg.asarray(x)[xg.asarray(mask)].numpy()
    want = x[mask]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert xg.asarray(x)[xg.asarray(mask), ...].tolist() == want.tolist()


def test_keys_left_to_numpy_keep_numpys_answers():
    """A 0-d mask, a mask after a slice, a mask with an integer array, a Python bool."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    m = rng.uniform(size=5) < 0.5
    t = xg.asarray(x)
    assert t[xg.asarray(True)].tolist() == x[np.True_].tolist()
    assert t[:, xg.asarray(m)].tolist() == x[:, m].tolist()
    assert t[xg.asarray([0, 3]), xg.asarray(m)].shape == x[[0, 3]][:, m].shape[:1]
    assert xg.asarray(2.5)[xg.asarray(False)].shape == (0,)


@pytest.mark.parametrize("shape, mask_shape", [((4, 5), (4, 3)), ((4, 5), (5,)),
                                               ((3, 4), (3, 4, 1))])
def test_a_mask_of_the_wrong_shape_is_an_index_error(shape, mask_shape):
    with pytest.raises(IndexError, match="shape"):
        xg.ones(shape)[xg.ones(mask_shape, dtype=xg.bool)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["2d", "2d_over_3d", "3d", "1d_over_2d", "transposed",
                                  "none_true"])
def test_gradient_matches_torch(name, dtype):
    rng = np.random.default_rng(2)
    x, mask = _cases(rng)[name]
    x = x.astype(dtype)
    g = rng.standard_normal(x[mask].shape).astype(dtype)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xt[xg.asarray(mask)]
    dx = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    tx = torch.tensor(x, requires_grad=True)
    tx[torch.tensor(mask)].backward(torch.tensor(g))
    assert dx.dtype == dtype
    np.testing.assert_array_equal(dx, tx.grad.numpy())     # each place gets one value


def test_gradient_of_a_large_mask_takes_the_folded_path_and_matches_finite_differences():
    rng = np.random.default_rng(3)
    mask = rng.uniform(size=(64, 64)) < 0.001                 # few entries, a large mask
    mask[3, 5] = True
    values = rng.standard_normal(int(mask.sum()))
    acc = np.zeros((64, 64))
    assert scatter.add_elements(acc, (mask,), values)         # the default minimum
    want = np.zeros((64, 64))
    want[mask] = values
    np.testing.assert_array_equal(acc, want)
    small = rng.uniform(size=(5, 4)) < 0.5
    check_grads(lambda a: xg.sin(a[xg.asarray(small)]) * a[xg.asarray(small)],
                [xg.asarray(rng.standard_normal((5, 4, 3)))], order=2)


def test_inside_function_and_vmap_a_mask_still_reads_its_places():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    mask = x > 0.2

    @xg.function
    def masked_sum(a, m):
        return xg.sum(a[m] * 2.0)

    want = float(np.sum(x[mask] * 2.0, dtype=np.float32))
    for _ in range(2):                                       # trace, then replay
        assert masked_sum(xg.asarray(x), xg.asarray(mask)).item() == pytest.approx(want)
    rows = xg.vmap(lambda a: xg.sum(a[xg.asarray(mask[0])]))(xg.asarray(x)).numpy()
    np.testing.assert_allclose(rows, x[:, mask[0]].sum(axis=1), rtol=1e-6)
