"""``tbptt_train`` on time-major models (recurrent layers with ``batch_first=False``): the
losses, final state and final weights of a torch TBPTT loop in float64 (with
``clip_grad_norm_``, matched exactly by ``grad_norm_eps=1e-6``), ``compile=True`` == eager,
``batch_first=`` for plain functions and mixed models, and the errors."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad import nn
from xpgrad.nn.tbptt import tbptt_train, windows

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

B, N, I, H, O = 2, 11, 3, 4, 2
TOL = dict(rtol=1e-10, atol=1e-10)


class Net(nn.Module):
    """Two recurrent layers + a linear read-out: ``net(x, state) -> (predictions, state)``."""

    def __init__(self, kind, batch_first):
        super().__init__("net")
        self.rnn = getattr(nn, kind)(I, H, 2, batch_first=batch_first, dtype="float64", rng=0)
        self.head = nn.Linear(H, O, dtype="float64", rng=1)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


class TorchNet(torch.nn.Module):
    """``Net`` in torch. xpgrad holds one bias per gate where torch holds ``bias_ih +
    bias_hh`` (docs/recurrent.md, "One bias, not two"), so the ``bias_hh`` entries that only add to
    ``bias_ih`` are kept from training: the LSTM's and RNN's whole ``bias_hh``, the GRU's r
    and z parts (its n part is ``b_hn``, a parameter in both)."""

    def __init__(self, kind, batch_first):
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(I, H, 2, batch_first=batch_first).double()
        self.head = torch.nn.Linear(H, O).double()
        for k in range(2):
            bias_hh = getattr(self.rnn, f"bias_hh_l{k}")
            if kind == "GRU":
                mask = torch.ones(3 * H, dtype=torch.float64)
                mask[:2 * H] = 0
                bias_hh.register_hook(lambda g, mask=mask: g * mask)
            else:
                bias_hh.requires_grad_(False)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def torch_detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def torch_tbptt(net, x, y, k1, k2, max_norm, batch_first):
    """The TBPTT(k1, k2) loop a torch user writes: each update runs the window of the last
    ``k2`` steps from the state kept at its start, the loss on its ``k1`` new steps, then
    ``clip_grad_norm_`` and SGD; the state at the next window's start is kept, detached."""
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    cut = (lambda t, a, b: t[:, a:b]) if batch_first else (lambda t, a, b: t[a:b])
    axis = 1 if batch_first else 0
    state, losses = None, []
    for w0, start, end, nxt in windows(N, k1, k2):
        opt.zero_grad()
        s, kept, outs = state, None, []
        for a, b in zip(*(lambda c: (c[:-1], c[1:]))(sorted({w0, start, nxt, end}))):
            out, s = net(cut(x, a, b), s)
            if a >= start:
                outs.append(out)
            if b == nxt:
                kept = torch_detach(s)
        loss = torch.nn.functional.mse_loss(torch.cat(outs, axis), cut(y, start, end))
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm)
        opt.step()
        losses.append(loss.item())
        state = kept if nxt < N else torch_detach(s)
    return losses, state


def problem(batch_first, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((B, N, I)), rng.standard_normal((B, N, O))
    if not batch_first:
        x, y = x.transpose(1, 0, 2).copy(), y.transpose(1, 0, 2).copy()
    return x, y


def assert_weights_equal(ours, theirs, kind, batch_first):
    """``ours``' variables equal those of an xpgrad net loaded from torch's final weights."""
    reference = Net(kind, batch_first)
    reference.load_torch_state_dict(theirs.state_dict())
    for a, b in zip(ours.variables, reference.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), err_msg=a.name, **TOL)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("k1, k2", [(4, 4), (3, 5)])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time-major", "batch-first"])
def test_matches_a_torch_tbptt_loop(kind, k1, k2, batch_first):
    torch.manual_seed(0)
    theirs = TorchNet(kind, batch_first)
    ours = Net(kind, batch_first)
    ours.load_torch_state_dict(theirs.state_dict())
    x, y = problem(batch_first)
    ref_losses, ref_state = torch_tbptt(theirs, torch.tensor(x), torch.tensor(y), k1, k2, 0.05,
                                        batch_first)
    result = tbptt_train(ours, xg.losses.mse, xg.optim.SGD(learning_rate=0.3), xg.asarray(x),
                         xg.asarray(y), k1, k2, max_grad_norm=0.05, grad_norm_eps=1e-6)
    np.testing.assert_allclose(result.losses, ref_losses, **TOL)
    got = result.state if isinstance(result.state, tuple) else (result.state,)
    want = ref_state if isinstance(ref_state, tuple) else (ref_state,)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
    assert_weights_equal(ours, theirs, kind, batch_first)


