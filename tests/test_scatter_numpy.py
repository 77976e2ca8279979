"""The NumPy backend's row scatter-add (``backends/numpy/scatter.py``): the gradient of
``embedding``, ``take`` and ``x[ids]`` without ``np.add.at``'s per-element dispatch, the same
numbers as ``np.add.at`` (to rounding: the padded sums associate differently)."""
import importlib
import types

import numpy as np
import pytest

import xpgrad as xg
from xpgrad import nn
from xpgrad.backends.numpy import csr_rows, scatter

PATHS = ["auto", "flat", "padded", "numpy"]


def _force(monkeypatch, path):
    """``auto``: SciPy's CSR product where SciPy imports (``csr_rows.py``); the others the
    NumPy paths, ``numpy`` choosing between them, ``flat`` and ``padded`` forced."""
    if path != "auto":
        monkeypatch.setattr(csr_rows, "_MATVECS", csr_rows._MISSING)
    if path in ("flat", "padded"):
        monkeypatch.setattr(scatter, "_flat_is_faster", lambda distinct, rows: path == "flat")


def _check(target, key, values, exact=False):
    """``index_add`` on a copy of ``target`` against ``np.add.at`` on another."""
    want = target.copy()
    np.add.at(want, key, values)
    got = target.copy()
    xg.get_backend("numpy").index_add(got, key, values)
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        tol = 1e-5 if target.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _ids(rng, kind, n, count=600):
    return {"uniform": lambda: rng.integers(0, n, count),
            "one-id": lambda: np.full(count, n // 2),
            "sorted": lambda: np.sort(rng.integers(0, n, count)),
            "negative": lambda: rng.integers(-n, n, count),
            "int32": lambda: rng.integers(0, n, count).astype(np.int32),
            "uint16": lambda: rng.integers(0, n, count).astype(np.uint16)}[kind]()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["uniform", "one-id", "sorted", "negative", "int32", "uint16"])
@pytest.mark.parametrize("n", [7, 65, 5000])
def test_rows_equal_add_at(path, dtype, kind, n, rng, monkeypatch):
    _force(monkeypatch, path)
    target = rng.standard_normal((n, 9)).astype(dtype)
    ids = _ids(rng, kind, n)
    _check(target, (ids,), rng.standard_normal((ids.size, 9)).astype(dtype))


@pytest.mark.parametrize("path", PATHS)
def test_integer_valued_float64_is_exact(path, rng, monkeypatch):
    """Integers add exactly in any order: the same bits as ``np.add.at``."""
    _force(monkeypatch, path)
    ids = rng.integers(0, 30, 2000)
    _check(rng.integers(-9, 9, (30, 16)).astype(np.float64), (ids,),
           rng.integers(-99, 99, (2000, 16)).astype(np.float64), exact=True)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("layout", ["ids-2d", "ellipsis", "slices", "3-d", "axis-1",
                                    "axis-1-3d", "values-transposed", "target-strided",
                                    "target-fortran", "complex"])
def test_keys_and_layouts_equal_add_at(path, layout, rng, monkeypatch):
    """``x[ids]`` with 2-D ids, the keys ``getitem`` and ``take`` make, rows that are not
    contiguous on either side."""
    _force(monkeypatch, path)
    monkeypatch.setattr(scatter, "MIN_PADDED", 0)
    target = rng.standard_normal((40, 12))
    ids = rng.integers(-40, 40, 300)
    key = (ids,)
    if layout == "ids-2d":
        key = (ids.reshape(20, 15),)
    elif layout == "ellipsis":
        key = (ids, Ellipsis)
    elif layout == "slices":
        key = (ids, slice(None))
    elif layout == "3-d":
        target = rng.standard_normal((40, 3, 4))
    elif layout == "axis-1":
        target, key = rng.standard_normal((12, 40)), (slice(None), ids)
    elif layout == "axis-1-3d":
        target, key = rng.standard_normal((3, 40, 4)), (slice(None), ids.reshape(30, 10))
    elif layout == "target-strided":
        target = rng.standard_normal((40, 24))[:, ::2]
    elif layout == "target-fortran":
        target = np.asfortranarray(target)
    elif layout == "complex":
        target = target + 1j * rng.standard_normal(target.shape)
    shape = np.zeros(target.shape)[key].shape
    values = rng.standard_normal(shape)
    if layout == "values-transposed":
        values = np.ascontiguousarray(values.T).T
    if layout == "complex":
        values = values + 1j * rng.standard_normal(shape)
    got = target.copy()
    assert scatter.add_rows(got, key, values, min_elements=0)
    _check(target, key, values)


@pytest.mark.parametrize("path", PATHS)
def test_inf_and_nan_stay_in_their_rows(path, rng, monkeypatch):
    """(The padded sums add zeros, never multiply by them: no NaN leaks into other rows.)"""
    _force(monkeypatch, path)
    ids = rng.integers(0, 20, 500)
    values = rng.standard_normal((500, 8))
    values[ids == 3, 0] = np.inf
    values[np.flatnonzero(ids == 5)[0], 1] = np.nan
    _check(np.zeros((20, 8)), (ids,), values)


