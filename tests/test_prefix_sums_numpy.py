"""The NumPy backend's blocked ``cumulative_sum`` (``backends/numpy/prefix_sums.py``): the
running sums from either end against float64 NumPy to rounding, along every axis, with
partial blocks and non-contiguous inputs; what it declines (other dtypes, small arrays,
non-finite values, overflow) left to ``np.cumsum``; and ``xg.cumulative_sum``'s values and
gradients through it against PyTorch and finite differences."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import prefix_sums as module
from xpgrad.backends.numpy.prefix_sums import prefix_sums
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
pytestmark = pytest.mark.usefixtures("numpy_default")     # the NumPy backend's kernel

R = np.random.default_rng(7)
TOL = {np.float32: 2e-6, np.float64: 1e-14}


def reference(a, axis, reverse):
    a = a.astype(np.float64)
    if reverse:
        return np.flip(np.cumsum(np.flip(a, axis), axis=axis), axis)
    return np.cumsum(a, axis=axis)


def spy(monkeypatch):
    """The results of ``prefix_sums`` called by the kernel: arrays, or None where declined."""
    seen, real = [], module.prefix_sums
    monkeypatch.setattr(module, "prefix_sums",
                        lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("shape", [(256, 64), (40, 3, 50), (7, 100), (33,), (2, 48, 1)])
def test_running_sums_match_float64_numpy(shape, reverse, dtype):
    a = R.normal(size=shape).astype(dtype) + 0.5
    for axis in range(len(shape)):
        for view in (a, np.flip(a, axis), np.asfortranarray(a)):
            got = prefix_sums(view, axis, reverse, min_elements=0)
            if shape[axis] < 2 * module.BLOCK:
                assert got is None
                continue
            want = reference(view, axis, reverse)
            assert got.dtype == dtype and got.shape == shape
            scale = np.maximum(np.abs(want), np.sqrt(shape[axis]))
            assert np.max(np.abs(got - want) / scale) < TOL[dtype], (axis, view.strides)


def test_declined_inputs():
    ints = np.arange(4096 * 2).reshape(64, 128)
    assert prefix_sums(ints, 1, min_elements=0) is None                     # not float
    assert prefix_sums(np.ones((8, 64), np.float16), 1, min_elements=0) is None
    assert prefix_sums(np.ones((8, 64)), 1) is None                         # small
    assert prefix_sums(np.ones((200, 64)), 1).shape == (200, 64)
    for bad in (np.inf, -np.inf, np.nan):
        a = np.ones((4, 64))
        a[1, 37] = bad
        assert prefix_sums(a, 1, min_elements=0) is None
        assert prefix_sums(a, 1, reverse=True, min_elements=0) is None
    assert prefix_sums(np.full((4, 64), 3e38, np.float32), 1, min_elements=0) is None
    assert prefix_sums(np.full((4, 64), 2e37, np.float32), 1, min_elements=0) is None


def test_non_finite_values_through_xpgrad_equal_numpy(monkeypatch):
    seen = spy(monkeypatch)
    a = R.normal(size=(64, 128)).astype(np.float32)
    a[3, 50], a[10, 0], a[20, 127] = np.inf, np.nan, -np.inf
    got = xg.cumulative_sum(xg.asarray(a), axis=1).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(np.cumsum(a, axis=1)))
    np.testing.assert_array_equal(got, np.cumsum(a, axis=1))              # np.cumsum ran
    assert seen == [None]


def test_under_function_replays_with_non_finite_values_equal_eager():
    def f(x):
        return xg.grad(lambda x: xg.sum(xg.sin(xg.cumulative_sum(x, axis=0))))(x)

    traced = xg.function(f)
    for bad in (None, np.inf, np.nan, None):           # traced on finite values, then replays
        a = R.normal(size=(64, 80))
        if bad is not None:
            a[5, 7] = bad
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(traced(xg.asarray(a)).numpy(),
                                          f(xg.asarray(a)).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, 1, -1, 2])
def test_values_and_gradients_match_pytorch(monkeypatch, axis, dtype):
    seen = spy(monkeypatch)
    a = R.normal(size=(40, 70, 6)).astype(dtype)
    weights = R.normal(size=a.shape).astype(dtype)
    x = xg.asarray(a)
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = xg.cumulative_sum(x, axis=axis)
        loss = xg.sum(y * xg.asarray(weights))
    grad = tape.gradient(loss, x)
    t = torch.from_numpy(a.copy()).requires_grad_(True)
    ty = torch.cumsum(t, axis)
    (tgrad,) = torch.autograd.grad((ty * torch.from_numpy(weights)).sum(), t)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(grad.numpy(), tgrad.numpy(), rtol=tol, atol=tol * 10)
    taken = [s is not None for s in seen]
    # (a shape it does not take leaves both passes to the generic rule)
    assert taken == ([] if a.shape[axis] < 2 * module.BLOCK else [True, True])


def test_gradients_match_finite_differences(monkeypatch):
    monkeypatch.setattr(module, "MIN_ELEMENTS", 0)
    seen = spy(monkeypatch)
    a = R.normal(size=(3, 37))
    check_grads(lambda x: xg.cumulative_sum(x, axis=1) ** 2, [xg.asarray(a)])
    check_grads(lambda x: xg.cumulative_sum(x, axis=0), [xg.asarray(a.T.copy())])
    assert seen and all(s is not None for s in seen)


def test_declined_parameters_keep_the_generic_rule(monkeypatch):
    monkeypatch.setattr(module, "MIN_ELEMENTS", 0)
    seen = spy(monkeypatch)
    a = R.normal(size=(4, 40))
    x = xg.asarray(a)
    initial = xg.cumulative_sum(x, axis=1, include_initial=True)
    assert initial.shape == (4, 41)
    np.testing.assert_allclose(initial.numpy()[:, 1:], np.cumsum(a, axis=1), rtol=1e-13)
    assert xg.cumulative_sum(x, axis=1, dtype=xg.float32).dtype == xg.float32
    check_grads(lambda x: xg.cumulative_sum(x, axis=1, include_initial=True), [x])
    assert seen == []
    np.testing.assert_array_equal(xg.cumulative_sum(xg.arange(40), axis=0).numpy(),
                                  np.cumsum(np.arange(40)))
    with pytest.raises(ValueError, match="cumulative_sum needs a tensor with at least one"):
        xg.cumulative_sum(xg.asarray(1.0))
