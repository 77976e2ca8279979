"""Channels-last layers and poolings: Conv1d / Conv2d with data_format="channels_last" keep a
Keras/flax kernel (k..., C_in / groups, C_out) as is, load and export torch state dicts
transposed, start from the same draw as channels-first; max / avg / adaptive pooling (functions
and layers) on (N, *spatial, C) against PyTorch's on the permuted input, values, indices and
gradients in float64; their errors."""
import numpy as np
import pytest

import xpgrad as xg

from window_checks import (BACKENDS, assert_raises_naming, assert_replay_equals_eager, ours,
                           theirs)

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional


def _first_axes(dims):
    return (0, dims + 1) + tuple(range(1, dims + 1))


def _last_axes(dims):
    return (0,) + tuple(range(2, dims + 2)) + (1,)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dims, kwargs", [
    (2, dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1)),
    (2, dict(in_channels=4, out_channels=8, kernel_size=(3, 2), groups=4, padding="same")),
    (2, dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, padding=1,
             padding_mode="reflect", bias=False)),
    (1, dict(in_channels=3, out_channels=5, kernel_size=4, dilation=2, padding=3,
             padding_mode="circular")),
    (1, dict(in_channels=2, out_channels=4, kernel_size=3, padding="same")),
])
def test_layer_loads_torch_and_matches_it(backend, dims, kwargs, rng):
    cls, ref_cls = (xg.nn.Conv1d, torch.nn.Conv1d) if dims == 1 else (xg.nn.Conv2d,
                                                                       torch.nn.Conv2d)
    layer = cls(**kwargs, data_format="channels_last", dtype="float64", backend=backend, rng=0)
    ref = ref_cls(**kwargs).double()
    layer.load_torch_state_dict(ref.state_dict())
    w = ref.weight.detach().numpy()
    np.testing.assert_array_equal(layer.weight.numpy(),
                                  w.transpose(tuple(range(2, dims + 2)) + (1, 0)))
    x = rng.standard_normal((2,) + (9, 8)[:dims] + (kwargs["in_channels"],))
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt)
        loss = xg.sum(y * y)
    grads = tape.gradient(loss, [xt] + layer.variables)
    tx = torch.tensor(x).permute(*_first_axes(dims)).requires_grad_()
    ty = ref(tx).permute(*_last_axes(dims))
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads[0].numpy(), tx.grad.permute(*_last_axes(dims)).numpy(),
                               rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(grads[1].numpy(), ref.weight.grad.numpy().transpose(
        tuple(range(2, dims + 2)) + (1, 0)), rtol=1e-11, atol=1e-11)
    exported = layer.torch_state_dict()
    np.testing.assert_array_equal(exported["weight"], w)
    ref.load_state_dict({k: torch.tensor(v) for k, v in exported.items()})


