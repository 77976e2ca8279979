"""The ``conv`` primitive's Numba kernel (per-tap GEMMs on padded frames for stride 1, im2col
+ GEMMs otherwise, direct loops for depthwise; one group from 8 input channels on, or channels
last, with the NumPy backend's GEMM path's gradients) against
the primitive's generic rule on raw arrays (values and every gradient, float32 and float64,
groups, strides, dilation, padding, depthwise, 1-d, odd shapes, images taken a few at a time),
the numba backend against numpy and PyTorch through ``xg.nn.conv2d``, ``xg.function`` replay
against eager, second order (the generic rule under an outer tape) against finite
differences, and the inputs the kernel declines."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from window_checks import assert_replay_equals_eager
from xpgrad.primitive import PRIMITIVES

if not backend_report().get("numba", {}).get("available"):
    pytest.skip("Numba is not installed: no kernel to test", allow_module_level=True)

from xpgrad.backends.numba import _conv  # noqa: E402

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

#: (x shape, w shape, stride, dilation, pads, groups)
CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (1, 1), ((0, 0), (0, 0)), 1),
    ((2, 4, 9, 7), (6, 2, 3, 2), (2, 1), (1, 2), ((1, 1), (2, 2)), 2),
    ((1, 3, 5, 11), (2, 3, 1, 4), (3, 2), (1, 1), ((2, 2), (0, 0)), 1),
    ((3, 4, 8, 8), (4, 1, 3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), 4),      # depthwise
    ((2, 3, 9, 6), (6, 1, 3, 2), (2, 3), (2, 1), ((2, 2), (1, 1)), 3),      # multiplier 2
    ((2, 6, 4, 5), (6, 2, 5, 5), (1, 1), (1, 1), ((3, 3), (3, 3)), 3),      # pad > input
    ((2, 3, 13), (5, 3, 4), (3,), (1,), ((2, 2),), 1),                      # 1-d
    ((2, 4, 10), (8, 1, 3), (1,), (2,), ((1, 1),), 4),                      # 1-d depthwise
    # one group, FEW_CHANNELS or more input channels: the NumPy GEMM path's gradients
    ((2, 16, 6, 7), (5, 16, 3, 3), (1, 1), (2, 1), ((2, 2), (1, 1)), 1),    # per-tap forward
    ((2, 8, 9, 7), (6, 8, 3, 3), (2, 1), (1, 2), ((1, 1), (2, 2)), 1),      # GEMM forward
    ((1, 9, 6, 6), (3, 9, 2, 3), (1, 1), (1, 1), ((0, 1), (1, 1)), 1),      # uneven padding
    ((2, 17, 12), (4, 17, 3), (2,), (1,), ((1, 1),), 1),                    # 1-d
]


def _params(stride, dilation, pads, groups):
    return {"stride": stride, "dilation": dilation, "pads": pads, "groups": groups}


def _generic(x, w, g, params):
    prim = PRIMITIVES["conv"]
    y = prim.forward(np, x, w, **params)
    return [y] + list(prim.vjp(np, g, y, (True, True), (x, w), params))


def _kernel(x, w, g, params, needs=(True, True)):
    kernel = _conv.KERNELS["conv"]
    y, saved = kernel.forward(x, w, **params)
    return [y] + list(kernel.vjp(g, saved, needs, x, w, **params))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES)
def test_kernel_matches_generic_rule(case, dtype):
    xs, ws, *geometry = case
    rng = np.random.default_rng(0)
    params = _params(*geometry)
    x, w = (rng.standard_normal(s).astype(dtype) for s in (xs, ws))
    g = rng.standard_normal(PRIMITIVES["conv"].forward(np, x, w, **params).shape).astype(dtype)
    tol = 1e-12 if dtype == "float64" else 2e-5
    for what, got, want in zip(("y", "dx", "dw"), _kernel(x, w, g, params),
                               _generic(x, w, g, params)):
        assert got.dtype == want.dtype and got.shape == want.shape, what
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)


@pytest.mark.parametrize("channels, stride, forward", [(16, (1, 1), "per tap"),
                                                      (16, (2, 2), "gemm"), (8, (1, 1), "gemm"),
                                                      (7, (1, 1), "loops")])
def test_one_group_routes(channels, stride, forward, monkeypatch):
    # one group from FEW_CHANNELS input channels on: the NumPy GEMM path's gradients, after
    # the per-tap forward (stride 1, TAPS_MIN_CHANNELS) or the GEMM path's own
    from xpgrad.backends.numpy import convolution_gemm

    calls = []
    for module, name in ((_conv, "from_wide"), (_conv, "im2col"),
                         (convolution_gemm, "_forward_last"), (convolution_gemm, "_vjp_last")):
        monkeypatch.setattr(module, name, lambda *a, _f=getattr(module, name), _n=name:
                            calls.append(_n) or _f(*a))
    rng = np.random.default_rng(6)
    params = _params(stride, (1, 1), ((1, 1), (1, 1)), 1)
    x, w = rng.standard_normal((2, channels, 5, 6)), rng.standard_normal((3, channels, 3, 3))
    g = rng.standard_normal(PRIMITIVES["conv"].forward(np, x, w, **params).shape)
    for got, want in zip(_kernel(x, w, g, params), _generic(x, w, g, params)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    expected = {"per tap": ["from_wide", "_vjp_last"], "gemm": ["_forward_last", "_vjp_last"],
                "loops": ["im2col", "im2col"]}[forward]
    assert calls == expected


def test_channels_last_one_group_runs_the_gemm_path():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 5, 6, 3)), rng.standard_normal((3, 3, 3, 4))
    params = dict(_params((1, 2), (1, 1), ((1, 1), (0, 1)), 1), channels_last=True)
    kernel, prim = _conv.KERNELS["conv"], PRIMITIVES["conv"]
    y, saved = kernel.forward(x, w, **params)
    want = prim.forward(np, x, w, **params)
    g = rng.standard_normal(want.shape)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    for got, ref in zip(kernel.vjp(g, saved, (True, True), x, w, **params),
                        prim.vjp(np, g, want, (True, True), (x, w), params)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("needs", [(True, False), (False, True)])
def test_kernel_skips_unwanted_gradients(needs):
    rng = np.random.default_rng(1)
    params = _params((1, 1), (1, 1), ((1, 1), (1, 1)), 1)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    g = rng.standard_normal((2, 4, 5, 5))
    got, want = _kernel(x, w, g, params, needs), _generic(x, w, g, params)
    for i, need in enumerate(needs, 1):
        if need:
            np.testing.assert_allclose(got[i], want[i], rtol=1e-12, atol=1e-12)
        else:
            assert got[i] is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", [c for c in CASES if c[2] in ((1, 1), (1,)) and c[5] == 1
                                  and all(left == right for left, right in c[4])]
                         + [((1, 16, 5, 4), (3, 16, 3, 3), (1, 1), (2, 1), ((2, 2), (1, 1)), 1),
                            ((2, 5, 6, 9), (2, 5, 2, 3), (1, 1), (1, 2), ((1, 1), (2, 2)), 1),
                            ((2, 3, 4, 4), (5, 3, 1, 1), (1, 1), (1, 1), ((0, 0), (0, 0)), 1),
                            ((3, 17, 9), (4, 17, 5), (1,), (1,), ((2, 2),), 1)])
def test_per_tap_products_match_generic_rule(case, dtype, monkeypatch):
    # stride 1, one group: the per-tap products on padded frames, whatever the channel count;
    # a small frame budget: a few images per chunk and a last, shorter chunk
    monkeypatch.setattr(_conv, "TAPS_MIN_CHANNELS", 1)
    monkeypatch.setattr(_conv, "FRAME_BUDGET", 2 * 8 * 60 * 8)
    calls = []
    monkeypatch.setattr(_conv, "from_wide", lambda *a, _f=_conv.from_wide: calls.append(1)
                        or _f(*a))
    test_kernel_matches_generic_rule(case, dtype)
    assert calls


@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
def test_per_tap_products_in_chunks_skip_unwanted_gradients(needs, monkeypatch):
    # 16 input channels: per tap by default; a budget of two images' frames (3 x 16 + 4 rows
    # of 7x8 float64): a chunk of two row-interleaved images, then one of one
    monkeypatch.setattr(_conv, "FRAME_BUDGET", 2 * (3 * 16 + 4) * 56 * 8)
    sizes = []
    monkeypatch.setattr(_conv, "from_wide", lambda *a, _f=_conv.from_wide: sizes.append(
        a[-1].shape[0]) or _f(*a))
    rng = np.random.default_rng(5)
    params = _params((1, 1), (1, 1), ((1, 1), (1, 1)), 1)
    x, w = rng.standard_normal((3, 16, 5, 6)), rng.standard_normal((4, 16, 3, 3))
    g = rng.standard_normal((3, 4, 5, 6))
    got, want = _kernel(x, w, g, params, needs), _generic(x, w, g, params)
    assert sizes == [2, 1]
    for i, need in enumerate(needs, 1):
        if need:
            np.testing.assert_allclose(got[i], want[i], rtol=1e-12, atol=1e-12)
        else:
            assert got[i] is None


def test_images_a_few_at_a_time(monkeypatch):
    # a small column budget: several images per product, a last, shorter chunk
    monkeypatch.setattr(_conv, "BUDGET", 3 * 2 * 9 * 25 * 8)
    monkeypatch.setattr(_conv, "MIN_COLUMNS", 1)
    rng = np.random.default_rng(2)
    params = _params((1, 1), (1, 1), ((1, 1), (1, 1)), 2)
    x, w = rng.standard_normal((7, 4, 5, 5)), rng.standard_normal((6, 2, 3, 3))
    g = rng.standard_normal((7, 6, 5, 5))
    for got, want in zip(_kernel(x, w, g, params), _generic(x, w, g, params)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _step(backend, x, w, b, **kwargs):
    xt = xg.asarray(x, backend=backend)
    wt, bt = (xg.Variable(xg.asarray(a, backend=backend)) for a in (w, b))
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = xg.nn.conv2d(xt, wt, bt, **kwargs)
        loss = xg.sum(y * y)
    return [t.numpy() for t in [y] + tape.gradient(loss, [xt, wt, bt])]


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("kwargs, ws", [({"padding": 1, "stride": 2}, (6, 4, 3, 3)),
                                        ({"padding": 1}, (6, 4, 3, 3)),
                                        ({"padding": 2, "dilation": 2}, (3, 4, 3, 3)),
                                        ({"groups": 2, "dilation": 2}, (6, 2, 3, 2)),
                                        ({"groups": 4, "padding": "same"}, (8, 1, 3, 3)),
                                        ({"padding": "same"}, (5, 4, 2, 4))])    # declined
def test_numba_matches_numpy_and_torch(kwargs, ws, monkeypatch):
    monkeypatch.setattr(_conv, "TAPS_MIN_CHANNELS", 4)         # stride 1, one group: per tap
    calls = []
    for name in ("im2col", "from_wide", "depthwise_fwd", "depthwise_fwd1"):
        original = getattr(_conv, name)
        monkeypatch.setattr(_conv, name, lambda *a, _f=original: calls.append(1) or _f(*a))
    rng = np.random.default_rng(3)
    x, w, b = (rng.standard_normal(s) for s in ((2, 4, 9, 8), ws, (ws[0],)))
    got = _step("numba", x, w, b, **kwargs)
    assert bool(calls) == (ws[2] % 2 == 1)        # an even "same" kernel pads unevenly: declined
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kwargs)
    (ty * ty).sum().backward()
    for what, a, c, t in zip(("y", "dx", "dw", "db"), got, _step("numpy", x, w, b, **kwargs),
                             (ty.detach(), tx.grad, tw.grad, tb.grad)):
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10, err_msg=what)
        np.testing.assert_allclose(a, t.numpy(), rtol=1e-10, atol=1e-10, err_msg=what)


@pytest.mark.parametrize("groups, channels", [(1, 3), (3, 3), (1, 16), (1, 8)])
def test_function_replay_equals_eager(groups, channels):
    # 16 channels: the per-tap forward, the GEMM path's gradients; 8: the GEMM path's forward
    layer = xg.nn.Conv2d(channels, 6, 3, padding=1, groups=groups, dtype="float64",
                         backend="numba", rng=0)

    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(xg.nn.relu(layer(x)) ** 2)
        return [loss] + tape.gradient(loss, [x, layer.weight, layer.bias])

    assert_replay_equals_eager(step, (2, channels, 6, 5), "numba")


@pytest.mark.parametrize("groups, ws", [(1, (2, 2, 2, 2)), (2, (4, 1, 2, 2))])
def test_second_order_on_numba_uses_the_generic_rule(groups, ws):
    rng = np.random.default_rng(4)
    x, w = (xg.asarray(rng.standard_normal(s), backend="numba") for s in ((1, 2, 4, 3), ws))
    xg.testing.check_grads(
        lambda x, w: xg.nn.conv2d(x, w, padding=1, stride=(1, 2), groups=groups) ** 2, (x, w),
        order=2)


def test_mixed_dtypes_are_refused_before_the_kernel():
    x = xg.ones((1, 2, 4, 4), dtype="float32", backend="numba")
    with pytest.raises(TypeError, match="conv2d: input is float32 but weight is float64"):
        xg.nn.conv2d(x, xg.ones((1, 2, 3, 3), dtype="float64", backend="numba"))


def test_docstring_example():
    import doctest

    from xpgrad.backends.numba import _conv_depthwise, _conv_frames

    for module in (_conv, _conv_frames, _conv_depthwise):
        assert doctest.testmod(module).failed == 0, module.__name__
