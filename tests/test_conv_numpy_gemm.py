"""The NumPy backend's one-group ``conv`` kernel (``backends/numpy/convolution_gemm.py``:
channels-last im2col and one GEMM; the input's gradient by per-tap products) against the
primitive's generic rule on raw arrays (values and every gradient, float32 and float64, both
data formats, strides, dilations, uneven padding, 1-d, batch 1, odd sizes, non-square
kernels, an output gradient of any memory layout), against PyTorch through ``xg.nn.conv2d``
/ ``conv1d`` and the layers' padding modes, against finite differences, and the inputs it
declines."""
import numpy as np
import pytest

import xpgrad as xg
from window_checks import (assert_conv_kernel_matches_rule, assert_conv_vjp_takes_layout,
                           assert_numpy_conv_matches_torch, assert_replay_equals_eager)
from xpgrad.backends.numpy import convolution, convolution_gemm, convolution_wide
from xpgrad.primitive import PRIMITIVES


@pytest.fixture(autouse=True)
def _im2col_path_only(monkeypatch):
    # small stride-1 convolutions take convolution_wide.py (tests/test_conv_numpy_wide.py)
    monkeypatch.setattr(convolution_wide, "WIDE_BUDGET", 0)


#: (x shape, w shape, stride, dilation, pads), channels first
CASES = [
    ((2, 5, 8, 8), (6, 5, 3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((1, 3, 7, 6), (4, 3, 3, 2), (2, 1), (1, 2), ((1, 1), (2, 2))),        # batch 1
    ((2, 3, 9, 7), (2, 3, 3, 3), (1, 1), (2, 2), ((2, 2), (2, 2))),        # dilation
    ((3, 2, 9, 11), (4, 2, 3, 3), (2, 2), (1, 1), ((1, 1), (1, 1))),       # stride, odd sizes
    ((2, 4, 6, 5), (3, 4, 2, 3), (1, 1), (1, 1), ((0, 1), (1, 1))),        # uneven ("same")
    ((2, 3, 5, 5), (4, 3, 5, 5), (1, 1), (1, 1), ((4, 4), (4, 4))),        # pad > input
    ((2, 1, 6, 6), (3, 1, 3, 3), (3, 2), (1, 1), ((0, 0), (1, 0))),        # one channel
    ((2, 4, 10), (6, 4, 3), (1,), (1,), ((1, 1),)),                        # 1-d
    ((1, 3, 13), (2, 3, 4), (3,), (2,), ((2, 0),)),                        # 1-d strided
    # from FEW_CHANNELS input channels on, channels first too; the input's gradient is made
    # channels last
    ((2, 8, 6, 7), (5, 8, 3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),
    ((1, 9, 9, 8), (4, 9, 3, 2), (1, 1), (2, 3), ((2, 1), (0, 3))),        # dilation, uneven
    ((3, 8, 9, 7), (6, 8, 3, 3), (2, 3), (1, 1), ((1, 1), (0, 0))),        # strides
    ((2, 8, 5, 5), (3, 8, 5, 5), (1, 1), (1, 1), ((4, 4), (4, 4))),        # pad > input
    ((2, 10, 12), (4, 10, 3), (1,), (2,), ((2, 2),)),                      # 1-d
    ((2, 8, 12), (4, 8, 3), (2,), (1,), ((1, 1),)),                        # 1-d strided
    ((1, 10, 32, 33), (12, 10, 3, 3), (1, 1), (1, 1), ((1, 1), (1, 1))),   # large planes
]


def _params(stride, dilation, pads, channels_last=False):
    return {"stride": stride, "dilation": dilation, "pads": pads, "groups": 1,
            "channels_last": channels_last}


def _last(x, w):
    return np.moveaxis(x, 1, -1), np.moveaxis(w, (0, 1), (-1, -2))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_generic_rule(case, dtype, channels_last):
    xs, ws, *geometry = case
    params = _params(*geometry, channels_last=channels_last)
    rng = np.random.default_rng(0)
    x, w = (rng.standard_normal(s).astype(dtype) for s in (xs, ws))
    if channels_last:
        x, w = (np.ascontiguousarray(a) for a in _last(x, w))
    prim, kernel = PRIMITIVES["conv"], convolution.KERNELS["conv"]
    want_y = prim.forward(np, x, w, **params)
    g = rng.standard_normal(want_y.shape).astype(dtype)
    if xs[1] < (2 if channels_last else convolution_gemm.FEW_CHANNELS):
        assert kernel.forward(x, w, **params) is None       # the generic rule is faster
        return
    y, saved = kernel.forward(x, w, **params)
    assert saved is not None                      # the GEMM path ran, not the generic rule
    tol = 1e-12 if dtype == "float64" else 3e-5
    assert_conv_kernel_matches_rule(kernel, y, saved, g, want_y, x, w, params, tol)


@pytest.mark.parametrize("layout", ["broadcast", "transposed", "strided"])
def test_any_output_gradient_layout(layout):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 9, 6, 7)), rng.standard_normal((4, 9, 3, 3))
    params = _params((1, 1), (1, 1), ((1, 1), (1, 1)))
    assert_conv_vjp_takes_layout(convolution.KERNELS["conv"], x, w, params, layout, rng)


@pytest.mark.parametrize("shape", [(2, 33, 32, 12), (1, 40, 30, 9), (2, 3, 4, 12)])
def test_channels_last_copy(shape):
    a = np.moveaxis(np.random.default_rng(5).standard_normal(shape[:1] + shape[-1:] +
                                                             shape[1:-1]), 1, -1)
    got = convolution_gemm.channels_last_copy(a)
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, a)


