"""RNN and LSTM: the scan primitives (finite differences, fused kernel == generic rule == a
per-step graph of basic ops), the layers against PyTorch with the same weights, and errors."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from xpgrad.ops.recurrent import lstm_layer, lstm_scan, rnn_scan

NUMPY = xg.get_backend("numpy")


@pytest.fixture(params=["fused", "generic"])
def kernels(request, monkeypatch):
    """Run a test with the NumPy backend's fused scan kernels on, and again with them off."""
    if request.param == "generic":
        monkeypatch.setattr(NUMPY, "kernels", {})
    return request.param


def f64(rng, *shape, scale=1.0):
    return xg.asarray(rng.standard_normal(shape) * scale)


def lstm_inputs(rng, B=2, T=4, H=3):
    return (f64(rng, B, T, 4 * H), f64(rng, B, H), f64(rng, B, H), f64(rng, H, 4 * H, scale=0.5))


# -- the primitives -------------------------------------------------------------------------------
def test_lstm_scan_gradients_match_finite_differences(kernels, rng):
    xg.testing.check_grads(lstm_scan, list(lstm_inputs(rng)))


def lstm_layer_inputs(rng, B=2, T=4, I=2, H=3):
    return (f64(rng, B, T, I), f64(rng, B, H), f64(rng, B, H), f64(rng, I, 4 * H, scale=0.5),
            f64(rng, H, 4 * H, scale=0.5), f64(rng, 4 * H))


def test_lstm_layer_op_gradients_match_finite_differences(kernels, rng):
    xg.testing.check_grads(lstm_layer, list(lstm_layer_inputs(rng)))


