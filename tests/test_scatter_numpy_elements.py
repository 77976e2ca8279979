"""The NumPy backend's scatter-add for keys of several index arrays or masks
(``backends/numpy/scatter.py``'s ``add_elements``: the arrays folded into 1-D positions, then
NumPy's 1-D ``np.add.at``) against ``np.add.at`` with the key as given, bit for bit; what it
leaves to ``np.add.at``; and the gradients that take it (``x[i, j]``, ``take_along_axis``,
``x.at[mask].add``) against PyTorch and float64 finite differences."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import scatter
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _both(target, key, values):
    """``(add_elements' result, np.add.at's)`` on copies of ``target``; asserts it took it."""
    want = target.copy()
    np.add.at(want, key, values)
    got = target.copy()
    assert scatter.add_elements(got, key, values, min_elements=0)
    return got, want


def _keys(rng):
    i, j = rng.integers(0, 6, 500), rng.integers(-5, 5, 500)
    mask2 = rng.uniform(size=(6, 5)) < 0.4
    mask3 = rng.uniform(size=(4, 3, 5)) < 0.6
    return {
        "repeats_and_negatives": ((i, j), (6, 5), (500,)),
        "trailing_axes": ((i, j), (6, 5, 3), (500, 3)),
        "broadcast_arrays": ((i[:20, None], j[None, :30]), (6, 5), (20, 30)),
        "mask_2d": ((mask2,), (6, 5), (int(mask2.sum()),)),
        "mask_then_axis": ((mask2, slice(None)), (6, 5, 4), (int(mask2.sum()), 4)),
        "mask_1d": ((mask2[:, 0],), (6, 5), (int(mask2[:, 0].sum()), 5)),
        "array_then_mask": ((i[:int(mask2.sum())] % 3, mask2), (3, 6, 5, 2),
                            (int(mask2.sum()), 2)),
        "mask_3d": ((mask3,), (4, 3, 5), (int(mask3.sum()),)),
        "all_true": ((np.ones((6, 5), bool),), (6, 5), (30,)),
        "three_arrays": ((i % 2, i % 3, j % 4), (2, 3, 4, 2), (500, 2)),
        "unsigned_and_narrow": ((i.astype(np.uint64), (j % 5).astype(np.uint8),
                                 (j % 2).astype(np.int32)), (6, 5, 2), (500,)),
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("name", sorted(_keys(np.random.default_rng(0))))
def test_equals_add_at_bit_for_bit(name, dtype):
    rng = np.random.default_rng(0)
    key, shape, region = _keys(rng)[name]
    target = rng.standard_normal(shape).astype(dtype)
    values = rng.standard_normal(region).astype(dtype)
    got, want = _both(target, key, values)
    np.testing.assert_array_equal(got, want)


def test_values_broadcast_to_the_region():
    rng = np.random.default_rng(1)
    key = (rng.integers(0, 4, 300), rng.integers(0, 3, 300))
    got, want = _both(np.zeros((4, 3, 2), np.float32), key, np.ones(2, np.float32))
    np.testing.assert_array_equal(got, want)


def test_what_it_leaves_to_add_at():
    """One integer array (add_rows'), slices before the arrays, a non-contiguous target, other
    dtypes, too few entries, no entries; ids out of range: np.add.at's IndexError."""
    rng = np.random.default_rng(2)
    i, j = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    target = np.zeros((4, 4))
    for tgt, key, values in [(target, (i,), np.ones((300, 4))),
                             (np.zeros((2, 4, 4)), (slice(None), i, j), np.ones((2, 300))),
                             (np.zeros((4, 8))[:, ::2], (i, j), np.ones(300)),
                             (target, (i, j), np.ones(300, np.float32)),
                             (target.astype(np.int64), (i, j), np.ones(300, np.int64)),
                             (target, (i[:0], j[:0]), np.ones(0)),
                             (target, (np.ones((4, 3), bool),), np.ones(12)),
                             (target, (np.zeros((4, 4), bool),), np.ones(0))]:
        assert not scatter.add_elements(tgt, key, values, min_elements=0)
    assert not target.any()
    few = scatter.MIN_FLAT - 1
    assert not scatter.add_elements(target, (i[:few], j[:few]), np.ones(few))
    backend = xg.get_backend("numpy")
    for bad in (4, -5):
        with pytest.raises(IndexError):
            backend.index_add(target, (np.full(400, bad), j[:1].repeat(400)), np.ones(400))
    assert not target.any()


def test_two_array_index_gradient_matches_torch_and_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((30, 20)).astype(np.float32)
    i, j = rng.integers(-30, 30, 800), rng.integers(0, 20, 800)
    g = rng.standard_normal(800).astype(np.float32)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xt[xg.asarray(i), xg.asarray(j)]
    dx = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    tx = torch.tensor(x, requires_grad=True)
    tx[torch.tensor(i), torch.tensor(j)].backward(torch.tensor(g))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    check_grads(lambda a: a[xg.asarray(i[:300]), xg.asarray(j[:300])] ** 2,
                [xg.asarray(x.astype(np.float64))])


def test_take_along_axis_gradient_matches_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((40, 50))
    idx = rng.integers(0, 50, (40, 30))
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        loss = xg.sum(xg.take_along_axis(xt, xg.asarray(idx), axis=1) ** 2)
    tx = torch.tensor(x, requires_grad=True)
    (torch.take_along_dim(tx, torch.tensor(idx), 1) ** 2).sum().backward()
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(40, 30), (6, 7, 8)])
def test_at_mask_add_matches_torch_and_finite_differences(shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    mask = rng.uniform(size=shape) < 0.5
    v = rng.standard_normal(int(mask.sum()))
    xt, vt = xg.asarray(x), xg.asarray(v)
    with xg.GradientTape() as tape:
        tape.watch([xt, vt])
        y = xt.at[xg.asarray(mask)].add(vt)
        loss = xg.sum(y * y)
    dx, dv = tape.gradient(loss, [xt, vt])
    tx, tv = torch.tensor(x, requires_grad=True), torch.tensor(v, requires_grad=True)
    ty = tx.clone()
    ty[torch.tensor(mask)] += tv
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(dx.numpy(), tx.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(dv.numpy(), tv.grad.numpy(), rtol=1e-14)
    small = mask.reshape(-1)[:24].reshape(4, 6)
    check_grads(lambda a, b: a.at[xg.asarray(small)].add(b) ** 2,
                [xg.asarray(x.reshape(-1)[:24].reshape(4, 6)),
                 xg.asarray(v[:int(small.sum())])])


def test_at_mask_of_nothing_and_a_wrong_values_shape():
    x = xg.ones((3, 4))
    none = xg.zeros((3, 4), dtype=xg.bool)
    assert x.at[none].add(5.0).tolist() == x.tolist()
    with pytest.raises(ValueError, match="do not broadcast to the shape"):
        x.at[x > 0].add(xg.ones(5))


@pytest.mark.parametrize("method,ufunc", [("multiply", np.multiply), ("min", np.minimum),
                                          ("max", np.maximum)])
def test_at_combining_updates_equal_ufunc_at_bit_for_bit(method, ufunc):
    """``x.at[key].multiply/min/max`` go through 1-D positions (``_combine_at``): the same
    operations in the same order as ``ufunc.at`` with the key as given."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((9, 5, 4)).astype(np.float32)
    mask = rng.uniform(size=(9, 5)) < 0.5
    rows = rng.integers(-9, 9, 40)
    for key, xg_key in [((rows,), xg.asarray(rows)),
                        ((rows, slice(1, 3)), (xg.asarray(rows), slice(1, 3))),
                        ((mask,), xg.asarray(mask)),
                        ((rows[:7], rows[7:14] % 5, 2), (xg.asarray(rows[:7]),
                                                         xg.asarray(rows[7:14] % 5), 2))]:
        values = rng.uniform(0.5, 1.5, size=x[key].shape).astype(np.float32)
        want = x.copy()
        ufunc.at(want, key, values)
        got = getattr(xg.asarray(x).at[xg_key], method)(xg.asarray(values)).numpy()
        np.testing.assert_array_equal(got, want)
