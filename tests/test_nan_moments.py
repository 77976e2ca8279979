"""``xg.nanvar`` / ``xg.nanstd``, and ``np.nanvar`` / ``np.nanstd`` on Tensors dispatched to
them (they ran NumPy on the values: a TypeError under a tape, a NumPy float outside one):
NumPy's values with ``axis``, ``keepdims`` and ``ddof``, NaN entries ignored and given no
gradient, gradients against finite differences and PyTorch's ``var`` / ``std`` of the entries
kept, bad arguments refused by name."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import xpgrad as xg
from test_third_party import BACKENDS


@pytest.fixture
def with_nan():
    a = np.random.default_rng(11).normal(size=(5, 6))
    a[1, 2] = a[3, 0] = a[0, 4] = a[4, 4] = np.nan
    return a


ARGS = [{}, {"axis": 0}, {"axis": 1, "keepdims": True}, {"axis": (0, 1)}, {"ddof": 1},
        {"axis": 0, "ddof": 2}, {"axis": -1, "correction": 1.5}, {"axis": 0, "ddof": 4}]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["nanvar", "nanstd"])
@pytest.mark.parametrize("kwargs", ARGS)
def test_values_equal_numpys(backend, name, kwargs, with_nan):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # NumPy's, at ddof >= count
        want = getattr(np, name)(with_nan, **kwargs)
    t = xg.asarray(with_nan, backend=backend)
    for got in (getattr(np, name)(t, **kwargs), getattr(xg, name)(t, **kwargs)):
        assert isinstance(got, xg.Tensor) and got.backend.name == backend
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-13, atol=0)


def test_all_nan_slices_and_too_few_entries_are_nan_without_a_warning():
    a = np.array([[np.nan, np.nan, np.nan], [1.0, np.nan, 3.0], [2.0, 2.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(xg.nanvar(xg.asarray(a), axis=1).numpy()).tolist() == [True, False,
                                                                                 False]
        assert np.isnan(np.nanstd(xg.asarray(a), axis=1, ddof=2).numpy()).tolist() == [
            True, True, False]


def _kept_torch(a, fn, ddof):
    t = torch.tensor(a, requires_grad=True)
    fn(t[~torch.isnan(t)], correction=ddof).backward()
    return t.grad.nan_to_num().numpy()


@pytest.mark.parametrize("name", ["nanvar", "nanstd"])
@pytest.mark.parametrize("ddof", [0, 1])
def test_gradients_match_finite_differences_and_torch(name, ddof, with_nan):
    x = xg.asarray(with_nan)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = getattr(np, name)(x, ddof=ddof)
    grad = tape.gradient(y, x).numpy()
    nan = np.isnan(with_nan)
    assert np.all(grad[nan] == 0)
    np.testing.assert_allclose(grad, _kept_torch(with_nan, getattr(torch, name[3:]), ddof),
                               rtol=1e-12, atol=1e-15)
    eps, fd = 1e-6, np.zeros_like(with_nan)
    for i in zip(*np.nonzero(~nan)):
        step = np.zeros_like(with_nan)
        step[i] = eps
        fd[i] = (getattr(np, name)(with_nan + step, ddof=ddof)
                 - getattr(np, name)(with_nan - step, ddof=ddof)) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)


def test_gradient_along_an_axis_matches_torch(with_nan):
    x = xg.asarray(with_nan)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.nanstd(x, axis=0, ddof=1) * xg.arange(6.0, dtype=xg.float64))
    ours = tape.gradient(y, x).numpy()
    t = torch.tensor(with_nan, requires_grad=True)
    sum(k * torch.std(t[:, k][~torch.isnan(t[:, k])], correction=1) for k in range(6)).backward()
    np.testing.assert_allclose(ours, t.grad.nan_to_num().numpy(), rtol=1e-12, atol=1e-15)


def test_nanstd_of_a_constant_slice_has_gradient_zero_as_std():
    x = xg.asarray([[2.0, np.nan, 2.0], [1.0, 3.0, np.nan]], dtype=xg.float64)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.sum(xg.nanstd(x, axis=1))
    assert tape.gradient(y, x).tolist() == [[0.0, 0.0, 0.0], [-0.5, 0.5, 0.0]]


def test_integers_give_numpys_float64_through_numpy_and_the_default_float_through_xg():
    a = np.array([1, 2, 4, 7])
    assert np.nanvar(xg.asarray(a)).dtype == xg.float64
    assert np.nanvar(xg.asarray(a)).item() == np.nanvar(a)
    assert xg.nanstd(xg.asarray(a)).dtype == xg.float32


def test_bad_arguments_are_refused_by_name():
    x = xg.asarray([1.0, np.nan, 2.0])
    with pytest.raises(TypeError, match="give correction or ddof"):
        xg.nanvar(x, ddof=1, correction=1)
    with pytest.raises(ValueError, match="correction must not be negative"):
        xg.nanstd(x, ddof=-1)
    with pytest.raises(TypeError, match="unbiased"):
        xg.nanvar(x, unbiased=True)
    with xg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="np.nanvar with where="):
            np.nanvar(x, where=np.array([True, False, True]))
