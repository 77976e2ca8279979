"""xg.nn.max_pool2d / avg_pool2d and MaxPool2d / AvgPool2d against PyTorch's in float64 (values,
flat indices h * W + w and input gradients, overlapping windows included) on numpy and numba:
strides, padding, dilation, ceil_mode, count_include_pad, divisor_override, unbatched input,
tied maxima, NaN; finite differences; xg.function == eager; bad arguments."""
import numpy as np
import pytest

import xpgrad as xg

from window_checks import (BACKENDS, assert_layer_matches_torch, assert_raises_naming,
                           assert_replay_equals_eager, ours, theirs)

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional


# (H, W, kernel_size, keyword arguments)
MAX_CASES = [
    (8, 6, 2, {}),
    (9, 7, 3, {"stride": 2, "padding": 1}),                         # overlapping windows
    (9, 8, (3, 2), {"stride": (2, 1), "ceil_mode": True}),
    (10, 11, 4, {"stride": 3, "padding": (2, 1), "ceil_mode": True}),
    (9, 9, 3, {"stride": 1, "padding": 1, "dilation": (2, 1)}),
    (7, 9, 2, {"stride": (2,), "dilation": 3, "ceil_mode": True, "padding": (1,)}),
    (5, 4, (5, 4), {}),
    (7, 5, 1, {"stride": (3, 2)}),
]
AVG_CASES = [
    (8, 6, 2, {}),
    (9, 7, 3, {"stride": 2, "padding": 1}),
    (9, 7, 3, {"stride": 2, "padding": 1, "count_include_pad": False}),
    (9, 8, (3, 2), {"stride": (2, 1), "ceil_mode": True}),
    (10, 11, 4, {"stride": 3, "padding": (2, 1), "ceil_mode": True}),
    (10, 11, 4, {"stride": 3, "padding": (2, 1), "ceil_mode": True, "count_include_pad": False}),
    (8, 7, (5, 3), {"stride": 1, "padding": (2, 1), "divisor_override": 7}),
    (6, 6, 2, {"stride": (4, 3), "padding": 1, "ceil_mode": True, "divisor_override": -3}),
]


def _run(fn, backend, x, kwargs):
    out, (grad,) = ours(fn, backend, [x], kwargs)
    return out, grad.numpy()


def _torch_run(fn, x, kwargs):
    out, (grad,) = theirs(fn, [x], kwargs)
    return out, grad


def _data(rng, h, w, unbatched):
    x = rng.standard_normal((2, 3, h, w))
    x[0, 0, :3, :3] = 1.5                     # ties, in and across windows
    x[1, 2, ::3, ::2] = 0.25
    return x[0] if unbatched else x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(MAX_CASES)))
def test_max_pool2d_matches_torch(backend, case, rng):
    h, w, k, kwargs = MAX_CASES[case]
    x = _data(rng, h, w, unbatched=case % 3 == 1)
    kwargs = dict(kwargs, kernel_size=k, return_indices=True)
    (y, idx), grad = _run(xg.nn.max_pool2d, backend, x, kwargs)
    (ty, tidx), tgrad = _torch_run(F.max_pool2d, x, kwargs)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.dtype == xg.int64
    np.testing.assert_allclose(grad, tgrad, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(AVG_CASES)))
def test_avg_pool2d_matches_torch(backend, case, rng):
    h, w, k, kwargs = AVG_CASES[case]
    x = _data(rng, h, w, unbatched=case % 3 == 1)
    y, grad = _run(xg.nn.avg_pool2d, backend, x, dict(kwargs, kernel_size=k))
    ty, tgrad = _torch_run(F.avg_pool2d, x, dict(kwargs, kernel_size=k))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(grad, tgrad, rtol=1e-13, atol=1e-13)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_as_torch():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 3.0, 2.0, 3.0], [0.0, 3.0, 3.0, 3.0]]]])
    kwargs = {"kernel_size": 2, "stride": 1, "return_indices": True}
    (_, idx), grad = _run(xg.nn.max_pool2d, "numpy", x, kwargs)
    (_, tidx), tgrad = _torch_run(F.max_pool2d, x, kwargs)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_allclose(grad, tgrad, rtol=1e-13, atol=1e-13)
    assert idx.numpy()[0, 0, 0].tolist() == [1, 1, 2]      # row-major: first in its window


@pytest.mark.filterwarnings("ignore:invalid value encountered")   # the loss sums inf - inf
@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool_nan_and_infinities_as_torch(backend):
    nan, inf = np.nan, np.inf
    x = np.array([[[[1.0, nan, 3.0, -inf, -inf], [nan, 2.0, -inf, -inf, inf],
                    [0.5, 4.0, inf, 1.0, nan]]]])
    kwargs = {"kernel_size": 2, "stride": 1, "padding": 1, "return_indices": True}
    (y, idx), grad = _run(xg.nn.max_pool2d, backend, x, kwargs)
    (ty, tidx), tgrad = _torch_run(F.max_pool2d, x, kwargs)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(grad, tgrad)
    assert idx.numpy()[0, 0, 1, 1] == 5                 # window (1, nan / nan, 2): the last NaN


