"""The NumPy backend's row scatter-add by SciPy's CSR product (``backends/numpy/csr_rows.py``,
taken first by ``scatter.add_rows`` where SciPy imports): bit for bit ``np.add.at`` along a
C-contiguous target's first axis, or another with slices of ``MIN_SLICE`` elements or more;
declined for what it does not handle, and switched off where
SciPy is missing or its private routine does not add as expected; the gradients that take it
(``x[ids]``, ``.at[ids].add``, ``embedding``, ``embedding_bag``) against PyTorch and float64
finite differences."""
import sys

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import csr_rows, scatter
from xpgrad.testing import check_grads

pytest.importorskip("scipy.sparse", reason="SciPy is not installed: no CSR product")
torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
pytestmark = pytest.mark.usefixtures("numpy_default")     # the NumPy backend's kernel


@pytest.fixture
def csr_calls(monkeypatch):
    """The results of ``csr_add_rows`` as ``scatter.add_rows`` calls it, in a list."""
    calls, real = [], csr_rows.csr_add_rows
    monkeypatch.setattr(scatter, "csr_add_rows", lambda *a: calls.append(real(*a)) or calls[-1])
    return calls


def _ids(rng, kind, n, count=700):
    return {"uniform": lambda: rng.integers(0, n, count),
            "one-id": lambda: np.full(count, n // 2),
            "sorted": lambda: np.sort(rng.integers(0, n, count)),
            "negative": lambda: rng.integers(-n, n, count),
            "2-d": lambda: rng.integers(0, n, (35, count // 35)),
            "int32": lambda: rng.integers(0, n, count).astype(np.int32),
            "uint16": lambda: rng.integers(0, n, count).astype(np.uint16)}[kind]()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["uniform", "one-id", "sorted", "negative", "2-d", "int32",
                                  "uint16"])
@pytest.mark.parametrize("shape", [(7, 9), (300, 3, 4), (70000, 2)])
def test_first_axis_in_place_is_add_at_bit_for_bit(dtype, kind, shape, rng, csr_calls):
    target = rng.standard_normal(shape).astype(dtype)
    ids = _ids(rng, kind, shape[0])
    values = rng.standard_normal(ids.shape + shape[1:]).astype(dtype)
    want, got = target.copy(), target.copy()
    np.add.at(want, (ids,), values)
    assert scatter.add_rows(got, (ids,), values, min_elements=0)
    assert csr_calls == [True]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layout, taken", [
    ("axis-1-3d", [True]), ("axis-1-wide", [True]), ("values-transposed", [True]),
    ("axis-1", [False]), ("axis-2", [False]), ("target-strided", []), ("target-fortran", [])])
def test_other_axes_and_layouts_equal_add_at(layout, taken, rng, csr_calls):
    """In place, one call per leading index, bit for bit ``np.add.at``; slices of fewer than
    ``MIN_SLICE`` elements behind a leading axis, and targets that are not C-contiguous, left
    to the NumPy paths (to rounding: ``t + (v1 + v2)`` for ``(t + v1) + v2``)."""
    target, ids = rng.standard_normal((40, 12)), rng.integers(-40, 40, 300)
    key = (ids,)
    if layout == "axis-1":
        target, key = rng.standard_normal((12, 40)), (slice(None), ids)
    elif layout == "axis-1-3d":
        target, key = rng.standard_normal((3, 40, 4)), (slice(None), ids.reshape(30, 10))
    elif layout == "axis-1-wide":
        target, key = rng.standard_normal((2, 40, 3, 5)), (slice(None), ids, Ellipsis)
    elif layout == "axis-2":
        target, key = rng.standard_normal((3, 5, 40)), (slice(None), slice(None), ids)
    values = rng.standard_normal(np.zeros(target.shape)[key].shape)
    if layout == "values-transposed":
        values = np.ascontiguousarray(values.T).T
    want, got = target.copy(), target.copy()
    if layout == "target-strided":
        got = np.repeat(target, 2, axis=1)[:, ::2]          # (a copy would be C-contiguous)
    elif layout == "target-fortran":
        got = np.asfortranarray(target)
    np.add.at(want, key, values)
    xg.get_backend("numpy").index_add(got, key, values)
    assert csr_calls == taken
    if taken == [True]:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_inf_and_nan_stay_in_their_rows(rng):
    ids = rng.integers(0, 20, 500)
    values = rng.standard_normal((500, 8)).astype(np.float32)
    values[ids == 3, 0] = np.inf
    values[np.flatnonzero(ids == 5)[0], 1] = np.nan
    want, got = np.zeros((20, 8), np.float32), np.zeros((20, 8), np.float32)
    np.add.at(want, (ids,), values)
    assert scatter.add_rows(got, (ids,), values, min_elements=0)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got).sum() == 1 and np.isinf(got).sum() == 1