def test_grad_norm_eps_zero_differs_from_torch_clipping():
    """The default (eps 0, TensorFlow's clipping) is not torch's: the weights part at ~1e-7
    relative, more than the 1e-10 the exact match holds."""
    torch.manual_seed(0)
    theirs = TorchNet("GRU", False)
    ours = Net("GRU", False)
    ours.load_torch_state_dict(theirs.state_dict())
    x, y = problem(False)
    torch_tbptt(theirs, torch.tensor(x), torch.tensor(y), 4, 4, 0.05, False)
    tbptt_train(ours, xg.losses.mse, xg.optim.SGD(learning_rate=0.3), xg.asarray(x),
                xg.asarray(y), 4, max_grad_norm=0.05)
    with pytest.raises(AssertionError):
        assert_weights_equal(ours, theirs, "GRU", False)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_compiled_equals_eager_time_major(kind):
    x, y = problem(False, seed=1)
    results = []
    for compile in (False, True):
        net = Net(kind, False)
        result = tbptt_train(net, xg.losses.mse, xg.optim.SGD(learning_rate=0.3), xg.asarray(x),
                             xg.asarray(y), 3, 5, max_grad_norm=0.05, grad_norm_eps=1e-6,
                             compile=compile)
        results.append((result.losses, [v.numpy() for v in net.variables]))
    np.testing.assert_allclose(results[1][0], results[0][0], **TOL)
    for a, b in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, b, **TOL)


def test_time_major_equals_batch_first_on_transposed_data():
    x, y = problem(True, seed=2)
    losses = []
    for batch_first in (True, False):
        net = Net("LSTM", batch_first)
        xs, ys = (x, y) if batch_first else (x.transpose(1, 0, 2), y.transpose(1, 0, 2))
        losses.append(tbptt_train(net, xg.losses.mse, xg.optim.SGD(learning_rate=0.3),
                                  xg.asarray(xs), xg.asarray(ys), 4).losses)
    np.testing.assert_allclose(losses[1], losses[0], **TOL)


def test_batch_first_argument_for_plain_functions_and_mixed_models():
    x, y = problem(False, seed=3)
    net = Net("GRU", False)
    expected = tbptt_train(net, xg.losses.mse, xg.optim.SGD(learning_rate=0.0), xg.asarray(x),
                           xg.asarray(y), 4).losses
    plain = lambda x, state: net(x, state)             # a function: the layout is not read
    got = tbptt_train(plain, xg.losses.mse, xg.optim.SGD(learning_rate=0.0), xg.asarray(x),
                      xg.asarray(y), 4, variables=net.trainable_variables,
                      batch_first=False).losses
    np.testing.assert_allclose(got, expected, **TOL)

    class Mixed(nn.Module):                    # a batch-first layer fed the transposed outputs
        def __init__(self):
            super().__init__("mixed")
            self.first = nn.GRU(I, H, batch_first=False, dtype="float64", rng=0)
            self.second = nn.GRU(H, O, dtype="float64", rng=1)

        def forward(self, x, state=None):
            s1, s2 = (None, None) if state is None else state
            out, s1 = self.first(x, s1)
            out, s2 = self.second(xg.permute_dims(out, (1, 0, 2)), s2)
            return xg.permute_dims(out, (1, 0, 2)), (s1, s2)

    args = (Mixed(), xg.losses.mse, xg.optim.SGD(learning_rate=0.1), xg.asarray(x),
            xg.asarray(y), 4)
    with pytest.raises(ValueError, match=r"tbptt_train: the model's recurrent layers disagree "
                                         r".*pass batch_first="):
        tbptt_train(*args)
    result = tbptt_train(*args, batch_first=False)
    assert len(result.losses) == 3 and result.state[0].shape == (1, B, H)


def test_errors_name_the_argument():
    x, y = problem(False)
    net = Net("LSTM", False)
    args = (net, xg.losses.mse, xg.optim.SGD(learning_rate=0.1), xg.asarray(x), xg.asarray(y), 4)
    before = [v.numpy().copy() for v in net.variables]
    with pytest.raises(ValueError, match=r"batch_first=True contradicts the model's recurrent "
                                         r"layers, which all have batch_first=False"):
        tbptt_train(*args, batch_first=True)
    with pytest.raises(TypeError, match="batch_first must be True or False"):
        tbptt_train(*args, batch_first="yes")
    with pytest.raises(ValueError, match="grad_norm_eps"):
        tbptt_train(*args, max_grad_norm=1.0, grad_norm_eps=-1e-6)
    with pytest.raises(ValueError, match=r"inputs must be a time-major Tensor \(time, batch"):
        tbptt_train(net, xg.losses.mse, xg.optim.SGD(learning_rate=0.1), xg.ones((3,)),
                    xg.ones((3,)), 2)
    with pytest.raises(ValueError, match=r"must agree on \(time, batch\)"):
        tbptt_train(net, xg.losses.mse, xg.optim.SGD(learning_rate=0.1), xg.asarray(x),
                    xg.asarray(y[:, :1]), 2)
    for a, b in zip(net.variables, before):
        np.testing.assert_array_equal(a.numpy(), b)
