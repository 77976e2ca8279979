"""Session 20 review of the CNN layers as a PyTorch user porting a U-Net / DCGAN / ResNet
would call them: regression tests for what differed from torch (float64 values, gradients,
running statistics), on numpy and numba."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")
F = torch.nn.functional

BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])


def _grads(fn, x, backend):
    """``fn(x)`` and the gradient of ``sum(fn(x) * r)`` for a fixed r, as NumPy arrays."""
    xt = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
        loss = xg.sum(y * xg.asarray(np.cos(np.arange(y.size)).reshape(y.shape),
                                     backend=backend))
    return y.numpy(), tape.gradient(loss, xt).numpy()


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_max_pool_of_an_empty_batch_is_empty(backend):
    # it reshaped to (N, C, -1), which an empty tensor cannot resolve
    shape = (0, 2, 3, 3)
    x = np.zeros(shape)
    y, g = _grads(lambda t: xg.nn.adaptive_max_pool2d(t, 2), x, backend)
    want = F.adaptive_max_pool2d(torch.tensor(x), 2)
    assert y.shape == tuple(want.shape) and g.shape == shape
    out, index = xg.nn.adaptive_max_pool1d(xg.asarray(x[:, :, 0], backend=backend), 2,
                                           return_indices=True)
    assert out.shape == index.shape == shape[:2] + (2,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_group_norm_of_an_empty_batch_is_empty(backend):
    x = np.zeros((0, 4, 3))
    weight, bias = np.arange(1.0, 5.0), np.arange(4.0)
    y, g = _grads(lambda t: xg.nn.group_norm(t, 2, xg.asarray(weight, backend=backend),
                                             xg.asarray(bias, backend=backend)), x, backend)
    want = F.group_norm(torch.tensor(x), 2, torch.tensor(weight), torch.tensor(bias))
    assert y.shape == tuple(want.shape) and g.shape == x.shape
    layer = xg.nn.GroupNorm(2, 4, dtype=xg.float64, backend=backend)
    assert layer(xg.asarray(x, backend=backend)).shape == x.shape


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("options", [{}, {"track_running_stats": True, "momentum": 0.3}])
def test_instance_norm_of_an_empty_batch_is_empty_and_keeps_its_statistics(backend, options):
    ours = xg.nn.InstanceNorm2d(3, dtype=xg.float64, backend=backend, **options)
    ref = torch.nn.InstanceNorm2d(3, dtype=torch.float64, **options)
    rng = np.random.default_rng(0)
    full = rng.normal(size=(2, 3, 4, 4))
    y, g = _grads(ours, full, backend)                  # a real batch first: stats move
    np.testing.assert_allclose(y, ref(torch.tensor(full)).detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    before = {k: v.copy() for k, v in ours.torch_state_dict().items()}
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        y, g = _grads(ours, np.zeros((0, 3, 4, 4)), backend)
        assert y.shape == g.shape == (0, 3, 4, 4)
    for k, v in ours.torch_state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


STRICT_PAIRS = [  # (xpgrad layer, torch layer built like it, torch layer built otherwise)
    (lambda: xg.nn.GroupNorm(2, 4, dtype=xg.float64), lambda: torch.nn.GroupNorm(2, 4),
     lambda: torch.nn.GroupNorm(2, 4, affine=False)),
    (lambda: xg.nn.InstanceNorm2d(3, affine=True, dtype=xg.float64),
     lambda: torch.nn.InstanceNorm2d(3, affine=True),
     lambda: torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True)),
    (lambda: xg.nn.InstanceNorm1d(3, track_running_stats=True, dtype=xg.float64),
     lambda: torch.nn.InstanceNorm1d(3, track_running_stats=True),
     lambda: torch.nn.InstanceNorm1d(3, affine=True)),
    (lambda: xg.nn.ConvTranspose2d(3, 4, 3, dtype=xg.float64),
     lambda: torch.nn.ConvTranspose2d(3, 4, 3),
     lambda: torch.nn.ConvTranspose2d(3, 4, 3, bias=False)),
    (lambda: xg.nn.ConvTranspose1d(2, 4, 3, bias=False, dtype=xg.float64),
     lambda: torch.nn.ConvTranspose1d(2, 4, 3, bias=False),
     lambda: torch.nn.ConvTranspose1d(2, 4, 3)),
]


@pytest.mark.parametrize("make_ours, make_like, make_other", STRICT_PAIRS)
def test_load_torch_state_dict_strict_false_as_torchs(make_ours, make_like, make_other):
    # GroupNorm, InstanceNorm*d and ConvTranspose*d took no strict= (TypeError)
    torch.manual_seed(0)
    ours, like, other = make_ours(), make_like().double(), make_other().double()
    with torch.no_grad():
        for p in other.parameters():
            p.uniform_(-1.0, 1.0)
    before = ours.torch_state_dict()
    want = like.load_state_dict(other.state_dict(), strict=False)
    got = ours.load_torch_state_dict(other.state_dict(), strict=False)
    assert sorted(got.missing_keys) == sorted(want.missing_keys)
    assert sorted(got.unexpected_keys) == sorted(want.unexpected_keys)
    state, given = ours.torch_state_dict(), other.state_dict()
    for k, v in state.items():
        np.testing.assert_array_equal(v, given[k].numpy() if k in given else before[k],
                                      err_msg=k)
    with pytest.raises(ValueError, match="load_torch_state_dict"):
        ours.load_torch_state_dict(other.state_dict())
    assert repr(ours.load_torch_state_dict(like.state_dict())) == "<All keys matched successfully>"


def test_interpolate_refuses_recompute_scale_factor_with_a_size_as_torch():
    x = np.ones((1, 1, 2, 4))
    with pytest.raises(ValueError):
        F.interpolate(torch.tensor(x), size=3, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="interpolate: recompute_scale_factor"):
        xg.nn.interpolate(xg.asarray(x), size=3, recompute_scale_factor=True)
    for flag in (None, False):                                  # torch takes these
        want = F.interpolate(torch.tensor(x), size=3, recompute_scale_factor=flag)
        got = xg.nn.interpolate(xg.asarray(x), size=3, recompute_scale_factor=flag)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_pad_value_none_is_zero_as_torch(backend):
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    want = F.pad(torch.tensor(x), (1, 2, -1, 1), value=None).numpy()
    y, g = _grads(lambda t: xg.nn.pad(t, (1, 2, -1, 1), value=None), x, backend)
    np.testing.assert_array_equal(y, want)
    assert g.shape == x.shape


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_of_an_empty_axis_is_a_clear_error(mode):
    x = np.zeros((1, 2, 0))
    with pytest.raises(RuntimeError):
        F.pad(torch.tensor(x), (1, 1), mode=mode)
    with pytest.raises(ValueError, match=f"pad: mode='{mode}'.*axis 2"):
        xg.nn.pad(xg.asarray(x), (1, 1), mode=mode)
    y = xg.nn.pad(xg.asarray(np.zeros((0, 2, 3))), (1, 1), mode=mode)     # an empty batch
    assert y.shape == tuple(F.pad(torch.zeros(0, 2, 3), (1, 1), mode=mode).shape)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_indices_of_long_axes_are_torchs(dtype, mode):
    # a float64 input's indices came from a float32 scale and product; PyTorch computes them
    # in float64 and rounds the product to float32 (86 -> 2284 and 2652 -> 282 differed)
    rng = np.random.default_rng(7)
    cases = [(86, 2284, None), (2652, 282, None)] + [
        (int(n), None, float(rng.uniform(0.1, 3.0))) for n in rng.integers(500, 3000, 6)]
    for length, size, factor in cases:
        for lead in ((2,), (2, 1), (2, 1, 1)):                  # 1-D, 2-D, 3-D spatial
            x = np.broadcast_to(np.arange(length, dtype=dtype), (1,) + lead + (length,))
            kw = ({"size": lead[1:] + (size,)} if size else
                  {"scale_factor": (1.0,) * (len(lead) - 1) + (factor,)})
            want = F.interpolate(torch.tensor(x.copy()), mode=mode, **kw).numpy()
            got = xg.nn.interpolate(xg.asarray(x.copy()), mode=mode, **kw).numpy()
            np.testing.assert_array_equal(got, want, err_msg=f"{length} {kw}")


class _TorchStyleNet(torch.nn.Module):
    """Conv -> parameter-free norms (CycleGAN's InstanceNorm2d, GroupNorm without affine,
    BatchNorm2d with neither) -> upsampling: torch's state dict holds only the conv's keys."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.inorm = torch.nn.InstanceNorm2d(3)
        self.gn = torch.nn.GroupNorm(1, 3, affine=False)
        self.bn = torch.nn.BatchNorm2d(3, affine=False, track_running_stats=False)
        self.up = torch.nn.Upsample(scale_factor=2, mode="bilinear")

    def forward(self, x):
        return self.up(self.bn(self.gn(self.inorm(self.conv(x)))))


