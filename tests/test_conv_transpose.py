"""xg.nn.conv_transpose1d/2d and ConvTranspose1d/2d against torch's in float64 (values and the
gradients of input, weight and bias) on numpy and numba over a grid of strides, paddings,
output paddings, dilations and groups; finite differences, xg.function replay == eager,
PyTorch's initialization, state dicts, output_size= and bad input."""
import itertools
import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])

# stride 1-3, padding 0-2, output_padding < max(stride, dilation), dilation 1-2, groups 1-2
GRID = [(s, p, op, d, g) for s, p, op, d, g in
        itertools.product((1, 2, 3), (0, 1, 2), (0, 1, 2), (1, 2), (1, 2))
        if op < max(s, d)]


def _run(fn, backend, x, w, b, kwargs):
    xt, wt = xg.asarray(x, backend=backend), xg.asarray(w, backend=backend)
    watched = [xt, wt] + ([xg.asarray(b, backend=backend)] if b is not None else [])
    with xg.GradientTape() as tape:
        for t in watched:
            tape.watch(t)
        y = fn(*watched[:2], watched[2] if b is not None else None, **kwargs)
        ct = xg.asarray(np.cos(np.arange(y.size)).reshape(y.shape), backend=backend)
        loss = xg.sum(y * ct)
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, watched)]


def _torch(fn, x, w, b, kwargs):
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    y = fn(ts[0], ts[1], ts[2] if b is not None else None, **kwargs)
    ct = torch.tensor(np.cos(np.arange(y.numel())).reshape(y.shape))
    (y * ct).sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def _compare(ours, ref):
    (y, grads), (ty, tgrads) = ours, ref
    assert y.shape == ty.shape
    np.testing.assert_allclose(y, ty, rtol=1e-11, atol=1e-11)
    assert len(grads) == len(tgrads)
    for name, g, tg in zip(("input", "weight", "bias"), grads, tgrads):
        np.testing.assert_allclose(g, tg, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_transpose1d_grid_matches_torch(backend):
    rng = np.random.default_rng(0)
    for i, (s, p, op, d, g) in enumerate(GRID):
        kwargs = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g)
        x, w = rng.standard_normal((2, 4, 5)), rng.standard_normal((4, 3, 3))
        b = rng.standard_normal(3 * g) if i % 2 else None
        _compare(_run(xg.nn.conv_transpose1d, backend, x, w, b, kwargs),
                 _torch(F.conv_transpose1d, x, w, b, kwargs))


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_transpose2d_grid_matches_torch(backend):
    rng = np.random.default_rng(1)
    for i, (s, p, op, d, g) in enumerate(GRID[::3]):
        kwargs = dict(stride=(s, 1 + i % 2), padding=(p, i % 2), output_padding=(op, 0),
                      dilation=(d, 1), groups=g)
        x, w = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 2, 3, 2))
        b = rng.standard_normal(2 * g) if i % 2 == 0 else None
        _compare(_run(xg.nn.conv_transpose2d, backend, x, w, b, kwargs),
                 _torch(F.conv_transpose2d, x, w, b, kwargs))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_matches_torch(backend, dims, multiplier):
    """groups == in_channels: stride 1 (and, on numba, any stride) runs as a convolution of
    the flipped kernel (of the zero-spread input); a multiplier of 2 is not depthwise."""
    rng = np.random.default_rng(2)
    fn, ref = ((xg.nn.conv_transpose1d, F.conv_transpose1d) if dims == 1
               else (xg.nn.conv_transpose2d, F.conv_transpose2d))
    for i, (s, p, op, d, _) in enumerate(GRID[::2]):
        kwargs = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=4)
        x = rng.standard_normal((2, 4) + (5,) * dims)
        w = rng.standard_normal((4, multiplier) + (3,) * dims)
        b = rng.standard_normal(4 * multiplier) if i % 2 else None
        _compare(_run(fn, backend, x, w, b, kwargs), _torch(ref, x, w, b, kwargs))


@pytest.mark.parametrize("backend", BACKENDS)
def test_unbatched_and_large_padding_match_torch(backend):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 2, 2, 3)), \
        rng.standard_normal(2)
    kwargs = dict(stride=2, padding=(2, 3), output_padding=1)     # padding > dilation (k - 1)
    _compare(_run(xg.nn.conv_transpose2d, backend, x, w, b, kwargs),
             _torch(F.conv_transpose2d, x, w, b, kwargs))
    x1, w1 = rng.standard_normal((3, 6)), rng.standard_normal((3, 4, 5))
    kwargs = dict(stride=3, dilation=2, output_padding=2, groups=1, padding=1)
    _compare(_run(xg.nn.conv_transpose1d, backend, x1, w1, None, kwargs),
             _torch(F.conv_transpose1d, x1, w1, None, kwargs))


def test_finite_differences():
    rng = np.random.default_rng(3)
    x, w, b = (xg.asarray(rng.standard_normal(s)) for s in ((1, 2, 3, 3), (2, 1, 3, 2), (2,)))
    xg.testing.check_grads(
        lambda x, w, b: xg.nn.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 0),
                                               output_padding=(1, 0), groups=2), (x, w, b))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dims", [1, 2])
