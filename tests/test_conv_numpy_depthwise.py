"""The NumPy backend's depthwise ``conv`` kernel (per-tap multiply-adds on padded planes: wide
rows for stride 1, strided windows otherwise) against the primitive's generic rule on raw
arrays (values and every gradient, float32 and float64, strides, dilation, channel
multipliers, uneven padding, 1-d, batch 1, odd sizes), against PyTorch through
``xg.nn.conv2d`` / ``conv1d`` on the numpy backend, and the inputs it declines."""
import numpy as np
import pytest

import xpgrad as xg
from window_checks import assert_conv_kernel_matches_rule, ours, theirs
from xpgrad.backends.numpy import convolution
from xpgrad.primitive import PRIMITIVES

#: (x shape, w shape, stride, dilation, pads, groups)
CASES = [
    ((2, 4, 8, 8), (4, 1, 3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 4),
    ((1, 3, 7, 5), (6, 1, 3, 2), (1, 1), (2, 1), ((2, 1), (0, 3)), 3),      # multiplier 2
    ((2, 3, 9, 6), (6, 1, 3, 2), (2, 3), (2, 1), ((2, 2), (1, 1)), 3),
    ((3, 2, 5, 7), (2, 1, 5, 5), (1, 2), (1, 1), ((3, 3), (3, 3)), 2),      # pad > input
    ((1, 5, 3, 11), (5, 1, 1, 4), (3, 1), (1, 2), ((0, 0), (2, 2)), 5),
    ((2, 4, 10), (8, 1, 3), (1,), (2,), ((1, 1),), 4),                      # 1-d
    ((1, 3, 13), (3, 1, 4), (3,), (1,), ((2, 0),), 3),                      # 1-d strided
]


def _params(stride, dilation, pads, groups):
    return {"stride": stride, "dilation": dilation, "pads": pads, "groups": groups}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_generic_rule(case, dtype):
    xs, ws, *geometry = case
    params = _params(*geometry)
    rng = np.random.default_rng(0)
    x, w = (rng.standard_normal(s).astype(dtype) for s in (xs, ws))
    prim, kernel = PRIMITIVES["conv"], convolution.KERNELS["conv"]
    want_y = prim.forward(np, x, w, **params)
    g = rng.standard_normal(want_y.shape).astype(dtype)
    y, saved = kernel.forward(x, w, **params)
    tol = 1e-12 if dtype == "float64" else 2e-5
    assert_conv_kernel_matches_rule(kernel, y, saved, g, want_y, x, w, params, tol)


def test_broadcast_output_gradient():
    params = _params((1, 1), (1, 1), ((1, 1), (1, 1)), 2)
    x, w = np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3))
    kernel = convolution.KERNELS["conv"]
    y, saved = kernel.forward(x, w, **params)
    dx, dw = kernel.vjp(np.asarray(1.0), saved, (True, True), x, w, **params)
    want = PRIMITIVES["conv"].vjp(np, np.ones(y.shape), y, (True, True), (x, w), params)
    np.testing.assert_allclose(dx, want[0])
    np.testing.assert_allclose(dw, want[1])


@pytest.mark.parametrize("x, w, groups", [
    (np.ones((1, 2, 3, 4, 4)), np.ones((2, 2, 1, 3, 3)), 1),              # one group, 3-d
    (np.ones((1, 2, 4, 4), np.int64), np.ones((2, 2, 3, 3), np.int64), 1),     # one group, ints
    (np.ones((0, 2, 4, 4)), np.ones((2, 2, 3, 3)), 1),                    # one group, empty
    (np.ones((1, 4, 4, 4)), np.ones((2, 2, 3, 3)), 2),                    # groups, not depthwise
    (np.ones((1, 2, 4, 4), np.int64), np.ones((2, 1, 3, 3), np.int64), 2),     # integers
    (np.ones((1, 2, 4, 4), np.float32), np.ones((2, 1, 3, 3)), 2),       # mixed dtypes
    (np.ones((1, 2, 3, 4, 4)), np.ones((2, 1, 1, 3, 3)), 2),              # 3-d
    (np.ones((0, 2, 4, 4)), np.ones((2, 1, 3, 3)), 2)])                   # empty
def test_declines_to_the_generic_rule(x, w, groups):
    dims = x.ndim - 2
    params = _params((1,) * dims, (1,) * dims, ((1, 1),) * dims, groups)
    assert convolution.KERNELS["conv"].forward(x, w, **params) is None


def test_numpy_backend_uses_the_kernel(monkeypatch):
    calls = []
    original = convolution.KERNELS["conv"].forward
    kernel = xg.get_backend("numpy").kernels["conv"]
    assert kernel is convolution.KERNELS["conv"]
    monkeypatch.setattr(convolution, "_padded", lambda *a, _f=convolution._padded:
                        calls.append(1) or _f(*a))
    xg.nn.conv2d(xg.ones((1, 2, 4, 4), backend="numpy"), xg.ones((2, 1, 3, 3), backend="numpy"),
                 groups=2)
    assert calls and original is kernel.forward


torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


@pytest.mark.parametrize("dims, kwargs, ws", [
    (2, {"padding": 1, "groups": 4}, (4, 1, 3, 3)),
    (2, {"padding": 1, "stride": 2, "groups": 4}, (8, 1, 3, 3)),
    (2, {"padding": 2, "dilation": 2, "groups": 4}, (4, 1, 3, 3)),
    (1, {"padding": 2, "groups": 4}, (4, 1, 5))])
def test_numpy_backend_matches_torch(dims, kwargs, ws):
    rng = np.random.default_rng(3)
    xs = (2, 4, 9, 8) if dims == 2 else (1, 4, 11)
    arrays = [rng.standard_normal(s) for s in (xs, ws, (ws[0],))]
    conv = xg.nn.conv2d if dims == 2 else xg.nn.conv1d
    tconv = torch.nn.functional.conv2d if dims == 2 else torch.nn.functional.conv1d
    y, grads = ours(conv, "numpy", arrays, kwargs)
    ty, tgrads = theirs(tconv, arrays, kwargs)
    for what, a, t in zip(("y", "dx", "dw", "db"), [y.numpy()] + [g.numpy() for g in grads],
                          [ty.detach().numpy()] + tgrads):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10, err_msg=what)


def test_second_order_uses_the_generic_rule():
    rng = np.random.default_rng(4)
    x, w = (xg.asarray(rng.standard_normal(s), backend="numpy") for s in ((1, 2, 4, 3),
                                                                          (2, 1, 2, 2)))
    xg.testing.check_grads(lambda x, w: xg.nn.conv2d(x, w, padding=1, groups=2) ** 2, (x, w),
                           order=2)


def test_docstring_example():
    import doctest

    assert doctest.testmod(convolution).failed == 0