def test_what_csr_add_rows_declines(rng):
    """Only C-contiguous writeable 3-D float32/float64 targets, rows of their dtype and shape,
    1-D ids, slices of ``MIN_SLICE`` elements or more behind a leading axis: anything else is
    left to the caller, the target untouched."""
    ids = np.array([1, 0, 1])
    rows = np.ones((1, 3, 4))
    read_only = np.zeros((1, 2, 4))
    read_only.flags.writeable = False
    for target, r, i in [(np.zeros((1, 2, 4), np.int64), rows.astype(np.int64), ids),
                         (np.zeros((1, 2, 4), np.complex128), rows.astype(np.complex128), ids),
                         (np.zeros((1, 2, 4), np.float32), rows, ids),
                         (np.zeros((1, 2, 8))[:, :, ::2], rows, ids),
                         (read_only, rows, ids),
                         (np.zeros((2, 4)), rows[0], ids),
                         (np.zeros((4, 2, 1)), np.ones((4, 3, 1)), ids),
                         (np.zeros((1, 2, 4)), np.ones((1, 2, 4)), ids),
                         (np.zeros((1, 2, 4)), rows, ids.reshape(3, 1))]:
        before = target.copy()
        assert not csr_rows.csr_add_rows(target, i, r)
        np.testing.assert_array_equal(target, before)


@pytest.mark.parametrize("broken", ["no-scipy", "routine-adds-nothing", "routine-raises"])
def test_without_a_working_routine_the_numpy_paths_add(broken, rng, monkeypatch, csr_calls):
    monkeypatch.setattr(csr_rows, "_MATVECS", None)
    if broken == "no-scipy":
        monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    else:
        from scipy.sparse import _sparsetools

        def wrong(*args):
            if broken == "routine-raises":
                raise TypeError("a changed signature")

        monkeypatch.setattr(_sparsetools, "csr_matvecs", wrong)
    assert csr_rows.csr_matvecs() is None
    ids = rng.integers(0, 50, 4000)
    values = rng.standard_normal((4000, 16))
    want, got = np.zeros((50, 16)), np.zeros((50, 16))
    np.add.at(want, (ids,), values)
    xg.get_backend("numpy").index_add(got, (ids,), values)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert csr_calls == []                  # not asked: the routine is known missing


def test_csr_add_rows_refuses_ids_out_of_range():
    target = np.zeros((2, 3, 4))
    for ids in (np.array([0, 3]), np.array([0, -1])):
        with pytest.raises(IndexError, match=r"csr_add_rows: ids must lie in \[0, 3\)"):
            csr_rows.csr_add_rows(target, ids, np.ones((2, 2, 4)))
    assert not target.any()


def test_an_index_out_of_range_still_raises_before_any_work(rng):
    target = np.zeros((6, 512))
    for bad in (6, -7):
        ids = np.array([0, bad] * 200)
        with pytest.raises(IndexError):
            xg.get_backend("numpy").index_add(target, (ids,), np.ones((400, 512)))
    assert not target.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_of_repeated_ids_match_torch(dtype, rng, csr_calls):
    """``x[ids]``, ``x.at[ids].add(u)`` (both inputs), ``embedding`` and ``embedding_bag``
    (sum and mean, 1-D ids with offsets) at sizes that take the CSR product."""
    tol = 1e-5 if dtype == np.float32 else 1e-12
    x = rng.standard_normal((256, 64)).astype(dtype)
    u = rng.standard_normal((1024, 64)).astype(dtype)
    ids = rng.integers(0, 256, 1024)
    offsets = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 1024), 63, replace=False))])
    cts = [rng.standard_normal(s).astype(dtype) for s in [(1024, 64), (256, 64), (1024, 64),
                                                          (64, 64), (64, 64)]]
    xt, ut = xg.asarray(x), xg.asarray(u)
    with xg.GradientTape() as tape:
        tape.watch([xt, ut])
        outs = [xt[xg.asarray(ids)], xt.at[xg.asarray(ids)].add(ut),
                xg.nn.embedding(xg.asarray(ids), xt)]
        outs += [xg.nn.embedding_bag(xg.asarray(ids), xt, xg.asarray(offsets), mode=mode)
                 for mode in ("sum", "mean")]
        loss = sum(xg.sum(out * xg.asarray(ct)) for out, ct in zip(outs, cts))
    dx, du = (d.numpy() for d in tape.gradient(loss, [xt, ut]))
    assert csr_calls and all(csr_calls)
    tx, tu = torch.tensor(x, requires_grad=True), torch.tensor(u, requires_grad=True)
    ti, to = torch.tensor(ids), torch.tensor(offsets)
    touts = [tx[ti], tx.index_add(0, ti, tu), torch.nn.functional.embedding(ti, tx)]
    touts += [torch.nn.functional.embedding_bag(ti, tx, to, mode=mode) for mode in ("sum", "mean")]
    sum((out * torch.tensor(ct)).sum() for out, ct in zip(touts, cts)).backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(du, tu.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(outs[3].numpy(), touts[3].detach().numpy(), rtol=tol, atol=tol)


def test_gradients_match_finite_differences(rng, csr_calls):
    """float64, repeated ids along the first axis and along the last (2400 values: past
    ``MIN_ELEMENTS``, so the CSR product is what is differentiated)."""
    ids = xg.asarray(rng.integers(-24, 24, 300))
    offsets = xg.asarray([0, 40, 40, 170])
    check_grads(lambda a: xg.take(a, ids, axis=0) ** 2, [xg.asarray(rng.standard_normal((24, 8)))],
                order=1)
    check_grads(lambda a: a[:, ids] ** 2, [xg.asarray(rng.standard_normal((8, 24)))], order=1)
    check_grads(lambda a: xg.nn.embedding_bag(ids % 24, a, offsets, mode="sum") ** 2,
                [xg.asarray(rng.standard_normal((24, 8)))], order=1)
    assert True in csr_calls           # (``a[:, ids]``'s slices of 1: the NumPy paths)
