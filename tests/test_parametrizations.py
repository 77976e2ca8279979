"""``xg.nn.utils.weight_norm`` / ``spectral_norm`` as PyTorch's
``torch.nn.utils.parametrizations``: outputs and gradients against torch in float64 (Linear,
whose ``w`` is torch's weight transposed, and Conv2d), spectral norm's power iteration over
several training steps (u, v loaded from torch), eval mode, ``xg.function`` replays, Sequential,
state dicts in both forms, removal, copies and bad input."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.nn.parametrize import parametrization_of
from xpgrad.testing import check_grads
from docs_text import text_from

torch = pytest.importorskip("torch")
P = torch.nn.utils.parametrizations

BACKENDS = ["numpy"] + (["numba"] if backend_report()["numba"]["available"] else [])
F64 = xg.float64


def _layers(kind, backend):
    """(xpgrad layer, torch layer with the same weights, input shape), float64."""
    if kind == "linear":
        ours = xg.nn.Linear(5, 4, rng=0, dtype=F64, backend=backend)
        theirs = torch.nn.Linear(5, 4, dtype=torch.float64)
        shape = (6, 5)
    elif kind == "convT":                 # weight (C_in, C_out, kH, kW): spectral dim 1
        ours = xg.nn.ConvTranspose2d(3, 4, 3, stride=2, rng=0, dtype=F64, backend=backend)
        theirs = torch.nn.ConvTranspose2d(3, 4, 3, stride=2, dtype=torch.float64)
        shape = (2, 3, 4, 4)
    else:
        ours = xg.nn.Conv2d(3, 4, 3, padding=1, rng=0, dtype=F64, backend=backend)
        theirs = torch.nn.Conv2d(3, 4, 3, padding=1, dtype=torch.float64)
        shape = (2, 3, 5, 5)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.torch_state_dict().items()})
    return ours, theirs, shape


def _x(shape, backend, seed=1):
    return xg.asarray(np.random.default_rng(seed).standard_normal(shape), backend=backend)


def _load_from_torch(ours, theirs):
    ours.load_torch_state_dict({k: v.detach().clone() for k, v in theirs.state_dict().items()})


def _grads(layer, x, kind):
    """The loss and the gradients of ``layer``'s trainable Variables (PyTorch's order), in
    PyTorch's layout (a Linear's pieces transposed)."""
    variables = layer.trainable_variables
    with xg.GradientTape() as tape:
        loss = xg.sum(xg.tanh(layer(x)))
    grads = [g.numpy() for g in tape.gradient(loss, variables)]
    return loss.item(), [g.T if kind == "linear" and g.ndim == 2 else g for g in grads]


def _torch_grads(theirs, x):
    theirs.zero_grad()
    loss = torch.tanh(theirs(torch.from_numpy(x.numpy()))).sum()
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in theirs.parameters()]


# -- weight norm ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, dim", [("linear", 0), ("linear", 1), ("linear", None),
                                       ("conv", 0), ("conv", 1), ("conv", 3), ("conv", -2),
                                       ("conv", None), ("convT", 1)])
def test_weight_norm_outputs_and_gradients_match_torch(kind, dim, backend):
    ours, theirs, shape = _layers(kind, backend)
    x = _x(shape, backend)
    before = ours(x).numpy()
    assert xg.nn.utils.weight_norm(ours, dim=dim) is ours
    P.weight_norm(theirs, dim=-1 if dim is None else dim)
    assert list(ours.torch_state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():      # torch's g and v of the same weight
        np.testing.assert_allclose(ours.torch_state_dict()[k], v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours(x).numpy(), before, rtol=1e-12, atol=1e-12)
    # move g and v away from the weight's: the output follows them, as torch's
    rng = np.random.default_rng(3)
    sd = {k: torch.as_tensor(v + 0.3 * rng.standard_normal(v.shape))
          for k, v in ours.torch_state_dict().items()}
    theirs.load_state_dict(sd)
    _load_from_torch(ours, theirs)
    np.testing.assert_allclose(ours(x).numpy(),
                               theirs(torch.from_numpy(x.numpy())).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    loss, grads = _grads(ours, x, kind)
    t_loss, t_grads = _torch_grads(theirs, x)
    assert loss == pytest.approx(t_loss, rel=1e-12)
    assert len(grads) == len(t_grads) == 3
    for g, t in zip(grads, t_grads):
        np.testing.assert_allclose(g, t, rtol=1e-9, atol=1e-12)


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("axis", [0, 1, None])
def test_weight_norm_gradients_match_finite_differences(axis):
    layer = xg.nn.utils.weight_norm(xg.nn.Linear(3, 4, rng=0, dtype=F64), dim=axis)
    norm = parametrization_of(layer, "w")
    x = _x((2, 3), "numpy")
    g, v = (xg.asarray(p.numpy()) for p in layer.parametrizations.w.originals())
    check_grads(lambda g, v: xg.tanh(x @ norm.compute(g + 0.5, v)), (g, v))


def test_weight_norm_trains_g_and_v_not_the_weight():
    layer = xg.nn.Linear(3, 2, rng=0)
    w = layer.w
    xg.nn.utils.weight_norm(layer)
    pl = layer.parametrizations.w
    assert layer.trainable_variables == [layer.b, pl.original0, pl.original1]
    assert all(v is not w for v in layer.variables)
    assert pl.original0.shape == (1, 2) and pl.original1.shape == (3, 2)   # w's layout
    assert [v.name for v in layer.trainable_variables] == [
        "linear/b", "linear/parametrizations/w/original0", "linear/parametrizations/w/original1"]
    assert isinstance(layer, xg.nn.Linear) and xg.nn.utils.is_parametrized(layer, "w")
    assert xg.nn.utils.is_parametrized(layer, "weight") and xg.nn.utils.is_parametrized(layer)
    assert not xg.nn.utils.is_parametrized(layer, "b")
    x = xg.ones((1, 3))
    with xg.GradientTape() as tape:
        loss = xg.sum(layer(x))
    grads = tape.gradient(loss, layer.trainable_variables + [w])
    assert grads[-1] is None and all(g is not None for g in grads[:-1])


# -- spectral norm -------------------------------------------------------------------------
def _sgd_steps(ours, theirs, x, steps, lr=0.1):
    opt = xg.optim.SGD(lr)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=lr)
    tx = torch.from_numpy(x.numpy())
    for _ in range(steps):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(ours(x)))
        variables = ours.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        t_opt.zero_grad()
        t_loss = torch.tanh(theirs(tx)).sum()
        t_loss.backward()
        t_opt.step()
        assert loss.item() == pytest.approx(t_loss.item(), rel=1e-10)
        _same_state(ours, theirs)


def _same_state(ours, theirs, rtol=1e-9):
    mine = ours.torch_state_dict()
    assert list(mine) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(mine[k], v.numpy(), rtol=rtol, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, dim, n", [("linear", None, 1), ("linear", 1, 2),
                                          ("conv", None, 1), ("conv", 1, 3), ("conv", -1, 1),
                                          ("convT", None, 1)])
def test_spectral_norm_training_steps_match_torch(kind, dim, n, backend):
    ours, theirs, shape = _layers(kind, backend)
    x = _x(shape, backend)
    xg.nn.utils.spectral_norm(ours, n_power_iterations=n, dim=dim, rng=0)
    P.spectral_norm(theirs, n_power_iterations=n, dim=dim)
    _load_from_torch(ours, theirs)                  # torch's u and v: the same start
    _same_state(ours, theirs)
    _sgd_steps(ours, theirs, x, 4)
    # eval: no power iteration, the stored u, v
    ours.eval()
    theirs.eval()
    u = parametrization_of(ours, list(ours.parametrizations.keys())[0])._u.numpy()
    for _ in range(2):
        np.testing.assert_allclose(ours(x).numpy(),
                                   theirs(torch.from_numpy(x.numpy())).detach().numpy(),
                                   rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(
        parametrization_of(ours, list(ours.parametrizations.keys())[0])._u.numpy(), u)
    _same_state(ours, theirs)


def test_spectral_norm_divides_by_the_largest_singular_value():
    layer = xg.nn.utils.spectral_norm(xg.nn.Linear(6, 4, rng=0, dtype=F64),
                                      n_power_iterations=20, rng=0)
    for _ in range(20):
        layer(xg.ones((1, 6), dtype=F64))
    np.testing.assert_allclose(np.linalg.svd(layer.w.numpy(), compute_uv=False)[0], 1.0,
                               rtol=1e-8)
    original = layer.parametrizations.w.original
    assert layer.trainable_variables == [layer.b, original]
    assert [k for k in layer.state_dict()] == [
        "linear/b", "linear/parametrizations/w/original", "linear/parametrizations/w/0/_u",
        "linear/parametrizations/w/0/_v"]


def test_spectral_norm_of_an_embedding_and_a_1d_weight_match_torch():
    emb = xg.nn.Embedding(6, 3, rng=0, dtype=F64)
    t_emb = torch.nn.Embedding(6, 3, dtype=torch.float64)
    t_emb.load_state_dict({k: torch.from_numpy(v) for k, v in emb.torch_state_dict().items()})
    xg.nn.utils.spectral_norm(emb, rng=0)
    P.spectral_norm(t_emb)
    _load_from_torch(emb, t_emb)
    ids = [[1, 4, 2]]
    np.testing.assert_allclose(emb(xg.asarray(ids)).numpy(),
                               t_emb(torch.tensor(ids)).detach().numpy(), rtol=1e-10)
    _same_state(emb, t_emb)
    norm = xg.nn.LayerNorm(4, dtype=F64)
    norm.weight.assign([1.0, 2.0, 3.0, 4.0])
    xg.nn.utils.spectral_norm(norm)
    assert list(norm.torch_state_dict()) == ["bias", "parametrizations.weight.original"]
    np.testing.assert_allclose(norm.weight.numpy(), np.arange(1, 5) / np.sqrt(30))


@pytest.mark.usefixtures("numpy_default")
def test_spectral_norm_moves_u_v_once_under_recompute_grad():
    """``xg.recompute_grad`` reruns the forward for the gradient: the buffers move once (the
    rerun uses the moved ones, so the gradient is the plain step's)."""
    plain = xg.nn.utils.spectral_norm(xg.nn.Linear(4, 3, rng=0, dtype=F64), rng=0)
    again = copy.deepcopy(plain)
    block = xg.recompute_grad(lambda x: xg.tanh(again(x)))
    x = _x((2, 4), "numpy")
    results = []
    for layer, fn in ((plain, lambda x: xg.tanh(plain(x))), (again, block)):
        with xg.GradientTape() as tape:
            loss = xg.sum(fn(x))
        results.append((loss.item(), [g.numpy() for g in tape.gradient(
            loss, layer.trainable_variables)], layer.state_dict()))
    (l1, g1, s1), (l2, g2, s2) = results
    assert l1 == pytest.approx(l2, rel=1e-14)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    for k in s1:
        np.testing.assert_allclose(s1[k], s2[k], rtol=1e-14, err_msg=k)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_layers_train_on_every_backend_as_numpy(backend):
    def run(b):
        model = xg.nn.Sequential(
            xg.nn.utils.spectral_norm(xg.nn.Conv2d(2, 3, 3, rng=0, backend=b), rng=0),
            xg.nn.Flatten(), xg.nn.utils.weight_norm(xg.nn.Linear(12, 2, rng=1, backend=b)))
        opt = xg.optim.Adam(0.01)
        x = xg.asarray(np.random.default_rng(0).standard_normal((3, 2, 4, 4)), dtype=xg.float32,
                       backend=b)
        for _ in range(3):
            with xg.GradientTape() as tape:
                loss = xg.sum(model(x) ** 2)
            variables = model.trainable_variables
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        assert all(v.dtype == xg.float32 for v in model.variables)
        return model.state_dict()

    ours, reference = run(backend), run("numpy")
    for k in reference:
        np.testing.assert_allclose(ours[k], reference[k], rtol=2e-4, atol=1e-5, err_msg=k)


def test_freezing_and_modes_reach_the_pieces():
    layer = xg.nn.utils.spectral_norm(xg.nn.Linear(3, 2, rng=0), rng=0)
    sn = parametrization_of(layer, "w")
    layer.eval()
    assert sn.training is False
    layer.train()
    assert sn.training is True
    layer.trainable = False
    assert layer.trainable_variables == [] and layer.count_params() == 3 * 2 + 2 + 2 + 3
    model = xg.nn.Sequential(xg.nn.Linear(3, 3, rng=0))
    model.eval()
    xg.nn.utils.spectral_norm(model[0], rng=0)          # made in eval mode: stays there
    assert parametrization_of(model[0], "w").training is False


# -- xg.function, Sequential ------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_spectral_norm_under_xg_function_moves_u_v_as_eager(backend):
    ours, theirs, shape = _layers("conv", backend)
    x = _x(shape, backend)
    xg.nn.utils.spectral_norm(ours, rng=0)
    P.spectral_norm(theirs)
    _load_from_torch(ours, theirs)
    opt = xg.optim.SGD(0.1)
    variables = ours.trainable_variables

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            loss = xg.sum(xg.tanh(ours(x)))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    tx = torch.from_numpy(x.numpy())
    for _ in range(5):
        loss = step(x)
        t_opt.zero_grad()
        t_loss = torch.tanh(theirs(tx)).sum()
        t_loss.backward()
        t_opt.step()
        assert loss.item() == pytest.approx(t_loss.item(), rel=1e-10)
        _same_state(ours, theirs)
    assert step.trace_count == 1 and len(step.programs()) == 1        # replayed


@pytest.mark.usefixtures("numpy_default")
def test_xg_function_traces_anew_after_weight_norm_and_removal():
    conv = xg.nn.Conv2d(1, 2, 3, bias=False, rng=0, dtype=F64)
    x = _x((1, 1, 4, 4), "numpy")
    f = xg.function(lambda x: conv(x))
    for _ in range(3):
        plain = f(x).numpy()
    xg.nn.utils.weight_norm(conv)
    conv.parametrizations.weight.original0.assign(
        2 * conv.parametrizations.weight.original0.numpy())
    for _ in range(3):
        np.testing.assert_allclose(f(x).numpy(), 2 * plain, rtol=1e-12)
    xg.nn.utils.remove_weight_norm(conv)
    for _ in range(3):
        np.testing.assert_allclose(f(x).numpy(), 2 * plain, rtol=1e-12)
    conv.weight.assign(conv.weight.numpy() / 2)
    np.testing.assert_allclose(f(x).numpy(), plain, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("norm", ["weight", "spectral"])
def test_inside_sequential_and_mlp_the_weight_is_recomputed(norm, backend):
    model = xg.nn.Sequential(xg.nn.Linear(4, 5, rng=0, dtype=F64, backend=backend),
                             xg.nn.ReLU(),
                             xg.nn.Linear(5, 2, rng=1, dtype=F64, backend=backend))
    t_model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    t_model.double()
    t_model.load_state_dict({k: torch.from_numpy(v) for k, v in model.torch_state_dict().items()})
    if norm == "weight":
        xg.nn.utils.weight_norm(model[0])
        P.weight_norm(t_model[0])
        t_model[0].parametrizations.weight.original0.data *= 1.7
    else:
        xg.nn.utils.spectral_norm(model[0], rng=0)
        P.spectral_norm(t_model[0])
    model.load_torch_state_dict({k: v.clone() for k, v in t_model.state_dict().items()})
    x = _x((3, 4), backend)
    for _ in range(3):             # spectral: u, v move in each training call, as torch's
        np.testing.assert_allclose(model(x).numpy(),
                                   t_model(torch.from_numpy(x.numpy())).detach().numpy(),
                                   rtol=1e-10)
    _same_state(model, t_model)
    mlp = xg.nn.MLP([4, 3, 2], rng=0, dtype=F64, backend=backend)
    before = mlp(x).numpy()
    xg.nn.utils.weight_norm(mlp.layers[0])
    mlp.layers[0].parametrizations.w.original0.assign(
        2 * mlp.layers[0].parametrizations.w.original0.numpy())
    doubled = copy.deepcopy(mlp)
    xg.nn.utils.remove_weight_norm(doubled.layers[0])
    np.testing.assert_allclose(mlp(x).numpy(), doubled(x).numpy(), rtol=1e-12)
    assert not np.allclose(mlp(x).numpy(), before)


# -- state, removal, copies ---------------------------------------------------------------------
@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("norm", ["weight", "spectral"])
def test_state_dicts_round_trip(norm):
    def make(seed):
        layer = xg.nn.Linear(3, 4, rng=seed, dtype=F64)
        if norm == "weight":
            return xg.nn.utils.weight_norm(layer)
        return xg.nn.utils.spectral_norm(layer, rng=seed)

    a, b = make(0), make(1)
    x = _x((2, 3), "numpy")
    a.train()
    a(x)                                          # spectral: u, v moved
    assert b.load_state_dict(a.state_dict()) == ([], [])
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    c = make(2)
    c.load_torch_state_dict(a.torch_state_dict())
    c.eval()
    np.testing.assert_array_equal(a(x).numpy(), c(x).numpy())
    t = torch.nn.Linear(3, 4, dtype=torch.float64)
    (P.weight_norm if norm == "weight" else P.spectral_norm)(t)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in a.torch_state_dict().items()})
    t.eval()
    np.testing.assert_allclose(t(torch.from_numpy(x.numpy())).detach().numpy(), a(x).numpy(),
                               rtol=1e-12)
    # a model of them: keys prefixed as torch's
    model = xg.nn.Sequential(make(0), xg.nn.ReLU())
    keys = list(model.torch_state_dict())
    t_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
    (P.weight_norm if norm == "weight" else P.spectral_norm)(t_model[0])
    assert keys == list(t_model.state_dict())
    model.load_torch_state_dict(t_model.state_dict())
    with pytest.raises(ValueError, match="missing keys.*original"):
        a.load_torch_state_dict({"weight": np.zeros((4, 3)), "bias": np.zeros(4)})
    result = a.load_torch_state_dict({"bias": np.ones(4)}, strict=False)
    assert result.missing_keys and not result.unexpected_keys
    np.testing.assert_array_equal(a.b.numpy(), np.ones(4))


