"""``Segments.reduce`` on non-decreasing ids (bags cut at offsets, sorted segment ids) skips the
sort, and a maximum or minimum runs the ufunc's ``reduceat``: the same values as the padded
blocks (max, min, and the sums and products that keep the blocks; floats with NaN and
infinities, signed zeros, integers), and ``xg.segment_max`` and
``embedding_bag(mode="max")`` with sorted ids against PyTorch."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy.scatter import Segments

torch = pytest.importorskip("torch")
R = np.random.default_rng(41)


def _padded(segments, rows, reduction, identity):
    """The padded-block path, as for unsorted ids."""
    segments.sorted = False
    return segments.reduce(rows, reduction, identity)


@pytest.mark.parametrize("reduction,identity", [(np.max, -np.inf), (np.min, np.inf),
                                                (np.prod, 1), (np.sum, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_sorted_ids_reduce_as_the_padded_blocks(reduction, identity, dtype):
    ids = np.sort(R.integers(0, 40, size=300))
    rows = R.integers(-3, 4, size=(300, 5)).astype(dtype)
    if reduction is np.prod:
        rows[rows == 0] = 1                 # no 0 * inf
    if dtype != "int64":
        rows = rows * R.uniform(0.5, 1.5, size=rows.shape).astype(dtype)
        rows[7, 1], rows[100, 2], rows[101, 2] = np.nan, np.inf, -np.inf
        rows[200:210, 3] = np.where(np.arange(10) % 2, 0.0, -0.0)
    else:
        identity = {np.max: np.iinfo(np.int64).min, np.min: np.iinfo(np.int64).max}.get(
            reduction, identity)
    fast = Segments(ids, 40)
    assert fast.sorted
    with np.errstate(invalid="ignore"):                 # inf - inf in a sum: NaN
        unique, got = fast.reduce(rows, reduction, identity)
        want_ids, want = _padded(Segments(ids, 40), rows, reduction, identity)
    got, want = got[np.argsort(unique)], want[np.argsort(want_ids)]
    np.testing.assert_array_equal(np.sort(unique), np.unique(ids))
    np.testing.assert_array_equal(np.sort(want_ids), np.unique(ids))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_unsorted_ids_keep_the_padded_blocks():
    assert not Segments(np.array([2, 0, 1]), 3).sorted
    assert Segments(np.array([0, 0, 3]), 4).sorted


def test_segment_max_with_sorted_ids_matches_torch():
    data = R.standard_normal((50, 3))
    ids = np.sort(R.integers(0, 9, size=50))
    ids[-1] = 8                             # segments 0..8
    x = xg.asarray(data)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.segment_max(x, xg.asarray(ids))
        loss = xg.sum(xg.where(xg.isfinite(y), y, 0.0) * xg.arange(27.0, dtype=xg.float64)
                      .reshape((9, 3)))
    g = tape.gradient(loss, x).numpy()
    t = torch.tensor(data, requires_grad=True)
    index = torch.tensor(ids)[:, None].expand(50, 3)
    ty = torch.full((9, 3), -np.inf, dtype=torch.float64).scatter_reduce(
        0, index, t, "amax", include_self=False)
    (torch.where(torch.isfinite(ty), ty, 0.0) * torch.arange(27.0).reshape(9, 3)).sum().backward()
    got = y.numpy()
    finite = np.isfinite(ty.detach().numpy())
    np.testing.assert_array_equal(got[finite], ty.detach().numpy()[finite])
    np.testing.assert_allclose(g, t.grad.numpy())


def test_embedding_bag_max_matches_torch():
    w = R.standard_normal((30, 4))
    w[3, 1] = w[5, 1]                       # a tie: the first row holding it takes the gradient
    ids = np.array([3, 5, 7, 1, 3, 5, 9, 2, 2, 4])
    offsets = np.array([0, 3, 3, 8])        # an empty bag
    x = xg.asarray(w)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.nn.embedding_bag(xg.asarray(ids), x, xg.asarray(offsets), mode="max")
        loss = xg.sum(y * xg.arange(16.0, dtype=xg.float64).reshape((4, 4)))
    g = tape.gradient(loss, x).numpy()
    t = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.embedding_bag(torch.tensor(ids), t, torch.tensor(offsets),
                                           mode="max")
    (ty * torch.arange(16.0, dtype=torch.float64).reshape(4, 4)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(g, t.grad.numpy())
