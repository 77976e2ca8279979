"""RNN/GRU/LSTM as PyTorch users train them, against PyTorch with the same weights: stacked
layers with initial states, variable-length batches (``lengths=``, PyTorch's packed sequences),
dropout between layers, stateful truncated BPTT written by hand, gradient penalties, and the
errors of ``tbptt_train``."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

KINDS = ["LSTM", "GRU", "RNN"]
DTYPES = {"float64": (torch.float64, 1e-10), "float32": (torch.float32, 2e-4)}


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    row = backend_report().get(request.param, {"available": False,
                                                       "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"{request.param}: {row['reason']}")
    return request.param


@pytest.fixture(params=sorted(DTYPES))
def dtype(request):
    return request.param


def pair(kind, I, H, L, dtype, backend, **kwargs):
    """A torch layer and the xpgrad layer holding its weights."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(I, H, L, batch_first=True, **kwargs).to(DTYPES[dtype][0])
    ours = getattr(nn, kind)(I, H, L, batch_first=True, dtype=getattr(xg, dtype),
                             backend=backend, rng=1, **kwargs)
    ours.load_torch_state_dict(ref.state_dict())
    return ref, ours


def torch_run(ref, x, state, lengths=None):
    """(outputs, finals as a tuple, gradients of x and the weights) of a weighted sum."""
    xt = torch.tensor(x, dtype=ref.weight_ih_l0.dtype, requires_grad=True)
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths),
                                                      batch_first=True, enforce_sorted=False)
    out, finals = ref(inp, state)
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                        total_length=x.shape[1])
    finals = finals if isinstance(finals, tuple) else (finals,)
    loss = (out * out).sum() + sum((f * (k + 2)).sum() for k, f in enumerate(finals))
    loss.backward()
    grads = [xt.grad] + [ref.get_parameter(f"weight_{w}_l{k}").grad.T
                         for k in range(ref.num_layers) for w in ("ih", "hh")]
    return [t.detach().numpy() for t in (out, *finals)], [g.numpy() for g in grads]


def ours_run(layer, x, state, **kwargs):
    cells = layer.layers
    x = xg.asarray(x, dtype=cells[0].w_ih.dtype, backend=cells[0].w_ih.backend)
    with xg.GradientTape() as tape:
        tape.watch(x)
        out, finals = layer(x, state, **kwargs)
        finals = finals if isinstance(finals, tuple) else (finals,)
        loss = xg.sum(out * out) + sum(xg.sum(f * (k + 2)) for k, f in enumerate(finals))
    weights = [w for cell in cells for w in (cell.w_ih, cell.w_hh)]
    grads = tape.gradient(loss, [x] + weights)
    return [t.numpy() for t in (out, *finals)], [g.numpy() for g in grads]


def assert_all_close(ours, theirs, tol):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def states_for(kind, rng, L, B, H, dtype, backend):
    """The same random initial state for torch and for xpgrad."""
    arrays = [rng.standard_normal((L, B, H)) * 0.5 for _ in range(2 if kind == "LSTM" else 1)]
    theirs = tuple(torch.tensor(a, dtype=DTYPES[dtype][0]) for a in arrays)
    ours = tuple(xg.asarray(a, dtype=getattr(xg, dtype), backend=backend) for a in arrays)
    return (theirs, ours) if kind == "LSTM" else (theirs[0], ours[0])


# -- stacked layers ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("B,T,H", [(2, 5, 4), (1, 1, 1)])
def test_stacked_layers_without_bias_from_given_states_match_torch(kind, B, T, H, backend,
                                                                   dtype, rng):
    ref, ours = pair(kind, 3, H, 3, dtype, backend, bias=False)
    x = rng.standard_normal((B, T, 3))
    theirs_state, our_state = states_for(kind, rng, 3, B, H, dtype, backend)
    tol = DTYPES[dtype][1]
    for a, b in zip(ours_run(ours, x, our_state), torch_run(ref, x, theirs_state)):
        assert_all_close(a, b, tol)