def test_layer_matches_torch_and_state_dicts(backend, dims):
    cls, ref_cls = ((xg.nn.ConvTranspose1d, torch.nn.ConvTranspose1d) if dims == 1 else
                    (xg.nn.ConvTranspose2d, torch.nn.ConvTranspose2d))
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    ref = ref_cls(4, 6, 3, **kwargs).double()
    ours = cls(4, 6, 3, **kwargs, dtype="float64", backend=backend, rng=0)
    ours.load_torch_state_dict(ref.state_dict())
    x = np.random.default_rng(4).standard_normal((2, 4) + (5,) * dims)
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = ours(xt)
        loss = xg.sum(y * y)
    grads = tape.gradient(loss, [xt, ours.weight, ours.bias])
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, (tx.grad, ref.weight.grad, ref.bias.grad)):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-11, atol=1e-11)
    back = ref_cls(4, 6, 3, **kwargs).double()
    back.load_state_dict({k: torch.tensor(v) for k, v in ours.torch_state_dict().items()})
    np.testing.assert_array_equal(back.weight.detach().numpy(), ours.weight.numpy())
    with pytest.raises(ValueError, match="load_torch_state_dict"):
        ours.load_torch_state_dict({"weight": np.zeros((6, 2) + (3,) * dims),
                                    "bias": np.zeros(6)})


@pytest.mark.parametrize("size", [(9, 10), (10, 9), (2, 3, 10, 10), (9, 9)])
def test_output_size_as_torch(size):
    ref = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    ours = xg.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype="float64", rng=0)
    ours.load_torch_state_dict(ref.state_dict())
    x = np.random.default_rng(5).standard_normal((2, 3, 5, 5))
    want = ref(torch.tensor(x), output_size=list(size)).detach().numpy()
    np.testing.assert_allclose(ours(xg.asarray(x), output_size=size).numpy(), want,
                               rtol=1e-12, atol=1e-12)


def test_output_size_out_of_range_is_refused_as_torch():
    ours = xg.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, rng=0)
    x = xg.ones((2, 3, 5, 5))
    with pytest.raises(ValueError, match="ConvTranspose2d.*output_size.*range from"):
        ours(x, output_size=(11, 9))
    with pytest.raises(ValueError, match="ConvTranspose2d: for 4-D input, output_size"):
        ours(x, output_size=(9, 9, 9))
    with pytest.raises(ValueError, match="range from"):
        torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)(torch.ones(2, 3, 5, 5),
                                                                output_size=[11, 9])


def test_torch_default_initialization():
    layer = xg.nn.ConvTranspose2d(8, 64, (3, 5), groups=2, rng=0)
    bound = 1 / math.sqrt(64 // 2 * 3 * 5)         # torch's fan_in: the weight's axis 1 * k
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.shape == (8, 32, 3, 5) and w.dtype == np.float32 and b.shape == (64,)
    assert bound * 0.95 < np.abs(w).max() <= bound
    assert bound * 0.8 < np.abs(b).max() <= bound
    assert w.flags["C_CONTIGUOUS"]
    assert (layer.kernel_size, layer.stride, layer.output_padding) == ((3, 5), (1, 1), (0, 0))
    assert torch.nn.ConvTranspose2d(8, 64, (3, 5), groups=2).weight.shape == w.shape


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_replay_equals_eager(backend):
    layer = xg.nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1, dtype="float64",
                                  backend=backend, rng=0)

    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.nn.relu(layer(x)) ** 2)
        return [loss] + tape.gradient(loss, [layer.weight, layer.bias])

    compiled = xg.function(step)
    for seed in range(3):
        x = xg.asarray(np.random.default_rng(seed).standard_normal((2, 3, 4, 5)),
                       backend=backend)
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kwargs, match", [
    (dict(stride=2, output_padding=2), "output_padding must be smaller than either stride "
                                       "or dilation"),
    (dict(dilation=0), "dilation must be at least 1"),
    (dict(stride=0), "stride must be at least 1"),
    (dict(padding=-1), "padding must be non-negative"),
    (dict(groups=3), "groups=3 does not divide the weight's in_channels 4"),
    (dict(padding=5), "the output would be empty"),
])
def test_bad_arguments_name_them(kwargs, match):
    x, w = xg.ones((1, 4, 3)), xg.ones((4, 2, 3))
    with pytest.raises(ValueError, match="conv_transpose1d: " + match):
        xg.nn.conv_transpose1d(x, w, **kwargs)


def test_bad_inputs_name_them():
    w = xg.ones((4, 2, 3, 3))
    with pytest.raises(ValueError, match="conv_transpose2d: input has 3 channels"):
        xg.nn.conv_transpose2d(xg.ones((1, 3, 4, 4)), w)
    with pytest.raises(ValueError, match="conv_transpose2d: input must be"):
        xg.nn.conv_transpose2d(xg.ones((4, 4)), w)
    with pytest.raises(ValueError, match="conv_transpose2d: weight must be 4-D"):
        xg.nn.conv_transpose2d(xg.ones((1, 4, 4, 4)), xg.ones((4, 2, 3)))
    with pytest.raises(ValueError, match="conv_transpose2d: bias must have shape"):
        xg.nn.conv_transpose2d(xg.ones((1, 4, 4, 4)), w, xg.ones(4))
    with pytest.raises(TypeError, match="conv_transpose2d: groups must be an int"):
        xg.nn.conv_transpose2d(xg.ones((1, 4, 4, 4)), w, groups=1.0)
    with pytest.raises(ValueError, match="ConvTranspose2d: output_padding must be smaller"):
        xg.nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="ConvTranspose1d: only padding_mode='zeros'"):
        xg.nn.ConvTranspose1d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="ConvTranspose1d: out_channels .3. must be divisible"):
        xg.nn.ConvTranspose1d(2, 3, 3, groups=2)
