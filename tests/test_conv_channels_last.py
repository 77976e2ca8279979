"""xg.nn.conv1d / conv2d with data_format="channels_last" (NWC / NHWC input, Keras's and flax's
(k..., C_in / groups, C_out) kernel) in float64 on numpy and numba: values and the gradients of
input, kernel and bias against PyTorch's (the operands permuted to its NCHW / OIHW) and against
JAX's lax.conv_general_dilated with ("NHWC", "HWIO", "NHWC"), TensorFlow's strided "same"
included; finite differences (second order too), the generic rule's grouped path, the complex
path through transposes, and the errors."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn._data_format import tf_same_pairs
from xpgrad.ops import convolution

from gpu_marks import on_gpu
from window_checks import BACKENDS, assert_raises_naming, ours, theirs

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

# (N, spatial, C_in, C_out, kernel, keyword arguments); spatial and kernel of one or two axes
CASES = [
    (2, (7, 6), 3, 4, (3, 3), {}),
    (2, (9, 8), 3, 4, (3, 2), {"stride": 2, "padding": 1}),
    (2, (11, 9), 4, 6, (5, 3), {"stride": (3, 2), "padding": (4, 1), "dilation": (2, 1)}),
    (2, (8, 7), 4, 6, (3, 3), {"groups": 2, "padding": (2, 0), "stride": (1, 2)}),
    (2, (8, 9), 6, 6, (3, 3), {"groups": 6, "dilation": (2, 3)}),          # depthwise
    (2, (7, 7), 4, 8, (3, 3), {"groups": 4, "padding": 1}),                # depthwise, x2
    (2, (6, 7), 3, 2, (4, 3), {"padding": "same"}),                        # even kH
    (2, (8, 6), 3, 2, (3, 3), {"padding": "same", "dilation": (3, 2)}),
    (2, (6, 6), 3, 2, (3, 3), {"padding": "valid"}),
    (2, (7, 8), 3, 4, (3, 3), {"stride": 2, "padding": "same"}),           # TF's: 1 + (0, 1)
    (2, (9, 6), 4, 4, (4, 3), {"stride": (2, 3), "padding": "SAME", "groups": 2}),
    (2, (10, 7), 2, 3, (2, 2), {"stride": 3, "padding": "same", "dilation": 2}),
    (1, (9,), 3, 4, (3,), {"stride": 2, "padding": "same"}),
    (2, (12,), 4, 6, (5,), {"dilation": 2, "padding": 3, "groups": 2}),
    (2, (10,), 3, 3, (4,), {"groups": 3, "stride": 2, "padding": "valid"}),
    (2, (8,), 2, 5, (3,), {"padding": "same"}),
]


def _operands(case, rng, bias=True):
    n, spatial, c_in, c_out, kernel, kwargs = case
    groups = kwargs.get("groups", 1)
    x = rng.standard_normal((n,) + spatial + (c_in,))
    w = rng.standard_normal(kernel + (c_in // groups, c_out))
    return x, w, (rng.standard_normal(c_out) if bias else None)


def _fn(dims):
    return xg.nn.conv1d if dims == 1 else xg.nn.conv2d


def _pairs(padding, spatial, kernel, stride, dilation):
    """``padding`` as explicit (left, right) pairs, TensorFlow's "same" included."""
    dims = len(spatial)
    tup = (lambda v: tuple(v) if isinstance(v, tuple) else (v,) * dims)
    if isinstance(padding, str):
        if padding.lower() == "valid":
            return ((0, 0),) * dims
        return tf_same_pairs(spatial, kernel, tup(stride), tup(dilation))
    return tuple((p, p) for p in tup(padding))