# -- variable-length batches --------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_lengths_match_torch_packed_sequences(kind, backend, dtype, rng):
    """Outputs zero past each length, the final states at each sequence's last step, and the
    gradients, as ``pack_padded_sequence`` -> layer -> ``pad_packed_sequence``."""
    ref, ours = pair(kind, 3, 4, 2, dtype, backend)
    lengths = [3, 6, 1]
    x = rng.standard_normal((3, 6, 3))
    theirs_state, our_state = states_for(kind, rng, 2, 3, 4, dtype, backend)
    theirs = torch_run(ref, x, theirs_state, lengths=lengths)
    tol = DTYPES[dtype][1]
    for given in (lengths, np.array(lengths), xg.asarray(lengths)):
        for a, b in zip(ours_run(ours, x, our_state, lengths=given), theirs):
            assert_all_close(a, b, tol)


def test_full_lengths_change_nothing(backend, rng):
    _, lstm = pair("LSTM", 2, 3, 2, "float64", backend)
    x = rng.standard_normal((2, 4, 2))
    for a, b in zip(ours_run(lstm, x, None, lengths=[4, 4]), ours_run(lstm, x, None)):
        assert_all_close(a, b, 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths,error,says", [
    ([3], ValueError, "one length per sequence"),
    ([0, 2], ValueError, "between 1 and 4"),
    ([2, 5], ValueError, "between 1 and 4"),
    ([1.5, 2], TypeError, "integers"),
    ([[1, 2]], ValueError, "one length per sequence"),
    ("ab", TypeError, "integers"),
    (xg.asarray([1.0, 2.0]), TypeError, "integers"),          # a float Tensor
    (xg.asarray([True, True]), TypeError, "integers"),
])
def test_bad_lengths_name_the_argument(kind, lengths, error, says):
    layer = getattr(nn, kind)(2, 3, rng=0)
    with pytest.raises(error, match=f"{kind}: lengths .*{says}"):
        layer(xg.ones((2, 4, 2)), lengths=lengths)


# -- dropout between layers ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_dropout_between_layers(kind, backend, rng):
    """Eval mode is torch's eval mode; training drops (reproducibly, from ``rng``) the inputs
    of the layers above the first, never the outputs, as torch's ``dropout=``."""
    ref, ours = pair(kind, 3, 4, 2, "float64", backend, dropout=0.5)
    x = rng.standard_normal((2, 5, 3))
    ref.eval()
    ours.eval()
    for a, b in zip(ours_run(ours, x, None), torch_run(ref, x, None)):
        assert_all_close(a, b, 1e-10)
    ours.train()
    dropped = ours_run(ours, x, None)[0][0]
    assert not np.allclose(dropped, ours_run(ours.eval(), x, None)[0][0])
    again = getattr(nn, kind)(3, 4, 2, batch_first=True, dtype=xg.float64, backend=backend,
                              rng=1, dropout=0.5)
    again.load_torch_state_dict(ref.state_dict())
    np.testing.assert_array_equal(ours_run(again, x, None)[0][0], dropped)


def test_dropout_of_one_layer_warns_and_drops_nothing(rng):
    with pytest.warns(UserWarning, match="dropout=0.5 .* num_layers=1"):
        gru = nn.GRU(2, 3, dropout=0.5, rng=0, dtype=xg.float64)
    x = rng.standard_normal((2, 3, 2))
    assert_all_close(ours_run(gru, x, None)[0], ours_run(gru.eval(), x, None)[0], 0)


@pytest.mark.parametrize("rate", [-0.1, 1.5, "a"])
def test_bad_dropout_names_the_argument(rate):
    with pytest.raises((TypeError, ValueError), match="LSTM: dropout"):
        nn.LSTM(2, 3, 2, dropout=rate)