def test_what_add_rows_leaves_to_add_at(rng):
    """Empty ids, other keys and dtypes, ids out of range: ``np.add.at``'s result or error."""
    target = np.zeros((6, 4))
    assert not scatter.add_rows(target, (np.array([], dtype=np.int64),), np.zeros((0, 4)),
                                min_elements=0)
    _check(target, (np.array([], dtype=np.int64),), np.zeros((0, 4)))
    ids = rng.integers(0, 6, 100)
    for key, values, dtype in [((ids,), rng.integers(0, 9, (100, 4)), np.int64),
                               ((ids % 4, ids % 4), rng.standard_normal(100), np.float64),
                               ((ids, 1), rng.standard_normal(100), np.float64),
                               ((np.arange(6) > 2,), rng.standard_normal((3, 4)),
                                np.float64)]:
        assert not scatter.add_rows(target.astype(dtype), key, values.astype(dtype),
                                    min_elements=0)
        _check(target.astype(dtype), key, values.astype(dtype))
    assert not scatter.add_rows(target, (ids,), np.ones((100, 4), np.float32), min_elements=0)
    with pytest.raises(IndexError):
        xg.get_backend("numpy").index_add(target, (np.array([0, 6] * 200),), np.ones((400, 4)))
    with pytest.raises(IndexError):
        xg.get_backend("numpy").index_add(target, (np.array([0, -7] * 200),), np.ones((400, 4)))



def test_rows_of_no_elements_are_left_to_add_at():
    """A target with an empty axis besides the ids' axis: nothing to add, and no division by
    the empty axis's size (was ZeroDivisionError in ``_add_flat``)."""
    target = np.zeros((0, 5))
    key = (slice(None), np.array([1, 2, 1]))
    assert not scatter.add_rows(target, key, np.zeros((0, 3)), min_elements=0)
    _check(target, key, np.zeros((0, 3)))


@pytest.mark.parametrize("path", ["auto", "numpy"])
def test_embedding_sized_rows_skip_the_per_row_add_at(path, rng, monkeypatch):
    """The regression: ``np.add.at`` on (rows, width) targets costs a dispatch per element
    (float32, one core: 4096 rows of 512 into 65, 12 ms against 1.7 ms padded). Rows of an
    embedding's size reach ``np.add.at`` only as 1-D element indices, if at all (never
    through SciPy's CSR product)."""
    _force(monkeypatch, path)
    calls = []

    def spy(target, key, values):
        calls.append(np.ndim(target))
        np.add.at(target, key, values)

    numpy_backend = importlib.import_module("xpgrad.backends.numpy")
    for module in (numpy_backend, scatter):
        monkeypatch.setattr(module, "np", _NumpyWithAt(spy))
    for vocab, width in [(65, 128), (5000, 16)]:      # padded sums, flat np.add.at
        target = np.zeros((vocab, width), np.float32)
        ids = rng.integers(0, vocab, 3200)
        xg.get_backend("numpy").index_add(target, (ids,), np.ones((3200, width), np.float32))
        np.testing.assert_array_equal(target[:, 0], np.bincount(ids, minlength=vocab))
    assert calls == ([] if path == "auto" and csr_rows.csr_matvecs() else [1])


class _NumpyWithAt:
    """``numpy`` with ``np.add.at`` replaced by ``at``."""

    def __init__(self, at):
        self.add = types.SimpleNamespace(at=at)

    def __getattr__(self, name):
        return getattr(np, name)


def test_gradients_match_torch_at_embedding_sizes(rng):
    """``embedding``, ``take`` and ``x[ids]`` (negative, 2-D ids) through the tape, large
    enough for the fast paths, against PyTorch in float64."""
    torch = pytest.importorskip("torch")
    weight = rng.standard_normal((65, 32))
    ids = rng.integers(0, 65, (16, 50))
    neg = rng.integers(-65, 65, (40, 10))
    cts = [rng.standard_normal((16, 50, 32)), rng.standard_normal((800, 32)),
           rng.standard_normal((40, 10, 32))]
    w = xg.asarray(weight)
    with xg.GradientTape() as tape:
        tape.watch(w)
        outs = [nn.embedding(xg.asarray(ids), w), xg.take(w, xg.asarray(ids.ravel()), axis=0),
                w[xg.asarray(neg)]]
        loss = sum(xg.sum(out * xg.asarray(ct)) for out, ct in zip(outs, cts))
    got = tape.gradient(loss, w).numpy()
    tw = torch.tensor(weight, requires_grad=True)
    touts = [torch.nn.functional.embedding(torch.tensor(ids), tw),
             torch.index_select(tw, 0, torch.tensor(ids.ravel())), tw[torch.tensor(neg)]]
    sum((out * torch.tensor(ct)).sum() for out, ct in zip(touts, cts)).backward()
    np.testing.assert_allclose(got, tw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_take_gradient_matches_finite_differences(rng):
    ids = xg.asarray(rng.integers(-8, 8, 60))
    xg.testing.check_grads(lambda x: xg.take(x, ids, axis=1) ** 2,
                           [xg.asarray(rng.standard_normal((5, 8)))], order=1)
