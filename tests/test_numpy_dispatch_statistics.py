"""NumPy's NaN-ignoring reductions, order statistics, np.pad and np.polyval on Tensors
(xpgrad/numpy_dispatch/statistics.py): values equal NumPy's on every backend, gradients equal
finite differences (float64) and PyTorch's where it has the same function, bad input named."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

BACKENDS = [name for name in ("numpy", "numba") if backend_report()[name]["available"]]


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    with_nan = rng.normal(size=(4, 5))
    with_nan[1, 2] = with_nan[3, 0] = with_nan[0, 4] = np.nan
    return rng.normal(size=(5, 6)), with_nan


REDUCTION_ARGS = [{}, {"axis": 0}, {"axis": 1, "keepdims": True}, {"axis": (0, 1)}]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmax", "nanmin", "nanprod"])
@pytest.mark.parametrize("kwargs", REDUCTION_ARGS)
def test_nan_reductions_equal_numpy(backend, name, kwargs, data):
    _, a = data
    got = getattr(np, name)(xg.asarray(a, backend=backend), **kwargs)
    assert isinstance(got, xg.Tensor) and got.backend.name == backend
    np.testing.assert_allclose(got.numpy(), getattr(np, name)(a, **kwargs), rtol=1e-12)


def test_nanmax_of_an_all_nan_slice_is_nan_as_numpy():
    a = np.array([[np.nan, np.nan], [1.0, np.nan]])
    with pytest.warns(RuntimeWarning):
        expected = np.nanmax(a, axis=1)
    np.testing.assert_array_equal(np.nanmax(xg.asarray(a), axis=1).numpy(), expected)


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmax", "nanprod"])
def test_nan_reductions_differentiate_and_give_nan_entries_zero(name, data):
    _, a = data
    fn = getattr(np, name)
    check_grads(lambda t: fn(t, axis=0), xg.asarray(np.where(np.isnan(a), 0.5, a)))
    x = xg.Variable(a)
    with xg.GradientTape() as tape:
        y = fn(x * 2.0)
    g = tape.gradient(y, x).numpy()
    assert np.all(g[np.isnan(a)] == 0) and np.all(np.isfinite(g))


@pytest.mark.parametrize("name", ["nansum", "nanmax", "nanmin", "nanprod"])
def test_nan_reductions_of_nan_free_data_equal_torch_and_a_trace_replays_nans(name, data):
    """Eagerly, data without NaN takes the plain reduction (no where): values and gradients
    equal PyTorch's (nan-free: torch.sum, amax, amin, prod); a trace made on NaN-free data
    keeps the NaN-skipping composition, so its replay on data with NaN equals NumPy's and
    gives the NaN entries no gradient."""
    torch = pytest.importorskip("torch")
    clean, with_nan = data
    theirs = {"nansum": torch.nansum, "nanmax": lambda t, dim: torch.amax(t, dim),
              "nanmin": lambda t, dim: torch.amin(t, dim), "nanprod": torch.prod}[name]
    fn = getattr(xg, name)
    t = torch.tensor(clean, requires_grad=True)
    theirs(t, 1).sum().backward()
    value, grad = xg.value_and_grad(lambda a: xg.sum(fn(a, axis=1)))(xg.asarray(clean))
    np.testing.assert_allclose(value.numpy(), theirs(t, 1).sum().item(), rtol=1e-12)
    np.testing.assert_allclose(grad.numpy(), t.grad.numpy(), rtol=1e-12)

    step = xg.function(xg.value_and_grad(lambda a: xg.sum(fn(a, axis=1))))
    step(xg.asarray(clean[:4, :5]))                       # traced on NaN-free data
    value, grad = step(xg.asarray(with_nan))
    np.testing.assert_allclose(value.numpy(), getattr(np, name)(with_nan, axis=1).sum(),
                               rtol=1e-12)
    assert np.all(grad.numpy()[np.isnan(with_nan)] == 0)
    assert np.all(np.isfinite(grad.numpy()))


def test_nansum_and_nanmean_gradients_equal_pytorch(data):
    torch = pytest.importorskip("torch")
    _, a = data
    for name in ("nansum", "nanmean"):
        x = xg.Variable(a)
        with xg.GradientTape() as tape:
            y = getattr(np, name)(x * x, axis=1).sum()
        ours = tape.gradient(y, x).numpy()
        t = torch.tensor(a, requires_grad=True)
        getattr(torch, name)(t * t, dim=1).sum().backward()
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["nancumsum", "nancumprod", "nanargmax", "nanargmin"])
@pytest.mark.parametrize("kwargs", [{}, {"axis": 0}, {"axis": -1}])
def test_nan_cumulative_and_arg_reductions_equal_numpy(backend, name, kwargs, data):
    _, a = data
    got = getattr(np, name)(xg.asarray(a, backend=backend), **kwargs)
    assert isinstance(got, xg.Tensor) and got.backend.name == backend
    np.testing.assert_allclose(got.numpy(), getattr(np, name)(a, **kwargs), rtol=1e-12)
    assert got.dtype == getattr(np, name)(a, **kwargs).dtype


@pytest.mark.parametrize("name", ["nancumsum", "nancumprod"])
def test_nan_cumulatives_differentiate_and_equal_pytorch_on_nan_to_num(name, data):
    torch = pytest.importorskip("torch")
    _, a = data
    fn = getattr(np, name)
    check_grads(lambda t: fn(t, axis=1), xg.asarray(np.where(np.isnan(a), 0.5, a)))
    x = xg.Variable(a)
    with xg.GradientTape() as tape:
        y = fn(x * 0.5 + 1.0, axis=0).sum()
    ours = tape.gradient(y, x).numpy()
    t = torch.tensor(a, requires_grad=True)
    fill = 0.0 if name == "nancumsum" else 1.0
    getattr(torch, name[3:])(torch.nan_to_num(t * 0.5 + 1.0, nan=fill), dim=0).sum().backward()
    np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-12)
    assert np.all(ours[np.isnan(a)] == 0)


def test_nanargmax_of_an_all_nan_slice_raises_as_numpy():
    a = np.array([[np.nan, np.nan], [1.0, np.nan]])
    with pytest.raises(ValueError, match="All-NaN slice"):
        np.nanargmax(a, axis=1)
    with pytest.raises(ValueError, match="np.nanargmax: All-NaN slice"):
        np.nanargmax(xg.asarray(a), axis=1)
    assert np.nanargmin(xg.asarray(a), axis=None).item() == 2 == np.nanargmin(a)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs", [{}, {"axis": 0}, {"axis": 1}, {"axis": -1, "keepdims": True},
                                    {"axis": None, "keepdims": True}])
def test_median_percentile_quantile_equal_numpy(backend, kwargs, data):
    a, _ = data
    t = xg.asarray(a, backend=backend)
    np.testing.assert_allclose(np.median(t, **kwargs).numpy(), np.median(a, **kwargs))
    for q in (30, [10, 50, 95], 0, 100):
        got, expected = np.percentile(t, q, **kwargs), np.percentile(a, q, **kwargs)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got.numpy(), expected)
        frac = np.asarray(q) / 100
        np.testing.assert_allclose(np.quantile(t, frac, **kwargs).numpy(),
                                   np.quantile(a, frac, **kwargs))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_nan_twins_and_methods_equal_numpy_and_stay_on_the_tape(backend, method, data):
    a, with_nan = data
    for name, arr, q in (("quantile", a, [0.1, 0.75]), ("nanquantile", with_nan, [0.1, 0.75]),
                         ("percentile", a, 35), ("nanpercentile", with_nan, [35, 100])):
        got = getattr(np, name)(xg.asarray(arr, backend=backend), q, axis=1, method=method)
        assert isinstance(got, xg.Tensor)
        np.testing.assert_allclose(got.numpy(), getattr(np, name)(arr, q, axis=1, method=method))
    got = np.nanmedian(xg.asarray(with_nan, backend=backend), axis=0, keepdims=True)
    np.testing.assert_allclose(got.numpy(), np.nanmedian(with_nan, axis=0, keepdims=True))
    check_grads(lambda t: np.nanquantile(t, 0.3, axis=0, method=method), xg.asarray(with_nan))


def test_dispatched_order_statistics_replay_under_function_with_a_tensor_q(data):
    _, with_nan = data
    traced = xg.function(lambda x, q: np.nanquantile(x, q, axis=1) + np.nanmedian(x, axis=1))
    for q in (0.2, 0.9, 0.5):                  # one trace, then replays with new q values
        got = traced(xg.asarray(with_nan), xg.asarray(q, dtype=xg.float64))
        want = np.nanquantile(with_nan, q, axis=1) + np.nanmedian(with_nan, axis=1)
        np.testing.assert_allclose(got.numpy(), want)


@pytest.mark.parametrize("name, q", [("quantile", [0.2, 0.9]), ("percentile", 35.0),
                                     ("nanquantile", 0.5), ("nanpercentile", [10.0, 60.0])])
def test_xpgrad_order_statistics_take_q_by_keyword_as_numpy(name, q, data):
    # xarray calls xp.nanquantile(a, q=q, axis=..., method=...) on the array's namespace
    _, a = data
    got = getattr(xg, name)(xg.asarray(a), q=q, axis=1, method="midpoint")
    np.testing.assert_allclose(got.numpy(), getattr(np, name)(a, q=q, axis=1, method="midpoint"),
                               rtol=1e-12)
    with pytest.raises(TypeError, match="q"):
        getattr(xg, name)(xg.asarray(a), axis=1)


def test_order_statistics_differentiate(data):
    a, _ = data
    check_grads(lambda t: np.median(t, axis=0), xg.asarray(a))
    check_grads(lambda t: np.median(t[:, :5], axis=1), xg.asarray(a))     # an odd count
    check_grads(lambda t: np.percentile(t, [20, 70], axis=1), xg.asarray(a))
    check_grads(lambda t: np.quantile(t, 0.35), xg.asarray(a))


def test_quantile_gradient_equals_pytorch(data):
    torch = pytest.importorskip("torch")
    a, _ = data
    q = [0.1, 0.5, 0.85]
    x = xg.Variable(a)
    with xg.GradientTape() as tape:
        y = (np.quantile(x, q, axis=0) ** 2).sum()
    t = torch.tensor(a, requires_grad=True)
    (torch.quantile(t, torch.tensor(q, dtype=torch.float64), dim=0) ** 2).sum().backward()
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), t.grad.numpy(), rtol=1e-12)


def test_median_of_an_even_count_splits_the_gradient_between_the_middle_values():
    x = xg.Variable(np.array([4.0, 1.0, 3.0, 2.0]))
    with xg.GradientTape() as tape:
        y = np.median(x)
    assert y.item() == 2.5
    assert tape.gradient(y, x).tolist() == [0.0, 0.0, 0.5, 0.5]


PAD_WIDTHS = [1, (1, 2), ((0, 3), (2, 1)), ((7, 8), (9, 2))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("width", PAD_WIDTHS, ids=str)
def test_pad_equals_numpy(backend, mode, width, data):
    a, _ = data
    kwargs = {"constant_values": ((1.5, 2.5), (3.5, 4.5))} if mode == "constant" else {}
    got = np.pad(xg.asarray(a, backend=backend), width, mode=mode, **kwargs)
    np.testing.assert_array_equal(got.numpy(), np.pad(a, width, mode=mode, **kwargs))


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad_differentiates(mode, data):
    a, _ = data
    check_grads(lambda t: np.pad(t, ((2, 1), (3, 4)), mode=mode), xg.asarray(a))


@pytest.mark.parametrize("mode, torch_mode", [("constant", "constant"), ("edge", "replicate"),
                                              ("reflect", "reflect"), ("wrap", "circular")])
def test_pad_gradient_equals_pytorch(mode, torch_mode, data):
    torch = pytest.importorskip("torch")
    a, _ = data
    weights = np.random.default_rng(0).normal(size=(5 + 3, 6 + 5))
    x = xg.Variable(a)
    with xg.GradientTape() as tape:
        y = (np.pad(x, ((1, 2), (3, 2)), mode=mode) * weights).sum()
    t = torch.tensor(a, requires_grad=True)
    padded = torch.nn.functional.pad(t[None, None], (3, 2, 1, 2), mode=torch_mode)[0, 0]
    (padded * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), t.grad.numpy(), rtol=1e-12)


def test_polyval_equals_numpy_and_differentiates_in_both_arguments(data):
    a, _ = data
    p = [2.0, -1.0, 0.5]
    np.testing.assert_allclose(np.polyval(p, xg.asarray(a)).numpy(), np.polyval(p, a))
    check_grads(lambda c, t: np.polyval(c, t), (xg.asarray(p, dtype=xg.float64), xg.asarray(a[0])))


def test_bad_input_is_named(data):
    a, _ = data
    x = xg.Variable(a)
    with pytest.raises(ValueError, match="q must be in"):
        np.quantile(x, 1.5)
    with pytest.raises(ValueError, match="q must be in"):
        np.percentile(x, -10)
    with pytest.raises(ValueError, match="pad_width must not be negative"):
        np.pad(x, -1)
    with pytest.raises(TypeError, match="pad_width must be integers"):
        np.pad(x, 1.5)
    with pytest.raises(TypeError, match="constant_values is for mode='constant'"):
        np.pad(x, 1, mode="edge", constant_values=3)
    # what is not translated raises under a tape (the gradient would be lost) ...
    with xg.GradientTape() as tape:
        with pytest.raises(TypeError, match="np.percentile with method='weibull'"):
            np.percentile(x, 50, method="weibull")
        with pytest.raises(TypeError, match="np.pad with mode='maximum'"):
            np.pad(x, 1, mode="maximum")
    del tape
    # ... and runs NumPy on the values outside one
    np.testing.assert_array_equal(np.pad(xg.asarray(a), 1, mode="maximum"),
                                  np.pad(a, 1, mode="maximum"))


# NumPy's functions on integer Tensors give NumPy's dtypes (float64, or the input's where a
# method picks an entry); xpgrad's own (xg.mean) the default float, float32, as PyTorch's
_OF_INTEGERS = {
    "mean": lambda a: np.mean(a, axis=0), "var": lambda a: np.var(a, ddof=1),
    "std": lambda a: np.std(a, axis=1, keepdims=True), "average": np.average,
    "nanmean": np.nanmean, "median": lambda a: np.median(a, axis=1), "nanmedian": np.nanmedian,
    "percentile": lambda a: np.percentile(a, [10, 65]),
    "quantile lower": lambda a: np.quantile(a, 0.3, method="lower"),
    "nanpercentile nearest": lambda a: np.nanpercentile(a, 40, axis=0, method="nearest"),
    "quantile midpoint": lambda a: np.quantile(a, 0.3, method="midpoint"),
    "average weights": lambda a: np.average(a, axis=1, weights=np.arange(1, 6)),
    "average float32 weights": lambda a: np.average(a, weights=np.ones(a.shape, np.float32)),
    "average list weights": lambda a: np.average(a, axis=0, weights=[0.5, 1.5, 1.0, 2.0]),
    "sum": np.sum, "max": lambda a: np.max(a, axis=0),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(_OF_INTEGERS))
def test_numpy_functions_of_integers_give_numpys_dtype(backend, name):
    fn = _OF_INTEGERS[name]
    a = np.random.default_rng(4).integers(-50, 50, size=(4, 5))
    got, want = fn(xg.asarray(a, backend=backend)), fn(a)
    assert str(got.dtype) == np.asarray(want).dtype.name, (got.dtype, want.dtype)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-15, atol=0)


def test_numpy_mean_of_booleans_and_the_float_rules_stay():
    flags = np.array([True, False, True, True])
    assert np.mean(xg.asarray(flags)).dtype == xg.float64
    assert np.mean(xg.asarray(flags)).item() == np.mean(flags)
    ints = xg.asarray([1, 2, 2])
    assert xg.mean(ints).dtype == xg.float32                 # xpgrad's own: the default float
    assert np.mean(ints, dtype=np.float32).dtype == xg.float32      # an explicit dtype wins
    floats = xg.asarray([1.0, 2.5])
    assert np.mean(floats).dtype == np.var(floats).dtype == xg.float32
    assert np.average(floats, weights=xg.asarray([1.0, 3.0])).dtype == xg.float32
    # NumPy: float32 values with int64 (list) weights average in float64
    assert np.average(floats, weights=[1, 3]).dtype == xg.float64
    with pytest.raises(ZeroDivisionError):
        np.average(ints, weights=[1, -1, 0])
    for backend in BACKENDS:        # an array averaged by Tensor weights: on their backend
        got = np.average(np.array([1, 2]), weights=xg.asarray([1.0, 3.0], backend=backend))
        assert got.backend.name == backend and got.dtype == xg.float64 and got.item() == 1.75


def test_numpy_average_of_integers_differentiates_in_its_weights():
    a = xg.asarray([3, -1, 4, 1])
    check_grads(lambda w: np.average(a, weights=w), (xg.asarray([0.5, 1.0, 2.0, 1.5],
                                                                dtype=xg.float64),))
    torch = pytest.importorskip("torch")
    w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64, requires_grad=True)
    (torch.tensor([3, -1, 4, 1]) * w).sum().div(w.sum()).backward()
    grad = xg.grad(lambda w: np.average(a, weights=w))(
        xg.asarray([0.5, 1.0, 2.0, 1.5], dtype=xg.float64))
    np.testing.assert_allclose(grad.numpy(), w.grad.numpy(), rtol=1e-15)
