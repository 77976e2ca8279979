"""xg.nn.conv2d / xg.nn.Conv2d against torch.nn.functional.conv2d / torch.nn.Conv2d in float64
(values and the gradients of input, weight and bias) on numpy and numba over a grid of kernels,
strides, paddings, dilations, groups (depthwise too) and padding modes; finite differences,
xg.function replay == eager, PyTorch's initialization and state-dict conversion."""
import math

import numpy as np
import pytest

import xpgrad as xg

from window_checks import (BACKENDS, assert_complex_matches_torch, assert_layer_matches_torch,
                           assert_replay_equals_eager, assert_torch_uniform_init, ours, theirs)

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


# (N, C_in, H, W, C_out, kernel_size, keyword arguments)
CASES = [
    (2, 3, 7, 6, 4, 3, {}),
    (2, 3, 9, 8, 4, (3, 2), {"stride": 2, "padding": 1}),
    (1, 2, 5, 5, 3, 1, {}),
    (2, 4, 11, 9, 6, (5, 3), {"stride": (3, 2), "padding": (4, 1), "dilation": (2, 1)}),
    (2, 4, 8, 7, 6, 3, {"groups": 2, "padding": (2, 0), "stride": (1, 2)}),
    (2, 6, 8, 9, 6, 3, {"groups": 6, "dilation": (2, 3)}),              # depthwise
    (2, 4, 7, 7, 8, 3, {"groups": 4, "padding": 1}),                    # depthwise, multiplier 2
    (2, 6, 8, 8, 12, 2, {"groups": 3, "stride": 2}),
    (2, 3, 6, 7, 2, (4, 3), {"padding": "same"}),                       # even kH: odd below
    (2, 3, 8, 6, 2, 3, {"padding": "same", "dilation": (3, 2)}),
    (2, 3, 6, 6, 2, 3, {"padding": "valid"}),
    (1, 1, 5, 4, 1, (5, 4), {}),                                        # kernel == input
    (2, 2, 4, 5, 3, 3, {"padding": 2, "dilation": 2, "stride": (4, 3)}),
]


def _ours(backend, x, w, b, kwargs, fn=None):
    y, grads = ours(fn or xg.nn.conv2d, backend, [x, w, b], kwargs)
    return y.numpy(), [g.numpy() for g in grads]


