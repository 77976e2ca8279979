"""take and take_along_axis (2024.12): values against NumPy, gradients against finite
differences and PyTorch (index_select, take_along_dim), on the NumPy backend and on a strict
array-API backend (tests/test_backends.py's array-api-strict backend), clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

try:
    import torch
except ImportError:            # the PyTorch comparisons skip without it
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="compares with PyTorch")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(params=["numpy", "strict"])
def backend(request, clean_backends):
    if request.param == "strict":
        pytest.importorskip("array_api_strict")
        from test_backends import StrictBackend

        xg.register_backend("strict", StrictBackend)
    return xg.get_backend(request.param)


def f64(a, backend=None):
    return xg.asarray(np.asarray(a, dtype=np.float64), backend=backend)


def ints(a, backend=None):
    return xg.asarray(np.asarray(a, dtype=np.int64), backend=backend)


# -- take -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, idx, axis", [
    ((5,), [4, 0, 4, -1], None), ((3, 4), [3, 0, 3], 1), ((3, 4), [2, -3], 0),
    ((2, 3, 4), [1, 1, 0, 2], 1), ((2, 3), [], 1),
])
def test_take_values_and_gradients(shape, idx, axis, backend, rng):
    a = rng.standard_normal(shape)
    x, i = f64(a, backend), ints(idx, backend)
    got = xg.take(x, i, axis=axis)
    assert got.backend is backend
    np.testing.assert_array_equal(got.numpy(), np.take(a, idx, axis=0 if axis is None else axis))
    check_grads(lambda t: xg.take(t, i, axis=axis) ** 2, [x], order=2)


def test_take_repeated_indices_accumulate(backend):
    x = f64([1.0, 2.0, 3.0], backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.take(x, ints([2, 2, 0, 2], backend)))
    assert tape.gradient(loss, x).tolist() == [1.0, 0.0, 3.0]


@needs_torch
def test_take_matches_torch_index_select(rng):
    a = rng.standard_normal((4, 5))
    idx = [4, 1, 1, 0, -1]
    w = rng.standard_normal((4, 5))
    x = f64(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.sin(xg.take(x, ints(idx), axis=1)) * f64(w))
    t = torch.tensor(a, requires_grad=True)
    ref = (torch.sin(torch.index_select(t, 1, torch.tensor(idx) % 5)) * torch.tensor(w)).sum()
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), t.grad.numpy(), rtol=1e-12)


def test_indexing_with_an_integer_array_beside_slices_on_a_strict_backend(backend, rng):
    a = rng.standard_normal((3, 4))
    x = f64(a, backend)
    idx = ints([[3, 0], [1, 1]], backend)
    np.testing.assert_array_equal(x[:, idx].numpy(), a[:, [[3, 0], [1, 1]]])
    np.testing.assert_array_equal(x[1:].numpy(), a[1:])       # NumPy's implied Ellipsis
    check_grads(lambda t: t[:, idx] ** 2, [x], order=2)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: xg.take(x, ints([0])), ValueError, "axis="),
    (lambda x: xg.take(x, ints([3]), axis=0), IndexError, "out of bounds"),
    (lambda x: xg.take(x, ints([-4]), axis=0), IndexError, "out of bounds"),
    (lambda x: xg.take(x, f64([0.0]), axis=0), IndexError, "integer indices"),
    (lambda x: xg.take(x, ints([[0]]), axis=0), ValueError, "1-D"),
    (lambda x: xg.take(x, ints([0]), axis=2), ValueError, "out of range"),
])
def test_take_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(xg.zeros((3, 2)))


# -- take_along_axis ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, ishape, axis", [
    ((3, 4), (3, 6), 1), ((3, 4), (2, 4), 0), ((3, 4), (3, 1), -1), ((2, 3, 4), (2, 5, 4), 1),
    ((2, 1, 4), (2, 3, 2), 2), ((1, 4), (3, 2), 1), ((5,), (7,), 0),
])
def test_take_along_axis_values_and_gradients(shape, ishape, axis, backend, rng):
    a = rng.standard_normal(shape)
    n = shape[axis]
    idx = rng.integers(-n, n, size=ishape)
    x, i = f64(a, backend), ints(idx, backend)
    got = xg.take_along_axis(x, i, axis=axis)
    want_shape = np.broadcast_shapes(tuple(1 if d == axis % len(shape) else s
                                           for d, s in enumerate(shape)), ishape)
    ref = np.take_along_axis(np.broadcast_to(a, tuple(
        s if d == axis % len(shape) else w for d, (s, w) in enumerate(zip(shape, want_shape)))),
        idx % n, axis=axis)
    np.testing.assert_array_equal(got.numpy(), ref)
    check_grads(lambda t: xg.take_along_axis(t, i, axis=axis) ** 2, [x], order=2)


@needs_torch
def test_take_along_axis_matches_torch_take_along_dim(rng):
    a = rng.standard_normal((3, 5))
    idx = rng.integers(0, 5, size=(3, 7))
    w = rng.standard_normal((3, 7))
    x = f64(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(xg.exp(xg.take_along_axis(x, ints(idx), axis=1)) * f64(w))
    t = torch.tensor(a, requires_grad=True)
    ref = (torch.exp(torch.take_along_dim(t, torch.tensor(idx), dim=1)) * torch.tensor(w)).sum()
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), t.grad.numpy(), rtol=1e-12)


def test_take_along_axis_with_argsort_picks_sorted_values(rng):
    a = rng.standard_normal((3, 4))
    x = f64(a)
    order = ints(np.argsort(a, axis=1))
    np.testing.assert_array_equal(xg.take_along_axis(x, order, axis=1).numpy(),
                                  np.sort(a, axis=1))


@pytest.mark.parametrize("call, error, match", [
    (lambda x: xg.take_along_axis(x, ints([0, 1])), ValueError, "rank"),
    (lambda x: xg.take_along_axis(x, ints([[0, 1], [0, 1], [0, 1]])), ValueError, "broadcast"),
    (lambda x: xg.take_along_axis(x, ints([[2]]), axis=1), IndexError, "out of bounds"),
    (lambda x: xg.take_along_axis(x, f64([[0.0]])), IndexError, "integer indices"),
    (lambda x: xg.take_along_axis(x, ints([[0]]), axis=2), ValueError, "out of range"),
    (lambda x: xg.take_along_axis(xg.asarray(1.0), ints(0)), ValueError, "dimension"),
])
def test_take_along_axis_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(xg.zeros((2, 2)))


# -- x[key] = value on a strict backend -----------------------------------------------------------

def test_setitem_on_each_backend(backend, rng):
    a = rng.standard_normal((3, 4))
    x = f64(a, backend)

    def fn(t):
        h = t * 2.0
        h[1, :] = t[0, :] ** 2
        h[0] = 0.5
        h[h > 1.0] = 0.25
        h[1:] = h[1:] * t[1:]
        return h

    want = 2.0 * a
    want[1, :] = a[0] ** 2
    want[0] = 0.5
    want[want > 1.0] = 0.25
    want[1:] = want[1:] * a[1:]
    np.testing.assert_allclose(fn(x).numpy(), want)
    check_grads(fn, [x], order=2)