# -- stateful truncated BPTT by hand ------------------------------------------------------------
def chunked_losses(lstm, optimizer, x, y, chunk, max_norm):
    """The training loop a PyTorch user writes: the final states fed back, detached."""
    state, losses = None, []
    for start in range(0, x.shape[1], chunk):
        with xg.GradientTape() as tape:
            out, state = lstm(x[:, start:start + chunk], state)
            loss = xg.losses.mse(out, y[:, start:start + chunk])
        grads, _ = xg.optim.clip_global_norm(tape.gradient(loss, lstm.trainable_variables),
                                             max_norm)
        optimizer.apply_gradients(zip(grads, lstm.trainable_variables))
        state = xg.nn.detach(state)
        losses.append(float(loss))
    return losses


def test_stateful_chunks_by_hand_are_tbptt_train(backend, rng):
    x = xg.asarray(rng.standard_normal((2, 40, 3)), backend=backend)
    y = xg.asarray(rng.standard_normal((2, 40, 4)), backend=backend)
    made = [nn.LSTM(3, 4, 2, rng=0, dtype=xg.float64, backend=backend) for _ in range(2)]
    by_hand = chunked_losses(made[0], xg.optim.Adam(learning_rate=0.01), x, y, 10, 0.1)
    result = nn.tbptt_train(made[1], xg.losses.mse, xg.optim.Adam(learning_rate=0.01), x, y,
                            k1=10, max_grad_norm=0.1)
    np.testing.assert_allclose(by_hand, result.losses, rtol=1e-12)


@pytest.mark.usefixtures("numpy_default")
def test_stateful_chunks_train_as_torch_with_its_bias_hh_frozen(rng):
    """PyTorch's two biases each get the bias gradient, so its SGD moves their sum twice as far
    (and its clipping sees the bias gradient twice): with ``bias_hh`` frozen it trains
    xpgrad's one-bias layer step for step, gradients clipped."""
    ref, ours = pair("LSTM", 3, 4, 2, "float64", "numpy")
    x, y = rng.standard_normal((2, 40, 3)), rng.standard_normal((2, 40, 4))
    for name, p in ref.named_parameters():
        p.requires_grad_("bias_hh" not in name)
    params = [p for p in ref.parameters() if p.requires_grad]
    opt, state, theirs = torch.optim.SGD(params, lr=0.1), None, []
    for start in range(0, 40, 10):
        out, state = ref(torch.tensor(x[:, start:start + 10]), state)
        loss = ((out - torch.tensor(y[:, start:start + 10])) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.05)
        opt.step()
        state = tuple(s.detach() for s in state)
        theirs.append(loss.item())
    ours_losses = chunked_losses(ours, xg.optim.SGD(learning_rate=0.1), xg.asarray(x),
                                 xg.asarray(y), 10, 0.05)
    np.testing.assert_allclose(ours_losses, theirs, rtol=1e-7)  # torch's clip: norm + 1e-6


def test_stop_gradient_of_a_state_pair_detaches_each_tensor():
    """``xg.stop_gradient((h, c))`` maps over the pair (JAX's pytree rule), as
    ``xg.nn.detach(state)``: the next chunk runs from the same values and sends no gradient
    into the previous one."""
    lstm = nn.LSTM(2, 3, rng=0)
    x0 = xg.asarray(np.linspace(-1.0, 1.0, 8, dtype=np.float32).reshape(1, 4, 2))
    with xg.GradientTape() as tape:
        tape.watch(x0)
        _, state = lstm(x0)
        stopped = xg.stop_gradient(state)
        out, _ = lstm(xg.ones((1, 4, 2)), stopped)
        loss = xg.sum(out ** 2)
    assert isinstance(stopped, tuple) and len(stopped) == 2
    want, _ = lstm(xg.ones((1, 4, 2)), nn.detach(state))
    np.testing.assert_array_equal(out.numpy(), want.numpy())
    assert tape.gradient(loss, x0) is None


