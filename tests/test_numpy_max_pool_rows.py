"""The NumPy ``max_pool`` kernel's path for windows that tile the planes, one per plane of 16
or more entries (global max pooling) or several of 64 or more
(``backends/numpy/max_pooling.py``: one ``argmax`` per window's row): against the primitive's
generic rule (values bit for bit, positions, gradients, ties, NaN, -inf, signed zeros, channels
last, float32 and float64), against PyTorch's ``adaptive_max_pool2d`` / ``max_pool1d/2d``
(values, indices, gradients), against finite differences, and on non-contiguous input."""
import numpy as np
import pytest

import xpgrad as xg
from pool_helpers import check_kernel_against_generic_rule
from xpgrad.backends.numpy import max_pooling
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional
pytestmark = pytest.mark.usefixtures("numpy_default")

#: (x shape, kernel, stride, padding, dilation, ceil_mode): tiling windows, long enough
TILING = [
    ((2, 3, 8, 8), (8, 8), (8, 8), (0, 0), (1, 1), False),        # global
    ((2, 3, 5, 7), (5, 7), (1, 1), (0, 0), (1, 1), False),        # global, any stride
    ((2, 3, 17, 18), (8, 8), (8, 8), (0, 0), (1, 1), False),      # cropped rows and columns
    ((2, 3, 3, 64), (1, 64), (1, 64), (0, 0), (1, 1), False),
    ((2, 3, 150), (64,), (64,), (0,), (1,), False),
    ((2, 3, 20), (20,), (20,), (0,), (1,), False),
]


@pytest.mark.parametrize("last", [False, True], ids=["channels_first", "channels_last"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", TILING, ids=str)
def test_rows_match_the_generic_rule(case, dtype, last):
    assert max_pooling._tiled(case[0][2:], case[1], case[2], case[4],
                              tuple((p, p) for p in case[3]),
                              tuple(n // k if s == k else 1
                                    for n, k, s in zip(case[0][2:], case[1], case[2])))
    check_kernel_against_generic_rule(max_pooling.KERNELS, case, dtype, last)


def test_only_tiling_windows_take_the_rows():
    tiled = max_pooling._tiled
    none = ((0, 0), (0, 0))
    assert tiled((16, 16), (8, 8), (8, 8), (1, 1), none, (2, 2))
    assert tiled((4, 4), (4, 4), (1, 1), (1, 1), none, (1, 1))                # global
    assert not tiled((3, 3), (3, 3), (3, 3), (1, 1), none, (1, 1))            # 9 entries
    assert not tiled((16, 16), (4, 4), (4, 4), (1, 1), none, (4, 4))          # 16 each
    assert not tiled((16, 16), (8, 8), (4, 4), (1, 1), none, (3, 3))          # overlap
    assert not tiled((16, 16), (8, 8), (8, 8), (1, 1), ((1, 1), (0, 0)), (2, 2))  # padding
    assert not tiled((16, 16), (8, 8), (8, 8), (2, 1), none, (1, 2))          # dilation
    assert not tiled((12, 16), (8, 8), (8, 8), (1, 1), ((0, 4), (0, 0)), (2, 2))  # ceil


def _special_planes(dtype):
    """(2, 4, 5, 6): ties of the maximum, two NaNs, a plane of -inf, signed zeros."""
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 6)).astype(dtype)
    x[0, 0, 1, 2] = x[0, 0, 3, 4] = x[0, 0, 4, 5] = 9.0            # first of three ties
    x[0, 1, 0, 1] = x[0, 1, 2, 3] = np.nan                          # the last NaN wins
    x[0, 1, 4, 5] = 9.0
    x[0, 2] = -np.inf                                               # first entry
    x[0, 3] = 0.0
    x[0, 3, 0, 0] = -0.0                                            # the first zero: -0.0
    return x


def _torch_global(x):
    tx = torch.tensor(x, requires_grad=True)
    ty, ti = F.adaptive_max_pool2d(tx, 1, return_indices=True)
    w = torch.arange(1.0, ty.numel() + 1, dtype=tx.dtype).reshape(ty.shape)
    (torch.nan_to_num(ty, nan=0.0, neginf=0.0) * w).sum().backward()
    return ty.detach().numpy(), ti.numpy(), tx.grad.numpy()