def _torch_reference(x, w, b, kwargs):
    """PyTorch's conv on the permuted operands, explicit (maybe uneven) padding by F.pad,
    output and gradients back in the channels-last layout."""
    dims = x.ndim - 2
    kw = {k: v for k, v in kwargs.items() if k != "padding"}
    pairs = _pairs(kwargs.get("padding", 0), x.shape[1:-1], w.shape[:-2],
                   kwargs.get("stride", 1), kwargs.get("dilation", 1))
    flat = [p for pair in reversed(pairs) for p in pair]
    first = (0, dims + 1) + tuple(range(1, dims + 1))
    kernel_first = (dims + 1, dims) + tuple(range(dims))
    conv = F.conv1d if dims == 1 else F.conv2d

    def call(xt, wt, *bt):
        return conv(F.pad(xt.permute(*first), flat), wt.permute(*kernel_first), *bt, **kw) \
            .permute(0, *range(2, dims + 2), 1)
    y, grads = theirs(call, [x, w, b], {})
    return y.detach().numpy(), grads


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_channels_last_matches_torch(backend, case, rng):
    x, w, b = _operands(CASES[case], rng, bias=case % 2 == 0)
    kwargs = CASES[case][-1]
    y, grads = ours(_fn(x.ndim - 2), backend, [x, w, b], dict(kwargs, data_format="channels_last"))
    ty, tgrads = _torch_reference(x, w, b, kwargs)
    assert y.shape == ty.shape
    np.testing.assert_allclose(y.numpy(), ty, rtol=1e-11, atol=1e-11)
    for name, g, tg in zip(("input", "weight", "bias"), grads, tgrads):
        assert g.shape == tg.shape, name
        np.testing.assert_allclose(g.numpy(), tg, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_channels_last_matches_jax(case, rng, jax):
    lax, jnp = jax.lax, jax.numpy
    x, w, b = _operands(CASES[case], rng, bias=False)
    kwargs = CASES[case][-1]
    dims = x.ndim - 2
    tup = (lambda v: tuple(v) if isinstance(v, tuple) else (v,) * dims)
    padding = kwargs.get("padding", 0)
    padding = padding.upper() if isinstance(padding, str) else [(p, p) for p in tup(padding)]
    numbers = ("NWC", "WIO", "NWC") if dims == 1 else ("NHWC", "HWIO", "NHWC")

    def theirs_fn(xj, wj):
        return lax.conv_general_dilated(xj, wj, tup(kwargs.get("stride", 1)), padding,
                                        rhs_dilation=tup(kwargs.get("dilation", 1)),
                                        dimension_numbers=numbers,
                                        feature_group_count=kwargs.get("groups", 1))
    jy, vjp = jax.vjp(theirs_fn, jnp.asarray(x), jnp.asarray(w))
    ct = np.cos(np.arange(jy.size)).reshape(jy.shape)
    jgrads = vjp(jnp.asarray(ct))
    fmt = "NWC" if dims == 1 else "NHWC"
    y, grads = ours(_fn(dims), "numpy", [x, w], dict(kwargs, data_format=fmt))
    np.testing.assert_allclose(y.numpy(), np.asarray(jy), rtol=1e-11, atol=1e-11)
    for g, jg in zip(grads, jgrads):
        np.testing.assert_allclose(g.numpy(), np.asarray(jg), rtol=1e-10, atol=1e-10)


def test_keras_depthwise_kernel_reshaped(rng):
    """Keras's DepthwiseConv2D kernel (kH, kW, C, M) reshaped to (kH, kW, 1, C * M) with
    groups=C: output channel c * M + m is input channel c times its m-th filter (explicit
    loops as the reference)."""
    x, dk = rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 2, 3, 2))
    y = xg.nn.conv2d(xg.asarray(x), xg.asarray(dk.reshape(3, 2, 1, 6)), groups=3,
                     data_format="NHWC").numpy()
    want = np.zeros((2, 4, 4, 3, 2))
    for i in range(3):
        for j in range(2):
            want += x[:, i:i + 4, j:j + 4, :, None] * dk[i, j]
    np.testing.assert_allclose(y, want.reshape(2, 4, 4, 6), rtol=1e-12, atol=1e-12)