def test_layer_starts_as_channels_first_transposed():
    last = xg.nn.Conv2d(4, 6, (3, 2), groups=2, data_format="NHWC", rng=7)
    first = xg.nn.Conv2d(4, 6, (3, 2), groups=2, rng=7)
    assert last.weight.shape == (3, 2, 2, 6)
    np.testing.assert_array_equal(last.weight.numpy(), first.weight.numpy().transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(last.bias.numpy(), first.bias.numpy())
    assert last.data_format == "channels_last" and "data_format='channels_last'" in repr(last)
    assert "data_format" not in repr(first)


def test_keras_kernel_loads_as_is(jax, rng):
    """A flax/Keras kernel (kH, kW, C_in, C_out) assigned unchanged gives JAX's output, with
    TF's strided "same"."""
    kernel, bias = rng.standard_normal((3, 3, 2, 5)), rng.standard_normal(5)
    x = rng.standard_normal((2, 9, 8, 2))
    layer = xg.nn.Conv2d(2, 5, 3, stride=2, padding="same", data_format="channels_last",
                         dtype="float64", rng=0)
    layer.weight.assign(xg.asarray(kernel))
    layer.bias.assign(xg.asarray(bias))
    want = jax.lax.conv_general_dilated(x, kernel, (2, 2), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
    np.testing.assert_allclose(layer(xg.asarray(x)).numpy(), np.asarray(want), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_replay_equals_eager(backend):
    conv = xg.nn.Conv2d(3, 4, 3, stride=2, padding="same", data_format="NHWC", dtype="float64",
                        backend=backend, rng=0)
    pool = xg.nn.MaxPool2d(2, data_format="NHWC")

    def step(x):
        with xg.GradientTape() as tape:
            y = pool(xg.relu(conv(x)))
            loss = xg.sum(y * y)
        return [loss] + tape.gradient(loss, conv.variables)
    assert_replay_equals_eager(step, (2, 9, 8, 3), backend)


def test_layer_torch_state_dict_of_wrong_shape_is_named():
    layer = xg.nn.Conv2d(3, 4, 3, data_format="NHWC", rng=0)
    assert_raises_naming(lambda: layer.load_torch_state_dict(
        {"weight": np.zeros((3, 3, 3, 4), np.float32), "bias": np.zeros(4, np.float32)}),
        ValueError, ["'weight' has shape (3, 3, 3, 4)", "needs (4, 3, 3, 3)"])


POOLS = [
    ("max_pool2d", F.max_pool2d, dict(kernel_size=2)),
    ("max_pool2d", F.max_pool2d, dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d", F.max_pool2d, dict(kernel_size=(2, 3), dilation=(2, 1),
                                      return_indices=True)),
    ("avg_pool2d", F.avg_pool2d, dict(kernel_size=3, stride=2, padding=1,
                                      count_include_pad=False)),
    ("avg_pool2d", F.avg_pool2d, dict(kernel_size=2, divisor_override=3)),
    ("max_pool1d", F.max_pool1d, dict(kernel_size=3, stride=2, padding=1,
                                      return_indices=True)),
    ("avg_pool1d", F.avg_pool1d, dict(kernel_size=4, stride=3, ceil_mode=True)),
    ("adaptive_avg_pool2d", F.adaptive_avg_pool2d, dict(output_size=(3, 2))),
    ("adaptive_max_pool2d", F.adaptive_max_pool2d, dict(output_size=3, return_indices=True)),
    ("adaptive_avg_pool1d", F.adaptive_avg_pool1d, dict(output_size=4)),
    ("adaptive_max_pool1d", F.adaptive_max_pool1d, dict(output_size=3)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(POOLS)))
@pytest.mark.parametrize("unbatched", [False, True])
def test_pooling_matches_torch(backend, case, unbatched, rng):
    name, torch_fn, kwargs = POOLS[case]
    dims = 1 if name.endswith("1d") else 2
    x = rng.standard_normal((2,) + (9, 7)[:dims] + (3,))
    if unbatched:
        x = x[0]
    lead = 0 if unbatched else 1
    to_first = tuple(range(lead)) + (x.ndim - 1,) + tuple(range(lead, x.ndim - 1))
    to_last = tuple(range(lead)) + tuple(range(lead + 1, x.ndim)) + (lead,)
    out, (g,) = ours(getattr(xg.nn, name), backend, [x],
                     dict(kwargs, data_format="channels_last"))

    def theirs_fn(xt, **kw):
        result = torch_fn(xt.permute(*to_first), **kw)
        if isinstance(result, tuple):
            return tuple(r.permute(*to_last) for r in result)
        return result.permute(*to_last)
    tout, (tg,) = theirs(theirs_fn, [x], kwargs)
    if kwargs.get("return_indices"):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())
        out, tout = out[0], tout[0]
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g.numpy(), tg, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer, ref", [
    (lambda: xg.nn.MaxPool2d(3, 2, 1, data_format="NHWC"), lambda: torch.nn.MaxPool2d(3, 2, 1)),
    (lambda: xg.nn.AvgPool2d(2, data_format="channels_last"), lambda: torch.nn.AvgPool2d(2)),
    (lambda: xg.nn.AdaptiveAvgPool2d(1, data_format="NHWC"),
     lambda: torch.nn.AdaptiveAvgPool2d(1)),
    (lambda: xg.nn.AdaptiveMaxPool2d((2, 3), data_format="NHWC"),
     lambda: torch.nn.AdaptiveMaxPool2d((2, 3))),
])
def test_pooling_layers(layer, ref, rng):
    x = rng.standard_normal((2, 8, 7, 3))
    ours_layer = layer()
    assert "data_format='channels_last'" in repr(ours_layer)
    y = ours_layer(xg.asarray(x)).numpy()
    want = ref()(torch.tensor(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


def test_one_dim_pooling_layers(rng):
    x = rng.standard_normal((2, 9, 3))
    for ours_layer, ref in ((xg.nn.MaxPool1d(2, data_format="NWC"), torch.nn.MaxPool1d(2)),
                            (xg.nn.AvgPool1d(3, 2, data_format="NWC"), torch.nn.AvgPool1d(3, 2)),
                            (xg.nn.AdaptiveAvgPool1d(2, data_format="NWC"),
                             torch.nn.AdaptiveAvgPool1d(2)),
                            (xg.nn.AdaptiveMaxPool1d(4, data_format="NWC"),
                             torch.nn.AdaptiveMaxPool1d(4))):
        want = ref(torch.tensor(x).permute(0, 2, 1)).permute(0, 2, 1).numpy()
        np.testing.assert_allclose(ours_layer(xg.asarray(x)).numpy(), want, rtol=1e-12,
                                   atol=1e-12)


BAD = [
    (lambda: xg.nn.max_pool2d(xg.ones((1, 4, 4, 2)), 2, data_format="NWC"),
     ValueError, ["max_pool2d", "data_format", "'NHWC'", "'channels_last'", "'NWC'"]),
    (lambda: xg.nn.avg_pool1d(xg.ones((1, 4, 2)), 2, data_format="last"),
     ValueError, ["avg_pool1d", "data_format", "'NWC'"]),
    (lambda: xg.nn.adaptive_avg_pool2d(xg.ones((1, 4, 4, 2)), 1, data_format="HWC"),
     ValueError, ["adaptive_avg_pool2d", "data_format"]),
    (lambda: xg.nn.MaxPool2d(2, data_format="NCW"), ValueError, ["MaxPool2d", "data_format"]),
    (lambda: xg.nn.AdaptiveMaxPool1d(2, data_format=1), ValueError,
     ["AdaptiveMaxPool1d", "data_format", "got 1"]),
    (lambda: xg.nn.max_pool2d(xg.ones((4, 2)), 2, data_format="NHWC"),
     ValueError, ["input must be (N, H, W, C) or unbatched (H, W, C)", "(4, 2)"]),
    (lambda: xg.nn.avg_pool1d(xg.ones((4, 2), dtype="int64"), 2, data_format="NWC"),
     TypeError, ["real floating-point", "int64"]),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_pooling_input_is_named(case):
    call, error, words = BAD[case]
    assert_raises_naming(call, error, words)