def test_a_custom_modules_variable_has_torchs_keys():
    class Scale(xg.nn.Module):
        def __init__(self):
            super().__init__(name="scale")
            self.k = xg.Variable(np.arange(6.0).reshape(2, 3) + 1)

        def forward(self, x):
            return x @ xg.matrix_transpose(self.k)

    class TScale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.k = torch.nn.Parameter(torch.arange(6.0, dtype=torch.float64).reshape(2, 3) + 1)

        def forward(self, x):
            return x @ self.k.T

    for ours_fn, theirs_fn in ((xg.nn.utils.weight_norm, P.weight_norm),
                               (xg.nn.utils.spectral_norm, P.spectral_norm)):
        ours, theirs = Scale(), TScale()
        ours_fn(ours, "k")
        theirs_fn(theirs, "k")
        assert list(ours.torch_state_dict()) == list(theirs.state_dict())
        ours.load_torch_state_dict(theirs.state_dict())
        x = np.ones((1, 3))
        np.testing.assert_allclose(ours(xg.asarray(x)).numpy(),
                                   theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


@pytest.mark.usefixtures("numpy_default")
def test_removal_leaves_the_current_weight():
    layer = xg.nn.Linear(3, 4, rng=0, dtype=F64)
    xg.nn.utils.weight_norm(layer, dim=None)
    layer.parametrizations.w.original0.assign(3.0)
    x = _x((2, 3), "numpy")
    out = layer(x).numpy()
    effective = layer.w.numpy()
    with pytest.raises(ValueError, match="leave_parametrized=False"):
        xg.nn.utils.remove_parametrizations(layer, leave_parametrized=False)
    with pytest.raises(ValueError, match="WeightNorm, not spectral_norm"):
        xg.nn.utils.remove_spectral_norm(layer)
    assert xg.nn.utils.remove_parametrizations(layer, "weight") is layer   # torch's name
    assert type(layer) is xg.nn.Linear and not xg.nn.utils.is_parametrized(layer)
    assert "parametrizations" not in vars(layer)
    np.testing.assert_array_equal(layer.w.numpy(), effective)
    assert layer.w.name == "linear/w" and set(layer.named_variables()) == {"linear/w",
                                                                           "linear/b"}
    np.testing.assert_allclose(layer(x).numpy(), out, rtol=1e-12)
    # spectral: the original Variable comes back, with the current value or unchanged
    conv = xg.nn.Conv2d(2, 3, 3, rng=0, dtype=F64)
    weight = conv.weight
    raw = weight.numpy()
    xg.nn.utils.spectral_norm(conv, rng=0)
    normalized = conv.weight.numpy()
    xg.nn.utils.remove_parametrizations(copy.deepcopy(conv), leave_parametrized=False)
    xg.nn.utils.remove_spectral_norm(conv)
    assert conv.weight is weight and type(conv) is xg.nn.Conv2d
    np.testing.assert_allclose(weight.numpy(), normalized)
    conv2 = xg.nn.utils.spectral_norm(xg.nn.Conv2d(2, 3, 3, rng=0, dtype=F64), rng=0)
    xg.nn.utils.remove_parametrizations(conv2, leave_parametrized=False)
    np.testing.assert_array_equal(conv2.weight.numpy(), raw)


@pytest.mark.usefixtures("numpy_default")
def test_a_tied_linear_parametrizes_the_shared_variable_as_torch():
    """``dec.weight = enc.weight``; ``spectral_norm(dec, "weight")``: the decoder reads the
    normalized weight, the embedding the raw one, ``original`` is the shared Variable."""
    enc, dec = (xg.nn.Embedding(5, 3, rng=0, dtype=F64),
                xg.nn.Linear(3, 5, rng=0, dtype=F64))
    dec.weight = enc.weight
    t_enc, t_dec = torch.nn.Embedding(5, 3).double(), torch.nn.Linear(3, 5).double()
    t_dec.weight = t_enc.weight
    t_enc.load_state_dict({k: torch.as_tensor(v) for k, v in enc.torch_state_dict().items()})
    t_dec.bias.data = torch.as_tensor(dec.b.numpy())
    xg.nn.utils.spectral_norm(dec, "weight", rng=0)
    P.spectral_norm(t_dec)
    assert dec.parametrizations.weight.original is enc.weight
    _load_from_torch(dec, t_dec)
    x = _x((2, 3), "numpy")
    np.testing.assert_allclose(dec(x).numpy(), t_dec(torch.from_numpy(x.numpy())).detach(),
                               rtol=1e-10)
    np.testing.assert_allclose(enc(xg.asarray([1])).numpy(), t_enc(torch.tensor([1])).detach())
    xg.nn.utils.remove_parametrizations(dec, leave_parametrized=False)
    assert dec.weight is enc.weight and dec.w is None and type(dec) is xg.nn.Linear
    np.testing.assert_allclose(dec(x).numpy(), x.numpy() @ enc.weight.numpy().T + dec.b.numpy())


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_parametrized_modules_copy_and_pickle(copier):
    model = xg.nn.Sequential(xg.nn.utils.spectral_norm(xg.nn.Linear(3, 4, rng=0), rng=0),
                             xg.nn.utils.weight_norm(xg.nn.Conv1d(4, 2, 1, rng=1)))
    model.layers[1] = xg.nn.Flatten()
    model.append(xg.nn.utils.weight_norm(xg.nn.Linear(4, 2, rng=2)))
    clone = copier(model)
    assert type(clone[0]).__name__ == "ParametrizedLinear"
    x = xg.ones((2, 3))
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())
    assert clone[0].parametrizations.w.original is not model[0].parametrizations.w.original
    assert list(clone.state_dict()) == list(model.state_dict())


