"""The ``max_pool`` primitive's NumPy kernel (``backends/numpy/max_pooling.py``) against the
primitive's generic rule on raw arrays (values bit for bit, positions, gradients; float32 and
float64, 1-d and 2-d, strides, padding, dilation with windows wholly in the padding, windows
wider than the input, ceil mode, ties, NaN and -inf, channels last), ``xg.nn.max_pool1d/2d``
against PyTorch (values, indices and gradients), the composition it replaced (the backend's
kernels removed) against it, and second order (the generic rule) against finite
differences."""
import numpy as np
import pytest

import xpgrad as xg
from pool_helpers import channels_last, check_kernel_against_generic_rule, pool_data, pool_params
from xpgrad.backends.numpy import max_pooling
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

#: (x shape, kernel, stride, padding, dilation, ceil_mode)
CASES = [
    ((2, 3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1), False),
    ((1, 2, 7, 8), (3, 2), (2, 3), (1, 1), (1, 1), True),
    ((2, 2, 3, 5), (2, 2), (1, 2), (1, 1), (2, 3), False),       # windows wholly in padding
    ((2, 2, 5, 2), (3, 3), (1, 1), (1, 1), (1, 1), False),       # windows wider than a row
    ((1, 2, 4, 1), (2, 3), (1, 1), (0, 1), (1, 1), True),
    ((2, 3, 11), (4,), (3,), (2,), (1,), True),
    ((2, 2, 3), (2,), (1,), (1,), (2,), False),
    ((3, 4, 40), (3,), (2,), (0,), (1,), False),                 # the probe's geometry
    ((2, 2, 9), (3,), (1,), (1,), (3,), True),
]
KERNELS = max_pooling.KERNELS


_data, _params, _last = pool_data, pool_params, channels_last


@pytest.mark.parametrize("last", [False, True], ids=["channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_kernel_matches_generic_rule(case, dtype, last):
    check_kernel_against_generic_rule(KERNELS, case, dtype, last)


def test_signed_zeros_keep_the_first_of_the_tie():
    x = np.array([[[-0.0, 0.0, 0.0, -0.0]]])
    y, pick = KERNELS["max_pool"].forward(x, kernel=(2,), stride=(2,), dilation=(1,),
                                          pads=((0, 0),), n_out=(2,), backend=None)
    assert np.signbit(y).tolist() == [[[True, False]]] and pick.tolist() == [[[0, 2]]]


def test_declines_what_it_does_not_cover():
    params = dict(kernel=(2,), stride=(2,), dilation=(1,), pads=((0, 0),), n_out=(1,),
                  backend=None)
    assert KERNELS["max_pool"].forward(np.ones((1, 1, 2), np.float16), **params) is None
    assert KERNELS["max_pool"].forward(np.ones((1, 2), np.float32), **params) is None


def _torch_step(fn, x, kwargs):
    tx = torch.tensor(x, requires_grad=True)
    ty, ti = fn(tx, return_indices=True, **kwargs)
    r = torch.arange(ty.numel(), dtype=ty.dtype).reshape(ty.shape)
    (torch.where(torch.isnan(ty), 0.0, ty) * r).sum().backward()
    return ty.detach().numpy(), ti.numpy(), tx.grad.numpy()


def _xg_step(fn, x, kwargs):
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y, i = fn(xt, return_indices=True, **kwargs)
        r = xg.arange(y.size, dtype=y.dtype).reshape(y.shape)
        loss = xg.sum(xg.where(xg.isnan(y), 0.0, y) * r)
    return y.numpy(), i.numpy(), tape.gradient(loss, xt).numpy()


@pytest.mark.parametrize("fn,shape,kwargs", [
    ("max_pool1d", (2, 3, 17), {"kernel_size": 3, "stride": 2}),
    ("max_pool1d", (2, 3, 16), {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True}),
    ("max_pool2d", (2, 3, 7, 8), {"kernel_size": 2}),
    ("max_pool2d", (2, 3, 7, 8), {"kernel_size": 3, "stride": 1, "padding": 1}),
    ("max_pool2d", (1, 2, 5, 2), {"kernel_size": 3, "stride": 1, "padding": 1}),
])
def test_values_indices_and_gradients_match_torch(fn, shape, kwargs, monkeypatch):
    x = _data(shape, "float64", np.random.default_rng(2))
    want = _torch_step(getattr(F, fn), x, kwargs)
    got = _xg_step(getattr(xg.nn, fn), x, kwargs)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    kernels = xg.get_backend("numpy").kernels           # the composition it replaced
    monkeypatch.delitem(kernels, "max_pool")
    monkeypatch.delitem(kernels, "max_pool_positions")
    for g, w in zip(_xg_step(getattr(xg.nn, fn), x, kwargs), got):
        np.testing.assert_array_equal(g, w)


def test_channels_last_matches_channels_first():
    x = np.random.default_rng(3).standard_normal((2, 3, 7, 8)).astype(np.float32)
    first = _xg_step(xg.nn.max_pool2d, x, {"kernel_size": 3, "stride": 2, "padding": 1})
    xt = xg.asarray(_last(x))
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y, i = xg.nn.max_pool2d(xt, 3, 2, 1, return_indices=True, data_format="channels_last")
        r = xg.arange(y.size, dtype=y.dtype).reshape(y.shape[:1] + y.shape[3:] + y.shape[1:3])
        loss = xg.sum(y * xg.permute_dims(r, (0, 2, 3, 1)))
    np.testing.assert_array_equal(np.moveaxis(y.numpy(), -1, 1), first[0])
    np.testing.assert_array_equal(np.moveaxis(i.numpy(), -1, 1), first[1])
    np.testing.assert_allclose(np.moveaxis(tape.gradient(loss, xt).numpy(), -1, 1), first[2],
                               rtol=1e-6)


def test_second_order_uses_the_generic_rule():
    x = xg.asarray(np.random.default_rng(4).standard_normal((1, 2, 9)))
    check_grads(lambda x: xg.nn.max_pool1d(x * x, 3, 2, padding=1), [x], order=2)
