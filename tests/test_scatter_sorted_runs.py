"""The NumPy backend's scatter-add for sorted ids with short runs (``backends/numpy/
scatter.py``'s ``_add_runs``: a run position at a time): bit for bit ``np.add.at`` along a
leading or middle axis, to rounding along the last (summed in a moved copy, then added);
runs past ``MAX_RUN`` left to the other ways; and the gradients that take it (``repeat`` by
counts, a nearest 1-D upsampling, ``take`` of sorted rows) against PyTorch and float64 finite
differences. SciPy's CSR product is switched off here (``numpy_scatter_paths``)."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import scatter
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
# the NumPy backend's kernel, its NumPy paths (SciPy's CSR product, where SciPy is installed,
# comes first: tests/test_scatter_csr.py)
pytestmark = pytest.mark.usefixtures("numpy_default", "numpy_scatter_paths")


def _sorted_ids(rng, n, longest):
    return np.repeat(np.arange(n), rng.integers(0, longest + 1, n))


def _runs_taken(monkeypatch):
    taken, real = [], scatter._add_runs
    monkeypatch.setattr(scatter, "_add_runs", lambda *a: taken.append(real(*a)) or taken[-1])
    return taken


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("shape, axis", [((40, 33), 0), ((3, 40, 20), 1), ((2, 5, 40), 2),
                                         ((40,), 0)])
def test_equals_add_at(monkeypatch, shape, axis, dtype):
    rng = np.random.default_rng(0)
    ids = _sorted_ids(rng, shape[axis], scatter.MAX_RUN)
    key = (slice(None),) * axis + (ids,)
    target = rng.standard_normal(shape).astype(dtype)
    values = rng.standard_normal(shape[:axis] + ids.shape + shape[axis + 1:]).astype(dtype)
    taken = _runs_taken(monkeypatch)
    for start in (np.zeros_like(target), target):
        want, got = start.copy(), start.copy()
        np.add.at(want, key, values)
        assert scatter.add_rows(got, key, values, min_elements=0)
        short = axis and axis == len(shape) - 1
        if start is target and short:          # (t + v1) + v2 against t + (v1 + v2)
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype != np.float64 else 1e-13)
        else:
            np.testing.assert_array_equal(got, want)
    if len(shape) == 1:             # single elements: np.add.at's own fast path instead
        assert taken == []
    else:
        assert len(taken) >= 2 and all(taken)       # (the last axis: once more, moved)


def test_negative_and_strided_targets_and_repeated_single_id(monkeypatch):
    rng = np.random.default_rng(1)
    taken = _runs_taken(monkeypatch)
    ids = np.array([-5, -5, -3, -1, -1, -1])                 # sorted once wrapped
    target = rng.standard_normal((5, 8))[:, ::2]               # not C-contiguous
    values = rng.standard_normal((6, 4))
    want, got = target.copy(), target.copy()
    np.add.at(want, (ids,), values)
    assert scatter.add_rows(got, (ids,), values, min_elements=0)
    np.testing.assert_array_equal(got, want)
    assert taken == [True]


def test_runs_longer_than_max_run_take_the_other_ways(monkeypatch):
    rng = np.random.default_rng(2)
    ids = np.sort(np.concatenate([np.full(scatter.MAX_RUN + 1, 3), np.arange(10)]))
    values = rng.standard_normal((ids.size, 6))
    taken = _runs_taken(monkeypatch)
    want, got = np.zeros((10, 6)), np.zeros((10, 6))
    np.add.at(want, (ids,), values)
    assert scatter.add_rows(got, (ids,), values, min_elements=0)
    assert taken == [False]
    np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_repeat_by_counts_gradient_matches_torch(monkeypatch, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 40)).astype(dtype)
    counts = rng.integers(0, 4, 64)
    counts[:3] = 0                                             # rows repeated no times
    g = rng.standard_normal((int(counts.sum()), 40)).astype(dtype)
    taken = _runs_taken(monkeypatch)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.repeat(xt, xg.asarray(counts), axis=0)
    dx = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    assert taken == [True]
    tx = torch.tensor(x, requires_grad=True)
    torch.repeat_interleave(tx, torch.tensor(counts), 0).backward(torch.tensor(g))
    np.testing.assert_array_equal(dx, tx.grad.numpy())        # zeros plus the runs, in order
    check_grads(lambda a: xg.repeat(a, xg.asarray(counts[:6]), axis=0) ** 2,
                [xg.asarray(x[:6, :3].astype(np.float64))])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_1d_upsampling_gradient_matches_torch(monkeypatch, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 8, 50)).astype(dtype)      # 2336 values: past MIN_ELEMENTS
    taken = _runs_taken(monkeypatch)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.nn.interpolate(xt, size=73, mode="nearest")
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = tape.gradient(y, xt, output_gradients=xg.asarray(g)).numpy()
    assert True in taken
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.interpolate(tx, size=73, mode="nearest").backward(torch.tensor(g))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)
    check_grads(lambda a: xg.nn.interpolate(a, size=7, mode="nearest") ** 2,
                [xg.asarray(x[:1, :2, :5].astype(np.float64))])
