"""BatchNorm2d / BatchNorm3d against torch.nn.BatchNorm2d / 3d in float64: outputs, input,
weight and bias gradients and running statistics over several training steps (momentum, the
cumulative average, no affine, no running statistics), then evaluation mode; numpy and numba;
state dicts both ways; SyncBatchNorm.convert_sync_batchnorm; bad input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if backend_report().get(b, {}).get("available")]
OPTIONS = [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
           {"eps": 1e-3, "momentum": 0.3}]


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _pair(cls, torch_cls, c, options, backend, seed=0):
    """An xpgrad layer and a torch one with the same random weights and statistics."""
    torch = _torch()
    ref = torch_cls(c, dtype=torch.float64, **options)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        if ref.affine:
            ref.weight.copy_(torch.tensor(rng.normal(size=c) + 1.0))
            ref.bias.copy_(torch.tensor(rng.normal(size=c)))
        if ref.track_running_stats:
            ref.running_mean.copy_(torch.tensor(rng.normal(size=c)))
            ref.running_var.copy_(torch.tensor(rng.uniform(0.5, 2.0, size=c)))
    ours = cls(c, dtype=xg.float64, backend=backend, **options)
    ours.load_torch_state_dict(ref.state_dict())
    return ours, ref


def _step(ours, ref, x, r):
    """Output and gradients of ``sum(y * r + y**2)`` for x, weight, bias, on both layers."""
    torch = _torch()
    xt = xg.asarray(x, backend=ours._backend)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = ours(xt)
        loss = xg.sum(y * xg.asarray(r, backend=ours._backend) + y * y)
    sources = [xt] + ([ours.weight, ours.bias] if ours.affine else [])
    got = [y] + tape.gradient(loss, sources)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    (ty * torch.tensor(r) + ty * ty).sum().backward()
    want = [ty, tx.grad] + ([ref.weight.grad, ref.bias.grad] if ref.affine else [])
    if ref.affine:
        ref.weight.grad = ref.bias.grad = None
    for what, g, w in zip(("output", "dx", "dweight", "dbias"), got, want):
        np.testing.assert_allclose(g.numpy(), w.detach().numpy(), rtol=1e-10, atol=1e-11,
                                   err_msg=what)


def _same_state(ours, ref):
    state = ours.torch_state_dict()
    assert sorted(state) == sorted(ref.state_dict())
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(state[k], v.numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("options", OPTIONS)
def test_batch_norm_2d_trains_and_evaluates_as_torch(backend, options):
    torch = _torch()
    ours, ref = _pair(xg.nn.BatchNorm2d, torch.nn.BatchNorm2d, 3, options, backend)
    rng = np.random.default_rng(1)
    for step in range(3):
        x = rng.normal(size=(4, 3, 5, 6)) * 2.0 + step
        _step(ours, ref, x, rng.normal(size=x.shape))
        _same_state(ours, ref)
    ours.eval(), ref.eval()
    x = rng.normal(size=(2, 3, 3, 4))
    _step(ours, ref, x, rng.normal(size=x.shape))
    _same_state(ours, ref)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_norm_3d_trains_and_evaluates_as_torch(backend):
    torch = _torch()
    ours, ref = _pair(xg.nn.BatchNorm3d, torch.nn.BatchNorm3d, 2, {}, backend)
    rng = np.random.default_rng(2)
    for _ in range(2):
        x = rng.normal(size=(3, 2, 2, 3, 4))
        _step(ours, ref, x, rng.normal(size=x.shape))
        _same_state(ours, ref)
    ours.eval(), ref.eval()
    _step(ours, ref, x, rng.normal(size=x.shape))


def test_numba_equals_numpy():
    if "numba" not in BACKENDS:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(3)
    x, r = rng.normal(size=(3, 4, 5, 5)), rng.normal(size=(3, 4, 5, 5))
    results = []
    for backend in ("numpy", "numba"):
        bn = xg.nn.BatchNorm2d(4, dtype=xg.float64, backend=backend)
        bn.weight.assign(rng.normal(size=4) if not results else results[0][-1])
        xt = xg.asarray(x, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            loss = xg.sum(bn(xt) * xg.asarray(r, backend=backend))
        grads = tape.gradient(loss, [xt, bn.weight, bn.bias])
        results.append([g.numpy() for g in grads] + [bn.running_var.numpy(),
                                                     bn.weight.numpy()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_state_dict_round_trip_and_reset():
    torch = _torch()
    ref = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    ref(torch.randn(4, 3, 2, 2, dtype=torch.float64))
    bn = xg.nn.BatchNorm2d(3, dtype=xg.float64)
    bn.load_torch_state_dict(ref.state_dict())
    assert bn.num_batches_tracked.item() == 1
    again = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    again.load_state_dict({k: torch.as_tensor(v) for k, v in bn.torch_state_dict().items()})
    for k, v in ref.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    bn.reset_running_stats()
    assert bn.running_var.tolist() == [1.0] * 3 and bn.num_batches_tracked.item() == 0
    with pytest.raises(ValueError, match="BatchNorm2d"):
        bn.load_torch_state_dict({"weight": np.ones(2)})


def test_convert_sync_batchnorm_converts_2d_and_3d_layers():
    model = xg.nn.Sequential(xg.nn.Conv2d(2, 3, 3, rng=0, dtype=xg.float64),
                             xg.nn.BatchNorm2d(3, dtype=xg.float64), xg.nn.ReLU())
    ref = xg.nn.BatchNorm2d(3, dtype=xg.float64)
    bn = model.layers[1]
    converted = xg.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    sync = converted.layers[1]
    assert type(sync) is xg.nn.SyncBatchNorm and sync.weight is bn.weight
    assert type(xg.nn.SyncBatchNorm.convert_sync_batchnorm(xg.nn.BatchNorm3d(2))) is \
        xg.nn.SyncBatchNorm
    x = xg.asarray(np.random.default_rng(4).normal(size=(2, 3, 4, 4)))
    np.testing.assert_allclose(sync(x).numpy(), ref(x).numpy(), rtol=1e-14)   # one process
    np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-14)
    assert not isinstance(bn, xg.nn.BatchNorm1d)       # as torch: siblings, not subclasses


def test_bad_input():
    bn = xg.nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D \(N, C, H, W\) input"):
        bn(xg.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="BatchNorm3d: expected a 5-D"):
        xg.nn.BatchNorm3d(3)(xg.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="BatchNorm2d: the input has 2 channels"):
        bn(xg.ones((2, 2, 4, 4)))
    with pytest.raises(TypeError, match="BatchNorm2d has float32 weights"):
        bn(xg.ones((2, 3, 4, 4), dtype=xg.float64))
    with pytest.raises(ValueError, match="BatchNorm2d: expected more than 1 value per channel"):
        bn(xg.ones((1, 3, 1, 1)))
    with pytest.raises(ValueError, match="BatchNorm2d.*num_features"):
        xg.nn.BatchNorm2d(-1)
    with pytest.raises(ValueError, match="BatchNorm2d.*momentum"):
        xg.nn.BatchNorm2d(2, momentum=1.5)
    with pytest.raises(TypeError, match="BatchNorm2d.*affine"):
        xg.nn.BatchNorm2d(2, affine="yes")
    with pytest.raises(ValueError, match="BatchNorm1d: expected a 2-D"):
        xg.nn.BatchNorm1d(3)(xg.ones((2, 3, 4, 4)))
