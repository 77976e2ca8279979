"""Embedding, LayerNorm and GRU used as a PyTorch user would: 3-D inputs with a tuple
normalized_shape, batch 1, sequence length 1, empty batches, padding_idx, weights given as
lists, eager and under ``xg.function``; values and gradients against PyTorch in float64 on
every host backend."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]


def _assert_close(got, want, what):
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-13,
                               err_msg=what)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape, normalized", [((2, 3, 4), (3, 4)), ((1, 1, 4), 4),
                                               ((0, 4), 4), ((2, 3, 4), (2, 3, 4))])
def test_layer_norm_module_matches_pytorch(backend, shape, normalized):
    rng = np.random.default_rng(sum(shape))
    x0 = rng.normal(size=shape) * 3.0 + 1.0
    norm = xg.nn.LayerNorm(normalized, dtype=xg.float64, backend=backend)
    reference = torch.nn.LayerNorm(normalized, dtype=torch.float64)
    w0, b0 = rng.normal(size=norm.weight.shape), rng.normal(size=norm.bias.shape)
    norm.load_torch_state_dict({"weight": w0, "bias": b0})
    reference.load_state_dict({"weight": torch.tensor(w0), "bias": torch.tensor(b0)})
    ramp = np.linspace(0.5, 2.0, x0.size).reshape(shape)

    @xg.function
    def step(x):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.sum(norm(x) ** 2 * xg.asarray(ramp, backend=backend))
        return loss, tape.gradient(loss, [x, norm.weight, norm.bias])

    tx = torch.tensor(x0, requires_grad=True)
    want = (reference(tx) ** 2 * torch.tensor(ramp)).sum()
    want.backward()
    x = xg.asarray(x0, backend=backend)
    for _ in range(2):                            # traced, then replayed
        loss, (dx, dw, db) = step(x)
        _assert_close(loss, want, "loss")
        for got, ref, what in [(dx, tx.grad, "x"), (dw, reference.weight.grad, "weight"),
                               (db, reference.bias.grad, "bias")]:
            _assert_close(got, ref, what)


@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_norm_function_takes_weight_and_bias_as_lists(backend):
    """``layer_norm(x, 3, [1.0, 2.0, 3.0])`` on float64 input raised "weight is float32 but the
    input is float64" (and on numba, a mixed-backend error): a list is read in x's dtype and
    backend; a Tensor keeps its dtype."""
    x0 = np.random.default_rng(0).normal(size=(2, 3))
    x = xg.asarray(x0, backend=backend)
    got = xg.nn.layer_norm(x, 3, [1.0, 2.0, 3.0], [0.0, 0.5, 1.0])
    want = F.layer_norm(torch.tensor(x0), (3,), torch.tensor([1.0, 2.0, 3.0]).double(),
                        torch.tensor([0.0, 0.5, 1.0]).double())
    assert got.backend.name == backend
    _assert_close(got, want, "layer_norm")
    with pytest.raises(TypeError, match="weight is float32 but the input is float64"):
        xg.nn.layer_norm(x, 3, xg.ones(3))
    with pytest.raises(TypeError, match="bias must be a tensor or numbers, got str"):
        xg.nn.layer_norm(x, 3, None, "zero")


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding_under_function_reads_new_ids_on_replay(backend):
    weight0 = np.random.default_rng(1).normal(size=(5, 3))
    emb = xg.nn.Embedding(5, 3, padding_idx=0, dtype=xg.float64, backend=backend)
    emb.load_torch_state_dict({"weight": weight0})
    reference = torch.nn.Embedding(5, 3, padding_idx=0, dtype=torch.float64)
    reference.load_state_dict({"weight": torch.tensor(weight0)})

    @xg.function
    def step(ids):
        with xg.GradientTape() as tape:
            loss = xg.sum(emb(ids) ** 3)
        return loss, tape.gradient(loss, emb.weight)

    for ids in ([[1, 2, 2], [0, 4, 1]], [[3, 3, 0], [0, 0, 0]], [[4, 1, 1], [2, 2, 3]]):
        loss, grad = step(xg.asarray(ids, backend=backend))
        reference.weight.grad = None
        want = (reference(torch.tensor(ids)) ** 3).sum()
        want.backward()
        _assert_close(loss, want, f"loss {ids}")
        _assert_close(grad, reference.weight.grad, f"gradient {ids}")
    with pytest.raises(IndexError, match=r"ids must lie in \[0, num_embeddings\)"):
        step(xg.asarray([[7, 1, 1], [2, 2, 3]], backend=backend))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch, steps, layers, bias", [(1, 1, 1, True), (3, 4, 2, True),
                                                        (2, 1, 3, False), (0, 2, 1, True)])
def test_gru_matches_pytorch(backend, batch, steps, layers, bias):
    rng = np.random.default_rng(batch * 10 + steps)
    reference = torch.nn.GRU(2, 3, layers, bias=bias, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape)) * 0.7))
    gru = xg.nn.GRU(2, 3, layers, bias=bias, batch_first=True, dtype=xg.float64,
                    backend=backend)
    gru.load_torch_state_dict(reference.state_dict())
    x0, h0 = rng.normal(size=(batch, steps, 2)), rng.normal(size=(layers, batch, 3))
    x, h = xg.asarray(x0, backend=backend), xg.asarray(h0, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch([x, h])
        out, h_n = gru(x, h)
        loss = xg.sum(out ** 2) + xg.sum(h_n ** 3)
    dx, dh = tape.gradient(loss, [x, h])
    tx, th = torch.tensor(x0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    t_out, t_h = reference(tx, th)
    ((t_out ** 2).sum() + (t_h ** 3).sum()).backward()
    for got, want, what in [(out, t_out, "outputs"), (h_n, t_h, "h_n"), (dx, tx.grad, "dx"),
                            (dh, th.grad, "dh0")]:
        _assert_close(got, want, what)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, bias", [("GRUCell", True), ("GRUCell", False),
                                        ("LSTMCell", True), ("RNNCell", True)])
def test_cells_load_pytorch_cells(backend, kind, bias):
    """A ``torch.nn.GRUCell`` (LSTMCell, RNNCell) state dict had no way in: the cells had no
    ``load_torch_state_dict``."""
    rng = np.random.default_rng(5)
    reference = getattr(torch.nn, kind)(2, 3, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        for p in reference.parameters():
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape))))
    cell = getattr(xg.nn, kind)(2, 3, bias=bias, dtype=xg.float64, backend=backend)
    cell.load_torch_state_dict(reference.state_dict())
    x0, h0 = rng.normal(size=(4, 2)), rng.normal(size=(4, 3))
    x, h = xg.asarray(x0, backend=backend), xg.asarray(h0, backend=backend)
    state, t_state = (h, h), (torch.tensor(h0), torch.tensor(h0))
    if kind != "LSTMCell":
        state, t_state = h, torch.tensor(h0)
    got, want = cell(x, state), reference(torch.tensor(x0), t_state)
    for g, w in zip(got if kind == "LSTMCell" else [got], want if kind == "LSTMCell" else [want]):
        _assert_close(g, w, kind)
    back = getattr(torch.nn, kind)(2, 3, bias=bias, dtype=torch.float64)
    back.load_state_dict({k: torch.tensor(v) for k, v in cell.torch_state_dict().items()})
    _assert_close(cell(x, state)[0] if kind == "LSTMCell" else cell(x, state),
                  back(torch.tensor(x0), t_state)[0] if kind == "LSTMCell"
                  else back(torch.tensor(x0), t_state), "round trip")
    if bias:
        with pytest.raises(ValueError, match=r"unexpected keys \['bias_ih', 'bias_hh'\]"):
            getattr(xg.nn, kind)(2, 3, bias=False).load_torch_state_dict(reference.state_dict())


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_recurrent_layers_take_pytorchs_batch_first(layer):
    """``GRU(3, 4, batch_first=True)``, the PyTorch habit for batch-first data, raised
    "unexpected keyword argument"; ``batch_first=False`` (PyTorch's default) reads time-major
    input and returns time-major outputs (tests/test_recurrent_time_major.py compares it with
    torch)."""
    module = getattr(xg.nn, layer)(3, 4, batch_first=True, rng=0)
    out = module(xg.ones((2, 5, 3)))[0]
    assert out.shape == (2, 5, 4)
    time_major = getattr(xg.nn, layer)(3, 4, batch_first=False, rng=0)
    x = xg.asarray(np.arange(30.0, dtype="float32").reshape(2, 5, 3) / 30)
    np.testing.assert_allclose(time_major(xg.permute_dims(x, (1, 0, 2)))[0].numpy(),
                               np.transpose(module(x)[0].numpy(), (1, 0, 2)), rtol=1e-6)
    with pytest.raises(TypeError, match="batch_first must be True or False"):
        getattr(xg.nn, layer)(3, 4, batch_first="yes")
