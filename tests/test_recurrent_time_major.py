"""``batch_first=False`` (PyTorch's default: time-major (T, B, F) input and outputs) and
unbatched (T, F) input on RNN/LSTM/GRU against PyTorch with the same weights: outputs, final
states and the gradients of the input, the initial states and every weight (float64, numpy and
numba backends, 1-2 layers, bidirectional, variable lengths), ``xg.function`` == eager,
dropout, repr / state_dict / pickle keeping the layout, and the errors."""
import copy
import pickle

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad import nn
from docs_text import section

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

KINDS = ["LSTM", "GRU", "RNN"]
B, T, I, H = 3, 5, 4, 3
TOL = dict(rtol=1e-10, atol=1e-10)


@pytest.fixture(params=["numpy", "numba"])
def backend(request):
    row = backend_report().get(request.param, {"available": False,
                                                       "reason": "not registered"})
    if not row["available"]:
        pytest.skip(f"{request.param}: {row['reason']}")
    return request.param


def pair(kind, L, batch_first, bidirectional=False, backend="numpy", **kwargs):
    """A float64 torch layer and the xpgrad layer with the same options and its weights,
    loaded from the torch layer's state dict."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, kind)(I, H, L, batch_first=batch_first,
                                  bidirectional=bidirectional, **kwargs).double()
    ours = getattr(nn, kind)(I, H, L, batch_first=batch_first, bidirectional=bidirectional,
                             dtype="float64", backend=backend, rng=1, **kwargs)
    ours.load_torch_state_dict(ref.state_dict())
    return ref, ours


def data(kind, L, D, x_shape, state_batch, seed=0):
    """x, the initial states, cotangents for the outputs and the final states; the
    states (L * D, B, H), or (L * D, H) when ``state_batch`` is None (unbatched)."""
    rng = np.random.default_rng(seed)
    n = 2 if kind == "LSTM" else 1
    s_shape = (L * D, H) if state_batch is None else (L * D, state_batch, H)
    out_shape = x_shape[:-1] + (D * H,)
    return (rng.standard_normal(x_shape),
            [rng.standard_normal(s_shape) * 0.5 for _ in range(n)],
            rng.standard_normal(out_shape),
            [rng.standard_normal(s_shape) for _ in range(n)])


def torch_run(kind, ref, x, states, ct_out, ct_states, lengths=None):
    """(outputs, finals, dx, [d state], {torch key: gradient}) of torch's layer."""
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths),
                                                      batch_first=ref.batch_first,
                                                      enforce_sorted=False)
    out, finals = ref(inp, tuple(st) if kind == "LSTM" else st[0])
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=ref.batch_first,
                                                        total_length=T)
    finals = finals if isinstance(finals, tuple) else (finals,)
    loss = (out * torch.tensor(ct_out)).sum() + sum(
        (f * torch.tensor(c)).sum() for f, c in zip(finals, ct_states))
    loss.backward()
    return (out.detach().numpy(), [f.detach().numpy() for f in finals], xt.grad.numpy(),
            [s.grad.numpy() for s in st], {k: p.grad.numpy() for k, p in ref.named_parameters()})


def ours_loss(kind, layer, x, states, ct_out, ct_states, lengths=None):
    out, finals = layer(x, tuple(states) if kind == "LSTM" else states[0], lengths=lengths)
    finals = finals if isinstance(finals, tuple) else (finals,)
    loss = xg.sum(out * ct_out) + sum(xg.sum(f * c) for f, c in zip(finals, ct_states))
    return loss, out, finals


def ours_run(kind, layer, x, states, ct_out, ct_states, lengths=None):
    """The same as ``torch_run`` from xpgrad's layer; the weight gradients converted to
    torch's keys through ``torch_state_dict``'s layout."""
    be = layer.layers[0].w_ih.backend
    xs = xg.asarray(x, backend=be)
    ss = [xg.asarray(s, backend=be) for s in states]
    with xg.GradientTape() as tape:
        tape.watch([xs, *ss])
        loss, out, finals = ours_loss(kind, layer, xs, ss, xg.asarray(ct_out, backend=be),
                                      [xg.asarray(c, backend=be) for c in ct_states], lengths)
    grads = tape.gradient(loss, [xs, *ss, *layer.trainable_variables])
    weights = dict(zip((v.name for v in layer.trainable_variables), grads[1 + len(ss):]))
    return (out.numpy(), [f.numpy() for f in finals], grads[0].numpy(),
            [g.numpy() for g in grads[1:1 + len(ss)]], weights)


