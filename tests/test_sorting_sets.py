"""Sorting, searching and set functions: values against NumPy, sort's gradient against PyTorch
and finite differences, unique values' shared gradient, no gradient for integer results, and
clear errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")


def f64(a):
    return xg.asarray(np.asarray(a, dtype=np.float64))


# -- sort and argsort -----------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_gradient_match_torch(axis, descending, rng):
    a = rng.integers(0, 4, size=(4, 5)).astype(np.float64)      # many ties
    w = rng.standard_normal(a.shape)
    x = f64(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sort(x, axis=axis, descending=descending)
        loss = xg.sum(y * f64(w))
    t = torch.tensor(a, requires_grad=True)
    ty = torch.sort(t, dim=axis, descending=descending, stable=True).values
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), t.grad.numpy())


def test_sort_gradient_ties_follow_the_stable_order():
    x = f64([1.0, 1.0, 0.0, 1.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sort(x) * f64([1.0, 10.0, 100.0, 1000.0])
    # stable order: x[2], x[0], x[1], x[3]
    assert tape.gradient(y, x).tolist() == [10.0, 100.0, 1.0, 1000.0]
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sort(x, descending=True) * f64([1.0, 10.0, 100.0, 1000.0])
    # stable descending: x[0], x[1], x[3], x[2]
    assert tape.gradient(y, x).tolist() == [1.0, 10.0, 1000.0, 100.0]


def test_sort_second_order_and_in_a_chain(rng):
    a = f64(rng.permutation(12).reshape(3, 4) * 0.3 + 0.2)   # x * x has no ties either
    check_grads(lambda x: xg.sort(x * x, axis=0) * xg.sort(x, descending=True), [a], order=2)
    # a sort of a sort: the permutations compose
    check_grads(lambda x: xg.sort(xg.sort(x, axis=0) * xg.arange(4.0, dtype=xg.float64)),
                [a], order=2)


def test_sort_complex_gradient_is_the_permutation():
    z = xg.asarray([2 + 1j, 1 - 1j, 1 + 2j], dtype=xg.complex128)
    with xg.GradientTape() as tape:
        tape.watch(z)
        y = xg.sort(z)
    assert y.tolist() == [1 - 1j, 1 + 2j, 2 + 1j]
    assert tape.gradient(y, z, output_gradients=[1j, 2.0, 3.0]).tolist() == [3, 1j, 2]


@pytest.mark.parametrize("descending", [False, True])
def test_argsort_is_stable_and_int64(descending, rng):
    a = rng.integers(0, 3, size=(3, 20))
    out = xg.argsort(xg.asarray(a), axis=1, descending=descending)
    want = (np.argsort(-a, axis=1, kind="stable") if descending
            else np.argsort(a, axis=1, kind="stable"))
    assert out.dtype == xg.int64
    np.testing.assert_array_equal(out.numpy(), want)


def test_sort_nan_last_and_integers():
    assert xg.sort(xg.asarray([2.0, math.nan, 1.0])).numpy()[:2].tolist() == [1.0, 2.0]
    assert math.isnan(xg.sort(xg.asarray([2.0, math.nan, 1.0])).numpy()[2])
    assert xg.sort(xg.asarray([3, 1, 2], dtype=xg.uint8), descending=True).tolist() == [3, 2, 1]


# -- searching ------------------------------------------------------------------------------------

def test_argmax_argmin_keepdims():
    x = xg.asarray([[1.0, 3.0, 3.0], [4.0, 0.0, 4.0]])
    assert xg.argmax(x).item() == 3 and xg.argmin(x).item() == 4
    assert xg.argmax(x, axis=1).tolist() == [1, 0]            # the first of tied maxima
    assert xg.argmin(x, axis=0, keepdims=True).tolist() == [[0, 1, 0]]
    assert xg.argmax(x, keepdims=True).shape == (1, 1)
    assert xg.argmax(x).dtype == xg.int64


def test_nonzero_count_nonzero(rng):
    a = rng.integers(-1, 2, size=(3, 4)).astype(np.float64)
    got = xg.nonzero(f64(a))
    assert isinstance(got, tuple) and all(t.dtype == xg.int64 for t in got)
    for g, w in zip(got, np.nonzero(a)):
        np.testing.assert_array_equal(g.numpy(), w)
    assert xg.count_nonzero(f64(a)).item() == np.count_nonzero(a)
    np.testing.assert_array_equal(xg.count_nonzero(f64(a), axis=(0,), keepdims=True).numpy(),
                                  np.count_nonzero(a, axis=0, keepdims=True))
    z = xg.asarray([0j, 1j, 2 + 0j])
    assert xg.count_nonzero(z).item() == 2 and xg.nonzero(z)[0].tolist() == [1, 2]


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_side_and_sorter(side, rng):
    x1 = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    x2 = np.array([[0.0, 2.0], [2.5, 9.0]])
    sorter = np.argsort(x1, kind="stable")
    got = xg.searchsorted(f64(x1), f64(x2), side=side, sorter=xg.asarray(sorter))
    assert got.dtype == xg.int64 and got.shape == (2, 2)
    np.testing.assert_array_equal(got.numpy(), np.searchsorted(x1, x2, side=side, sorter=sorter))
    s = np.sort(x1)
    np.testing.assert_array_equal(xg.searchsorted(f64(s), f64(x2), side=side).numpy(),
                                  np.searchsorted(s, x2, side=side))
    assert xg.searchsorted(f64(s), 2.0, side=side).shape == ()


def test_searching_errors():
    with pytest.raises(ValueError, match="0-d"):
        xg.nonzero(xg.asarray(1.0))
    with pytest.raises(ValueError, match="1-D"):
        xg.searchsorted(xg.ones((2, 2)), xg.ones(2))
    with pytest.raises(ValueError, match="side"):
        xg.searchsorted(xg.ones(2), xg.ones(2), side="middle")
    with pytest.raises(TypeError, match="sorter"):
        xg.searchsorted(xg.ones(2), xg.ones(2), sorter=xg.ones(2))
    with pytest.raises(ValueError, match="sorter of shape"):
        xg.searchsorted(xg.ones(2), xg.ones(2), sorter=xg.asarray([0]))
    with pytest.raises(ValueError, match="empty"):
        xg.argmax(xg.ones((0, 2)))
    with pytest.raises(ValueError, match="out of range"):
        xg.argmin(xg.ones(2), axis=1)
    with pytest.raises(ValueError, match="at least one dimension"):
        xg.sort(xg.asarray(1.0))


# -- sets -----------------------------------------------------------------------------------------

def test_unique_results_are_named_tuples():
    x = xg.asarray([[3, 1, 3], [2, 3, 1]])
    r = xg.unique_all(x)
    assert r._fields == ("values", "indices", "inverse_indices", "counts")
    assert r.values.tolist() == [1, 2, 3] and r.counts.tolist() == [2, 1, 3]
    assert r.indices.tolist() == [1, 3, 0]
    assert r.inverse_indices.shape == (2, 3)
    np.testing.assert_array_equal(r.values.numpy()[r.inverse_indices.numpy()], x.numpy())
    assert all(t.dtype == xg.int64 for t in r[1:])
    assert xg.unique_counts(x)._fields == ("values", "counts")
    assert xg.unique_inverse(x)._fields == ("values", "inverse_indices")
    assert xg.unique_inverse(x).inverse_indices.shape == (2, 3)
    assert xg.unique_values(x).tolist() == [1, 2, 3]


@pytest.mark.parametrize("recording", [False, True])
def test_unique_nans_are_distinct_and_zeros_are_one(recording):
    x = xg.asarray([math.nan, 1.0, -0.0, math.nan, 0.0, 1.0], dtype=xg.float64)
    tape = xg.GradientTape()
    with tape:
        if recording:
            tape.watch(x)
        r = xg.unique_all(x)
        counts = xg.unique_counts(x)
        values = xg.unique_values(x)
    assert r.values.shape == (4,) and values.shape == (4,)
    assert r.values.numpy()[:2].tolist() == [0.0, 1.0]
    assert np.isnan(r.values.numpy()[2:]).all()
    assert r.counts.tolist() == [2, 2, 1, 1] == counts.counts.tolist()
    inv = r.inverse_indices.numpy()
    assert inv[0] != inv[3] and inv[2] == inv[4] and inv[1] == inv[5]


def test_unique_values_gradient_is_shared_among_occurrences():
    x = f64([2.0, 1.0, 2.0, 2.0, 5.0])
    with xg.GradientTape() as tape:
        tape.watch(x)
        r = xg.unique_all(x)
        y = xg.sum(r.values * f64([10.0, 30.0, 100.0]))
    # values = [1, 2, 5]: the 2 occurs three times, each occurrence takes a third
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [10.0, 10.0, 10.0, 10.0, 100.0])


def test_unique_values_second_order_and_complex(rng):
    a = f64(rng.permutation(6).reshape(2, 3) * 0.7 - 2.0)
    check_grads(lambda x: xg.unique_values(x) ** 3 + xg.unique_inverse(x).values[0], [a],
                order=2)
    z = xg.asarray([1 + 1j, 1 + 1j, 2j], dtype=xg.complex128)
    with xg.GradientTape() as tape:
        tape.watch(z)
        v = xg.unique_values(z)
    assert v.tolist() == [2j, 1 + 1j]
    np.testing.assert_allclose(tape.gradient(v, z, output_gradients=[4.0, 2.0 - 2j]).numpy(),
                               [1 - 1j, 1 - 1j, 4.0])


def test_isin_matches_numpy(rng):
    a = rng.integers(0, 6, size=(3, 4))
    b = rng.integers(0, 6, size=5)
    for invert in (False, True):
        got = xg.isin(xg.asarray(a), xg.asarray(b, dtype=xg.int16), invert=invert)
        assert got.dtype == xg.bool and got.shape == a.shape
        np.testing.assert_array_equal(got.numpy(), np.isin(a, b, invert=invert))
    assert xg.isin(xg.asarray(a), 3).tolist() == (a == 3).tolist()
    assert xg.isin(2, xg.asarray(b)).item() == (2 in b.tolist())
    assert xg.isin(xg.asarray([math.nan, 1.0]), xg.asarray([math.nan, 1.0])).tolist() \
        == [False, True]
    assert xg.isin(xg.asarray(a), xg.asarray([], dtype=xg.int64)).numpy().sum() == 0