def _xg_global(x, **kwargs):
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y, i = xg.nn.adaptive_max_pool2d(xt, 1, return_indices=True, **kwargs)
        w = xg.arange(1.0, y.size + 1, dtype=y.dtype).reshape(y.shape)
        loss = xg.sum(xg.nan_to_num(y, nan=0.0, neginf=0.0) * w)
    return y.numpy(), i.numpy(), tape.gradient(loss, xt).numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_global_max_pooling_matches_torch_on_ties_nan_and_inf(dtype):
    x = _special_planes(dtype)
    want, got = _torch_global(x), _xg_global(x)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[1][0, 0, 0, 0] == 1 * 6 + 2 and got[1][0, 1, 0, 0] == 2 * 6 + 3
    assert got[1][0, 2, 0, 0] == 0 and np.signbit(got[0][0, 3, 0, 0])
    y = xg.nn.adaptive_max_pool2d(xg.asarray(x), 1).numpy()   # no tape: the maxima alone
    np.testing.assert_array_equal(y, want[0])


def test_global_max_pooling_channels_last_matches_channels_first():
    x = _special_planes("float32")
    first = _xg_global(x)
    y, i, dx = _xg_global(np.ascontiguousarray(np.moveaxis(x, 1, -1)),
                          data_format="channels_last")
    for g, w in zip((y, i, dx), first):
        np.testing.assert_array_equal(np.moveaxis(g, -1, 1), w)


@pytest.mark.parametrize("fn,shape,kwargs", [
    ("max_pool2d", (2, 3, 17, 18), {"kernel_size": 8}),
    ("max_pool1d", (2, 3, 130), {"kernel_size": 64}),
    ("adaptive_max_pool2d", (2, 3, 28, 28), {"output_size": 2}),
    ("adaptive_max_pool2d", (2, 3, 28, 28), {"output_size": 1}),
    ("adaptive_max_pool1d", (2, 3, 130), {"output_size": 2}),
])
def test_tiling_windows_match_torch(fn, shape, kwargs):
    x = np.random.default_rng(2).integers(-3, 4, size=shape).astype(np.float64)  # ties
    x.flat[5] = x.flat[7] = np.nan
    tx = torch.tensor(x, requires_grad=True)
    ty, ti = getattr(F, fn)(tx, return_indices=True, **kwargs)
    (torch.nan_to_num(ty) * torch.arange(float(ty.numel())).reshape(ty.shape)).sum().backward()
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y, i = getattr(xg.nn, fn)(xt, return_indices=True, **kwargs)
        loss = xg.sum(xg.nan_to_num(y) * xg.arange(float(y.size)).reshape(y.shape))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    np.testing.assert_array_equal(tape.gradient(loss, xt).numpy(), tx.grad.numpy())
    with xg.GradientTape() as tape:               # without indices: the primitive's kernel
        tape.watch(xt)
        y = getattr(xg.nn, fn)(xt, **kwargs)
        loss = xg.sum(xg.nan_to_num(y) * xg.arange(float(y.size)).reshape(y.shape))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(tape.gradient(loss, xt).numpy(), tx.grad.numpy())


def test_global_max_pooling_gradient_matches_finite_differences():
    x = xg.asarray(np.random.default_rng(3).standard_normal((2, 3, 4, 5)))
    check_grads(lambda x: xg.nn.adaptive_max_pool2d(x * x, 1), [x], order=1)
    check_grads(lambda x: xg.nn.max_pool2d(x, (4, 5)) ** 2, [x], order=2)


def test_non_contiguous_input():
    base = np.random.default_rng(4).standard_normal((2, 8, 3, 8))
    x = np.swapaxes(base, 1, 2)                     # (2, 3, 8, 8), not contiguous
    params = dict(kernel=(8, 8), stride=(8, 8), dilation=(1, 1), pads=((0, 0), (0, 0)),
                  n_out=(1, 1), backend=None)
    y, pick = max_pooling.KERNELS["max_pool"].forward(x, **params)
    dense = np.ascontiguousarray(x).reshape(2, 3, 64)
    np.testing.assert_array_equal(pick[..., 0, 0], dense.argmax(axis=-1))
    np.testing.assert_array_equal(y[..., 0, 0], dense.max(axis=-1))
    alone, _ = max_pooling.KERNELS["max_pool"].value(x, **params)
    np.testing.assert_array_equal(alone, y)


def test_bad_output_size_is_refused_by_name():
    x = xg.ones((1, 2, 4, 4))
    with pytest.raises(ValueError, match="adaptive_max_pool2d: output_size"):
        xg.nn.adaptive_max_pool2d(x, -1)
    with pytest.raises(ValueError, match="max_pool2d"):
        xg.nn.max_pool2d(x, 5)