def test_same_with_stride_one_is_pytorchs_and_tfs():
    """Stride 1: PyTorch's "same" (odd padding on the right) is TensorFlow's."""
    for k, d in ((4, 1), (3, 2), (2, 3), (5, 1)):
        total = d * (k - 1)
        assert tf_same_pairs((9,), (k,), (1,), (d,)) == ((total // 2, total - total // 2),)


def test_strided_same_is_refused_channels_first_only():
    x = xg.ones((1, 2, 7, 7))
    assert_raises_naming(lambda: xg.nn.conv2d(x, xg.ones((3, 2, 3, 3)), stride=2,
                                              padding="same"),
                         ValueError, ["padding='same'", "stride=(2, 2)", "channels_last"])
    assert_raises_naming(lambda: xg.nn.conv2d(x, xg.ones((3, 2, 3, 3)), padding="SAME"),
                         ValueError, ["padding must be", "'SAME'"])
    y = xg.nn.conv2d(xg.ones((1, 7, 7, 2)), xg.ones((3, 3, 2, 3)), stride=2, padding="same",
                     data_format="NHWC")
    assert y.shape == (1, 4, 4, 3)


@pytest.mark.parametrize("groups", [1, 2])
def test_channels_last_finite_differences(groups):
    rng = np.random.default_rng(5)
    x = xg.asarray(rng.standard_normal((2, 6, 5, 4)))
    w = xg.asarray(rng.standard_normal((3, 2, 4 // groups, 4)))
    b = xg.asarray(rng.standard_normal(4))
    xg.testing.check_grads(lambda x, w, b: xg.nn.conv2d(
        x, w, b, stride=(2, 1), padding="same", dilation=(1, 2), groups=groups,
        data_format="channels_last"), (x, w, b))
    xg.testing.check_grads(lambda x, w: xg.nn.conv2d(
        x, w, padding=1, groups=groups, data_format="channels_last") ** 2, (x, w), order=2)


@pytest.mark.parametrize("groups, c_out", [(1, 4), (2, 6), (4, 4), (4, 8)])
def test_generic_rule_equals_channels_first_rule(groups, c_out, rng):
    """The rule CuPy runs (no conv kernel), on raw NumPy arrays: the channels-last one equals
    the channels-first one on the transposed operands, forward and vjp."""
    import array_api_compat.numpy as xp

    x = rng.standard_normal((2, 7, 6, 4))
    w = rng.standard_normal((3, 2, 4 // groups, c_out))
    params = dict(stride=(2, 1), dilation=(1, 2), pads=((1, 2), (0, 1)), groups=groups)
    xf, wf = np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1))
    y = convolution._forward(xp, x, w, channels_last=True, **params)
    yf = convolution._forward(xp, xf, wf, **params)
    np.testing.assert_allclose(np.moveaxis(y, -1, 1), yf, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    dx, dw = convolution._vjp(xp, g, None, (True, True), x, w, channels_last=True, **params)
    dxf, dwf = convolution._vjp(xp, np.moveaxis(g, -1, 1), None, (True, True), xf, wf, **params)
    np.testing.assert_allclose(np.moveaxis(dx, -1, 1), dxf, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.moveaxis(dw, (-1, -2), (0, 1)), dwf, rtol=1e-12, atol=1e-12)


def test_complex_runs_through_transposes(rng):
    """No kernel for complex: the channels-first composition between transposes; values and
    the gradients of sum(|y|^2) equal channels-first ones on the permuted operands."""
    x = rng.standard_normal((2, 6, 5, 4)) + 1j * rng.standard_normal((2, 6, 5, 4))
    w = rng.standard_normal((3, 3, 2, 6)) + 1j * rng.standard_normal((3, 3, 2, 6))

    def run(x, w, **kwargs):
        x, w = xg.asarray(x), xg.asarray(w)
        with xg.GradientTape() as tape:
            tape.watch(x)
            tape.watch(w)
            y = xg.nn.conv2d(x, w, padding=1, groups=2, **kwargs)
            loss = xg.sum(xg.real(y * xg.conj(y)))
        return [y.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, w])]
    y, dx, dw = run(x, w, data_format="NHWC")
    yf, dxf, dwf = run(np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1)))
    np.testing.assert_allclose(y, np.moveaxis(yf, 1, -1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, np.moveaxis(dxf, 1, -1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, np.moveaxis(dwf, (0, 1), (-1, -2)), rtol=1e-12, atol=1e-12)


@on_gpu
@pytest.mark.parametrize("groups", [1, 2])
def test_cupy_channels_last_equals_numpy(groups, rng):
    """CuPy (no conv kernel: the primitive's generic rule) gives NumPy's values and gradients."""
    x = rng.standard_normal((2, 9, 8, 4))
    w = rng.standard_normal((3, 3, 4 // groups, 6))
    kwargs = dict(stride=2, padding="same", groups=groups, data_format="NHWC")
    y, grads = ours(xg.nn.conv2d, "numpy", [x, w], kwargs)
    cy, cgrads = ours(xg.nn.conv2d, "cupy", [x, w], kwargs)
    for ours_, theirs_ in zip([y] + grads, [cy] + cgrads):
        np.testing.assert_allclose(theirs_.to("numpy").numpy(), ours_.numpy(), rtol=1e-10,
                                   atol=1e-10)


def test_unbatched_channels_last(rng):
    x, w = rng.standard_normal((6, 5, 3)), rng.standard_normal((3, 3, 3, 2))
    y = xg.nn.conv2d(xg.asarray(x), xg.asarray(w), padding=1, data_format="NHWC")
    batched = xg.nn.conv2d(xg.asarray(x[None]), xg.asarray(w), padding=1, data_format="NHWC")
    assert y.shape == (6, 5, 2)
    np.testing.assert_array_equal(y.numpy(), batched.numpy()[0])


BAD = [
    (lambda: xg.nn.conv2d(xg.ones((1, 5, 5, 3)), xg.ones((3, 3, 3, 2)), data_format="nhwc"),
     ValueError, ["conv2d", "data_format", "'channels_last'", "'NHWC'", "'nhwc'"]),
    (lambda: xg.nn.conv1d(xg.ones((1, 5, 3)), xg.ones((3, 3, 2)), data_format="NHWC"),
     ValueError, ["conv1d", "data_format", "'NWC'", "'NCW'"]),
    (lambda: xg.nn.conv2d(xg.ones((1, 5, 5, 3)), xg.ones((3, 3, 3, 2)), data_format=None),
     ValueError, ["data_format must be one of"]),
    # a PyTorch-layout (C_out, C_in, kH, kW) weight given to channels_last
    (lambda: xg.nn.conv2d(xg.ones((1, 28, 28, 1)), xg.ones((32, 1, 3, 3)), data_format="NHWC"),
     ValueError, ["input has 1 channels", "(kH, kW, in_channels / groups, out_channels)",
                  "(..., 1, out_channels)"]),
    (lambda: xg.nn.conv2d(xg.ones((1, 8, 8, 4)), xg.ones((3, 3, 2, 6)), groups=4,
                          data_format="NHWC"),
     ValueError, ["groups=4 does not divide", "(..., 1, out_channels)"]),
    (lambda: xg.nn.conv2d(xg.ones((1, 8, 8, 4)), xg.ones((3, 3, 2, 8)), groups=4,
                          data_format="NHWC"),
     ValueError, ["in_channels / groups = 2", "expects 8", "(..., 1, out_channels)"]),
    (lambda: xg.nn.conv2d(xg.ones((1, 8, 8, 3)), xg.ones((3, 3, 3)), data_format="NHWC"),
     ValueError, ["weight must be 4-D (kH, kW, in_channels / groups, out_channels)"]),
    (lambda: xg.nn.conv2d(xg.ones((8, 3)), xg.ones((3, 3, 3, 2)), data_format="NHWC"),
     ValueError, ["input must be (N, H, W, C) or unbatched (H, W, C)"]),
    (lambda: xg.nn.conv1d(xg.ones((1, 2, 8, 3)), xg.ones((3, 3, 2)), data_format="NWC"),
     ValueError, ["input must be (N, L, C) or unbatched (L, C)"]),
    (lambda: xg.nn.conv2d(xg.ones((1, 8, 8, 3)), xg.ones((3, 3, 3, 2)), bias=xg.ones(3),
                          data_format="NHWC"),
     ValueError, ["bias must have shape (out_channels,) = (2,)"]),
    (lambda: xg.nn.Conv2d(3, 4, 3, data_format="channels-last"),
     ValueError, ["Conv2d", "data_format", "'channels_first'"]),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input_is_named(case):
    call, error, words = BAD[case]
    assert_raises_naming(call, error, words)