def test_lstm_layer_is_the_projection_then_the_scan(kernels, rng):
    x, h, c, w_ih, w_hh, b = lstm_layer_inputs(rng, B=3, T=5, I=4, H=2)
    xproj = xg.reshape(xg.reshape(x, (15, 4)) @ w_ih + b, (3, 5, 8))
    np.testing.assert_allclose(lstm_layer(x, h, c, w_ih, w_hh, b).numpy(),
                               lstm_scan(xproj, h, c, w_hh).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_scan_gradients_match_finite_differences(kernels, nonlinearity, rng):
    args = [f64(rng, 2, 5, 3), f64(rng, 2, 3), f64(rng, 3, 3, scale=0.5)]
    xg.testing.check_grads(lambda x, h, w: rnn_scan(x, h, w, nonlinearity), args)


def test_lstm_scan_second_order(rng):
    """Second order runs the generic rules on Tensors (the kernel is first-order only)."""
    xg.testing.check_grads(lstm_scan, list(lstm_inputs(rng, B=1, T=2, H=2)), order=2)
    xg.testing.check_grads(lambda x, h, w: rnn_scan(x, h, w), [
        f64(rng, 1, 3, 2), f64(rng, 1, 2), f64(rng, 2, 2)], order=2)


def _sigmoid(x):
    return 1.0 / (1.0 + xg.exp(-x))


def lstm_by_steps(xproj, h, c, w_hh):
    """The same recurrence as a per-step graph of basic ops (the independent reference)."""
    H = h.shape[-1]
    out = []
    for t in range(xproj.shape[1]):
        z = xproj[:, t, :] + h @ w_hh
        i, f = _sigmoid(z[:, :H]), _sigmoid(z[:, H:2 * H])
        g, o = xg.tanh(z[:, 2 * H:3 * H]), _sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * xg.tanh(c)
        out.append(xg.concat([h, c], axis=1))
    return xg.stack(out, axis=1)


def rnn_by_steps(xproj, h, w_hh, nonlinearity):
    out = []
    for t in range(xproj.shape[1]):
        a = xproj[:, t, :] + h @ w_hh
        h = xg.tanh(a) if nonlinearity == "tanh" else xg.nn.relu(a)
        out.append(h)
    return xg.stack(out, axis=1)


def _value_and_grads(f, args, rng):
    out, pullback = xg.vjp(f, *args)
    ct = xg.asarray(rng.standard_normal(out.shape), dtype=out.dtype)
    return [out.numpy()] + [g.numpy() for g in pullback(ct)]


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_lstm_scan_matches_a_per_step_graph(kernels, dtype, tol, rng):
    args = [xg.astype(a, dtype) for a in lstm_inputs(rng, B=3, T=6, H=4)]
    ours = _value_and_grads(lstm_scan, args, np.random.default_rng(1))
    ref = _value_and_grads(lstm_by_steps, args, np.random.default_rng(1))
    for a, b in zip(ours, ref):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_scan_matches_a_per_step_graph(kernels, nonlinearity, rng):
    args = [f64(rng, 3, 6, 4), f64(rng, 3, 4), f64(rng, 4, 4, scale=0.5)]
    ours = _value_and_grads(lambda x, h, w: rnn_scan(x, h, w, nonlinearity), args,
                            np.random.default_rng(1))
    ref = _value_and_grads(lambda x, h, w: rnn_by_steps(x, h, w, nonlinearity), args,
                           np.random.default_rng(1))
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.usefixtures("numpy_default")
def test_fused_kernel_is_used_and_falls_back_for_other_dtypes(rng, monkeypatch):
    calls = []
    kern = NUMPY.kernels["lstm_scan"]
    monkeypatch.setitem(NUMPY.kernels, "lstm_scan", xg.Kernel(
        lambda *a: calls.append("fwd") or kern.forward(*a),
        lambda *a: calls.append("vjp") or kern.vjp(*a)))
    args = list(lstm_inputs(rng))
    _value_and_grads(lstm_scan, args, rng)
    assert calls == ["fwd", "vjp"]
    assert kern.forward(*[a.numpy().astype(np.float16) for a in args]) is None


def test_scan_input_errors(rng):
    x, h, c, w = lstm_inputs(rng, B=2, T=4, H=3)
    with pytest.raises(ValueError, match=r"xproj must be \(batch, time, 4\*hidden\)"):
        lstm_scan(x[0], h, c, w)
    with pytest.raises(ValueError, match=r"c0 must be \(batch, hidden\) = \(2, hidden\)"):
        lstm_scan(x, h, c[:1], w)
    with pytest.raises(ValueError, match=r"w_hh must be \(3, 12\)"):
        lstm_scan(x, h, c, w[:, :8])
    with pytest.raises(ValueError, match="the sequence is empty"):
        lstm_scan(x[:, :0], h, c, w)
    with pytest.raises(TypeError, match="must share one floating dtype"):
        lstm_scan(x, h, xg.astype(c, "float32"), w)
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        rnn_scan(x[..., :3], h, w[:, :3], "sigmoid")


def test_lstm_layer_input_errors(rng):
    x, h, c, w_ih, w_hh, b = lstm_layer_inputs(rng, B=2, T=4, I=2, H=3)
    with pytest.raises(ValueError, match=r"x must be \(batch, time, input_size\)"):
        lstm_layer(x[0], h, c, w_ih, w_hh, b)
    with pytest.raises(ValueError, match=r"w_ih must be \(input_size, 4\*hidden\) = \(2, "):
        lstm_layer(x, h, c, w_ih[:1], w_hh, b)
    with pytest.raises(ValueError, match=r"and b \(4\*hidden,\); got \(2, 12\) and \(11,\)"):
        lstm_layer(x, h, c, w_ih, w_hh, b[:11])
    with pytest.raises(ValueError, match=r"w_ih's last axis must be 12 and w_hh must be"):
        lstm_layer(x, h, c, w_ih[:, :8], w_hh, b[:8])
    with pytest.raises(ValueError, match=r"h0 must be \(batch, hidden\) = \(2, hidden\)"):
        lstm_layer(x, h[:1], c, w_ih, w_hh, b)
    with pytest.raises(TypeError, match="must share one floating dtype"):
        lstm_layer(x, h, c, w_ih, w_hh, xg.astype(b, "float32"))


# -- the layers against PyTorch -------------------------------------------------------------------
def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")


def _grads_of(module, x, state, ct_out, ct_state):
    """Our outputs, final state and gradients for sum(out * ct_out) + sum(state * ct_state)."""
    x = xg.asarray(x)
    state = None if state is None else (
        tuple(xg.asarray(s) for s in state) if isinstance(state, tuple) else xg.asarray(state))
    watched = [x] + (list(state) if isinstance(state, tuple) else [] if state is None else [state])
    with xg.GradientTape() as tape:
        tape.watch(watched)
        out, final = module(x, state)
        finals = final if isinstance(final, tuple) else (final,)
        loss = xg.sum(out * ct_out) + sum(xg.sum(f * c) for f, c in zip(finals, ct_state))
    named = module.named_variables()
    grads = tape.gradient(loss, watched + list(named.values()))
    return out, finals, dict(zip(["x", "s0", "s1"][:len(watched)], grads[:len(watched)])), \
        dict(zip(named, grads[len(watched):]))


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_matches_torch(kernels, num_layers, with_state, rng):
    torch = _torch()
    B, T, I, H = 3, 7, 4, 5
    ours = nn.LSTM(I, H, num_layers, batch_first=True, rng=0, dtype="float64")
    ref = torch.nn.LSTM(I, H, num_layers, batch_first=True).double()
    ours.load_torch_state_dict(ref.state_dict())
    x = rng.standard_normal((B, T, I))
    state = tuple(rng.standard_normal((num_layers, B, H)) for _ in range(2)) if with_state \
        else None
    ct_out = rng.standard_normal((B, T, H))
    ct_state = [rng.standard_normal((num_layers, B, H)) for _ in range(2)]
    out, finals, din, dw = _grads_of(ours, x, state, ct_out, ct_state)

    tx = torch.tensor(x, requires_grad=True)
    ts = None if state is None else tuple(torch.tensor(s, requires_grad=True) for s in state)
    tout, (th, tc) = ref(tx, ts)
    loss = (tout * torch.tensor(ct_out)).sum() + sum(
        (f * torch.tensor(c)).sum() for f, c in zip((th, tc), ct_state))
    loss.backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(finals[0].numpy(), th.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(finals[1].numpy(), tc.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(din["x"].numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    if with_state:
        np.testing.assert_allclose(din["s0"].numpy(), ts[0].grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(din["s1"].numpy(), ts[1].grad.numpy(), rtol=1e-9, atol=1e-12)
    tp = dict(ref.named_parameters())
    for k in range(num_layers):
        cell = f"lstm/cell{k}"
        np.testing.assert_allclose(dw[f"{cell}/w_ih"].numpy(), tp[f"weight_ih_l{k}"].grad.T,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dw[f"{cell}/w_hh"].numpy(), tp[f"weight_hh_l{k}"].grad.T,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dw[f"{cell}/b"].numpy(), tp[f"bias_ih_l{k}"].grad,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dw[f"{cell}/b"].numpy(), tp[f"bias_hh_l{k}"].grad,
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_matches_torch(kernels, nonlinearity, rng):
    torch = _torch()
    B, T, I, H, L = 3, 6, 4, 5, 2
    ours = nn.RNN(I, H, L, nonlinearity=nonlinearity, batch_first=True, rng=0, dtype="float64")
    ref = torch.nn.RNN(I, H, L, nonlinearity=nonlinearity, batch_first=True).double()
    ours.load_torch_state_dict(ref.state_dict())
    x, h0 = rng.standard_normal((B, T, I)), rng.standard_normal((L, B, H))
    ct_out, ct_h = rng.standard_normal((B, T, H)), rng.standard_normal((L, B, H))
    out, (h_n,), din, dw = _grads_of(ours, x, h0, ct_out, [ct_h])
    tx, th0 = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    tout, th = ref(tx, th0)
    ((tout * torch.tensor(ct_out)).sum() + (th * torch.tensor(ct_h)).sum()).backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy(), th.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(din["x"].numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(din["s0"].numpy(), th0.grad.numpy(), rtol=1e-9, atol=1e-12)
    tp = dict(ref.named_parameters())
    for k in range(L):
        np.testing.assert_allclose(dw[f"rnn/cell{k}/w_hh"].numpy(), tp[f"weight_hh_l{k}"].grad.T,
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dw[f"rnn/cell{k}/w_ih"].numpy(), tp[f"weight_ih_l{k}"].grad.T,
                                   rtol=1e-9, atol=1e-12)


def test_cells_match_torch_cells(rng):
    torch = _torch()
    x, h, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    cell = nn.LSTMCell(4, 5, rng=0, dtype="float64")
    ref = torch.nn.LSTMCell(4, 5).double()
    with torch.no_grad():
        ref.weight_ih.copy_(torch.tensor(cell.w_ih.numpy().T))
        ref.weight_hh.copy_(torch.tensor(cell.w_hh.numpy().T))
        ref.bias_ih.copy_(torch.tensor(cell.b.numpy()))
        ref.bias_hh.zero_()
    h1, c1 = cell(xg.asarray(x), (xg.asarray(h), xg.asarray(c)))
    th, tc = ref(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    np.testing.assert_allclose(h1.numpy(), th.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(c1.numpy(), tc.detach().numpy(), rtol=1e-12)

    rcell = nn.RNNCell(4, 5, nonlinearity="relu", rng=0, dtype="float64")
    rref = torch.nn.RNNCell(4, 5, nonlinearity="relu").double()
    with torch.no_grad():
        rref.weight_ih.copy_(torch.tensor(rcell.w_ih.numpy().T))
        rref.weight_hh.copy_(torch.tensor(rcell.w_hh.numpy().T))
        rref.bias_ih.copy_(torch.tensor(rng.standard_normal(5)))
        rref.bias_hh.zero_()
    rcell.b.assign(rref.bias_ih.detach().numpy())
    np.testing.assert_allclose(rcell(xg.asarray(x), xg.asarray(h)).numpy(),
                               rref(torch.tensor(x), torch.tensor(h)).detach().numpy(),
                               rtol=1e-12)


def test_torch_state_dict_round_trip():
    torch = _torch()
    ours = nn.LSTM(3, 4, 2, rng=0)
    ref = torch.nn.LSTM(3, 4, 2, batch_first=True)
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.torch_state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(xg.asarray(x))[0].numpy(),
                               ref(torch.tensor(x))[0].detach().numpy(), rtol=1e-5, atol=1e-6)


# -- the layers on their own ----------------------------------------------------------------------
def test_lstm_layer_gradients_match_finite_differences(rng):
    lstm = nn.LSTM(2, 3, 2, rng=0, dtype="float64")
    variables = lstm.trainable_variables
    x = f64(rng, 2, 3, 2)

    def f(x, *values):
        for v, val in zip(variables, values):
            v.assign(val)
        out, (h, c) = lstm(x)
        return xg.concat([xg.reshape(out, (-1,)), xg.reshape(c, (-1,))])

    values = [xg.asarray(v.numpy()) for v in variables]
    ct = f64(rng, 2 * 3 * 3 + 2 * 2 * 3)
    numeric = xg.testing.numerical_vjp(f, [x] + values, ct)
    f(x, *values)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.sum(f(x) * ct)
    analytic = tape.gradient(loss, [x] + variables)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a.numpy(), n, rtol=1e-6, atol=1e-8)


def test_layer_shapes_names_dtypes_and_init():
    lstm = nn.LSTM(3, 4, num_layers=2, rng=0)
    assert list(lstm.named_variables()) == [
        "lstm/cell0/w_ih", "lstm/cell0/w_hh", "lstm/cell0/b",
        "lstm/cell1/w_ih", "lstm/cell1/w_hh", "lstm/cell1/b"]
    assert [v.name for v in lstm.trainable_variables][:2] == ["lstm/cell0/w_ih", "lstm/cell0/w_hh"]
    c0 = lstm.layers[0]
    assert c0.w_ih.shape == (3, 16) and c0.w_hh.shape == (4, 16) and c0.b.shape == (16,)
    assert np.all(np.abs(c0.w_hh.numpy()) <= 0.5)               # U(-1/sqrt(4), 1/sqrt(4))
    np.testing.assert_array_equal(c0.b.numpy(), [0] * 4 + [1] * 4 + [0] * 8)
    out, (h, c) = lstm(xg.ones((2, 5, 3)))
    assert out.dtype == h.dtype == xg.float32
    np.testing.assert_allclose(out.numpy()[:, -1], h.numpy()[-1])
    assert nn.RNN(3, 4, rng=0, bias=False).layers[0].b is None
    assert "num_layers=2" in repr(lstm)


def test_cell_step_by_step_equals_the_sequence_layer(rng):
    lstm = nn.LSTM(3, 4, rng=0, dtype="float64")
    cell = lstm.layers[0]
    x = f64(rng, 2, 5, 3)
    out, (h_n, c_n) = lstm(x)
    state = None
    for t in range(5):
        state = cell(x[:, t, :], state)
        np.testing.assert_allclose(state[0].numpy(), out.numpy()[:, t], rtol=1e-12)
    np.testing.assert_allclose(state[1].numpy(), c_n.numpy()[0], rtol=1e-12)

    rnn = nn.RNN(3, 4, rng=0, dtype="float64")
    out, h_n = rnn(x)
    h = None
    for t in range(5):
        h = rnn.layers[0](x[:, t, :], h)
    np.testing.assert_allclose(h.numpy(), h_n.numpy()[0], rtol=1e-12)


def test_state_carries_across_calls(rng):
    """Running T steps in two calls, passing the state, equals one call."""
    lstm = nn.LSTM(2, 3, 2, rng=0, dtype="float64")
    x = f64(rng, 2, 6, 2)
    whole, (h, c) = lstm(x)
    first, state = lstm(x[:, :4])
    second, (h2, c2) = lstm(x[:, 4:], state)
    np.testing.assert_allclose(np.concatenate([first.numpy(), second.numpy()], 1), whole.numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(c2.numpy(), c.numpy(), rtol=1e-12)


def _need_numba():
    row = backend_report().get("numba", {"available": False, "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"numba: {row['reason']}")


def test_numba_fused_backward_matches_finite_differences(rng):
    """The Numba backend's scan kernel runs its own fused backward step."""
    _need_numba()
    args = [a.to("numba") for a in lstm_inputs(rng, B=2, T=4, H=3)]
    xg.testing.check_grads(lstm_scan, args)
    x, h, c, w = args
    xg.testing.check_grads(lambda x: lstm_scan(x[:, :, :12], h, c, w),
                           [f64(rng, 2, 4, 14).to("numba")])       # strided input


def test_numba_backend_agrees_with_numpy(rng):
    _need_numba()
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    results = []
    for be in ("numpy", "numba"):
        lstm = nn.LSTM(3, 4, rng=xg.random.default_rng(0, backend=be), backend=be)
        xt = xg.asarray(x, backend=be)
        with xg.GradientTape() as tape:
            out, _ = lstm(xt)
            loss = xg.sum(out * out)
        results.append([out.numpy()] + [g.numpy() for g in tape.gradient(
            loss, lstm.trainable_variables)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_layer_errors_are_clear():
    lstm = nn.LSTM(3, 4, num_layers=2, rng=0)
    with pytest.raises(ValueError, match=r"LSTM expects input of shape \(batch, time, "
                                         r"input_size\) with input_size=3, got shape \(2, 5\)"):
        lstm(xg.ones((2, 5)))
    with pytest.raises(ValueError, match="input_size=3, got shape"):
        lstm(xg.ones((2, 5, 2)))
    with pytest.raises(TypeError, match="has float32 weights but got a float64 input"):
        lstm(xg.ones((2, 5, 3), dtype="float64"))
    with pytest.raises(ValueError, match=r"h must be a tensor of shape \(2, 2, 4\), got \(2, 4\)"):
        lstm(xg.ones((2, 5, 3)), (xg.zeros((2, 4)), xg.zeros((2, 4))))
    with pytest.raises(ValueError, match="state must be a pair"):
        lstm(xg.ones((2, 5, 3)), xg.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="LSTMCell: input_size must be a non-negative integer"):
        nn.LSTMCell(-1, 4)
    with pytest.raises(ValueError, match=r"LSTMCell expects input of shape \(batch, input_size\)"):
        nn.LSTMCell(3, 4, rng=0)(xg.ones((2, 1, 3)))