def torch_weight_grads(layer, ref_grads):
    """torch's weight gradients as xpgrad's (name: gradient): transposed; ``b`` stands for
    ``bias_ih + bias_hh``, so its gradient is ``bias_ih``'s (the GRU's ``b_hn`` is
    ``bias_hh``'s n slice)."""
    from xpgrad.nn._recurrent_torch import directions

    out = {}
    for suffix, cell in directions(layer):
        out[cell.w_ih.name] = ref_grads[f"weight_ih{suffix}"].T
        out[cell.w_hh.name] = ref_grads[f"weight_hh{suffix}"].T
        if cell.b is not None:
            out[cell.b.name] = ref_grads[f"bias_ih{suffix}"]
            if getattr(cell, "b_hn", None) is not None:
                out[cell.b_hn.name] = ref_grads[f"bias_hh{suffix}"][2 * H:]
    return out


def assert_same(kind, ref, ours, x, states, ct_out, ct_states, lengths=None):
    theirs = torch_run(kind, ref, x, states, ct_out, ct_states, lengths)
    mine = ours_run(kind, ours, x, states, ct_out, ct_states, lengths)
    np.testing.assert_allclose(mine[0], theirs[0], **TOL)
    for a, b in zip(mine[1], theirs[1]):
        np.testing.assert_allclose(a, b, **TOL)
    np.testing.assert_allclose(mine[2], theirs[2], **TOL)
    for a, b in zip(mine[3], theirs[3]):
        np.testing.assert_allclose(a, b, **TOL)
    expected = torch_weight_grads(ours, theirs[4])
    assert set(mine[4]) == set(expected)
    for name, g in expected.items():
        np.testing.assert_allclose(mine[4][name], g, err_msg=name, **TOL)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("L", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time-major", "batch-first"])
def test_matches_torch_values_and_gradients(kind, L, bidirectional, batch_first):
    ref, ours = pair(kind, L, batch_first, bidirectional)
    D = 2 if bidirectional else 1
    shape = (B, T, I) if batch_first else (T, B, I)
    assert_same(kind, ref, ours, *data(kind, L, D, shape, B))


@pytest.mark.parametrize("kind", KINDS)
def test_numba_matches_torch_time_major(kind, backend):
    ref, ours = pair(kind, 2, False, True, backend=backend)
    assert_same(kind, ref, ours, *data(kind, 2, 2, (T, B, I), B, seed=1))


@pytest.mark.usefixtures("numpy_default")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one-way", "bidirectional"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time-major", "batch-first"])
def test_unbatched_input_matches_torch(kind, bidirectional, batch_first):
    """(T, F) input in either mode: outputs (T, D * H), states (L * D, H), as torch."""
    ref, ours = pair(kind, 2, batch_first, bidirectional)
    D = 2 if bidirectional else 1
    x, states, ct_out, ct_states = data(kind, 2, D, (T, I), None, seed=2)
    assert_same(kind, ref, ours, x, states, ct_out, ct_states)
    out, finals = ours(xg.asarray(x))                     # zeros as the initial states
    finals = finals if isinstance(finals, tuple) else (finals,)
    assert out.shape == (T, D * H) and all(f.shape == (2 * D, H) for f in finals)


@pytest.mark.parametrize("kind", KINDS)
def test_time_major_lengths_match_torch_packed_sequences(kind):
    ref, ours = pair(kind, 2, False, True)
    assert_same(kind, ref, ours, *data(kind, 2, 2, (T, B, I), B, seed=3), lengths=[5, 2, 4])


@pytest.mark.parametrize("kind", KINDS)
def test_time_major_is_batch_first_transposed_with_dropout(kind):
    """The same weights and dropout generator: a time-major layer's outputs are the
    batch-first layer's transposed, states equal (the masks are drawn alike)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, T, I))
    outs = []
    for batch_first in (True, False):
        layer = getattr(nn, kind)(I, H, 2, dropout=0.5, batch_first=batch_first,
                                  dtype="float64", rng=7)
        inp = x if batch_first else x.transpose(1, 0, 2)
        out, finals = layer(xg.asarray(inp))
        finals = finals if isinstance(finals, tuple) else (finals,)
        outs.append((out.numpy() if batch_first else out.numpy().transpose(1, 0, 2),
                     [f.numpy() for f in finals]))
    np.testing.assert_allclose(outs[1][0], outs[0][0], **TOL)
    for a, b in zip(outs[1][1], outs[0][1]):
        np.testing.assert_allclose(a, b, **TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_compiled_training_step_equals_eager(kind):
    """A training step of a time-major stacked bidirectional layer under ``xg.function``:
    the losses and weights of three steps equal eager's."""
    rng = np.random.default_rng(5)
    x = xg.asarray(rng.standard_normal((T, B, I)))
    y = xg.asarray(rng.standard_normal((T, B, 2 * H)))
    results = []
    for compiled in (False, True):
        layer = getattr(nn, kind)(I, H, 2, batch_first=False, bidirectional=True,
                                  dtype="float64", rng=3)
        opt = xg.optim.SGD(learning_rate=0.1)

        def step(x, y):
            with xg.GradientTape() as tape:
                out, _ = layer(x)
                loss = xg.losses.mse(out, y)
            grads = tape.gradient(loss, layer.trainable_variables)
            opt.apply_gradients(zip(grads, layer.trainable_variables))
            return loss

        run = xg.function(step) if compiled else step
        losses = [float(run(x, y)) for _ in range(3)]
        results.append((losses, [v.numpy() for v in layer.trainable_variables]))
    np.testing.assert_allclose(results[1][0], results[0][0], **TOL)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, **TOL)


