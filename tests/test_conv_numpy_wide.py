"""The NumPy backend's small stride-1 ``conv`` path (``backends/numpy/convolution_wide.py``:
the images' padded planes end to end, columns by shifted slices, one GEMM per product)
against the primitive's generic rule on raw arrays (values and every gradient, float32 and
float64, dilations, uneven padding, padding larger than the input, no padding, 1x1 and
non-square kernels, 1-d, batch 1, more output than input channels and fewer), against PyTorch
through ``xg.nn.conv2d`` / ``conv1d`` (bias included), against finite differences, and the
convolutions it leaves to ``convolution_gemm.py``."""
import numpy as np
import pytest

import xpgrad as xg
from window_checks import (assert_conv_kernel_matches_rule, assert_conv_vjp_takes_layout,
                           assert_numpy_conv_matches_torch, assert_replay_equals_eager)
from xpgrad.backends.numpy import convolution, convolution_gemm, convolution_wide
from xpgrad.primitive import PRIMITIVES

pytestmark = pytest.mark.usefixtures("numpy_default")

#: (x shape, w shape, dilation, pads), channels first, stride 1
CASES = [
    ((2, 8, 6, 7), (5, 8, 3, 3), (1, 1), ((1, 1), (1, 1))),
    ((1, 9, 9, 8), (4, 9, 3, 2), (2, 3), ((2, 1), (0, 3))),        # dilation, uneven, batch 1
    ((2, 8, 5, 5), (3, 8, 5, 5), (1, 1), ((4, 4), (4, 4))),        # pad > input
    ((3, 8, 6, 5), (12, 8, 2, 3), (1, 1), ((0, 0), (0, 0))),       # valid, more outputs
    ((2, 16, 4, 4), (16, 16, 1, 1), (1, 1), ((0, 0), (0, 0))),     # 1x1: products per image
    ((2, 8, 7), (5, 8, 1), (3,), ((0, 0),)),                       # 1-d 1x1
    ((2, 8, 4, 6), (3, 8, 1, 1), (1, 1), ((1, 0), (0, 2))),        # 1x1 on a padded frame
    ((3, 8, 5, 6), (3, 8, 2, 3), (2, 2), ((0, 3), (3, 0))),        # padding on one side
    ((2, 8, 3, 4), (2, 8, 1, 2), (1, 3), ((2, 3), (4, 1))),        # grid as large as the output
    ((2, 10, 12), (4, 10, 3), (2,), ((2, 2),)),                    # 1-d
    ((2, 8, 3), (4, 8, 2), (1,), ((4, 5),)),                       # 1-d, pad > input
    ((3, 8, 9), (6, 8, 4), (1,), ((0, 1),)),                       # 1-d, even kernel
]


def _params(dilation, pads):
    return {"stride": (1,) * len(dilation), "dilation": dilation, "pads": pads, "groups": 1}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_generic_rule(case, dtype):
    xs, ws, dilation, pads = case
    params = _params(dilation, pads)
    rng = np.random.default_rng(0)
    x, w = (rng.standard_normal(s).astype(dtype) for s in (xs, ws))
    want_y = PRIMITIVES["conv"].forward(np, x, w, **params)
    g = rng.standard_normal(want_y.shape).astype(dtype)
    kernel = convolution.KERNELS["conv"]
    y, saved = kernel.forward(x, w, **params)
    assert isinstance(saved, convolution_wide.Saved)        # this path ran
    tol = 1e-12 if dtype == "float64" else 3e-5
    assert_conv_kernel_matches_rule(kernel, y, saved, g, want_y, x, w, params, tol)