class _XgStyleNet(xg.nn.Module):
    def __init__(self, backend):
        super().__init__("net")
        kw = {"dtype": xg.float64, "backend": backend}
        self.conv = xg.nn.Conv2d(2, 3, 3, padding=1, **kw)
        self.inorm = xg.nn.InstanceNorm2d(3, **kw)
        self.gn = xg.nn.GroupNorm(1, 3, affine=False, **kw)
        self.bn = xg.nn.BatchNorm2d(3, affine=False, track_running_stats=False, **kw)
        self.up = xg.nn.Upsample(scale_factor=2, mode="bilinear")

    def forward(self, x):
        return self.up(self.bn(self.gn(self.inorm(self.conv(x)))))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_with_weightless_norm_layers_loads_torchs_state_dict(backend):
    # the layers without keys were reported missing: ValueError on a strict load
    torch.manual_seed(0)
    ref, ours = _TorchStyleNet().double(), _XgStyleNet(backend)
    assert sorted(ours.torch_state_dict()) == sorted(ref.state_dict())
    assert repr(ours.load_torch_state_dict(ref.state_dict())) == \
        "<All keys matched successfully>"
    x = np.random.default_rng(2).normal(size=(2, 2, 4, 5))
    y, g = _grads(ours, x, backend)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    (ty * torch.tensor(np.cos(np.arange(ty.numel())).reshape(ty.shape))).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    extra = {**ref.state_dict(), "inorm.weight": torch.ones(3)}   # a key it cannot take
    with pytest.raises(ValueError, match="inorm"):
        ours.load_torch_state_dict(extra)
    got = ours.load_torch_state_dict(extra, strict=False)
    assert got.missing_keys == [] and got.unexpected_keys == ["inorm.weight"]
