"""A stacked LSTM/GRU trained with gradient clipping by global norm and a step schedule, as a
PyTorch script does (``clip_grad_norm_``, ``StepLR``): its losses are torch's in float64, and a
run checkpointed midway and resumed into a model built with another seed (the dropout between
the layers drawing from the checkpoint's generator) ends with the uninterrupted run's weights
bit for bit, on numpy and numba."""
import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch", reason="PyTorch is not installed: no comparison")

B, T, I, H, STEPS = 3, 6, 2, 5, 6
DATA = np.random.default_rng(0).standard_normal((STEPS, B, T, I)) * 3
TARGETS = np.cumsum(DATA[..., :1], axis=2)


@pytest.fixture
def backend(host_backend):
    return host_backend


class Model(xg.nn.Module):
    def __init__(self, kind, dropout, backend, seed):
        super().__init__()
        kw = dict(dtype=xg.float64, backend=backend, rng=seed)
        self.rnn = getattr(xg.nn, kind)(I, H, num_layers=2, batch_first=True, dropout=dropout,
                                         **kw)
        self.head = xg.nn.Linear(H, 1, **kw)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def train(model, opt, steps, backend):
    losses = []
    for s in steps:
        with xg.GradientTape() as tape:
            loss = xg.losses.mse(model(xg.asarray(DATA[s], backend=backend)),
                                 xg.asarray(TARGETS[s], backend=backend))
        grads = tape.gradient(loss, model.trainable_variables)
        grads, _ = xg.optim.clip_global_norm(grads, 1.0, eps=1e-6)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    return losses


def optimizer():
    return xg.optim.Adam(learning_rate=xg.optim.StepDecay(0.05, step_size=2, gamma=0.5))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_clipped_scheduled_training_is_torchs(kind, backend):
    torch.manual_seed(0)
    ref_rnn = getattr(torch.nn, kind)(I, H, num_layers=2, batch_first=True).double()
    ref_head = torch.nn.Linear(H, 1).double()
    model = Model(kind, 0.0, backend, seed=1)
    model.rnn.load_torch_state_dict(ref_rnn.state_dict())
    model.head.load_torch_state_dict(ref_head.state_dict())
    for k in range(2):          # xpgrad's one bias is torch's two: train one (recurrent.md)
        bias_hh = getattr(ref_rnn, f"bias_hh_l{k}")
        if kind == "LSTM":
            bias_hh.requires_grad_(False)
        else:                   # the GRU's n third of bias_hh is xpgrad's b_hn, trained
            keep = torch.cat([torch.zeros(2 * H), torch.ones(H)]).double()
            bias_hh.register_hook(lambda g, keep=keep: g * keep)
    params = [p for m in (ref_rnn, ref_head) for p in m.parameters() if p.requires_grad]
    ref_opt = torch.optim.Adam(params, lr=0.05)
    schedule = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=2, gamma=0.5)
    want = []
    for s in range(STEPS):
        loss = torch.nn.functional.mse_loss(ref_head(ref_rnn(torch.tensor(DATA[s]))[0]),
                                            torch.tensor(TARGETS[s]))
        ref_opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        ref_opt.step()
        schedule.step()
        want.append(loss.item())
    np.testing.assert_allclose(train(model, optimizer(), range(STEPS), backend), want,
                               rtol=1e-10)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_resumed_run_with_dropout_ends_as_the_uninterrupted_one(kind, backend, tmp_path):
    whole = Model(kind, 0.3, backend, seed=1)
    whole_losses = train(whole, optimizer(), range(STEPS), backend)
    first = Model(kind, 0.3, backend, seed=1)
    opt = optimizer()
    first_losses = train(first, opt, range(STEPS // 2), backend)
    xg.save_checkpoint(tmp_path / "ckpt.npz", first, opt)
    resumed, opt = Model(kind, 0.3, backend, seed=7), optimizer()
    xg.load_checkpoint(tmp_path / "ckpt.npz", resumed, opt)
    later = train(resumed, opt, range(STEPS // 2, STEPS), backend)
    assert first_losses + later == whole_losses
    for a, b in zip(whole.trainable_variables, resumed.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the seeds' masks differ, so a resume that kept seed 7's generator would not match
    one, other = Model(kind, 0.3, backend, seed=1), Model(kind, 0.3, backend, seed=7)
    other.load_state_dict(one.state_dict())
    x = xg.asarray(DATA[0], backend=backend)
    assert not np.array_equal(one(x).numpy(), other(x).numpy())