@pytest.mark.parametrize("size", [3, 1])
@pytest.mark.parametrize("layout", ["broadcast", "transposed", "strided"])
def test_any_output_gradient_layout(layout, size):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 9, 6, 7)), rng.standard_normal((4, 9, size, size))
    params = _params((1, 1), ((size // 2, size // 2),) * 2)
    assert_conv_vjp_takes_layout(convolution.KERNELS["conv"], x, w, params, layout, rng)


@pytest.mark.parametrize("size", [3, 1])
def test_input_of_any_layout(size):
    rng = np.random.default_rng(4)
    x = np.moveaxis(rng.standard_normal((2, 6, 7, 9)), -1, 1)[:, :, ::2]    # (2, 9, 3, 7)
    w = rng.standard_normal((4, 9, size, size))
    params = _params((1, 1), ((size // 2, size // 2),) * 2)
    kernel = convolution.KERNELS["conv"]
    y, saved = kernel.forward(x, w, **params)
    want_y = PRIMITIVES["conv"].forward(np, x, w, **params)
    g = rng.standard_normal(want_y.shape)
    assert_conv_kernel_matches_rule(kernel, y, saved, g, want_y, x, w, params, 1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, channels_last", [
    ((2, 8, 6, 6), (4, 8, 3, 3), (2, 2), False),              # strided
    ((2, 8, 6, 6), (4, 8, 3, 3), (1, 2), False),
    ((2, 6, 6, 8), (3, 3, 8, 4), (1, 1), True),               # channels last
    ((2, 7, 6, 6), (4, 7, 3, 3), (1, 1), False),              # few channels: the generic rule
    ((16, 64, 16, 16), (64, 64, 3, 3), (1, 1), False)])       # columns past WIDE_BUDGET
def test_leaves_the_rest_to_the_im2col_path(x_shape, w_shape, stride, channels_last):
    x, w = np.ones(x_shape, np.float32), np.ones(w_shape, np.float32)
    params = dict(_params((1, 1), ((1, 1), (1, 1))), stride=stride)
    assert convolution_wide.frame_for(x, w, channels_last=channels_last, **params) is None
    out = convolution.KERNELS["conv"].forward(x, w, channels_last=channels_last, **params)
    assert out is None or not isinstance(out[1], convolution_wide.Saved)
    taken = convolution_gemm.accepts(x, w, 1, channels_last)
    assert (out is not None) == taken


def test_large_1x1_kernels_run_per_image():
    x, w = np.ones((16, 64, 16, 16), np.float32), np.ones((64, 64, 1, 1), np.float32)
    frame = convolution_wide.frame_for(x, w, (1, 1), (1, 1), ((0, 0), (0, 0)), 1, False)
    assert frame.pointwise                          # past WIDE_BUDGET: no columns made
    y, saved = convolution.KERNELS["conv"].forward(x, w, **_params((1, 1), ((0, 0), (0, 0))))
    assert saved.columns.base is x
    np.testing.assert_array_equal(y, np.full((16, 64, 16, 16), 64.0, np.float32))


@pytest.mark.parametrize("size", [3, 1])
def test_function_replay_equals_eager(size):
    layer = xg.nn.Conv2d(8, 5, size, padding=size // 2, dtype="float64", backend="numpy",
                         rng=0)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.nn.relu(layer(x)) ** 2)
        return [loss] + tape.gradient(loss, [x, layer.weight, layer.bias])

    assert_replay_equals_eager(step, (2, 8, 6, 5), "numpy")


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    x, w = (xg.asarray(rng.standard_normal(s), backend="numpy") for s in ((2, 8, 5, 4),
                                                                          (3, 8, 3, 2)))
    xg.testing.check_grads(lambda x, w: xg.nn.conv2d(x, w, padding=(2, 1), dilation=(1, 2)),
                           (x, w))
    xg.testing.check_grads(lambda x, w: xg.nn.conv2d(x, w, padding=1) ** 2, (x, w), order=2)


torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


@pytest.mark.parametrize("dims, xs, ws, kwargs", [
    (2, (8, 16, 16, 16), (16, 16, 3, 3), {"padding": 1}),
    (2, (8, 16, 16, 16), (16, 16, 3, 3), {"padding": 2, "dilation": 2}),
    (2, (1, 64, 8, 8), (64, 64, 3, 3), {"padding": 1}),
    (2, (8, 16, 16, 16), (16, 16, 1, 1), {}),
    (2, (3, 9, 9, 8), (3, 9, 2, 4), {"padding": "same"}),
    (1, (2, 8, 11), (6, 8, 5), {"padding": 2})])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_backend_matches_torch(dims, xs, ws, kwargs, dtype, monkeypatch):
    calls = []
    monkeypatch.setattr(convolution_wide, "conv_forward",
                        lambda *a, _f=convolution_wide.conv_forward: calls.append(1) or _f(*a))
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (xs, ws, (ws[0],))]
    assert_numpy_conv_matches_torch(dims, arrays, kwargs)
    assert calls == [1]                          # xg.nn.conv* took this path


def test_docstring_examples():
    import doctest

    assert doctest.testmod(convolution_wide).failed == 0
