"""Session 16 bug bash of the day's nn features (``xg.nn.init``, bidirectional recurrent
layers, ``BatchNorm1d``) used as a PyTorch user would: each test failed before its fix."""
import re

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.nn import init


# -- init= given a factory uncalled ---------------------------------------------------------
# PyTorch's initializers are applied as they are (``nn.init.orthogonal_(w)``), so a user
# writes ``init=xg.nn.init.orthogonal``; it used to fail inside the call with "orthogonal()
# takes from 0 to 1 positional arguments but 3 were given", or "variance_scaling: scale must
# be a real number, got Generator".
LAYERS = [lambda init: xg.nn.Linear(5, 3, init=init, rng=0),
          lambda init: xg.nn.MLP([5, 3], init=init, rng=0),
          lambda init: xg.nn.Embedding(5, 3, init=init, rng=0)]


@pytest.mark.parametrize("make", LAYERS)
@pytest.mark.parametrize("name, call", [("normal", "normal(mean, stddev)"),
                                        ("uniform", "uniform(low, high)"),
                                        ("truncated_normal", "truncated_normal(mean, stddev)"),
                                        ("constant", "constant(value)"),
                                        ("variance_scaling",
                                         "variance_scaling(scale, mode, distribution)")])
def test_a_factory_passed_uncalled_says_to_call_it(make, name, call):
    with pytest.raises(TypeError, match=re.escape(f"init=xg.nn.init.{name} is a factory: "
                                                  f"pass xg.nn.init.{call}")):
        make(getattr(init, name))


@pytest.mark.parametrize("make", LAYERS)
def test_orthogonal_passed_uncalled_is_orthogonal_with_gain_one(make):
    layer = make(init.orthogonal)
    w = next(iter(layer.variables)).numpy().astype(np.float64)
    assert np.abs(w.T @ w - np.eye(3)).max() < 1e-6          # (5, 3): orthonormal columns
    same = make("orthogonal")                                # the name draws the same
    np.testing.assert_array_equal(next(iter(same.variables)).numpy(), w.astype(np.float32))


# -- rng= given a NumPy generator ---------------------------------------------------------
# The message said "got Generator" for np.random.default_rng(0): the name it asks for.
@pytest.mark.parametrize("make", [lambda rng: xg.nn.Linear(2, 3, rng=rng),
                                  lambda rng: xg.nn.LSTM(2, 3, rng=rng),
                                  lambda rng: xg.nn.Dropout(0.5, rng=rng),
                                  lambda rng: init.glorot_uniform(rng, (2, 3))])
@pytest.mark.parametrize("rng", [np.random.default_rng(0), np.random.RandomState(0)])
def test_a_numpy_generator_is_named_as_numpys_with_what_to_pass(make, rng):
    with pytest.raises(TypeError, match=r"got numpy\.random\..*pass an int seed or "
                                        r"xg\.random\.default_rng\(seed\)"):
        make(rng)


def test_dropout_refuses_a_bool_rng_when_made_not_at_its_first_call():
    with pytest.raises(TypeError, match="Dropout: rng must be .* got bool"):
        xg.nn.Dropout(0.5, rng=True)
    assert xg.nn.Dropout(0.5, rng=np.int64(3))(xg.ones(4)).shape == (4,)


# -- BatchNorm1d: a torch state dict without num_batches_tracked ----------------------------
# PyTorch before 0.4.1 saved no counter, and torch's BatchNorm1d.load_state_dict still
# accepts such a dict (keeping its own count); xpgrad refused it as a missing key.
def test_batch_norm_loads_a_torch_state_dict_without_the_counter():
    torch = pytest.importorskip("torch")
    t = torch.nn.BatchNorm1d(3, momentum=None).double()
    for _ in range(4):
        t(torch.randn(8, 3, dtype=torch.float64))
    old = {k: v for k, v in t.state_dict().items() if k != "num_batches_tracked"}
    fresh = torch.nn.BatchNorm1d(3).double()
    fresh.load_state_dict(old, strict=True)                 # PyTorch takes it
    bn = xg.nn.BatchNorm1d(3, dtype=xg.float64)
    bn.num_batches_tracked.assign(xg.asarray(2, dtype=xg.int64))
    bn.load_torch_state_dict(old)
    np.testing.assert_array_equal(bn.running_mean.numpy(), t.running_mean.numpy())
    np.testing.assert_array_equal(bn.running_var.numpy(), t.running_var.numpy())
    assert fresh.num_batches_tracked.item() == 0            # torch kept its own count
    assert bn.num_batches_tracked.item() == 2               # and so does xpgrad
    seq = xg.nn.Sequential(xg.nn.Linear(2, 3, dtype=xg.float64),
                           xg.nn.BatchNorm1d(3, dtype=xg.float64))
    tseq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)).double()
    seq.load_torch_state_dict({k: v for k, v in tseq.state_dict().items()
                               if not k.endswith("num_batches_tracked")})
    with pytest.raises(ValueError, match="missing keys .'running_var'."):   # others still are
        bn.load_torch_state_dict({k: v for k, v in old.items() if k != "running_var"})