def test_bad_input_names_the_argument():
    layer = xg.nn.Linear(3, 2, rng=0)
    with pytest.raises(ValueError, match="no Variable named 'foo'.*'b', 'w'"):
        xg.nn.utils.weight_norm(layer, "foo")
    with pytest.raises(ValueError, match="no Variable named 'foo'"):
        xg.nn.utils.spectral_norm(layer, "foo")
    with pytest.raises(TypeError, match="name must be a str"):
        xg.nn.utils.weight_norm(layer, 0)
    with pytest.raises(TypeError, match="module must be an xg.nn.Module"):
        xg.nn.utils.weight_norm(torch.nn.Linear(3, 2))
    with pytest.raises(ValueError, match="dim=2 is out of range.*-2 <= dim < 2"):
        xg.nn.utils.weight_norm(layer, dim=2)
    with pytest.raises(ValueError, match="dim=-1 means a norm over the whole weight"):
        xg.nn.utils.weight_norm(layer, dim=-1)
    with pytest.raises(TypeError, match="dim must be an int or None"):
        xg.nn.utils.weight_norm(layer, dim=1.0)
    with pytest.raises(TypeError, match="dim must be an int, got bool"):
        xg.nn.utils.spectral_norm(layer, dim=True)
    with pytest.raises(ValueError, match="dim=-3 is out of range"):
        xg.nn.utils.spectral_norm(layer, dim=-3)
    with pytest.raises(ValueError, match="n_power_iterations must be a positive int"):
        xg.nn.utils.spectral_norm(layer, n_power_iterations=0)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        xg.nn.utils.spectral_norm(layer, eps=0.0)
    assert type(layer) is xg.nn.Linear                       # nothing changed
    with pytest.raises(ValueError, match="no parametrized attribute 'w'"):
        xg.nn.utils.remove_parametrizations(layer)
    xg.nn.utils.weight_norm(layer)
    with pytest.raises(ValueError, match="parametrized already"):
        xg.nn.utils.spectral_norm(layer)
    with pytest.raises(TypeError, match="is parametrized \\(WeightNorm\\)"):
        layer.w = xg.Variable(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="WeightNorm, not spectral_norm"):
        xg.nn.utils.remove_spectral_norm(layer)
    enc, dec = xg.nn.Embedding(5, 3, rng=0), xg.nn.Linear(3, 5, rng=0)
    dec.weight = enc.weight
    with pytest.raises(ValueError, match="tied.*name='weight'"):
        xg.nn.utils.weight_norm(dec)
    cell = xg.nn.LSTMCell(2, 3, rng=0)              # w_ih converts to torch's weight_ih
    with pytest.raises(ValueError, match="no PyTorch key of its own"):
        xg.nn.utils.weight_norm(cell, "w_ih")
    with pytest.raises(AttributeError, match="clip_global_norm"):
        xg.nn.utils.clip_grad_norm_


def test_readme_example_runs():

    text = text_from("Weight normalization and spectral normalization are PyTorch's")
    code = text[text.index("```python\n") + 10:text.index("```", text.index("```python\n") + 10)]
    scope = {"xg": xg}
    exec(code, scope)                                   # noqa: S102 (the docs' own example)
    assert list(scope["disc"].torch_state_dict())[:3] == [
        "0.bias", "0.parametrizations.weight.original", "0.parametrizations.weight.0._u"]
