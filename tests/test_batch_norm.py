"""BatchNorm1d and batch_norm against PyTorch in float64 (values, the gradients of x, weight and
bias, the running statistics over several steps) on numpy and numba, in train and eval modes,
finite differences (second order too), and bad input naming the argument."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn

BACKENDS = [b for b in ("numpy", "numba") if backend_report().get(b, {}).get("available")]


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _pair(torch, c, backend, seed=0, **options):
    """A torch BatchNorm1d (float64) and ours with its state, weights not ones/zeros."""
    ref = torch.nn.BatchNorm1d(c, dtype=torch.float64, **options)
    if ref.affine:
        with torch.no_grad():
            r = np.random.default_rng(seed)
            ref.weight.copy_(torch.tensor(r.uniform(0.5, 1.5, c)))
            ref.bias.copy_(torch.tensor(r.normal(size=c)))
    ours = nn.BatchNorm1d(c, dtype="float64", backend=backend, **options)
    if ours.variables:
        ours.load_torch_state_dict(ref.state_dict())
    return ref, ours


def _step(torch, ref, ours, x, ct, backend):
    """One call of each on ``x`` with the loss ``sum(out * ct)``: outputs and the gradients
    of x, weight and bias (None where there is none), as NumPy."""
    tx = torch.tensor(x, requires_grad=True)
    tout = ref(tx)
    targets = [tx] + ([ref.weight, ref.bias] if ref.affine else [])
    tgrads = torch.autograd.grad((tout * torch.tensor(ct)).sum(), targets)
    xx = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xx)
        out = ours(xx)
        loss = xg.sum(out * xg.asarray(ct, backend=backend))
    grads = tape.gradient(loss, [xx] + ([ours.weight, ours.bias] if ours.affine else []))
    return ([out.numpy()] + [g.numpy() for g in grads],
            [tout.detach().numpy()] + [g.numpy() for g in tgrads])


def _check_buffers(ref, ours):
    want = {k: v.numpy() for k, v in ref.state_dict().items()}
    got = ours.torch_state_dict()
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-13, err_msg=k)


CASES = [dict(), dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
         dict(momentum=0.3, eps=1e-3)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(6, 4), (5, 4, 3)])
@pytest.mark.parametrize("options", CASES,
                         ids=lambda o: ",".join(map(str, o.items())) or "defaults")
def test_matches_torch_over_training_steps_then_eval(backend, shape, options, rng):
    torch = _torch()
    ref, ours = _pair(torch, shape[1], backend, **options)
    for step in range(4):                 # shifted, scaled batches: the statistics move
        x = rng.normal(size=shape) * (1 + step) + 2 * step
        got, want = _step(torch, ref, ours, x, rng.normal(size=shape), backend)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
        _check_buffers(ref, ours)
    ref.eval(), ours.eval()
    n = 1 if ref.track_running_stats else 2           # one sample: fine with running stats
    x = rng.normal(size=(n,) + shape[1:])
    got, want = _step(torch, ref, ours, x, rng.normal(size=x.shape), backend)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    _check_buffers(ref, ours)                         # eval changes nothing


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("training", [True, False])
def test_functional_matches_torch(backend, training, rng):
    """``xg.nn.batch_norm`` with F.batch_norm's arguments, a 4-D input included: values, the
    gradients of x, weight and bias, and the running statistics it updates in training.
    (Eval mode also differentiates the running statistics, which torch refuses to: checked
    against finite differences below.)"""
    torch = _torch()
    F = torch.nn.functional
    for shape in [(5, 3), (4, 3, 2), (3, 3, 2, 2)]:
        x, ct = rng.normal(size=shape) + 1, rng.normal(size=shape)
        w, b = rng.uniform(0.5, 1.5, 3), rng.normal(size=3)
        rm, rv = rng.normal(size=3), rng.uniform(0.5, 2, 3)
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        trm, trv = torch.tensor(rm), torch.tensor(rv)
        tout = F.batch_norm(ts[0], trm, trv, ts[1], ts[2], training, 0.2, 1e-4)
        tgrads = torch.autograd.grad((tout * torch.tensor(ct)).sum(), ts)
        xs = [xg.asarray(a, backend=backend) for a in (x, w, b)]
        if training:
            mean, var = (xg.Variable(a, trainable=False, backend=backend) for a in (rm, rv))
        else:
            mean, var = (xg.asarray(a, backend=backend) for a in (rm, rv))
        with xg.GradientTape() as tape:
            tape.watch(xs)
            out = nn.batch_norm(xs[0], mean, var, xs[1], xs[2], training, 0.2, 1e-4)
            loss = xg.sum(out * xg.asarray(ct, backend=backend))
        grads = tape.gradient(loss, xs)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
        for g, tg in zip(grads, tgrads):
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(mean.numpy(), trm.numpy(), rtol=1e-13)
        np.testing.assert_allclose(var.numpy(), trv.numpy(), rtol=1e-13)
        assert training == (not np.allclose(trm.numpy(), rm))     # torch updated in place


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2)])
def test_training_gradients_match_finite_differences(shape, rng):
    """First and second order (the rule recomputes the statistics from x for a tape that
    records the backward pass)."""
    args = [xg.asarray(rng.normal(size=shape) + 0.5), xg.asarray(rng.uniform(0.5, 1.5, 3)),
            xg.asarray(rng.normal(size=3))]
    xg.testing.check_grads(lambda x, w, b: nn.batch_norm(x, None, None, w, b, True) ** 2,
                           args, order=2)
    xg.testing.check_grads(lambda x: nn.batch_norm(x, None, None, training=True, eps=0.1),
                           args[:1], order=2)


def test_eval_gradients_match_finite_differences(rng):
    args = [xg.asarray(rng.normal(size=(4, 3, 2))), xg.asarray(rng.normal(size=3)),
            xg.asarray(rng.uniform(0.5, 2, 3)), xg.asarray(rng.uniform(0.5, 1.5, 3)),
            xg.asarray(rng.normal(size=3))]
    xg.testing.check_grads(lambda x, m, v, w, b: nn.batch_norm(x, m, v, w, b) ** 2, args,
                           order=2)


def test_running_statistics_are_buffers_not_weights():
    bn = nn.BatchNorm1d(3, name="bn")
    assert [v.name for v in bn.trainable_variables] == ["bn/weight", "bn/bias"]
    assert list(bn.state_dict()) == ["bn/weight", "bn/bias", "bn/running_mean",
                                     "bn/running_var", "bn/num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == xg.int64 and bn.num_batches_tracked.shape == ()
    x = xg.asarray(np.arange(12.0, dtype=np.float32).reshape(4, 3))
    with xg.GradientTape() as tape:
        loss = xg.sum(bn(x) ** 2)
    grads = tape.gradient(loss, bn.variables)       # the statistics: not on the tape
    assert [g is None for g in grads] == [False, False, True, True, True]
    state = bn.state_dict()
    fresh = nn.BatchNorm1d(3, name="bn")
    fresh.load_state_dict(state)
    for k, v in fresh.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    assert fresh.num_batches_tracked.item() == 1


def test_torch_state_dict_keys_follow_the_options():
    torch = _torch()
    for options in CASES:
        ref = torch.nn.BatchNorm1d(3, **options)
        ours = nn.BatchNorm1d(3, **options)
        assert sorted(ours.torch_state_dict()) == sorted(ref.state_dict()), options
    ours = nn.BatchNorm1d(3, affine=False)
    with pytest.raises(ValueError, match="unexpected keys \\['weight', 'bias'\\]"):
        ours.load_torch_state_dict(torch.nn.BatchNorm1d(3).state_dict())
    with pytest.raises(ValueError, match="missing keys \\['running_mean'"):
        nn.BatchNorm1d(3).load_torch_state_dict({"weight": np.ones(3), "bias": np.zeros(3)})


def test_torch_sequential_with_batch_norm_loads_and_saves(rng):
    torch = _torch()
    ref = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3),
                              torch.nn.ReLU()).double()
    ref.train()
    ref(torch.tensor(rng.normal(size=(8, 4))))        # statistics that are not the defaults
    ours = nn.Sequential(nn.Linear(4, 3, dtype="float64"), nn.BatchNorm1d(3, dtype="float64"),
                         nn.ReLU())
    ours.load_torch_state_dict(ref.state_dict())
    saved = ours.torch_state_dict()
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(saved[k], v.numpy(), rtol=1e-15, err_msg=k)
    ref.eval(), ours.eval()
    x = rng.normal(size=(2, 4))
    np.testing.assert_allclose(ours(xg.asarray(x)).numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-12)


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, match", [
    ((4, 5), "has 5 channels .* num_features = 3"),
    ((4, 5, 2), "has 5 channels"),
    ((4,), "2-D \\(N, C\\) or 3-D \\(N, C, L\\) input, got shape \\(4,\\)"),
    ((2, 3, 2, 2), "2-D \\(N, C\\) or 3-D"),
    ((1, 3), "more than 1 value per channel when training, got an input of shape \\(1, 3\\)"),
    ((1, 3, 1), "more than 1 value per channel"),
])
def test_bad_input_shapes(shape, match):
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=match):
        bn(xg.ones(shape))
    assert bn.num_batches_tracked.item() == 0             # nothing counted
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3))


def test_one_sample_with_a_length_and_eval_are_fine():
    bn = nn.BatchNorm1d(3)
    assert bn(xg.ones((1, 3, 2))).shape == (1, 3, 2)      # 2 values per channel, as torch
    assert bn.eval()(xg.ones((1, 3))).shape == (1, 3)
    off = nn.BatchNorm1d(3, track_running_stats=False).eval()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        off(xg.ones((1, 3)))                           # batch statistics in eval too (torch)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(momentum=1.5), ValueError, "BatchNorm1d: momentum must be a finite number in \\[0, 1\\]"),
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(momentum="0.1"), TypeError, "momentum"),
    (dict(momentum=float("nan")), ValueError, "momentum"),
    (dict(eps=-1e-5), ValueError, "BatchNorm1d: eps"),
    (dict(eps=0.0), ValueError, "BatchNorm1d: eps must be a finite number > 0"),
    (dict(eps="small"), TypeError, "eps"),
    (dict(affine=1), TypeError, "affine must be True or False"),
    (dict(track_running_stats="yes"), TypeError, "track_running_stats"),
    (dict(dtype="int32"), TypeError, "dtype must be float32 or float64"),
])
def test_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        nn.BatchNorm1d(3, **kwargs)


@pytest.mark.parametrize("num_features, error", [(-1, ValueError), (2.0, TypeError),
                                                 (True, TypeError)])
def test_bad_num_features(num_features, error):
    with pytest.raises(error, match="num_features must be a non-negative integer"):
        nn.BatchNorm1d(num_features)


def test_bad_dtype_of_the_input():
    with pytest.raises(TypeError, match="float32 weights but got a float64 input"):
        nn.BatchNorm1d(2)(xg.ones((3, 2), dtype="float64"))


def test_functional_bad_arguments():
    x = xg.ones((4, 3))
    var = xg.Variable(xg.ones(3), trainable=False)
    with pytest.raises(ValueError, match="running_mean must be given in evaluation mode"):
        nn.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="running_mean and running_var both or neither"):
        nn.batch_norm(x, None, var, training=True)
    with pytest.raises(TypeError, match="running_mean is updated, so it must be an xg.Variable"):
        nn.batch_norm(x, xg.zeros(3), var, training=True)
    with pytest.raises(ValueError, match="weight must have shape \\(C,\\) = \\(3,\\)"):
        nn.batch_norm(x, None, None, xg.ones(4), training=True)
    with pytest.raises(TypeError, match="bias is float64 but the input is float32"):
        nn.batch_norm(x, None, None, None, xg.ones(3, dtype="float64"), training=True)
    with pytest.raises(ValueError, match="batch_norm: momentum"):
        nn.batch_norm(x, None, None, training=True, momentum=2.0)
    with pytest.raises(ValueError, match="batch_norm: eps"):
        nn.batch_norm(x, None, None, training=True, eps=-1.0)
    with pytest.raises(ValueError, match="batch_norm: eps must be a finite number > 0"):
        nn.batch_norm(x, None, None, training=True, eps=0.0)      # torch: positive to train
    assert nn.batch_norm(x, xg.zeros(3), var, eps=0.0).shape == (4, 3)
    with pytest.raises(TypeError, match="training must be True or False"):
        nn.batch_norm(x, None, None, training=1)
    with pytest.raises(ValueError, match="at least 2 axes"):
        nn.batch_norm(xg.ones(3), None, None, training=True)
    with pytest.raises(TypeError, match="floating-point input"):
        nn.batch_norm(xg.ones((4, 3), dtype="int32"), None, None, training=True)
    with pytest.raises(TypeError, match="running_var must be a tensor or numbers"):
        nn.batch_norm(x, xg.zeros(3), "ones", training=False)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("affine", [False, True])
def test_float32_channel_far_from_zero_is_as_accurate_as_torch(backend, affine):
    """A float32 channel whose mean is 5000 standard deviations: the batch statistics and the
    normalization keep PyTorch's accuracy (it sums in double) against a float64 reference."""
    torch = _torch()
    r = np.random.default_rng(3)
    x = (5000.0 + r.standard_normal((32, 8, 12, 12))).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = (x64 - x64.mean((0, 2, 3), keepdims=True)) / np.sqrt(
        x64.var((0, 2, 3), keepdims=True) + 1e-5)
    theirs = torch.nn.BatchNorm2d(8, affine=affine)(torch.from_numpy(x)).detach().numpy()
    ours = nn.BatchNorm2d(8, affine=affine, backend=backend)(xg.asarray(x, backend=backend))
    torch_error = np.abs(theirs - ref).max()
    assert np.abs(ours.numpy() - ref).max() <= 2 * torch_error


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7, 3), (5, 4, 6), (4, 3, 5, 2)])
def test_batch_moments_kernels_match_the_generic_rule(backend, dtype, shape):
    """Each backend's kernel for the batch statistics against the generic rule (the same
    correction of the mean), on data far from zero and on a strided input (which the Numba
    kernel declines)."""
    from xpgrad.ops.batch_norm import _moments

    kernel = xg.backend.get_backend(backend).kernels["batch_moments"]
    r = np.random.default_rng(4)
    x = (300.0 + 2.0 * r.standard_normal(shape)).astype(dtype)
    x64 = x.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    exact = np.stack([x64.mean(axes, keepdims=True), x64.var(axes, keepdims=True)])
    tol = 1e-5 if dtype == "float32" else 1e-12
    generic = _moments(np, x)
    np.testing.assert_allclose(generic, exact, rtol=tol, atol=tol)
    for data in (x, np.swapaxes(np.swapaxes(x, 0, 1).copy(), 0, 1)):
        made = kernel.forward(data)
        if made is None:
            assert not data.flags.c_contiguous
            continue
        out, _ = made
        assert out.dtype == x.dtype and out.shape == generic.shape
        np.testing.assert_allclose(out, exact, rtol=tol, atol=tol)
