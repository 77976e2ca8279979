"""examples/word_lm.py (PyTorch's word_language_model ported) trains as the torch original:
the same weights, float64, dropout off, a few TBPTT updates (detached state, NLL, global-norm
clipping, plain SGD) on a tiny corpus; the losses and every weight agree after each update.

Both sides are time-major, as the original: ``batchify`` gives (words, streams) columns,
``get_batch`` (bptt, streams) rows, and the very same arrays feed the torch model; the final
states of every update agree too. xpgrad holds one bias
per recurrent gate where torch holds ``bias_ih + bias_hh`` (docs/recurrent.md, "One bias, not
two"), so torch's ``bias_hh`` entries that only add to ``bias_ih`` get no gradient here: the LSTM's and
RNN's whole ``bias_hh``, the GRU's r and z parts (its n part multiplies the reset gate and is
a parameter of its own in both)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import xpgrad as xg
from conftest import load_example

from test_examples import BACKENDS

word_lm = load_example("word_lm")

NTOKEN, EMSIZE, NLAYERS, BSZ, BPTT, LR, CLIP = 13, 6, 2, 3, 5, 2.0, 0.25


class TorchRNNModel(torch.nn.Module):
    def __init__(self, rnn_type, tie):
        super().__init__()
        self.encoder = torch.nn.Embedding(NTOKEN, EMSIZE)
        if rnn_type.startswith("RNN_"):
            self.rnn = torch.nn.RNN(EMSIZE, EMSIZE, NLAYERS, nonlinearity=rnn_type[4:].lower())
        else:
            self.rnn = getattr(torch.nn, rnn_type)(EMSIZE, EMSIZE, NLAYERS)
        self.decoder = torch.nn.Linear(EMSIZE, NTOKEN)
        if tie:
            self.decoder.weight = self.encoder.weight
        H = EMSIZE
        for k in range(NLAYERS):
            bias_hh = getattr(self.rnn, f"bias_hh_l{k}")
            if rnn_type == "GRU":
                mask = torch.ones(3 * H, dtype=torch.float64)
                mask[:2 * H] = 0
                bias_hh.register_hook(lambda g, mask=mask: g * mask)
            else:
                bias_hh.requires_grad_(False)

    def forward(self, ids, hidden):                  # ids (time, batch), as the original
        output, hidden = self.rnn(self.encoder(ids), hidden)
        return F.log_softmax(self.decoder(output).view(-1, NTOKEN), dim=1), hidden


class TorchTransformerModel(torch.nn.Module):
    """The original's TransformerModel (its encoder: nn.Transformer's, with a final norm), the
    positional table a plain tensor here (a buffer there), dropout off."""

    def __init__(self, nhead=2, nhid=10):
        super().__init__()
        position = torch.arange(0, 50, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, EMSIZE, 2).float() * (-math.log(10000.0) / EMSIZE))
        pe = torch.zeros(50, EMSIZE)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.pe = pe.unsqueeze(0).transpose(0, 1).double()
        self.input_emb = torch.nn.Embedding(NTOKEN, EMSIZE)
        layer = torch.nn.TransformerEncoderLayer(EMSIZE, nhead, nhid, dropout=0.0)
        self.encoder = torch.nn.TransformerEncoder(layer, NLAYERS, torch.nn.LayerNorm(EMSIZE),
                                                   enable_nested_tensor=False)
        self.decoder = torch.nn.Linear(EMSIZE, NTOKEN)

    def forward(self, ids, hidden):                  # ids (time, batch), as the original
        mask = torch.nn.Transformer.generate_square_subsequent_mask(len(ids)).double()
        src = self.input_emb(ids) * math.sqrt(EMSIZE) + self.pe[:ids.size(0)]
        output = self.decoder(self.encoder(src, mask=mask))
        return F.log_softmax(output, dim=-1).view(-1, NTOKEN), None


def _repackage(h):
    if h is None:
        return None
    return h.detach() if isinstance(h, torch.Tensor) else tuple(_repackage(v) for v in h)


def _torch_step(model, x, y, hidden):
    hidden = _repackage(hidden)
    model.zero_grad()
    output, hidden = model(x, hidden)
    loss = F.nll_loss(output, y)
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    norm = torch.nn.utils.clip_grad_norm_(params, CLIP)
    with torch.no_grad():
        for p in params:
            p.add_(p.grad, alpha=-LR)
    return loss.item(), hidden, norm.item()


def _init_hidden(rnn_type):
    zeros = torch.zeros(NLAYERS, BSZ, EMSIZE, dtype=torch.float64)
    return (zeros, zeros.clone()) if rnn_type == "LSTM" else zeros


CASES = [("LSTM", False), ("LSTM", True), ("GRU", True), ("RNN_TANH", False)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rnn_type,tie", CASES)
def test_word_lm_trains_as_the_torch_original(rnn_type, tie, backend):
    torch.manual_seed(0)
    reference = TorchRNNModel(rnn_type, tie).double()
    build = lambda: word_lm.RNNModel(rnn_type, NTOKEN, EMSIZE, EMSIZE, NLAYERS, dropout=0.0,
                                     tie_weights=tie, rng=0, dtype=xg.float64, backend=backend)
    model, converted = build(), build()
    model.load_torch_state_dict(reference.state_dict())
    ids = np.random.default_rng(1).integers(0, NTOKEN, size=BSZ * 23)   # 4 chunks of 5, 1 of 2
    data = word_lm.batchify(ids, BSZ)                                  # (rows, BSZ)
    assert data.shape == (23, BSZ)
    hidden, t_hidden, norms = None, _init_hidden(rnn_type), []
    for i in range(0, len(data) - 1, BPTT):
        x, y = word_lm.get_batch(data, i, BPTT)                        # (n, BSZ), (n * BSZ,)
        loss, hidden = word_lm.train_step(model, xg.asarray(x, backend=backend),
                                          xg.asarray(y, backend=backend), hidden, LR, CLIP)
        n = len(x)
        t_loss, t_hidden, norm = _torch_step(reference, torch.from_numpy(x),
                                             torch.from_numpy(y), t_hidden)
        np.testing.assert_allclose(loss, t_loss, rtol=1e-11)
        ours = hidden if isinstance(hidden, tuple) else (hidden,)
        theirs = t_hidden if isinstance(t_hidden, tuple) else (t_hidden,)
        for a, b in zip(ours, theirs):
            assert a.shape == tuple(b.shape) == (NLAYERS, BSZ, EMSIZE)
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
        norms.append(norm)
        converted.load_torch_state_dict(reference.state_dict())
        for path, value in model.state_dict().items():
            np.testing.assert_allclose(value, converted.state_dict()[path], rtol=1e-10,
                                       atol=1e-12, err_msg=f"{path} after update {len(norms)}")
    assert len(norms) == 5 and n == 2 and max(norms) > CLIP     # clipping did scale
    if tie:
        assert model.decoder.weight is model.encoder.weight
        assert "rnn_model/decoder/weight" not in model.state_dict()    # one Variable, once


@pytest.mark.parametrize("backend", BACKENDS)
def test_word_lm_transformer_trains_as_the_torch_original(backend):
    torch.manual_seed(0)
    reference = TorchTransformerModel().double()
    build = lambda: word_lm.TransformerModel(NTOKEN, EMSIZE, 2, 10, NLAYERS, dropout=0.0, rng=0,
                                             dtype=xg.float64, backend=backend)
    model, converted = build(), build()
    np.testing.assert_allclose(model.pos_encoder.pe.numpy()[:50], reference.pe.numpy(),
                               atol=1e-6)       # torch computes its table in float32
    model.pos_encoder.pe = xg.asarray(reference.pe.numpy(), backend=backend)
    model.load_torch_state_dict(reference.state_dict())
    data = word_lm.batchify(np.random.default_rng(1).integers(0, NTOKEN, size=BSZ * 23), BSZ)
    hidden, losses = None, []
    for i in range(0, len(data) - 1, BPTT):
        x, y = word_lm.get_batch(data, i, BPTT)
        loss, hidden = word_lm.train_step(model, xg.asarray(x, backend=backend),
                                          xg.asarray(y, backend=backend), hidden, LR, CLIP)
        t_loss, _, norm = _torch_step(reference, torch.from_numpy(x), torch.from_numpy(y), None)
        np.testing.assert_allclose(loss, t_loss, rtol=1e-11)
        assert hidden is None
        losses.append((loss, norm))
        converted.load_torch_state_dict(reference.state_dict())
        for path, value in model.state_dict().items():
            np.testing.assert_allclose(value, converted.state_dict()[path], rtol=1e-10,
                                       atol=1e-12, err_msg=f"{path} after update {len(losses)}")
    assert len(losses) == 5 and max(n for _, n in losses) > CLIP      # clipping did scale
