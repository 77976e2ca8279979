"""``bidirectional=True`` on RNN/LSTM/GRU against PyTorch with the same weights (values and the
gradients of the inputs, the initial states and every weight, float64, numpy and numba),
finite differences, ``xg.function`` replay == eager, variable lengths, the Numba backend's
fused kernels running the reverse direction, PyTorch's ``_reverse`` keys, and the errors."""
import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from docs_text import section

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

KINDS = ["LSTM", "GRU", "RNN"]
B, T, I, H = 3, 5, 4, 3


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    row = backend_report().get(request.param, {"available": False,
                                                       "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"{request.param}: {row['reason']}")
    return request.param


def pair(kind, L, backend, batch_first=True, **kwargs):
    """A float64 torch layer (``batch_first`` as given) and the xpgrad layer holding its
    weights (always batch first: xpgrad reads no other layout)."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(I, H, L, batch_first=batch_first, bidirectional=True,
                                  **kwargs).double()
    ours = getattr(nn, kind)(I, H, L, bidirectional=True, batch_first=True, dtype="float64",
                             backend=backend, rng=1, **kwargs)
    ours.load_torch_state_dict(ref.state_dict())
    return ref, ours


def data(kind, L, seed=0):
    """x (B, T, I), the initial states, and cotangents for the outputs and final states."""
    rng = np.random.default_rng(seed)
    n = 2 if kind == "LSTM" else 1
    return (rng.standard_normal((B, T, I)),
            [rng.standard_normal((2 * L, B, H)) * 0.5 for _ in range(n)],
            rng.standard_normal((B, T, 2 * H)),
            [rng.standard_normal((2 * L, B, H)) for _ in range(n)])


def torch_grads(kind, ref, x, states, ct_out, ct_states, with_state, lengths=None):
    """(outputs, finals, gradient of x, of the initial states, {torch key: gradient})."""
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    inp = xt if ref.batch_first else xt.transpose(0, 1)
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(inp, torch.tensor(lengths),
                                                      batch_first=ref.batch_first,
                                                      enforce_sorted=False)
    given = None if not with_state else (tuple(st) if kind == "LSTM" else st[0])
    out, finals = ref(inp, given)
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=ref.batch_first,
                                                        total_length=T)
    out = out if ref.batch_first else out.transpose(0, 1)
    finals = finals if isinstance(finals, tuple) else (finals,)
    loss = (out * torch.tensor(ct_out)).sum() + sum(
        (f * torch.tensor(c)).sum() for f, c in zip(finals, ct_states))
    loss.backward()
    return (out.detach().numpy(), [f.detach().numpy() for f in finals], xt.grad.numpy(),
            [s.grad.numpy() for s in st] if with_state else None,
            {k: p.grad.numpy() for k, p in ref.named_parameters()})


def ours_loss(kind, layer, x, states, ct_out, ct_states, lengths=None):
    out, finals = layer(x, None if states is None else
                        (tuple(states) if kind == "LSTM" else states[0]), lengths=lengths)
    finals = finals if isinstance(finals, tuple) else (finals,)
    loss = xg.sum(out * ct_out) + sum(xg.sum(f * c) for f, c in zip(finals, ct_states))
    return loss, out, finals


def ours_grads(kind, layer, x, states, ct_out, ct_states, with_state, lengths=None):
    """As ``torch_grads``, the weights' gradients by variable path."""
    be = layer.layers[0].w_ih.backend
    x = xg.asarray(x, backend=be)
    states = [xg.asarray(s, backend=be) for s in states] if with_state else None
    ct_out = xg.asarray(ct_out, backend=be)
    ct_states = [xg.asarray(c, backend=be) for c in ct_states]
    if lengths is not None:
        lengths = xg.asarray(lengths, backend=be)
    named = layer.named_variables()
    with xg.GradientTape() as tape:
        tape.watch([x] + (states or []))
        loss, out, finals = ours_loss(kind, layer, x, states, ct_out, ct_states, lengths)
    grads = tape.gradient(loss, [x] + (states or []) + list(named.values()))
    grads = [g.numpy() for g in grads]
    n = 1 + len(states or [])
    return (out.numpy(), [f.numpy() for f in finals], grads[0],
            grads[1:n] if with_state else None, dict(zip(named, grads[n:])))


def torch_weight_grads(kind, layer, theirs):
    """The torch gradients in xpgrad's layout, by xpgrad's variable path: ``w.T``; ``b`` gets
    ``bias_ih``'s gradient (the GRU's ``b_hn`` the n block of ``bias_hh``'s)."""
    out = {}
    for k in range(layer.num_layers):
        for suffix, cell in ((f"_l{k}", f"cell{k}"), (f"_l{k}_reverse", f"cell{k}_reverse")):
            path = f"{layer.name}/{cell}"
            out[f"{path}/w_ih"] = theirs[f"weight_ih{suffix}"].T
            out[f"{path}/w_hh"] = theirs[f"weight_hh{suffix}"].T
            out[f"{path}/b"] = theirs[f"bias_ih{suffix}"]
            if kind == "GRU":
                out[f"{path}/b_hn"] = theirs[f"bias_hh{suffix}"][2 * H:]
    return out


def assert_close(a, b, what):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=what)


def compare(kind, ours, theirs, with_state):
    out, finals, dx, dstates, dw = ours
    t_out, t_finals, t_dx, t_dstates, t_dw = theirs
    assert_close(out, t_out, "outputs")
    assert len(finals) == len(t_finals)
    for f, tf in zip(finals, t_finals):
        assert_close(f, tf, "final states")
    assert_close(dx, t_dx, "d x")
    if with_state:
        for d, td in zip(dstates, t_dstates):
            assert_close(d, td, "d initial state")
    assert sorted(dw) == sorted(t_dw)          # every weight, both directions
    for path, g in dw.items():
        assert_close(g, t_dw[path], path)


# -- against PyTorch ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("batch_first", [True, False], ids=["torch-batch-first",
                                                            "torch-time-major"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zeros", "h0"])
def test_matches_torch_values_and_gradients(kind, L, batch_first, with_state, backend):
    ref, ours = pair(kind, L, backend, batch_first=batch_first)
    x, states, ct_out, ct_states = data(kind, L)
    theirs = torch_grads(kind, ref, x, states, ct_out, ct_states, with_state)
    mine = ours_grads(kind, ours, x, states, ct_out, ct_states, with_state)
    assert mine[0].shape == (B, T, 2 * H) and mine[1][0].shape == (2 * L, B, H)
    compare(kind, mine, (*theirs[:4], torch_weight_grads(kind, ours, theirs[4])), with_state)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("L", [1, 2])
def test_variable_lengths_match_torch_packed_sequences(kind, L, backend):
    """The reverse direction starts at each sequence's last step (PyTorch's packed sequences),
    not at the padding."""
    ref, ours = pair(kind, L, backend)
    x, states, ct_out, ct_states = data(kind, L, seed=1)
    lengths = [5, 2, 4]
    theirs = torch_grads(kind, ref, x, states, ct_out, ct_states, True, lengths)
    mine = ours_grads(kind, ours, x, states, ct_out, ct_states, True, lengths)
    compare(kind, mine, (*theirs[:4], torch_weight_grads(kind, ours, theirs[4])), True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_no_bias_and_relu_match_torch(kind):
    ref, ours = pair(kind, 2, "numpy", bias=False)
    x, states, ct_out, ct_states = data(kind, 2, seed=2)
    theirs = torch_grads(kind, ref, x, states, ct_out, ct_states, True)
    mine = ours_grads(kind, ours, x, states, ct_out, ct_states, True)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-10, atol=1e-12)
    assert_close(mine[2], theirs[2], "d x")
    torch.manual_seed(0)
    ref = torch.nn.RNN(I, H, 2, nonlinearity="relu", batch_first=True,
                       bidirectional=True).double()
    ours = nn.RNN(I, H, 2, nonlinearity="relu", bidirectional=True, batch_first=True,
                  dtype="float64", rng=0)
    ours.load_torch_state_dict(ref.state_dict())
    x, states, ct_out, ct_states = data("RNN", 2, seed=3)
    theirs = torch_grads("RNN", ref, x, states, ct_out, ct_states, True)
    mine = ours_grads("RNN", ours, x, states, ct_out, ct_states, True)
    compare("RNN", mine, (*theirs[:4], torch_weight_grads("RNN", ours, theirs[4])), True)


# -- finite differences, xg.function -------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_finite_differences(kind):
    """Every input, initial state and weight of a 2-layer bidirectional layer, central
    differences in float64 (independent of PyTorch)."""
    L, b, t = 2, 2, 3
    layer = getattr(nn, kind)(2, 2, L, bidirectional=True, dtype="float64", rng=0)
    rng = np.random.default_rng(4)
    for v in layer.variables:
        v.assign(rng.standard_normal(v.shape) * 0.6)
    # the input and initial states as Variables too, so that one assign perturbs any of them
    x = xg.Variable(rng.standard_normal((b, t, 2)))
    states = [xg.Variable(rng.standard_normal((2 * L, b, 2)) * 0.5)
              for _ in range(2 if kind == "LSTM" else 1)]
    ct_out = xg.asarray(rng.standard_normal((b, t, 4)))
    ct_states = [xg.asarray(rng.standard_normal((2 * L, b, 2))) for _ in states]
    inputs = [x, *states, *layer.variables]

    def loss():
        return float(ours_loss(kind, layer, x, states, ct_out, ct_states)[0])

    with xg.GradientTape() as tape:
        value = ours_loss(kind, layer, x, states, ct_out, ct_states)[0]
    grads = tape.gradient(value, inputs)
    eps = 1e-6
    for v, grad in zip(inputs, grads):
        base = v.numpy().copy()
        numeric = np.zeros(v.shape)
        for i in np.ndindex(*v.shape):
            values = []
            for sign in (1, -1):
                bumped = base.copy()
                bumped[i] += sign * eps
                v.assign(bumped)
                values.append(loss())
            numeric[i] = (values[0] - values[1]) / (2 * eps)
        v.assign(base)
        np.testing.assert_allclose(grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("use_lengths", [False, True], ids=["full", "lengths"])
def test_compiled_equals_eager(kind, use_lengths, backend):
    L = 2
    _, layer = pair(kind, L, backend)
    x, states, ct_out, ct_states = data(kind, L, seed=5)
    args = [xg.asarray(a, backend=backend) for a in (x, ct_out, *states, *ct_states)]
    n = len(states)
    variables = layer.trainable_variables

    def step(x, ct_out, *rest):
        lengths = rest[-1] if use_lengths else None
        st, cts = list(rest[:n]), list(rest[n:2 * n])
        with xg.GradientTape() as tape:
            tape.watch([x] + st)
            loss = ours_loss(kind, layer, x, st, ct_out, cts, lengths)[0]
        return loss, tape.gradient(loss, [x] + st + variables)

    compiled = xg.function(step)
    for lengths in ([5, 2, 4], [1, 5, 3]):
        extra = [xg.asarray(lengths, backend=backend)] if use_lengths else []
        want = step(*args, *extra)
        got = compiled(*args, *extra)
        np.testing.assert_allclose(float(got[0]), float(want[0]), rtol=1e-12)
        for a, b in zip(got[1], want[1], strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-13)
    assert compiled.trace_count == 1


# -- the Numba backend's fused kernels run the reverse direction ---------------------------------
@pytest.mark.parametrize("kind, step", [("LSTM", "lstm_cell"), ("GRU", "gru_cell"),
                                        ("RNN", "rnn_cell")])
def test_numba_runs_both_directions_in_its_fused_kernels(kind, step, monkeypatch):
    """The reverse direction is the same scan on a time-reversed copy: the Numba backend's
    fused step (forward and backward) runs once per step and direction, so the generic rules
    (which call no ``_rnn`` step) never ran. The GRU's and RNN's layers run their backward
    steps in ``_layer_steps`` (steps ``t0 .. t1 - 1`` a call)."""
    if not backend_report().get("numba", {}).get("available"):
        pytest.skip("numba not available")
    from xpgrad.backends.numba import _layer_steps, _rnn

    from xpgrad.backends import blas

    # the scans run their whole loop compiled where a direct gemm takes the steps' products
    # (``lstm_*_steps``, ``gru_*_steps``, ``rnn_*_steps``: T steps a call); patching the step
    # it compiles in would break its compilation
    whole = blas._library() is not None
    calls = {"forward": 0, "backward": 0}
    for way in calls:
        if way == "backward" and kind != "LSTM":
            module, name = _layer_steps, f"{step.split('_')[0]}_layer_back_steps"
        else:
            module = _rnn
            name = f"{step.split('_')[0]}_{way}_steps" if whole else f"{step}_{way}"
        original = getattr(module, name)

        def counting(*args, _original=original, _way=way, _module=module):
            calls[_way] += args[2] - args[1] if _module is _layer_steps else T if whole else 1
            return _original(*args)
        monkeypatch.setattr(module, name, counting)
    layer = getattr(nn, kind)(I, H, bidirectional=True, dtype="float64", backend="numba",
                              rng=0)
    x = xg.asarray(np.random.default_rng(6).standard_normal((B, T, I)), backend="numba")
    with xg.GradientTape() as tape:
        tape.watch(x)
        out, _ = layer(x)
        loss = xg.sum(out * out)
    tape.gradient(loss, [x] + layer.trainable_variables)
    assert calls == {"forward": 2 * T, "backward": 2 * T}


# -- weights, state layout ---------------------------------------------------------------------
def test_reverse_weights_are_named_as_pytorchs_and_round_trip():
    ours = nn.GRU(I, H, 2, bidirectional=True, dtype="float64", rng=0)
    assert list(ours.state_dict()) == [
        f"gru/{cell}/{w}" for cell in ("cell0", "cell1", "cell0_reverse", "cell1_reverse")
        for w in ("w_ih", "w_hh", "b", "b_hn")]
    assert [c.input_size for c in ours.layers + ours.reverse_layers] == [I, 2 * H, I, 2 * H]
    ref = torch.nn.GRU(I, H, 2, batch_first=True, bidirectional=True).double()
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.torch_state_dict().items()})
    assert list(ours.torch_state_dict()) == list(ref.state_dict())
    x = np.random.default_rng(7).standard_normal((B, T, I))
    np.testing.assert_allclose(ours(xg.asarray(x))[0].numpy(),
                               ref(torch.tensor(x))[0].detach().numpy(), rtol=1e-12)
    # a checkpoint of the xpgrad layer loads back, reverse weights included
    other = nn.GRU(I, H, 2, bidirectional=True, dtype="float64", rng=1)
    other.load_state_dict(ours.state_dict())
    for a, b in zip(other.variables, ours.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_state_index_is_two_layer_plus_direction():
    """A reverse direction's own initial state moves only its own final state and outputs."""
    lstm = nn.LSTM(I, H, 1, bidirectional=True, dtype="float64", rng=0)
    x = xg.asarray(np.random.default_rng(8).standard_normal((B, T, I)))
    zeros = np.zeros((2, B, H))
    base_out, (base_h, _) = lstm(x, (xg.asarray(zeros), xg.asarray(zeros)))
    h0 = zeros.copy()
    h0[1] = 1.0                                    # layer 0, reverse
    out, (h, _) = lstm(x, (xg.asarray(h0), xg.asarray(zeros)))
    np.testing.assert_array_equal(out.numpy()[..., :H], base_out.numpy()[..., :H])
    np.testing.assert_array_equal(h.numpy()[0], base_h.numpy()[0])
    assert not np.allclose(out.numpy()[..., H:], base_out.numpy()[..., H:])
    # the reverse direction's final state is its output at the first step
    np.testing.assert_array_equal(h.numpy()[1], out.numpy()[:, 0, H:])
    np.testing.assert_array_equal(h.numpy()[0], out.numpy()[:, -1, :H])


def test_unidirectional_layers_are_unchanged():
    lstm = nn.LSTM(I, H, 2, rng=0)
    assert lstm.bidirectional is False and lstm.reverse_layers == []
    assert list(lstm.state_dict()) == [f"lstm/cell{k}/{w}" for k in range(2)
                                       for w in ("w_ih", "w_hh", "b")]
    out, (h, c) = lstm(xg.ones((B, T, I)))
    assert (out.shape, h.shape, c.shape) == ((B, T, H), (2, B, H), (2, B, H))


@pytest.mark.usefixtures("numpy_default")
def test_dropout_acts_on_the_concatenated_outputs_between_layers_in_training_only():
    """Dropout between stacked bidirectional layers (PyTorch's placement: on each layer's
    ``[forward | reverse]`` output but the last's); ``eval()`` turns it off, giving the
    numbers of the same weights without dropout."""
    ref, plain = pair("GRU", 2, "numpy")
    dropped = nn.GRU(I, H, 2, bidirectional=True, dropout=0.5, batch_first=True,
                     dtype="float64", rng=1)
    dropped.load_torch_state_dict(ref.state_dict())
    x = xg.asarray(np.random.default_rng(10).standard_normal((B, T, I)))
    want = plain(x)[0].numpy()
    dropped.eval()
    np.testing.assert_array_equal(dropped(x)[0].numpy(), want)
    dropped.train()
    assert not np.allclose(dropped(x)[0].numpy(), want)


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_unidirectional_initial_state_is_refused_naming_the_layout(kind):
    layer = getattr(nn, kind)(I, H, 2, bidirectional=True, rng=0)
    x = xg.ones((B, T, I))
    wrong = xg.zeros((2, B, H))                    # num_layers states, not num_layers * 2
    what = "h" if kind == "LSTM" else "h0"
    with pytest.raises(ValueError, match=rf"{kind}: {what} must be a tensor of shape "
                                         rf"\(4, 3, 3\), got \(2, 3, 3\).*bidirectional=True"):
        layer(x, (wrong, xg.zeros((4, B, H))) if kind == "LSTM" else wrong)
    if kind == "LSTM":
        with pytest.raises(ValueError, match=r"LSTM: c must be .*\(4, 3, 3\).*2 \* k \+ d"):
            layer(x, (xg.zeros((4, B, H)), wrong))
        with pytest.raises(ValueError, match=r"pair \(h, c\) of \(num_layers \* 2, batch"):
            layer(x, xg.zeros((4, B, H)))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_bidirectional_is_refused_and_time_major_works(kind):
    with pytest.raises(TypeError, match="bidirectional must be True or False"):
        getattr(nn, kind)(I, H, bidirectional="yes")
    out, _ = getattr(nn, kind)(I, H, bidirectional=True, batch_first=False)(xg.ones((T, B, I)))
    assert out.shape == (T, B, 2 * H)      # values: tests/test_recurrent_time_major.py


def test_torch_weights_of_the_other_direction_count_are_refused():
    bi = nn.LSTM(I, H, bidirectional=True, rng=0)
    before = [v.numpy().copy() for v in bi.variables]
    with pytest.raises(ValueError, match=r"two directions.*missing keys \['weight_ih_l0_reverse"):
        bi.load_torch_state_dict(torch.nn.LSTM(I, H).state_dict())
    for v, b in zip(bi.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)
    sd = torch.nn.LSTM(I, H, bidirectional=True).state_dict()
    sd["weight_hh_l0_reverse"] = torch.zeros(4 * H, H + 1)
    with pytest.raises(ValueError, match=r"'weight_hh_l0_reverse' has shape \(12, 4\)"):
        bi.load_torch_state_dict(sd)
    with pytest.raises(ValueError, match=r"one direction.*unexpected keys .*_reverse"):
        nn.LSTM(I, H, rng=0).load_torch_state_dict(
            torch.nn.LSTM(I, H, bidirectional=True).state_dict())


class Tagger(nn.Module):
    def __init__(self):
        super().__init__("tagger")
        self.gru = nn.GRU(2, 3, bidirectional=True, rng=0)
        self.head = nn.Linear(6, 1, rng=1)

    def forward(self, x, state=None):
        out, h = self.gru(x, state)
        return self.head(out), h


@pytest.mark.parametrize("model", [lambda: nn.LSTM(2, 3, bidirectional=True, rng=0), Tagger],
                         ids=["layer", "inside-a-module"])
def test_tbptt_refuses_a_bidirectional_model(model):
    model = model()
    before = [v.numpy().copy() for v in model.variables]
    x, y = xg.ones((2, 8, 2)), xg.zeros((2, 8, 6 if isinstance(model, nn.LSTM) else 1))
    with pytest.raises(ValueError, match="tbptt_train: .* has bidirectional=True"):
        nn.tbptt_train(model, xg.losses.mse, xg.optim.SGD(0.1), x, y, k1=4)
    for v, b in zip(model.variables, before):
        np.testing.assert_array_equal(v.numpy(), b)


# -- SequenceClassifier ------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]], ids=["full", "lengths"])
def test_sequence_classifier_reads_both_directions_final_states(cell, lengths):
    """``bidirectional=True``: the head reads ``[h_n[-2] | h_n[-1]]`` of the last layer, as
    PyTorch's usual ``torch.cat((h_n[-2], h_n[-1]), 1)``, not the last step's outputs (whose
    reverse half has read only that step)."""
    model = nn.SequenceClassifier(I, [H, 2], 3, cell=cell, bidirectional=True, rng=0,
                                  dtype="float64")
    torch.manual_seed(0)
    kind = cell.upper()
    first = getattr(torch.nn, kind)(I, H, batch_first=True, bidirectional=True).double()
    second = getattr(torch.nn, kind)(2 * H, 2, batch_first=True, bidirectional=True).double()
    head = torch.nn.Linear(4, 3).double()
    for ours, theirs in zip([*model.layers, model.head], [first, second, head]):
        ours.load_torch_state_dict(theirs.state_dict())
    x = np.random.default_rng(9).standard_normal((B, T, I))
    xt = torch.tensor(x)
    if lengths is None:
        out, _ = first(xt)
        _, h_n = second(out)
    else:
        pack = torch.nn.utils.rnn.pack_padded_sequence
        out, _ = first(pack(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False))
        _, h_n = second(out)
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    want = head(torch.cat((h_n[-2], h_n[-1]), dim=1)).detach().numpy()
    got = model(xg.asarray(x), lengths=lengths).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_readme_example_runs():
    """docs/recurrent.md shows a bidirectional LSTM; it runs and prints
    the shapes its comment states."""
    import re
    import subprocess
    import sys
    import textwrap

    (code,) = [c for c in re.findall(r"```python\n(.*?)```", section("Recurrent networks"),
                                     re.S)
               if "bidirectional=True" in c]
    code = textwrap.dedent(code)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    stated = re.search(r"# (\(.*\))\n", code).group(1)
    assert res.stdout.strip() == stated