@pytest.mark.parametrize("layer, ref", [
    (lambda: xg.nn.MaxPool2d(3, 2, 1, ceil_mode=True),
     lambda: torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    (lambda: xg.nn.MaxPool2d((2, 3), dilation=(2, 1), return_indices=True),
     lambda: torch.nn.MaxPool2d((2, 3), dilation=(2, 1), return_indices=True)),
    (lambda: xg.nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     lambda: torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
    (lambda: xg.nn.AvgPool2d(4, ceil_mode=True, divisor_override=5),
     lambda: torch.nn.AvgPool2d(4, ceil_mode=True, divisor_override=5)),
])
def test_layers_match_torch(layer, ref, rng):
    x = rng.standard_normal((2, 3, 11, 9))
    assert layer().variables == []
    assert_layer_matches_torch(layer(), ref().double(), x)


@pytest.mark.parametrize("fn, kwargs", [
    (xg.nn.max_pool2d, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    (xg.nn.avg_pool2d, {"kernel_size": (3, 2), "stride": 2, "padding": 1, "ceil_mode": True,
                        "count_include_pad": False}),
])
def test_pool_finite_differences(fn, kwargs):
    x = xg.asarray(np.random.default_rng(5).permutation(60).reshape(1, 2, 6, 5) / 7.0)  # no ties
    xg.testing.check_grads(lambda x: fn(x, **kwargs), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_replay_equals_eager(backend):
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.nn.max_pool2d(x, 3, 2, 1) + xg.nn.avg_pool2d(x, 3, 2, 1, ceil_mode=True)
            loss = xg.sum(y * y)
        return loss, tape.gradient(loss, x)

    assert_replay_equals_eager(step, (2, 3, 9, 7), backend)


@pytest.mark.parametrize("call, error, words", [
    (lambda x: xg.nn.max_pool2d(x, 3, padding=(1, 2)), ValueError, ["padding", "half"]),
    (lambda x: xg.nn.avg_pool2d(x, 2, padding=-1), ValueError, ["padding", "negative"]),
    (lambda x: xg.nn.max_pool2d(x, (2, 0)), ValueError, ["kernel_size"]),
    (lambda x: xg.nn.max_pool2d(x, 2, stride=0), ValueError, ["stride"]),
    (lambda x: xg.nn.max_pool2d(x, 2, dilation=(1, 0)), ValueError, ["dilation"]),
    (lambda x: xg.nn.max_pool2d(x, 2.0), TypeError, ["kernel_size", "int"]),
    (lambda x: xg.nn.avg_pool2d(x, (2, 2, 2)), ValueError, ["kernel_size", "tuple of two"]),
    (lambda x: xg.nn.max_pool2d(x, (6, 2)), ValueError, ["kernel", "length 5"]),
    (lambda x: xg.nn.max_pool2d(x[0, 0], 2), ValueError, ["input", "(N, C, H, W)"]),
    (lambda x: xg.nn.max_pool2d(x, 2, ceil_mode=1), TypeError, ["ceil_mode"]),
    (lambda x: xg.nn.avg_pool2d(x, 2, count_include_pad="no"), TypeError,
     ["count_include_pad"]),
    (lambda x: xg.nn.avg_pool2d(x, 2, divisor_override=0), ValueError, ["divisor_override"]),
    (lambda x: xg.nn.AvgPool2d(2, divisor_override=1.5), ValueError,
     ["AvgPool2d", "divisor_override"]),
    (lambda x: xg.nn.MaxPool2d(2, padding=3), ValueError, ["MaxPool2d", "padding"]),
    (lambda x: xg.nn.max_pool2d(xg.astype(x, xg.int64), 2), TypeError, ["floating"]),
    (lambda x: xg.nn.avg_pool2d(xg.astype(x, xg.complex64), 2), TypeError,
     ["real floating"]),
])
def test_bad_arguments_are_named(call, error, words):
    x = xg.ones((1, 2, 5, 6))
    assert_raises_naming(lambda: call(x), error, words)


@pytest.mark.filterwarnings("ignore:invalid value encountered")   # the loss sums inf - inf
@pytest.mark.parametrize("fn, tfn, x, kwargs", [
    (xg.nn.max_pool1d, F.max_pool1d, [[[-np.inf, -np.inf, 1.0, -np.inf]]],
     {"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2}),
    (xg.nn.max_pool2d, F.max_pool2d, [[[[-np.inf, -np.inf, 2.0], [-np.inf, 1.0, -np.inf]]]],
     {"kernel_size": 2, "stride": 1, "padding": 1}),
])
def test_a_window_of_minus_inf_at_the_border_picks_its_first_input_entry(fn, tfn, x, kwargs):
    # torch searches only the positions inside the input: the padding (-inf too) never wins
    x = np.array(x)
    (y, idx), grad = _run(fn, "numpy", x, dict(kwargs, return_indices=True))
    (ty, tidx), tgrad = _torch_run(tfn, x, dict(kwargs, return_indices=True))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.numpy().min() >= 0
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(grad, tgrad)
