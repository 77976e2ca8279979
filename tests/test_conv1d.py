"""xg.nn.conv1d / xg.nn.Conv1d against torch.nn.functional.conv1d / torch.nn.Conv1d in float64
(values and the gradients of input, weight and bias) on numpy and numba, finite differences,
xg.function replay == eager, PyTorch's initialization and state-dict conversion."""
import math

import numpy as np
import pytest

import xpgrad as xg

from window_checks import (BACKENDS, assert_complex_matches_torch, assert_layer_matches_torch,
                           assert_replay_equals_eager, assert_torch_uniform_init, ours, theirs)

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


# (N, C_in, L, C_out, K, keyword arguments): strides, paddings, dilations, groups, "same"/"valid"
CASES = [
    (2, 3, 11, 4, 3, {}),
    (2, 3, 11, 4, 3, {"stride": 2, "padding": 1}),
    (1, 2, 9, 3, 1, {}),
    (3, 4, 13, 6, 5, {"stride": 3, "padding": 4, "dilation": 2}),
    (2, 4, 10, 6, 3, {"groups": 2, "padding": (2,), "stride": (1,)}),
    (2, 6, 12, 6, 4, {"groups": 6, "dilation": (3,)}),                  # depthwise
    (2, 6, 12, 12, 2, {"groups": 3, "stride": 2}),
    (2, 3, 8, 2, 4, {"padding": "same"}),                               # even K: odd on the right
    (2, 3, 8, 2, 3, {"padding": "same", "dilation": 3}),
    (2, 3, 8, 2, 3, {"padding": "valid"}),
    (1, 1, 5, 1, 5, {}),                                                # kernel == input
    (2, 2, 4, 3, 3, {"padding": 2, "dilation": 2, "stride": 4}),
]


def _ours(backend, x, w, b, kwargs, fn=None):
    y, grads = ours(fn or xg.nn.conv1d, backend, [x, w, b], kwargs)
    return y.numpy(), [g.numpy() for g in grads]


