"""The ``max_pool`` primitive's Numba kernel against the primitive's generic rule on raw
arrays (values, positions and gradients, float32 and float64, 1-d and 2-d, strides, padding,
dilation with windows wholly in the padding, ceil mode, ties, NaN and -inf), the numba backend
against PyTorch through ``xg.nn.max_pool2d``, ``xg.function`` replay against eager, and second
order (the generic rule under an outer tape) against finite differences; all of it also for
the channels-last kernel (``last``), which ``data_format="channels_last"`` calls directly."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

if not backend_report().get("numba", {}).get("available"):
    pytest.skip("Numba is not installed: no kernel to test", allow_module_level=True)

from xpgrad.backends.numba import _pool  # noqa: E402
from pool_helpers import (channels_last, check_kernel_against_generic_rule, pool_data,  # noqa: E402
                          pool_params)

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

#: (x shape, kernel, stride, padding, dilation, ceil_mode)
CASES = [
    ((2, 3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), False),
    ((1, 2, 7, 8), (3, 2), (2, 3), (1, 1), (1, 1), True),
    ((2, 2, 3, 5), (2, 2), (1, 2), (1, 1), (2, 3), False),       # windows wholly in padding
    ((2, 3, 11), (4,), (3,), (2,), (1,), True),
    ((2, 2, 3), (2,), (1,), (1,), (2,), False),
    # stride 1 along the last axis: the channels-first loop of its own (the others take the
    # NumPy backend's search), borders on both sides of a row, dilation, ceil mode
    ((2, 3, 7, 9), (3, 3), (2, 1), (1, 1), (1, 2), True),
    ((1, 2, 5, 40), (2, 5), (1, 1), (1, 2), (1, 1), False),
    ((2, 3, 19), (3,), (1,), (1,), (3,), True),
]


_data, _params, _last = pool_data, pool_params, channels_last


@pytest.mark.parametrize("last", [False, True], ids=["channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_generic_rule(case, dtype, last):
    check_kernel_against_generic_rule(_pool.KERNELS, case, dtype, last)


def _step(backend, x, **kwargs):
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.nn.max_pool2d(xt, **kwargs)
        if kwargs.get("data_format") == "channels_last":
            y = xg.permute_dims(y, (0, 3, 1, 2))
        loss = xg.sum(xg.where(xg.isnan(y), 0.0, y) * xg.arange(y.size, dtype=y.dtype,
                                                                 backend=backend).reshape(
            y.shape))
    return y.numpy(), tape.gradient(loss, xt).numpy()


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2,
                                                         "padding": 1},
                                    {"kernel_size": (2, 3), "stride": 1, "dilation": 2,
                                     "ceil_mode": True}])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_numba_matches_torch_with_ties_and_nan(kwargs, data_format):
    x = _data((2, 3, 7, 8), "float64", np.random.default_rng(1))
    y, dx = _step("numba", x if data_format == "channels_first" else _last(x),
                  data_format=data_format, **kwargs)
    if data_format == "channels_last":
        dx = np.moveaxis(dx, -1, 1)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, **kwargs)
    r = torch.arange(ty.numel(), dtype=ty.dtype).reshape(ty.shape)
    (torch.where(torch.isnan(ty), 0.0, ty) * r).sum().backward()
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    ny, ndx = _step("numpy", x, **kwargs)
    np.testing.assert_array_equal(y, ny)
    np.testing.assert_allclose(dx, ndx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_function_replay_equals_eager(data_format):
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.nn.max_pool2d(x * x, 3, stride=2, padding=1,
                                           data_format=data_format) ** 2)
        return [loss, tape.gradient(loss, x)]

    compiled = xg.function(step)
    for seed in range(3):          # the first call traces, the others replay
        x = xg.asarray(np.random.default_rng(seed).standard_normal((2, 3, 7, 6)),
                       backend="numba")
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_second_order_on_numba_uses_the_generic_rule(data_format):
    x = xg.asarray(np.random.default_rng(2).standard_normal((1, 2, 5, 4)), backend="numba")
    xg.testing.check_grads(lambda x: xg.nn.max_pool2d(x, 2, stride=1, padding=1,
                                                      data_format=data_format) ** 3, (x,),
                           order=2)


def test_channels_last_runs_the_kernel_without_transposes(monkeypatch):
    calls = []
    real = _pool.max_pool_fwd_last

    def spy(x, *args):
        calls.append(x.shape)
        return real(x, *args)

    monkeypatch.setattr(_pool, "max_pool_fwd_last", spy)
    x = xg.asarray(np.ones((2, 6, 4, 3)), backend="numba")
    with xg.GradientTape() as tape:         # recorded: the search, which saves positions
        tape.watch(x)
        assert xg.nn.max_pool2d(x, 2, data_format="channels_last").shape == (2, 3, 2, 3)
        assert xg.nn.max_pool1d(x[0], 2, data_format="channels_last").shape == (6, 2, 3)
    assert calls == [(2, 6, 4, 3), (6, 1, 4, 3)]


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("stride", [1, 2])
def test_an_unrecorded_call_takes_the_maxima_alone(monkeypatch, data_format, stride):
    """No tape: the NumPy backend's maxima-only pass, no Numba search for positions; the
    same values as the search under a tape, NaN and -inf included."""
    searches = []
    for name in ("max_pool_fwd", "max_pool_fwd_last"):
        monkeypatch.setattr(_pool, name, lambda *a, real=getattr(_pool, name):
                            (searches.append(1), real(*a))[1])
    data = np.random.default_rng(3).normal(size=(2, 3, 7, 8))
    data[0, 0, 1, 2], data[1, 2, 3, :] = np.nan, -np.inf
    if data_format == "channels_last":
        data = np.ascontiguousarray(np.moveaxis(data, 1, -1))
    x = xg.asarray(data, backend="numba")
    kwargs = dict(kernel_size=3, stride=stride, padding=1, data_format=data_format)
    free = xg.nn.max_pool2d(x, **kwargs).numpy()
    assert searches == []
    with xg.GradientTape() as tape:
        tape.watch(x)
        recorded = xg.nn.max_pool2d(x, **kwargs).numpy()
    assert len(searches) == (0 if data_format == "channels_first" and stride == 2 else 1)
    np.testing.assert_array_equal(free, recorded)


@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2,
                                                         "padding": 1},
                                    {"kernel_size": (2, 3), "stride": (1, 2), "padding": 1,
                                     "ceil_mode": True},
                                    {"kernel_size": (2, 3), "stride": 1, "dilation": 2,
                                     "ceil_mode": True}])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_return_indices_on_numba_match_torch(kwargs, data_format):
    x = _data((2, 3, 7, 8), "float64", np.random.default_rng(3))
    last = data_format == "channels_last"
    xt = xg.asarray(_last(x) if last else x, backend="numba")
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y, at = xg.nn.max_pool2d(xt, return_indices=True, data_format=data_format, **kwargs)
        weights = xg.arange(y.size, dtype=y.dtype, backend="numba").reshape(y.shape)
        loss = xg.sum(xg.where(xg.isnan(y), 0.0, y) * weights)
    dx = tape.gradient(loss, xt).numpy()
    y, at, weights = y.numpy(), at.numpy(), weights.numpy()
    if last:
        y, at, dx = (np.moveaxis(a, -1, 1) for a in (y, at, dx))
        weights = np.moveaxis(weights, -1, 1)
    tx = torch.tensor(x, requires_grad=True)
    ty, tat = torch.nn.functional.max_pool2d(tx, return_indices=True, **kwargs)
    (torch.where(torch.isnan(ty), 0.0, ty) * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(at, tat.numpy())
    assert at.dtype == np.int64
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_return_indices_come_from_the_kernel_in_its_layout(monkeypatch, data_format):
    # once a composition over channels-first windows (transposed in and out for channels
    # last), 2.6x the time of the values alone: now the kernel's loop on x as it is
    from xpgrad.nn import pooling

    calls = []
    name = "max_pool_fwd_last" if data_format == "channels_last" else "max_pool_fwd"
    real = getattr(_pool, name)

    def spy(x, *args):
        calls.append(x.shape)
        return real(x, *args)

    def no_composition(*args):
        raise AssertionError("the composition ran")

    monkeypatch.setattr(_pool, name, spy)
    monkeypatch.setattr(pooling, "_first_maximum", no_composition)
    x = xg.asarray(np.random.default_rng(4).standard_normal((2, 6, 4, 3)), backend="numba")
    # channels first, stride 1 along the last axis: Numba's loop (a longer stride takes the
    # NumPy backend's search, the kernel too)
    stride = 2 if data_format == "channels_last" else 1
    y, at = xg.nn.max_pool2d(x, 2, stride=stride, data_format=data_format, return_indices=True)
    assert calls == [(2, 6, 4, 3)]
    assert y.shape == at.shape == ((2, 3, 2, 3) if data_format == "channels_last"
                                   else (2, 6, 3, 2))


def test_return_indices_second_order_and_replay():
    x = xg.asarray(np.random.default_rng(5).standard_normal((1, 2, 5, 4)), backend="numba")
    xg.testing.check_grads(lambda x: xg.nn.max_pool2d(x, 2, stride=1, padding=1,
                                                      return_indices=True)[0] ** 3, (x,),
                           order=2)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y, at = xg.nn.max_pool2d(x * x, 3, stride=2, padding=1, return_indices=True)
            loss = xg.sum(y ** 2)
        return [loss, tape.gradient(loss, x), at]

    compiled = xg.function(step)
    for seed in range(3):          # the first call traces, the others replay
        x = xg.asarray(np.random.default_rng(seed).standard_normal((2, 3, 7, 6)),
                       backend="numba")
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_docstring_example():
    import doctest

    assert doctest.testmod(_pool).failed == 0
