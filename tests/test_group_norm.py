"""xg.nn.group_norm, GroupNorm and InstanceNorm1d/2d/3d against torch's in float64 (values,
input and affine gradients, running statistics) on numpy and numba; finite differences,
xg.function replay == eager (the running update included), state dicts; bad input."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

BACKENDS = ["numpy"] + (["numba"] if backend_report().get(
    "numba", {"available": False})["available"] else [])


def _compare(ours, ref, x, backend, variables, params):
    xt = xg.asarray(x, backend=backend)
    ct = np.cos(np.arange(x.size)).reshape(x.shape)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        y = ours(xt)
        loss = xg.sum(y * xg.asarray(ct, backend=backend)) + xg.sum(y ** 3)
    grads = tape.gradient(loss, [xt] + variables)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    ((ty * torch.tensor(ct)).sum() + (ty ** 3).sum()).backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for g, tg in zip(grads, [tx.grad] + [p.grad for p in params]):
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("groups, channels, shape, affine", [
    (2, 6, (3, 6, 5), True), (3, 6, (2, 6, 4, 5), True), (1, 4, (2, 4, 3, 3), False),
    (4, 4, (2, 4, 7), True), (2, 4, (2, 4), True), (2, 4, (2, 4, 2, 3, 2), True)])
def test_group_norm_matches_torch(backend, groups, channels, shape, affine):
    rng = np.random.default_rng(0)
    ref = torch.nn.GroupNorm(groups, channels, affine=affine).double()
    ours = xg.nn.GroupNorm(groups, channels, affine=affine, dtype="float64", backend=backend)
    if affine:
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(rng.standard_normal(channels)))
            ref.bias.copy_(torch.tensor(rng.standard_normal(channels)))
        ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal(shape) * 3 + 1
    params = [ref.weight, ref.bias] if affine else []
    _compare(ours, ref, x, backend, [ours.weight, ours.bias] if affine else [], params)


def test_group_norm_functional_matches_torch():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 6, 3, 4)), rng.standard_normal(6), rng.standard_normal(6)
    want = torch.nn.functional.group_norm(torch.tensor(x), 3, torch.tensor(w), torch.tensor(b),
                                          eps=1e-3)
    got = xg.nn.group_norm(xg.asarray(x), 3, xg.asarray(w), xg.asarray(b), eps=1e-3)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    xg.testing.check_grads(lambda x, w, b: xg.nn.group_norm(x, 2, w, b),
                           tuple(xg.asarray(rng.standard_normal(s)) for s in
                                 ((2, 4, 3), (4,), (4,))))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls, shape", [("InstanceNorm1d", (3, 4, 6)),
                                        ("InstanceNorm1d", (4, 6)),
                                        ("InstanceNorm2d", (2, 4, 3, 5)),
                                        ("InstanceNorm2d", (4, 3, 5)),
                                        ("InstanceNorm3d", (2, 4, 2, 3, 2))])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_matches_torch(backend, cls, shape, affine):
    rng = np.random.default_rng(2)
    ref = getattr(torch.nn, cls)(4, affine=affine).double()
    ours = getattr(xg.nn, cls)(4, affine=affine, dtype="float64", backend=backend)
    if affine:
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(rng.standard_normal(4)))
            ref.bias.copy_(torch.tensor(rng.standard_normal(4)))
        ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal(shape) * 2 - 1
    params = [ref.weight, ref.bias] if affine else []
    _compare(ours, ref, x, backend, [ours.weight, ours.bias] if affine else [], params)
    ours.eval()
    ref.eval()
    _compare(ours, ref, x, backend, [ours.weight, ours.bias] if affine else [], [])


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("momentum", [0.3, None])
def test_instance_norm_running_stats_as_torch(momentum):
    rng = np.random.default_rng(3)
    ref = torch.nn.InstanceNorm2d(3, momentum=momentum, affine=True,
                                  track_running_stats=True).double()
    ours = xg.nn.InstanceNorm2d(3, momentum=momentum, affine=True, track_running_stats=True,
                                dtype="float64")
    for _ in range(3):
        x = rng.standard_normal((2, 3, 4, 5)) * 2 + 1
        _compare(ours, ref, x, "numpy", [ours.weight, ours.bias], [])
    state = ours.torch_state_dict()
    assert list(state) == list(ref.state_dict())
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(state[k], v.numpy(), rtol=1e-12, atol=1e-12, err_msg=k)
    ours.eval()
    ref.eval()
    ref.zero_grad()
    _compare(ours, ref, rng.standard_normal((2, 3, 4, 5)), "numpy", [ours.weight, ours.bias],
             [ref.weight, ref.bias])


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_replay_equals_eager_with_running_update(backend):
    def make():
        return (xg.nn.GroupNorm(2, 4, dtype="float64", backend=backend),
                xg.nn.InstanceNorm2d(4, affine=True, track_running_stats=True,
                                     dtype="float64", backend=backend))

    def stepper(gn, inorm):
        def step(x):
            with xg.GradientTape() as tape:
                loss = xg.sum(xg.sin(inorm(gn(x))) ** 2)
            return [loss] + tape.gradient(loss, [gn.weight, gn.bias, inorm.weight])
        return step

    eager, traced = make(), make()
    compiled = xg.function(stepper(*traced))
    step = stepper(*eager)
    for seed in range(3):
        x = xg.asarray(np.random.default_rng(seed).standard_normal((2, 4, 3, 3)),
                       backend=backend)
        for got, want in zip(compiled(x), step(x)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(traced[1].running_var.numpy(), eager[1].running_var.numpy(),
                               rtol=1e-13)
    assert traced[1].num_batches_tracked.item() == 0              # as torch's
    assert not np.allclose(traced[1].running_var.numpy(), 1.0)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="GroupNorm: num_channels .6. must be divisible by "
                                         "num_groups .4."):
        xg.nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="GroupNorm: the input has 3 channels"):
        xg.nn.GroupNorm(2, 4)(xg.ones((2, 3, 5)))
    with pytest.raises(TypeError, match="GroupNorm has float32 weights but got a float64"):
        xg.nn.GroupNorm(2, 4)(xg.ones((2, 4, 5), dtype=xg.float64))
    with pytest.raises(ValueError, match="group_norm: num_groups=4 does not divide"):
        xg.nn.group_norm(xg.ones((2, 6, 3)), 4)
    with pytest.raises(ValueError, match="group_norm: weight must have shape"):
        xg.nn.group_norm(xg.ones((2, 6, 3)), 2, weight=xg.ones(4))
    with pytest.raises(ValueError, match="group_norm: input must be .N, C"):
        xg.nn.group_norm(xg.ones(6), 2)
    with pytest.raises(ValueError, match="InstanceNorm2d: expected 4-D"):
        xg.nn.InstanceNorm2d(3)(xg.ones((3, 4)))
    with pytest.raises(ValueError, match="InstanceNorm1d: the input has 2 channels"):
        xg.nn.InstanceNorm1d(3, affine=True)(xg.ones((2, 2, 4)))
    with pytest.warns(UserWarning, match="InstanceNorm1d: input has 2 channels"):
        xg.nn.InstanceNorm1d(3)(xg.ones((2, 2, 4)))
    with pytest.raises(ValueError, match="InstanceNorm1d: expected more than 1 spatial"):
        xg.nn.InstanceNorm1d(3)(xg.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="InstanceNorm1d: momentum"):
        xg.nn.InstanceNorm1d(3, momentum=2.0)


@pytest.mark.parametrize("make", [lambda eps: xg.nn.GroupNorm(2, 4, eps=eps),
                                  lambda eps: xg.nn.InstanceNorm1d(3, eps=eps),
                                  lambda eps: xg.nn.group_norm(xg.arange(24.0).reshape(2, 4, 3), 2, eps=eps)])
def test_eps_must_be_a_finite_number_at_least_zero(make):
    for bad in (float("inf"), float("nan"), -1e-5):
        with pytest.raises(ValueError, match="eps"):
            make(bad)
    for bad in ("1e-5", None, True):
        with pytest.raises(TypeError, match="eps"):
            make(bad)
    make(0.0)