def _torch_ref(x, w, b, kwargs):
    y, grads = theirs(torch.nn.functional.conv1d, [x, w, b], kwargs)
    return y.detach().numpy(), grads


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv1d_matches_torch(backend, case, rng):
    n, c, length, c_out, k, kwargs = CASES[case]
    groups = kwargs.get("groups", 1)
    x = rng.standard_normal((n, c, length))
    w = rng.standard_normal((c_out, c // groups, k))
    b = rng.standard_normal(c_out) if case % 2 == 0 else None
    y, grads = _ours(backend, x, w, b, kwargs)
    ty, tgrads = _torch_ref(x, w, b, kwargs)
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    for name, g, tg in zip(("input", "weight", "bias"), grads, tgrads):
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unbatched_input_matches_torch(backend, rng):
    x, w, b = rng.standard_normal((3, 9)), rng.standard_normal((5, 3, 2)), rng.standard_normal(5)
    kwargs = {"stride": 2, "padding": 1}
    y, grads = _ours(backend, x, w, b, kwargs)
    ty, tgrads = _torch_ref(x, w, b, kwargs)
    assert y.shape == ty.shape == (5, 5)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding, dilation", [(2, 1), ("same", 1), ("same", 2)])
def test_conv1d_layer_padding_modes_match_torch(backend, mode, padding, dilation, rng):
    # "same" with K=4: dilation 1 pads 1 left and 2 right, dilation 2 pads 3 and 3
    ref = torch.nn.Conv1d(4, 6, 4, padding=padding, padding_mode=mode, groups=2,
                          dilation=dilation).double()
    layer = xg.nn.Conv1d(4, 6, 4, padding=padding, padding_mode=mode, groups=2,
                         dilation=dilation, dtype="float64", backend=backend, rng=0)
    assert_layer_matches_torch(layer, ref, rng.standard_normal((2, 4, 7)), backend)


def test_complex_conv1d_matches_torch(rng):
    x = rng.standard_normal((2, 3, 8)) + 1j * rng.standard_normal((2, 3, 8))
    w = rng.standard_normal((4, 3, 3)) + 1j * rng.standard_normal((4, 3, 3))
    assert_complex_matches_torch(xg.nn.conv1d, torch.nn.functional.conv1d, x, w,
                                 dict(padding=1, stride=2))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv1d_finite_differences(mode):
    from xpgrad.nn.conv import convolve          # Conv1d's computation, padding_mode included

    rng = np.random.default_rng(2)
    x, w, b = (xg.asarray(rng.standard_normal(s)) for s in ((2, 2, 7), (3, 2, 3), (3,)))
    xg.testing.check_grads(lambda x, w, b: convolve(x, w, b, 2, 2, 2, 1, mode, "Conv1d"),
                           (x, w, b))


def test_conv1d_second_order_finite_differences():
    rng = np.random.default_rng(3)
    x, w = xg.asarray(rng.standard_normal((1, 2, 6))), xg.asarray(rng.standard_normal((2, 1, 3)))
    xg.testing.check_grads(lambda x, w: xg.nn.conv1d(x, w, padding=1, groups=2) ** 2, (x, w),
                           order=2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_replay_equals_eager(backend, rng):
    layer = xg.nn.Conv1d(3, 4, 3, padding=1, stride=2, dtype="float64", backend=backend, rng=0)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.nn.relu(layer(x)) ** 2)
        return [loss] + tape.gradient(loss, [layer.weight, layer.bias])

    assert_replay_equals_eager(step, (2, 3, 9), backend)


def test_torch_default_initialization():
    layer = xg.nn.Conv1d(8, 64, 5, groups=2, rng=0)
    assert_torch_uniform_init(layer, (64, 4, 5), fan_in=8 // 2 * 5)     # C_in / groups * K


def test_fan_based_init_gets_pytorchs_fans():
    seen = []

    def init(rng, shape, dtype):
        seen.append(shape)
        return xg.asarray(np.arange(math.prod(shape), dtype=np.float64).reshape(shape),
                          dtype=dtype)

    layer = xg.nn.Conv1d(6, 4, 3, groups=2, init=init, bias=False, rng=0)
    assert seen == [(3, 3, 4)] and layer.bias is None       # (K, C_in / groups, C_out)
    want = np.arange(36.0).reshape(3, 3, 4).transpose(2, 1, 0)
    np.testing.assert_array_equal(layer.weight.numpy(), want)
    assert xg.nn.init.compute_fans((3, 3, 4)) == (9, 12)    # torch's fans of (4, 3, 3)
    he = xg.nn.Conv1d(16, 32, 3, init="he_uniform", rng=0).weight.numpy()
    assert np.abs(he).max() <= math.sqrt(6 / (16 * 3))


def test_state_dict_round_trip_with_torch(rng):
    ref = torch.nn.Conv1d(3, 5, 3, stride=2, padding=1, bias=True).double()
    ours = xg.nn.Conv1d(3, 5, 3, stride=2, padding=1, dtype="float64", rng=0)
    ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal((4, 3, 10))
    np.testing.assert_allclose(ours(xg.asarray(x)).numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-13, atol=1e-13)
    back = torch.nn.Conv1d(3, 5, 3, stride=2, padding=1).double()
    back.load_state_dict({k: torch.tensor(v) for k, v in
                          xg.nn.Conv1d(3, 5, 3, dtype="float64", rng=4).torch_state_dict()
                          .items()})
    assert list(ours.torch_state_dict()) == list(ref.state_dict()) == ["weight", "bias"]
    # float32 layer from a float32 torch layer: the same outputs to float32 precision
    ref32, ours32 = torch.nn.Conv1d(3, 5, 3), xg.nn.Conv1d(3, 5, 3, rng=0)
    ours32.load_torch_state_dict(ref32.state_dict())
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(ours32(xg.asarray(x32)).numpy(),
                               ref32(torch.tensor(x32)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_state_dict_in_a_module_tree(rng):
    ref = torch.nn.Sequential(torch.nn.Conv1d(2, 4, 3), torch.nn.ReLU(),
                              torch.nn.Conv1d(4, 1, 1, bias=False)).double()
    ours = xg.nn.Sequential(xg.nn.Conv1d(2, 4, 3, dtype="float64", rng=0), xg.nn.ReLU(),
                            xg.nn.Conv1d(4, 1, 1, bias=False, dtype="float64", rng=1))
    ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal((2, 2, 6))
    np.testing.assert_allclose(ours(xg.asarray(x)).numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-13, atol=1e-13)
    assert sorted(ours.torch_state_dict()) == sorted(ref.state_dict())


def test_repr_names_the_settings():
    text = repr(xg.nn.Conv1d(2, 4, 3, stride=2, padding=1, padding_mode="circular", rng=0))
    assert "in_channels=2, out_channels=4, kernel_size=3, stride=2, padding=1" in text
    assert "padding_mode='circular'" in text