@pytest.mark.parametrize("name,value,error", [
    ("variables", 5, TypeError), ("state", "x", TypeError), ("state", (1, 2), TypeError)])
def test_tbptt_train_bad_arguments_name_the_argument(name, value, error):
    lstm = nn.LSTM(3, 4, rng=0)
    with pytest.raises(error, match=f"tbptt_train: {name}"):
        nn.tbptt_train(lstm, xg.losses.mse, xg.optim.SGD(learning_rate=0.1), xg.ones((2, 6, 3)),
                       xg.ones((2, 6, 4)), k1=3, **{name: value})


# -- higher order, cells ------------------------------------------------------------------------
def test_gradient_penalty_through_stacked_lstm_matches_torch(backend, dtype, rng):
    """Second order runs the generic rules (the fused kernels are first order)."""
    ref, lstm = pair("LSTM", 2, 3, 2, dtype, backend)
    x = rng.standard_normal((2, 4, 2))
    xt = torch.tensor(x, dtype=DTYPES[dtype][0], requires_grad=True)
    out, (_, c) = ref(xt)
    gx, = torch.autograd.grad((out ** 2).sum() + c.sum(), xt, create_graph=True)
    (gx ** 2).sum().backward()
    X = xg.asarray(x, dtype=getattr(xg, dtype), backend=backend)
    with xg.GradientTape() as outer:
        with xg.GradientTape() as inner:
            inner.watch(X)
            out, (_, c) = lstm(X)
            loss = xg.sum(out ** 2) + xg.sum(c)
        penalty = xg.sum(inner.gradient(loss, X) ** 2)
    grads = outer.gradient(penalty, [lstm.layers[1].w_hh, lstm.layers[0].w_ih])
    tol = 10 * DTYPES[dtype][1]
    assert_all_close([g.numpy() for g in grads],
                     [ref.weight_hh_l1.grad.numpy().T, ref.weight_ih_l0.grad.numpy().T], tol)


@pytest.mark.parametrize("kind", KINDS)
def test_cell_in_a_python_loop_is_the_layer(kind, backend, dtype, rng):
    layer = getattr(nn, kind)(3, 4, rng=0, dtype=getattr(xg, dtype), backend=backend)
    cell = getattr(nn, kind + "Cell")(3, 4, rng=5, dtype=getattr(xg, dtype), backend=backend)
    cell.load_torch_state_dict({k[:-len("_l0")]: v for k, v in layer.torch_state_dict().items()})
    x = xg.asarray(rng.standard_normal((2, 6, 3)), dtype=getattr(xg, dtype), backend=backend)
    with xg.GradientTape() as tape:
        out, _ = layer(x)
        layer_loss = xg.sum(out * out)
    with xg.GradientTape() as loop_tape:
        state, steps = None, []
        for t in range(6):
            state = cell(x[:, t], state)
            steps.append(state[0] if kind == "LSTM" else state)
        loop_out = xg.stack(steps, axis=1)
        loop_loss = xg.sum(loop_out * loop_out)
    expected = [out] + tape.gradient(layer_loss, layer.trainable_variables)
    got = [loop_out] + loop_tape.gradient(loop_loss, cell.trainable_variables)
    assert_all_close([g.numpy() for g in got], [e.numpy() for e in expected],
                     DTYPES[dtype][1] / 10)


