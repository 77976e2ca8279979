"""Average pooling's window sums as one product per axis with a 0/1 window matrix
(``xpgrad/nn/avg_pooling.py``): values and gradients against PyTorch in float32 and float64
(padding counted and not, ceil mode, channels last, non-contiguous input), second order
against finite differences, the window matrices and the divisor (a float where every window
shares it)."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn.avg_pooling import _divisor, _window_matrix
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

_CASES = [
    ("avg_pool2d", (2, 3, 14, 14), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d", (2, 3, 14, 13), dict(kernel_size=3, stride=2, padding=1,
                                        count_include_pad=False)),
    ("avg_pool2d", (2, 3, 14, 14), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("avg_pool2d", (2, 3, 9, 11), dict(kernel_size=(3, 2), stride=(1, 3), padding=(1, 0))),
    ("avg_pool2d", (2, 3, 9, 11), dict(kernel_size=(1, 4), stride=(2, 1), padding=(0, 2),
                                       count_include_pad=False, ceil_mode=True)),
    ("avg_pool1d", (2, 3, 56), dict(kernel_size=3, stride=2, padding=1,
                                    count_include_pad=False)),
    ("avg_pool1d", (2, 3, 57), dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)),
]


def _torch(fn, x0, kwargs):
    tx = torch.tensor(x0, requires_grad=True)
    ty = getattr(F, fn)(tx, **kwargs)
    (ty * torch.arange(float(ty.numel()), dtype=tx.dtype).reshape(ty.shape)).sum().backward()
    return ty.detach().numpy(), tx.grad.numpy()


def _ours(fn, x, kwargs, last=False, **extra):
    """Value and gradient of the weighted sum ``_torch`` takes (the weights counted in the
    channels-first order, as there)."""
    with xg.GradientTape() as tape:
        tape.watch(x)
        y = getattr(xg.nn, fn)(x, **kwargs, **extra)
        first = (y.shape[0], y.shape[-1]) + y.shape[1:-1] if last else y.shape
        w = xg.arange(float(y.size), dtype=y.dtype).reshape(first)
        loss = xg.sum(y * (xg.permute_dims(w, (0, 2, 3, 1)) if last else w))
    return y.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fn,shape,kwargs", _CASES, ids=str)
def test_matches_torch(fn, shape, kwargs, dtype):
    x0 = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    want = _torch(fn, x0, kwargs)
    tol = 1e-12 if dtype == "float64" else 1e-5
    for got, w in zip(_ours(fn, xg.asarray(x0), kwargs), want):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, w, rtol=tol, atol=tol)


def test_channels_last_and_non_contiguous_input():
    x0 = np.random.default_rng(1).standard_normal((2, 14, 13, 3))
    kwargs = dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)
    want = _torch("avg_pool2d", np.ascontiguousarray(np.moveaxis(x0, -1, 1)), kwargs)
    y, dx = _ours("avg_pool2d", xg.asarray(x0), kwargs, last=True,
                  data_format="channels_last")
    np.testing.assert_allclose(np.moveaxis(y, -1, 1), want[0], rtol=1e-12)
    np.testing.assert_allclose(np.moveaxis(dx, -1, 1), want[1], rtol=1e-12)
    strided = xg.permute_dims(xg.asarray(x0), (0, 3, 1, 2))         # not contiguous
    y, dx = _ours("avg_pool2d", strided, kwargs)
    np.testing.assert_allclose(y, want[0], rtol=1e-12)
    np.testing.assert_allclose(dx, want[1], rtol=1e-12)


def test_second_order_matches_finite_differences():
    x = xg.asarray(np.random.default_rng(2).standard_normal((1, 2, 7, 6)))
    check_grads(lambda x: xg.nn.avg_pool2d(x * x, 3, 2, 1, count_include_pad=False), [x],
                order=2)
    check_grads(lambda x: xg.nn.avg_pool1d(x[:, :, 0] ** 2, 3, 2, 1, ceil_mode=True), [x],
                order=2)


def test_window_matrices_leave_the_padding_out():
    rows = _window_matrix(5, 3, 2, 1, 3)            # windows [-1, 2), [1, 4), [3, 6)
    assert rows.tolist() == [[1, 1, 0, 0, 0], [0, 1, 1, 1, 0], [0, 0, 0, 1, 1]]
    assert not rows.flags.writeable


def test_divisor_is_a_float_where_every_window_shares_it():
    assert _divisor((8, 8), (2, 2), (2, 2), ((0, 0), (0, 0)), (4, 4), True) == 4.0
    edge = _divisor((5,), (3,), (2,), ((1, 1),), (3,), False)
    assert edge.tolist() == [2.0, 3.0, 2.0] and not edge.flags.writeable


def test_bad_arguments_are_refused_by_name():
    x = xg.ones((1, 2, 6, 6))
    with pytest.raises(ValueError, match="avg_pool2d.*padding"):
        xg.nn.avg_pool2d(x, 2, padding=2)
    with pytest.raises(TypeError, match="count_include_pad"):
        xg.nn.avg_pool2d(x, 2, count_include_pad="no")