def _torch_ref(x, w, b, kwargs):
    y, grads = theirs(torch.nn.functional.conv2d, [x, w, b], kwargs)
    return y.detach().numpy(), grads


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_conv2d_matches_torch(backend, case, rng):
    n, c, h, w_, c_out, k, kwargs = CASES[case]
    k = (k, k) if isinstance(k, int) else k
    groups = kwargs.get("groups", 1)
    x = rng.standard_normal((n, c, h, w_))
    w = rng.standard_normal((c_out, c // groups) + k)
    b = rng.standard_normal(c_out) if case % 2 == 0 else None
    y, grads = _ours(backend, x, w, b, kwargs)
    ty, tgrads = _torch_ref(x, w, b, kwargs)
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=1e-11, atol=1e-11)
    for name, g, tg in zip(("input", "weight", "bias"), grads, tgrads):
        np.testing.assert_allclose(g, tg, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unbatched_input_matches_torch(backend, rng):
    x, w, b = (rng.standard_normal(s) for s in ((3, 7, 6), (5, 3, 2, 3), (5,)))
    kwargs = {"stride": 2, "padding": (1, 0)}
    y, grads = _ours(backend, x, w, b, kwargs)
    ty, tgrads = _torch_ref(x, w, b, kwargs)
    assert y.shape == ty.shape == (5, 4, 2)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("kernel, padding, dilation", [
    (3, (2, 1), 1), ((4, 3), "same", 1), (3, "same", (1, 2)), ((2, 3), 1, 2)])
def test_conv2d_layer_padding_modes_match_torch(backend, mode, kernel, padding, dilation, rng):
    ref = torch.nn.Conv2d(4, 6, kernel, padding=padding, padding_mode=mode, groups=2,
                          dilation=dilation).double()
    layer = xg.nn.Conv2d(4, 6, kernel, padding=padding, padding_mode=mode, groups=2,
                         dilation=dilation, dtype="float64", backend=backend, rng=0)
    assert_layer_matches_torch(layer, ref, rng.standard_normal((2, 4, 6, 5)), backend)


def test_complex_conv2d_matches_torch(rng):
    x = rng.standard_normal((2, 3, 5, 6)) + 1j * rng.standard_normal((2, 3, 5, 6))
    w = rng.standard_normal((4, 3, 3, 2)) + 1j * rng.standard_normal((4, 3, 3, 2))
    assert_complex_matches_torch(xg.nn.conv2d, torch.nn.functional.conv2d, x, w,
                                 dict(padding=1, stride=(2, 1)))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular"])
def test_conv2d_finite_differences(mode):
    from xpgrad.nn.conv import convolve          # Conv2d's computation, padding_mode included

    rng = np.random.default_rng(2)
    x, w, b = (xg.asarray(rng.standard_normal(s)) for s in ((1, 2, 5, 4), (2, 1, 3, 2), (2,)))
    xg.testing.check_grads(
        lambda x, w, b: convolve(x, w, b, (2, 1), (2, 1), (1, 2), 2, mode, "Conv2d", dims=2),
        (x, w, b))


def test_conv2d_second_order_finite_differences():
    rng = np.random.default_rng(3)
    x, w = (xg.asarray(rng.standard_normal(s)) for s in ((1, 2, 4, 3), (2, 1, 2, 2)))
    xg.testing.check_grads(lambda x, w: xg.nn.conv2d(x, w, padding=1, groups=2) ** 2, (x, w),
                           order=2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_replay_equals_eager(backend):
    layer = xg.nn.Conv2d(3, 4, 3, padding=1, stride=2, dtype="float64", backend=backend, rng=0)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.nn.relu(layer(x)) ** 2)
        return [loss] + tape.gradient(loss, [layer.weight, layer.bias])

    assert_replay_equals_eager(step, (2, 3, 7, 6), backend)


def test_torch_default_initialization():
    layer = xg.nn.Conv2d(8, 64, (3, 5), groups=2, rng=0)
    # fan_in = C_in / groups * kH * kW
    assert_torch_uniform_init(layer, (64, 4, 3, 5), fan_in=8 // 2 * 3 * 5)
    assert (layer.kernel_size, layer.stride, layer.padding, layer.dilation) == \
        ((3, 5), (1, 1), (0, 0), (1, 1))                # pairs, as torch's


def test_fan_based_init_gets_pytorchs_fans():
    seen = []

    def init(rng, shape, dtype):
        seen.append(shape)
        return xg.asarray(np.arange(math.prod(shape), dtype=np.float64).reshape(shape),
                          dtype=dtype)

    layer = xg.nn.Conv2d(6, 4, (3, 2), groups=2, init=init, bias=False, rng=0)
    assert seen == [(3, 2, 3, 4)] and layer.bias is None    # (kH, kW, C_in / groups, C_out)
    want = np.arange(72.0).reshape(3, 2, 3, 4).transpose(3, 2, 0, 1)
    np.testing.assert_array_equal(layer.weight.numpy(), want)
    assert xg.nn.init.compute_fans((3, 2, 3, 4)) == (18, 24)     # torch's fans of (4, 3, 3, 2)
    he = xg.nn.Conv2d(16, 32, 3, init="he_uniform", rng=0).weight.numpy()
    assert np.abs(he).max() <= math.sqrt(6 / (16 * 9))


def test_state_dict_round_trip_with_torch(rng):
    ref = torch.nn.Conv2d(3, 5, (3, 2), stride=2, padding=1).double()
    ours = xg.nn.Conv2d(3, 5, (3, 2), stride=2, padding=1, dtype="float64", rng=0)
    ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal((4, 3, 8, 7))
    np.testing.assert_allclose(ours(xg.asarray(x)).numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-13, atol=1e-13)
    back = torch.nn.Conv2d(3, 5, (3, 2), stride=2, padding=1).double()
    back.load_state_dict({k: torch.tensor(v) for k, v in ours.torch_state_dict().items()})
    np.testing.assert_array_equal(back.weight.detach().numpy(), ours.weight.numpy())
    assert list(ours.torch_state_dict()) == list(ref.state_dict()) == ["weight", "bias"]
    with pytest.raises(ValueError, match="Conv2d.load_torch_state_dict"):
        ours.load_torch_state_dict({"weight": np.zeros((5, 3, 2, 3)), "bias": np.zeros(5)})


def test_repr_names_the_settings():
    text = repr(xg.nn.Conv2d(2, 4, 3, stride=(2, 1), padding=1, padding_mode="circular", rng=0))
    assert "in_channels=2, out_channels=4, kernel_size=(3, 3), stride=(2, 1), padding=(1, 1)" \
        in text
    assert "padding_mode='circular'" in text and "dilation" not in text


def test_benchmark_script_runs_and_checks_against_torch(monkeypatch):
    # imported, it must leave the thread settings alone (Numba raises in any later test of
    # this process if NUMBA_NUM_THREADS changes after its threads started)
    import os
    from pathlib import Path

    before = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                             "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import conv2d as bench
    rows = bench.main(["--repeats", "1", "--rounds", "1", "--scale", "0.03", "--dtype",
                       "float64"])
    assert [name for name, _ in rows] == [name for name, _, _ in bench.WORKLOADS]
    assert all(times["torch"] > 0 and times["numpy"] > 0 for _, times in rows)
    assert {k: os.environ.get(k) for k in before} == before
