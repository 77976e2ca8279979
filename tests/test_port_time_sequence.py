"""PyTorch's time_sequence_prediction example (two LSTMCells and a Linear, unrolled over sine
waves, then fed their own predictions ``future`` steps on) ported to xpgrad as a user writes
it, trained beside the torch original from the same weights in float64.

The original trains with ``torch.optim.LBFGS``; both sides use Adam here, as this tests the
cells and the unrolling (``xg.optim.LBFGS`` is compared with torch's step by step in
``test_optim_lbfgs_torch``). Torch's ``bias_hh`` is frozen: xpgrad's cells hold one bias,
torch's ``bias_ih + bias_hh`` (docs/recurrent.md, "One bias, not two")."""
import numpy as np
import pytest
import torch

import xpgrad as xg

from test_examples import BACKENDS

HIDDEN, N, L, FUTURE, LR = 5, 4, 12, 4, 0.05


class Sequence(xg.nn.Module):
    """The port: ``input.split(1, dim=1)`` is ``xg.unstack`` (and expand_dims) here."""

    def __init__(self, backend):
        super().__init__("sequence")
        kw = dict(dtype=xg.float64, backend=backend, rng=0)
        self.lstm1 = xg.nn.LSTMCell(1, HIDDEN, **kw)
        self.lstm2 = xg.nn.LSTMCell(HIDDEN, HIDDEN, **kw)
        self.linear = xg.nn.Linear(HIDDEN, 1, **kw)

    def forward(self, x, future=0):
        outputs, s1, s2 = [], None, None
        for x_t in xg.unstack(x, axis=1):
            s1 = self.lstm1(xg.expand_dims(x_t, axis=1), s1)
            s2 = self.lstm2(s1[0], s2)
            outputs.append(self.linear(s2[0]))
        for _ in range(future):
            s1 = self.lstm1(outputs[-1], s1)
            s2 = self.lstm2(s1[0], s2)
            outputs.append(self.linear(s2[0]))
        return xg.concat(outputs, axis=1)


class TorchSequence(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = torch.nn.LSTMCell(1, HIDDEN)
        self.lstm2 = torch.nn.LSTMCell(HIDDEN, HIDDEN)
        self.linear = torch.nn.Linear(HIDDEN, 1)
        for cell in (self.lstm1, self.lstm2):
            cell.bias_hh.requires_grad_(False)

    def forward(self, x, future=0):
        outputs = []
        h = c = h2 = c2 = torch.zeros(x.size(0), HIDDEN, dtype=torch.float64)
        for x_t in x.split(1, dim=1):
            h, c = self.lstm1(x_t, (h, c))
            h2, c2 = self.lstm2(h, (h2, c2))
            outputs.append(self.linear(h2))
        for _ in range(future):
            h, c = self.lstm1(outputs[-1], (h, c))
            h2, c2 = self.lstm2(h, (h2, c2))
            outputs.append(self.linear(h2))
        return torch.cat(outputs, dim=1)


def _sines():
    rng = np.random.default_rng(2)
    t = np.arange(L + 1) + rng.integers(-80, 80, size=(N + 2, 1))
    return np.sin(t / 20.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_sequence_prediction_trains_as_the_torch_original(backend):
    data = _sines()
    x, y, test_x = data[2:, :-1], data[2:, 1:], data[:2, :-1]
    torch.manual_seed(0)
    reference = TorchSequence().double()
    model = Sequence(backend)
    model.load_torch_state_dict(reference.state_dict())
    t_opt = torch.optim.Adam([p for p in reference.parameters() if p.requires_grad], lr=LR)
    opt = xg.optim.Adam(learning_rate=LR)
    xs, ys = xg.asarray(x, backend=backend), xg.asarray(y, backend=backend)
    losses = []
    for _ in range(4):
        t_opt.zero_grad()
        t_loss = torch.nn.functional.mse_loss(reference(torch.from_numpy(x)),
                                              torch.from_numpy(y))
        t_loss.backward()
        t_opt.step()
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(xs), ys)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
        np.testing.assert_allclose(float(loss), t_loss.item(), rtol=1e-11)
        losses.append(float(loss))
        expected = Sequence(backend)
        expected.load_torch_state_dict(reference.state_dict())
        for path, value in model.state_dict().items():
            np.testing.assert_allclose(value, expected.state_dict()[path], rtol=1e-10,
                                       atol=1e-12, err_msg=path)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        t_pred = reference(torch.from_numpy(test_x), future=FUTURE).numpy()
    pred = model(xg.asarray(test_x, backend=backend), future=FUTURE).numpy()
    assert pred.shape == (2, L + FUTURE)
    np.testing.assert_allclose(pred, t_pred, rtol=1e-10, atol=1e-12)