# -- BatchNorm1d / batch_norm: an empty batch in training mode --------------------------------
# PyTorch refuses exactly one value per channel; an empty batch (a selection x[mask] that came
# out empty) gives an empty output and leaves the running statistics alone. xpgrad refused it
# with "expected more than 1 value per channel ... (PyTorch's rule ...)".
@pytest.mark.parametrize("shape", [(0, 3), (2, 3, 0)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_an_empty_training_batch_is_pytorchs_empty_output(shape, momentum):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    t = torch.nn.BatchNorm1d(3, momentum=momentum).double()
    bn = xg.nn.BatchNorm1d(3, momentum=momentum, dtype=xg.float64)
    for x in [rng.normal(size=(4, 3)), np.zeros(shape), rng.normal(size=(5, 3))]:
        xt = torch.tensor(x, requires_grad=True)
        yt = t(xt)
        (yt * 2).sum().backward()
        X = xg.asarray(x, dtype=xg.float64)
        with xg.GradientTape() as tape:
            tape.watch(X)
            y = bn(X)
            loss = xg.sum(y * 2)
        gx, gw, gb = tape.gradient(loss, [X, bn.weight, bn.bias])
        assert y.shape == tuple(yt.shape) == x.shape
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(gx.numpy(), xt.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(gw.numpy(), t.weight.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(gb.numpy(), t.bias.grad.numpy(), atol=1e-12)
        t.weight.grad = t.bias.grad = None
        np.testing.assert_allclose(bn.running_mean.numpy(), t.running_mean.numpy(), atol=1e-15)
        np.testing.assert_allclose(bn.running_var.numpy(), t.running_var.numpy(), atol=1e-15)
        assert bn.num_batches_tracked.item() == t.num_batches_tracked.item()


def test_functional_batch_norm_of_an_empty_batch_leaves_the_statistics():
    mean = xg.Variable(xg.asarray([1.0, 2.0]), trainable=False)
    var = xg.Variable(xg.asarray([3.0, 4.0]), trainable=False)
    y = xg.nn.batch_norm(xg.zeros((0, 2)), mean, var, xg.ones(2), xg.zeros(2), training=True)
    assert y.shape == (0, 2)
    assert mean.tolist() == [1.0, 2.0] and var.tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        xg.nn.batch_norm(xg.zeros((1, 2)), mean, var, training=True)


# -- torch state dicts in bfloat16 ------------------------------------------------------------
# host() called tensor.numpy(), which torch refuses for bfloat16 ("Got unsupported ScalarType
# BFloat16"): a bf16 checkpoint could not be loaded into any layer.
def test_bfloat16_torch_weights_load_exactly():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).to(torch.bfloat16)
    t(torch.randn(8, 3, dtype=torch.bfloat16))
    m = xg.nn.Sequential(xg.nn.Linear(3, 4), xg.nn.BatchNorm1d(4))
    m.load_torch_state_dict(t.state_dict())
    np.testing.assert_array_equal(m.layers[1].running_var.numpy(),
                                  t[1].running_var.float().numpy())
    np.testing.assert_array_equal(m.layers[0].w.numpy(), t[0].weight.detach().float().numpy().T)
    lstm = torch.nn.LSTM(2, 3, bidirectional=True).to(torch.bfloat16)
    mine = xg.nn.LSTM(2, 3, bidirectional=True, batch_first=True, dtype=xg.float64)
    mine.load_torch_state_dict(lstm.state_dict())
    np.testing.assert_array_equal(mine.reverse_layers[0].w_hh.numpy(),
                                  lstm.weight_hh_l0_reverse.detach().double().numpy().T)
    linear = xg.nn.Linear(2, 3)
    linear.load_state_dict({"linear/w": torch.ones(2, 3, dtype=torch.bfloat16),
                            "linear/b": torch.zeros(3, dtype=torch.bfloat16)})
    assert linear.w.tolist() == [[1.0] * 3] * 2


# -- Embedding(init=..., padding_idx=...) wrote into the caller's tensor ----------------------
# An init returning a tensor the caller holds (pretrained vectors) had its padding row zeroed
# in place: the caller's matrix changed, and a second layer built from it saw the first's zeros.
def test_embedding_padding_row_is_zeroed_in_the_layers_copy_only():
    pretrained = xg.asarray(np.arange(1.0, 7.0).reshape(3, 2), dtype=xg.float32)
    first = xg.nn.Embedding(3, 2, padding_idx=1, init=lambda rng, shape, dtype: pretrained)
    second = xg.nn.Embedding(3, 2, padding_idx=2, init=lambda rng, shape, dtype: pretrained)
    assert pretrained.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert first.weight.tolist() == [[1.0, 2.0], [0.0, 0.0], [5.0, 6.0]]
    assert second.weight.tolist() == [[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]


# -- BatchNorm1d.reset_running_stats / reset_parameters (PyTorch's) ----------------------------
# A PyTorch user recalibrating the statistics calls bn.reset_running_stats(): AttributeError.
def test_batch_norm_resets_as_torchs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    t = torch.nn.BatchNorm1d(3, momentum=None).double()
    bn = xg.nn.BatchNorm1d(3, momentum=None, dtype=xg.float64)
    with torch.no_grad():
        t.weight.mul_(2.0)
        t.bias.add_(1.0)
    bn.load_torch_state_dict(t.state_dict())
    x = rng.normal(size=(6, 3))
    for reset in ["reset_running_stats", "reset_parameters"]:
        t(torch.tensor(x))
        bn(xg.asarray(x, dtype=xg.float64))
        getattr(t, reset)()
        getattr(bn, reset)()
        for key, value in t.state_dict().items():
            np.testing.assert_array_equal(bn.torch_state_dict()[key], value.numpy(), key)
        assert bn.num_batches_tracked.dtype == xg.int64
    y = bn(xg.asarray(x, dtype=xg.float64))                # the cumulative average restarts
    np.testing.assert_allclose(y.numpy(), t(torch.tensor(x)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), t.running_var.numpy(), atol=1e-15)
    off = xg.nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    off.reset_parameters()                                # nothing to reset: no error
