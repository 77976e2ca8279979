"""xg.nn.max_pool1d / avg_pool1d and MaxPool1d / AvgPool1d against PyTorch's in float64 (values,
indices and input gradients) on numpy and numba: strides, padding, dilation, ceil_mode,
count_include_pad, unbatched input, tied maxima; finite differences; xg.function == eager;
bad arguments."""
import numpy as np
import pytest

import xpgrad as xg

from window_checks import (BACKENDS, assert_layer_matches_torch, assert_raises_naming,
                           assert_replay_equals_eager, ours, theirs)

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional


# (L, kernel_size, keyword arguments)
MAX_CASES = [
    (10, 2, {}),
    (10, 3, {"stride": 2, "padding": 1}),
    (11, 3, {"stride": 2, "ceil_mode": True}),
    (12, 4, {"stride": 3, "padding": 2, "ceil_mode": True}),
    (13, 3, {"stride": 1, "padding": 1, "dilation": 2}),
    (9, 2, {"stride": (2,), "dilation": 3, "ceil_mode": True, "padding": (1,)}),
    (5, 5, {}),
    (7, 1, {"stride": 3}),
]
AVG_CASES = [
    (10, 2, {}),
    (10, 3, {"stride": 2, "padding": 1}),
    (10, 3, {"stride": 2, "padding": 1, "count_include_pad": False}),
    (11, 3, {"stride": 2, "ceil_mode": True}),
    (12, 4, {"stride": 3, "padding": 2, "ceil_mode": True}),
    (12, 4, {"stride": 3, "padding": 2, "ceil_mode": True, "count_include_pad": False}),
    (8, 5, {"stride": 1, "padding": 2, "count_include_pad": False}),
    (6, 2, {"stride": (4,), "padding": (1,), "ceil_mode": True}),
]


def _run(fn, backend, x, kwargs):
    out, (grad,) = ours(fn, backend, [x], kwargs)
    return out, grad.numpy()


def _torch_run(fn, x, kwargs):
    out, (grad,) = theirs(fn, [x], kwargs)
    return out, grad


def _data(rng, length, unbatched):
    x = rng.standard_normal((2, 3, length))
    x[0, 0, :4] = 1.5                         # ties, in and across windows
    x[1, 2, ::3] = 0.25
    return x[0] if unbatched else x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(MAX_CASES)))
def test_max_pool1d_matches_torch(backend, case, rng):
    length, k, kwargs = MAX_CASES[case]
    x = _data(rng, length, unbatched=case % 3 == 1)
    (y, idx), grad = _run(xg.nn.max_pool1d, backend, x, dict(kwargs, kernel_size=k,
                                                               return_indices=True))
    (ty, tidx), tgrad = _torch_run(F.max_pool1d, x, dict(kwargs, kernel_size=k,
                                                          return_indices=True))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.dtype == xg.int64
    np.testing.assert_allclose(grad, tgrad, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(AVG_CASES)))
def test_avg_pool1d_matches_torch(backend, case, rng):
    length, k, kwargs = AVG_CASES[case]
    x = _data(rng, length, unbatched=case % 3 == 1)
    y, grad = _run(xg.nn.avg_pool1d, backend, x, dict(kwargs, kernel_size=k))
    ty, tgrad = _torch_run(F.avg_pool1d, x, dict(kwargs, kernel_size=k))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(grad, tgrad, rtol=1e-13, atol=1e-13)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_as_torch():
    x = np.array([[[1.0, 3.0, 3.0, 2.0, 3.0, 3.0]]])
    (_, grad) = _run(xg.nn.max_pool1d, "numpy", x, {"kernel_size": 3, "stride": 1,
                                                     "padding": 1})
    (_, tgrad) = _torch_run(F.max_pool1d, x, {"kernel_size": 3, "stride": 1, "padding": 1})
    want = np.array([[[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]]])          # cos weights, not all ones
    assert (grad != 0).tolist() == (want != 0).tolist()
    np.testing.assert_allclose(grad, tgrad, rtol=1e-13, atol=1e-13)


