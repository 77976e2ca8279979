"""GRU: the scan primitive (finite differences, fused kernels == generic rule == a per-step
graph of basic ops), the layers against PyTorch with the same weights (float64), numba ==
numpy, xg.function replay == eager, SequenceClassifier / tbptt_train, and errors."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from xpgrad.ops.recurrent import gru_scan

NUMPY = xg.get_backend("numpy")


@pytest.fixture(params=["fused", "generic"])
def kernels(request, monkeypatch):
    """Run a test with the NumPy backend's fused scan kernels on, and again with them off."""
    if request.param == "generic":
        monkeypatch.setattr(NUMPY, "kernels", {})
    return request.param


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _need_numba():
    row = backend_report().get("numba", {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"numba: {row['reason']}")


def f64(rng, *shape, scale=1.0):
    return xg.asarray(rng.standard_normal(shape) * scale)


def gru_inputs(rng, B=2, T=4, H=3):
    return [f64(rng, B, T, 3 * H), f64(rng, B, H), f64(rng, H, 3 * H, scale=0.5),
            f64(rng, H, scale=0.5)]


def gru_by_steps(xproj, h, w_hh, b_hn):
    """The GRU as a per-step graph of basic ops, written from PyTorch's equations."""
    H = h.shape[-1]
    out = []
    for t in range(xproj.shape[1]):
        x, a = xproj[:, t, :], h @ w_hh
        r = 1.0 / (1.0 + xg.exp(-(x[:, :H] + a[:, :H])))
        z = 1.0 / (1.0 + xg.exp(-(x[:, H:2 * H] + a[:, H:2 * H])))
        n = xg.tanh(x[:, 2 * H:] + r * (a[:, 2 * H:] + b_hn))
        h = (1.0 - z) * n + z * h
        out.append(h)
    return xg.stack(out, axis=1)


def _value_and_grads(f, args, rng):
    out, pullback = xg.vjp(f, *args)
    ct = xg.asarray(rng.standard_normal(out.shape), dtype=out.dtype)
    return [out.numpy()] + [g.numpy() for g in pullback(ct)]


# -- the primitive --------------------------------------------------------------------------------
def test_gru_scan_gradients_match_finite_differences(kernels, rng):
    xg.testing.check_grads(gru_scan, gru_inputs(rng))


def test_gru_scan_second_order(rng):
    xg.testing.check_grads(gru_scan, gru_inputs(rng, B=1, T=2, H=2), order=2)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_gru_scan_matches_a_per_step_graph(kernels, dtype, tol, rng):
    args = [xg.astype(a, dtype) for a in gru_inputs(rng, B=3, T=6, H=4)]
    ours = _value_and_grads(gru_scan, args, np.random.default_rng(1))
    ref = _value_and_grads(gru_by_steps, args, np.random.default_rng(1))
    for a, b in zip(ours, ref):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.usefixtures("numpy_default")
def test_fused_kernel_is_used_and_falls_back_for_other_dtypes(rng, monkeypatch):
    calls = []
    kern = NUMPY.kernels["gru_scan"]
    monkeypatch.setitem(NUMPY.kernels, "gru_scan", xg.Kernel(
        lambda *a: calls.append("fwd") or kern.forward(*a),
        lambda *a: calls.append("vjp") or kern.vjp(*a)))
    args = gru_inputs(rng)
    _value_and_grads(gru_scan, args, rng)
    assert calls == ["fwd", "vjp"]
    assert kern.forward(*[a.numpy().astype(np.float16) for a in args]) is None


def test_gru_scan_input_errors(rng):
    x, h, w, b = gru_inputs(rng, B=2, T=4, H=3)
    with pytest.raises(ValueError, match=r"gru_scan: xproj must be \(batch, time, 3\*hidden\)"):
        gru_scan(x[0], h, w, b)
    with pytest.raises(ValueError, match=r"h0 must be \(batch, hidden\) = \(2, hidden\)"):
        gru_scan(x, h[:1], w, b)
    with pytest.raises(ValueError, match=r"xproj's last axis must be 9 and w_hh must be "
                                         r"\(3, 9\); got 9 and \(3, 8\)"):
        gru_scan(x, h, w[:, :8], b)
    with pytest.raises(ValueError, match=r"gru_scan: b_hn must be \(hidden,\) = \(3,\), got "
                                         r"shape \(2,\)"):
        gru_scan(x, h, w, b[:2])
    with pytest.raises(ValueError, match="the sequence is empty"):
        gru_scan(x[:, :0], h, w, b)
    with pytest.raises(TypeError, match="gru_scan: inputs must share one floating dtype"):
        gru_scan(x, h, w, xg.astype(b, "float32"))


# -- the layers against PyTorch -------------------------------------------------------------------
def _check_against_torch(ours, ref, x, h0, rng):
    """Outputs, final state and every gradient of ``ours`` and ``ref`` (same weights)."""
    torch = _torch()
    L, H = ours.num_layers, ours.hidden_size
    ct_out = rng.standard_normal(x.shape[:2] + (H,))
    ct_h = rng.standard_normal((L, x.shape[0], H))
    xt = xg.asarray(x)
    watched = [xt] + ([] if h0 is None else [xg.asarray(h0)])
    with xg.GradientTape() as tape:
        tape.watch(watched)
        out, h_n = ours(xt, None if h0 is None else watched[1])
        loss = xg.sum(out * ct_out) + xg.sum(h_n * ct_h)
    named = ours.named_variables()
    grads = tape.gradient(loss, watched + list(named.values()))
    tx = torch.tensor(x, requires_grad=True)
    th0 = None if h0 is None else torch.tensor(h0, requires_grad=True)
    tout, th = ref(tx, th0)
    ((tout * torch.tensor(ct_out)).sum() + (th * torch.tensor(ct_h)).sum()).backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy(), th.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads[0].numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    if h0 is not None:
        np.testing.assert_allclose(grads[1].numpy(), th0.grad.numpy(), rtol=1e-9, atol=1e-12)
    dw = dict(zip(named, grads[len(watched):]))
    tp = dict(ref.named_parameters())
    for k in range(L):
        cell = f"{ours.name}/cell{k}"
        for ours_key, torch_key in (("w_ih", "weight_ih"), ("w_hh", "weight_hh")):
            np.testing.assert_allclose(dw[f"{cell}/{ours_key}"].numpy(),
                                       tp[f"{torch_key}_l{k}"].grad.numpy().T,
                                       rtol=1e-9, atol=1e-12)
        if f"bias_ih_l{k}" in tp:
            b_ih, b_hh = tp[f"bias_ih_l{k}"].grad.numpy(), tp[f"bias_hh_l{k}"].grad.numpy()
            np.testing.assert_allclose(dw[f"{cell}/b"].numpy(), b_ih, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(b_hh[:2 * H], b_ih[:2 * H], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(dw[f"{cell}/b_hn"].numpy(), b_hh[2 * H:],
                                       rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_gru_matches_torch(kernels, num_layers, with_state, rng):
    torch = _torch()
    B, T, I, H = 3, 7, 4, 5
    ref = torch.nn.GRU(I, H, num_layers, batch_first=True).double()
    ours = nn.GRU(I, H, num_layers, batch_first=True, rng=0, dtype="float64")
    ours.load_torch_state_dict(ref.state_dict())     # torch's biases: all four nonzero
    h0 = rng.standard_normal((num_layers, B, H)) if with_state else None
    _check_against_torch(ours, ref, rng.standard_normal((B, T, I)), h0, rng)


def test_gru_without_bias_matches_torch(rng):
    torch = _torch()
    ref = torch.nn.GRU(3, 4, 1, batch_first=True, bias=False).double()
    ours = nn.GRU(3, 4, bias=False, batch_first=True, rng=0, dtype="float64")
    assert ours.layers[0].b is None and ours.layers[0].b_hn is None
    ours.load_torch_state_dict(ref.state_dict())
    _check_against_torch(ours, ref, rng.standard_normal((2, 5, 3)), None, rng)


def test_gru_cell_matches_torch_cell(rng):
    torch = _torch()
    ref = torch.nn.GRUCell(4, 5).double()
    cell = nn.GRUCell(4, 5, rng=0, dtype="float64")
    sd = ref.state_dict()
    cell.w_ih.assign(sd["weight_ih"].numpy().T)
    cell.w_hh.assign(sd["weight_hh"].numpy().T)
    cell._set_torch_biases(xg.asarray(sd["bias_ih"].numpy()), xg.asarray(sd["bias_hh"].numpy()))
    x, h = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    np.testing.assert_allclose(cell(xg.asarray(x), xg.asarray(h)).numpy(),
                               ref(torch.tensor(x), torch.tensor(h)).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cell(xg.asarray(x)).numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-14)


def test_gru_torch_state_dict_round_trip():
    torch = _torch()
    ours = nn.GRU(3, 4, 2, rng=0)
    for cell in ours.layers:                         # biases away from their zeros init
        cell.b.assign(np.linspace(-1, 1, 12))
        cell.b_hn.assign(np.linspace(0.5, -0.5, 4))
    ref = torch.nn.GRU(3, 4, 2, batch_first=True)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.torch_state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(xg.asarray(x))[0].numpy(),
                               ref(torch.tensor(x))[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"missing keys \['weight_ih_l1'"):
        nn.GRU(3, 4, 2, rng=0).load_torch_state_dict(torch.nn.GRU(3, 4, 1).state_dict())
    with pytest.raises(ValueError, match=r"'weight_ih_l0' has shape \(12, 3\), this GRU needs "
                                         r"\(12, 2\)"):
        nn.GRU(2, 4, rng=0).load_torch_state_dict(torch.nn.GRU(3, 4).state_dict())


# -- the layers on their own ----------------------------------------------------------------------
def test_gru_layer_shapes_names_init_and_steps(rng):
    gru = nn.GRU(3, 4, num_layers=2, rng=0)
    assert list(gru.named_variables()) == [
        "gru/cell0/w_ih", "gru/cell0/w_hh", "gru/cell0/b", "gru/cell0/b_hn",
        "gru/cell1/w_ih", "gru/cell1/w_hh", "gru/cell1/b", "gru/cell1/b_hn"]
    c0 = gru.layers[0]
    assert c0.w_ih.shape == (3, 12) and c0.w_hh.shape == (4, 12)
    assert np.all(np.abs(c0.w_hh.numpy()) <= 0.5)            # U(-1/sqrt(4), 1/sqrt(4))
    assert not c0.b.numpy().any() and not c0.b_hn.numpy().any()
    g64 = nn.GRU(3, 4, rng=0, dtype="float64")
    x = f64(rng, 2, 5, 3)
    out, h_n = g64(x)
    h = None
    for t in range(5):                                        # the cell, step by step
        h = g64.layers[0](x[:, t, :], h)
        np.testing.assert_allclose(h.numpy(), out.numpy()[:, t], rtol=1e-12)
    first, state = g64(x[:, :3])                              # the state carries over
    second, h2 = g64(x[:, 3:], state)
    np.testing.assert_allclose(second.numpy(), out.numpy()[:, 3:], rtol=1e-12)
    np.testing.assert_allclose(h2.numpy(), h_n.numpy(), rtol=1e-12)


def test_gru_numba_agrees_with_numpy(rng):
    _need_numba()
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    results = []
    for be in ("numpy", "numba"):
        gru = nn.GRU(4, 5, 2, rng=xg.random.default_rng(0, backend=be), backend=be)
        for cell in gru.layers:
            cell.b.assign(np.linspace(-0.5, 0.5, 15))
            cell.b_hn.assign(np.linspace(0.3, -0.3, 5))
        xt = xg.asarray(x, backend=be)
        with xg.GradientTape() as tape:
            tape.watch(xt)
            out, h = gru(xt)
            loss = xg.sum(out * out) + xg.sum(h)
        results.append([out.numpy()] + [g.numpy() for g in tape.gradient(
            loss, [xt] + gru.trainable_variables)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gru_numba_scan_matches_finite_differences(rng):
    """The Numba backend's own fused steps; also a strided input and a broadcast gradient."""
    _need_numba()
    args = [a.to("numba") for a in gru_inputs(rng)]
    xg.testing.check_grads(gru_scan, args)
    _, h, w, b = args
    xg.testing.check_grads(lambda x: gru_scan(x[:, :, :9], h, w, b),
                           [f64(rng, 2, 4, 11).to("numba")])
    x = args[0]
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(gru_scan(x, h, w, b))
    with xg.GradientTape() as tape_ref:
        tape_ref.watch(x)
        loss_ref = xg.sum(gru_by_steps(x, h, w, b))
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(),
                               tape_ref.gradient(loss_ref, x).numpy(), rtol=1e-12, atol=1e-14)


def test_gru_under_function_replays_as_eager(rng):
    gru = nn.GRU(3, 4, 2, rng=0, dtype="float64")
    head = nn.Linear(4, 2, rng=1, dtype="float64")
    variables = gru.trainable_variables + head.trainable_variables

    def step(x, y):
        with xg.GradientTape() as tape:
            out, _ = gru(x)
            loss = xg.losses.mse(head(out[:, -1, :]), y)
        return loss, tape.gradient(loss, variables)

    compiled = xg.function(step)
    for _ in range(3):
        x, y = f64(rng, 2, 5, 3), f64(rng, 2, 2)
        got, want = compiled(x, y), step(x, y)
        np.testing.assert_allclose(got[0].numpy(), want[0].numpy(), rtol=1e-12)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-14)


def test_sequence_classifier_and_tbptt_take_a_gru():
    model = nn.SequenceClassifier(8, [6, 5], 3, cell="gru", rng=0)
    assert [type(layer) for layer in model.layers] == [nn.GRU, nn.GRU]
    assert model(xg.zeros((4, 64))).shape == (4, 3)

    gru, head = nn.GRU(1, 8, rng=0), nn.Linear(8, 1, rng=1)

    def lm(x, state):
        out, h = gru(x, state)
        return head(out), h

    t = np.linspace(0, 12 * np.pi, 121, dtype=np.float32)
    seq = np.sin(t)[None, :, None].repeat(2, axis=0)
    result = nn.tbptt_train(lm, xg.losses.mse, xg.optim.Adam(learning_rate=0.02),
                            xg.asarray(seq[:, :-1]), xg.asarray(seq[:, 1:]), k1=20,
                            variables=gru.trainable_variables + head.trainable_variables)
    assert len(result.losses) == 6 and result.state.shape == (1, 2, 8)
    assert result.losses[-1] < result.losses[0]


def test_gru_layer_errors_are_clear():
    gru = nn.GRU(3, 4, num_layers=2, rng=0)
    with pytest.raises(ValueError, match=r"GRU expects input of shape \(batch, time, "
                                         r"input_size\) with input_size=3, got shape \(2, 5\)"):
        gru(xg.ones((2, 5)))
    with pytest.raises(TypeError, match="has float32 weights but got a float64 input"):
        gru(xg.ones((2, 5, 3), dtype="float64"))
    with pytest.raises(ValueError, match=r"GRU: h0 must be a tensor of shape \(2, 2, 4\), got "
                                         r"\(2, 4\)"):
        gru(xg.ones((2, 5, 3)), xg.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"GRUCell: h must be a tensor of shape \(2, 4\)"):
        gru.layers[0](xg.ones((2, 3)), xg.zeros((3, 4)))
    with pytest.raises(ValueError, match="GRU: num_layers must be >= 1"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="GRUCell: hidden_size must be a non-negative integer"):
        nn.GRUCell(3, 4.0)
    with pytest.raises(ValueError, match=r"cell must be one of \['gru', 'lstm', 'rnn'\]"):
        nn.SequenceClassifier(3, [4], 2, cell="transformer")