# -- tbptt_train compiled, long sequences ---------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_tbptt_compiled_stacked_with_dropout_is_eager(kind, backend, rng):
    """Two layers with dropout between them (the masks drawn alike when compiled), k2 > k1,
    clipping, and the state carried into a second call."""
    x = xg.asarray(rng.standard_normal((2, 23, 3)), backend=backend)
    y = xg.asarray(rng.standard_normal((2, 23, 4)), backend=backend)
    runs = []
    for compile in (False, True):
        layer = getattr(nn, kind)(3, 4, 2, dropout=0.3, rng=0, dtype=xg.float64,
                                  backend=backend)
        opt, state, losses = xg.optim.Adam(learning_rate=0.01), None, []
        for _ in range(2):
            result = nn.tbptt_train(layer, xg.losses.mse, opt, x, y, k1=5, k2=7, state=state,
                                    max_grad_norm=0.5, compile=compile)
            losses, state = losses + result.losses, result.state
        runs.append(losses)
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_long_sequences_of_cells_in_a_loop_need_no_recursion(kind, backend, rng):
    """2000 steps of a cell in a Python loop: the backward pass walks the tape iteratively."""
    import inspect
    import sys

    cell = getattr(nn, kind + "Cell")(2, 3, rng=0, dtype=xg.float64, backend=backend)
    x = xg.asarray(rng.standard_normal((1, 2000, 2)), backend=backend)
    with xg.GradientTape() as tape:
        state = None
        for t in range(2000):
            state = cell(x[:, t], state)
        loss = xg.sum(state[0] if kind == "LSTM" else state)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 150)       # far below 2000 frames
    try:
        grads = tape.gradient(loss, cell.trainable_variables)
    finally:
        sys.setrecursionlimit(limit)
    assert all(np.isfinite(g.numpy()).all() for g in grads)


def test_relu_rnn_stacked_matches_torch(backend, dtype, rng):
    ref, ours = pair("RNN", 3, 4, 2, dtype, backend, nonlinearity="relu")
    x = rng.standard_normal((2, 5, 3))
    theirs_state, our_state = states_for("RNN", rng, 2, 2, 4, dtype, backend)
    for a, b in zip(ours_run(ours, x, our_state), torch_run(ref, x, theirs_state)):
        assert_all_close(a, b, DTYPES[dtype][1])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_sequence_classifier_reads_each_sequence_to_its_length(cell, backend, rng):
    """Padded sequences with ``lengths=`` give the logits of each sequence run alone."""
    model = nn.SequenceClassifier(3, [4, 5], 2, cell=cell, rng=0, dtype=xg.float64,
                                  backend=backend)
    lengths = [2, 5, 3]
    x = rng.standard_normal((3, 5, 3))
    padded = model(xg.asarray(x, backend=backend), lengths=lengths).numpy()
    for row, n in enumerate(lengths):
        alone = model(xg.asarray(x[row:row + 1, :n], backend=backend)).numpy()
        np.testing.assert_allclose(padded[row:row + 1], alone, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_lengths_under_xg_function_equal_eager_and_bad_ones_still_raise(backend):
    """``lengths=`` was read with ``.numpy()``, which ``xg.function`` refuses (TraceError);
    its values are checked through a guard now, and a replay with lengths out of range
    runs eagerly and raises as the eager call does."""
    if backend not in backend_report():
        pytest.skip(f"{backend} not available")

    def build():
        rng = xg.random.default_rng(0, backend=backend)
        return xg.nn.LSTM(4, 5, num_layers=2, rng=rng, backend=backend), xg.optim.Adam(0.01)

    def step_of(model, opt):
        def step(x, lengths):
            with xg.GradientTape() as tape:
                out, (h, c) = model(x, lengths=lengths)
                loss = xg.sum(out ** 2) + xg.sum(h) + xg.sum(c)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss
        return step

    x = xg.asarray(np.random.default_rng(1).normal(size=(3, 6, 4)).astype(np.float32),
                   backend=backend)
    compiled = xg.function(step_of(*build()))
    eager = step_of(*build())
    for lengths in ([6, 3, 1], [2, 6, 4], [6, 3, 1]):
        lengths = xg.asarray(lengths, backend=backend)
        np.testing.assert_allclose(float(compiled(x, lengths)), float(eager(x, lengths)),
                                   rtol=1e-5)
    assert compiled.trace_count == 1
    with pytest.raises(ValueError, match="lengths must be between 1 and 6"):
        compiled(x, xg.asarray([7, 3, 1], backend=backend))