def test_layout_survives_repr_state_dict_and_pickle():
    tm = nn.LSTM(I, H, 2, batch_first=False, rng=0)
    assert "batch_first=False" in repr(tm)
    assert "batch_first" not in repr(nn.LSTM(I, H, rng=0))
    for clone in (pickle.loads(pickle.dumps(tm)), copy.deepcopy(tm)):
        assert clone.batch_first is False
        assert clone(xg.ones((T, B, I)))[0].shape == (T, B, H)
    bf = nn.LSTM(I, H, 2, rng=1)                    # the same weights read either layout
    bf.load_state_dict(tm.state_dict())
    x = np.random.default_rng(6).standard_normal((T, B, I)).astype("float32")
    np.testing.assert_allclose(tm(xg.asarray(x))[0].numpy(),
                               bf(xg.asarray(x.transpose(1, 0, 2)))[0].numpy().transpose(1, 0, 2),
                               rtol=1e-6, atol=1e-6)
    lines = []
    tm.summary(print_fn=lines.append)
    assert "LSTM" in lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_layouts_are_clear_errors(kind):
    layer = getattr(nn, kind)(I, H, 2, batch_first=False, rng=0)
    with pytest.raises(ValueError, match=rf"{kind} expects input of shape \(time, batch, "
                                         r"input_size\) with input_size=4, got shape "
                                         r"\(2, 3, 4, 4\) \(batch_first=False; an unbatched "
                                         r"input is \(time, input_size\)\)"):
        layer(xg.ones((2, 3, 4, I)))
    with pytest.raises(ValueError, match=r"input_size=4, got shape \(5, 3, 2\)"):
        layer(xg.ones((T, B, 2)))
    state = (xg.zeros((2, B, H)),) * 2 if kind == "LSTM" else xg.zeros((2, B, H))
    what = "h" if kind == "LSTM" else "h0"
    with pytest.raises(ValueError, match=rf"unbatched .* {what} must be a tensor of shape "
                                         r"\(2, 3\) \(no batch axis"):
        layer(xg.ones((T, I)), state)
    with pytest.raises(ValueError, match=rf"{what} must be a tensor of shape \(2, 3, 3\)"):
        layer(xg.ones((T, B, I)), (xg.zeros((2, H)),) * 2 if kind == "LSTM"
              else xg.zeros((2, H)))
    with pytest.raises(ValueError, match="lengths= needs a batch of sequences"):
        layer(xg.ones((T, I)), lengths=[3])
    with pytest.raises(TypeError, match="batch_first must be True or False"):
        getattr(nn, kind)(I, H, batch_first="no")


def test_layout_benchmark_runs(capsys):
    """benchmarks/recurrent_layout.py on a tiny shape (it checks the two layouts' losses)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "recurrent_layout.py"
    spec = importlib.util.spec_from_file_location("recurrent_layout", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--backend", "numpy", "--kind", "GRU", "--rounds", "1", "--batch", "2",
                        "--steps", "3", "--inputs", "2", "--hidden", "3"]) == 0
    assert "xpgrad time-major / batch-first" in capsys.readouterr().out


def test_readme_example_runs():
    """docs/recurrent.md shows a time-major LSTM; it runs (this checkout's
    xpgrad) and prints the shapes its comment states."""
    import os
    import re
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    root = Path(__file__).parents[1]
    (code,) = [c for c in re.findall(r"```python\n(.*?)```", section("Recurrent networks"),
                                     re.S)
               if "batch_first=False" in c]
    code = textwrap.dedent(code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    stated = re.search(r"print\(.*# (\(.*\))\n", code).group(1)
    assert res.stdout.strip() == stated