@pytest.mark.filterwarnings("ignore:invalid value encountered")   # the loss sums inf - inf
@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pool_nan_and_infinities_as_torch(backend):
    # PyTorch's CPU rule (val > max || isnan(val)): a window with NaN gives NaN, its index and
    # gradient those of its LAST NaN; -inf everywhere in a window still picks its first entry
    nan, inf = np.nan, np.inf
    x = np.array([[[1.0, nan, 3.0, nan, 2.0, -inf, -inf, -inf, inf, 0.5, inf]]])
    kwargs = {"kernel_size": 3, "stride": 1, "padding": 1, "return_indices": True}
    (y, idx), grad = _run(xg.nn.max_pool1d, backend, x, kwargs)
    (ty, tidx), tgrad = _torch_run(F.max_pool1d, x, kwargs)
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(grad, tgrad)
    assert idx.numpy()[0, 0, 2] == 3                     # window (nan, 3, nan): the last NaN


@pytest.mark.parametrize("layer, ref", [
    (lambda: xg.nn.MaxPool1d(3, 2, 1, ceil_mode=True),
     lambda: torch.nn.MaxPool1d(3, 2, 1, ceil_mode=True)),
    (lambda: xg.nn.MaxPool1d(2, dilation=2, return_indices=True),
     lambda: torch.nn.MaxPool1d(2, dilation=2, return_indices=True)),
    (lambda: xg.nn.AvgPool1d(3, 2, 1, count_include_pad=False),
     lambda: torch.nn.AvgPool1d(3, 2, 1, count_include_pad=False)),
    (lambda: xg.nn.AvgPool1d(4, ceil_mode=True), lambda: torch.nn.AvgPool1d(4, ceil_mode=True)),
])
def test_layers_match_torch(layer, ref, rng):
    x = rng.standard_normal((2, 3, 11))
    assert layer().variables == []
    assert_layer_matches_torch(layer(), ref().double(), x)


@pytest.mark.parametrize("fn, kwargs", [
    (xg.nn.max_pool1d, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    (xg.nn.avg_pool1d, {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                        "count_include_pad": False}),
])
def test_pool_finite_differences(fn, kwargs):
    x = xg.asarray(np.random.default_rng(5).permutation(24).reshape(2, 2, 6) / 7.0)  # no ties
    xg.testing.check_grads(lambda x: fn(x, **kwargs), (x,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_replay_equals_eager(backend):
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            y = xg.nn.max_pool1d(x, 3, 2, 1) + xg.nn.avg_pool1d(x, 3, 2, 1, ceil_mode=True)
            loss = xg.sum(y * y)
        return loss, tape.gradient(loss, x)

    assert_replay_equals_eager(step, (2, 3, 9), backend)


@pytest.mark.parametrize("call, error, words", [
    (lambda x: xg.nn.max_pool1d(x, 3, padding=2), ValueError, ["padding", "half"]),
    (lambda x: xg.nn.avg_pool1d(x, 2, padding=-1), ValueError, ["padding", "negative"]),
    (lambda x: xg.nn.max_pool1d(x, 0), ValueError, ["kernel_size"]),
    (lambda x: xg.nn.max_pool1d(x, 2, stride=0), ValueError, ["stride"]),
    (lambda x: xg.nn.max_pool1d(x, 2, dilation=0), ValueError, ["dilation"]),
    (lambda x: xg.nn.max_pool1d(x, 2.0), TypeError, ["kernel_size", "int"]),
    (lambda x: xg.nn.avg_pool1d(x, (2, 2)), ValueError, ["kernel_size", "tuple of one"]),
    (lambda x: xg.nn.max_pool1d(x, 9), ValueError, ["kernel", "length 5"]),
    (lambda x: xg.nn.max_pool1d(x[0, 0], 2), ValueError, ["input", "(N, C, L)"]),
    (lambda x: xg.nn.max_pool1d(x, 2, ceil_mode=1), TypeError, ["ceil_mode"]),
    (lambda x: xg.nn.avg_pool1d(x, 2, count_include_pad="no"), TypeError,
     ["count_include_pad"]),
    (lambda x: xg.nn.MaxPool1d(2, padding=3), ValueError, ["MaxPool1d", "padding"]),
    (lambda x: xg.nn.AvgPool1d(2, dim=1), TypeError, ["dim"]),
    (lambda x: xg.nn.max_pool1d(xg.astype(x, xg.int64), 2), TypeError, ["floating"]),
    (lambda x: xg.nn.avg_pool1d(xg.astype(x, xg.complex64), 2), TypeError,
     ["real floating"]),
])
def test_bad_arguments_are_named(call, error, words):
    x = xg.ones((1, 2, 5))
    assert_raises_naming(lambda: call(x), error, words)