@pytest.mark.parametrize("x, w, groups", [
    (np.ones((1, 4, 4, 4)), np.ones((2, 2, 3, 3)), 2),                    # groups
    (np.ones((1, 2, 4, 4), np.float32), np.ones((2, 2, 3, 3)), 1),       # mixed dtypes
    (np.ones((1, 2, 4, 4), np.complex128), np.ones((2, 2, 3, 3), np.complex128), 1),
    (np.ones((1, 2, 3, 4, 4)), np.ones((2, 2, 1, 3, 3)), 1),              # 3-d
    (np.ones((0, 2, 4, 4)), np.ones((2, 2, 3, 3)), 1),                    # empty
    (np.ones((1, 7, 4, 4)), np.ones((2, 7, 3, 3)), 1)])                   # few channels
def test_declines(x, w, groups):
    assert not convolution_gemm.accepts(x, w, groups)
    dims = x.ndim - 2
    params = _params((1,) * dims, (1,) * dims, ((1, 1),) * dims)
    assert convolution_gemm.conv_forward(x, w, **dict(params, groups=groups)) is None


def test_numpy_backend_uses_the_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(convolution_gemm, "_forward_last",
                        lambda *a, _f=convolution_gemm._forward_last: calls.append(1) or _f(*a))
    xg.nn.conv2d(xg.ones((1, 8, 4, 4), backend="numpy"), xg.ones((3, 8, 3, 3), backend="numpy"))
    assert calls


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_function_replay_equals_eager(data_format):
    layer = xg.nn.Conv2d(8, 5, 3, padding=1, stride=(1, 2), dtype="float64", backend="numpy",
                         rng=0, data_format=data_format)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.nn.relu(layer(x)) ** 2)
        return [loss] + tape.gradient(loss, [x, layer.weight, layer.bias])

    shape = (2, 8, 6, 5) if data_format == "channels_first" else (2, 6, 5, 8)
    assert_replay_equals_eager(step, shape, "numpy")


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    x, w = (xg.asarray(rng.standard_normal(s), backend="numpy") for s in ((2, 8, 5, 4),
                                                                          (2, 8, 3, 2)))
    xg.testing.check_grads(lambda x, w: xg.nn.conv2d(x, w, stride=(2, 1), padding=1,
                                                     dilation=(1, 2)), (x, w))
    xg.testing.check_grads(lambda x, w: xg.nn.conv2d(x, w, padding=1) ** 2, (x, w), order=2)


torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


@pytest.mark.parametrize("dims, kwargs, ws", [
    (2, {"padding": 1}, (6, 8, 3, 3)),
    (2, {"padding": 1}, (6, 12, 3, 3)),
    (2, {"padding": 1, "stride": 2}, (5, 12, 3, 3)),
    (2, {"padding": 2, "dilation": 2}, (6, 8, 3, 3)),
    (2, {"padding": "same"}, (3, 9, 2, 4)),
    (2, {"padding": (0, 2), "stride": (1, 3)}, (2, 8, 1, 5)),
    (1, {"padding": 2}, (6, 8, 5)),
    (1, {"stride": 3, "dilation": 2}, (3, 10, 3))])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_backend_matches_torch(dims, kwargs, ws, dtype):
    rng = np.random.default_rng(3)
    xs = (3, ws[1], 9, 8) if dims == 2 else (1, ws[1], 11)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (xs, ws, (ws[0],))]
    assert_numpy_conv_matches_torch(dims, arrays, kwargs)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_layers_padding_modes_match_torch(mode, channels_last):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 9, 7, 6))
    tconv = torch.nn.Conv2d(9, 4, 3, stride=(2, 1), padding=(1, 2), padding_mode=mode,
                            dtype=torch.float64)
    layout = "channels_last" if channels_last else "channels_first"
    conv = xg.nn.Conv2d(9, 4, 3, stride=(2, 1), padding=(1, 2), padding_mode=mode,
                        dtype="float64", backend="numpy", data_format=layout)
    conv.load_torch_state_dict(tconv.state_dict())
    xt = xg.asarray(np.moveaxis(x, 1, -1) if channels_last else x, backend="numpy")
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = conv(xt)
        loss = xg.sum(y * y)
    dx, dw = tape.gradient(loss, [xt, conv.weight])
    tx = torch.tensor(x, requires_grad=True)
    ty = tconv(tx)
    (ty * ty).sum().backward()
    y, dx, dw = y.numpy(), dx.numpy(), dw.numpy()
    if channels_last:
        y, dx, dw = np.moveaxis(y, -1, 1), np.moveaxis(dx, -1, 1), \
            np.moveaxis(dw, (-1, -2), (0, 1))
    for what, a, t in zip(("y", "dx", "dw"), (y, dx, dw),
                          (ty.detach(), tx.grad, tconv.weight.grad)):
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-10, atol=1e-10, err_msg=what)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(convolution_gemm).failed == 0
