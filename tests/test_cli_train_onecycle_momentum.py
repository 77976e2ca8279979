"""`xpgrad train --lr-schedule onecycle` cycles the momentum as PyTorch's
`OneCycleLR(cycle_momentum=True)` (its default): the rate and the momentum (Adam's beta_1,
SGD's momentum) of every optimizer step against torch's scheduler, computed here."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.cli import main

from resumed_runs import assert_resumed_equals_whole

torch = pytest.importorskip("torch")

# 1437 digits in batches of 256: 6 steps per epoch, 18 in 3 epochs
RUN = ["train", "-q", "--no-log", "--hidden", "8", "--batch-size", "256", "--epochs", "3",
       "--learning-rate", "0.05", "--lr-schedule", "onecycle"]
TOTAL, PEAK = 18, 0.05


@pytest.fixture
def settings(monkeypatch):
    """(rate, momentum or beta_1) of every ``apply_gradients`` call, as it reads them."""
    used = []
    apply = xg.optim.Optimizer.apply_gradients

    def recording(self, pairs):
        used.append((self.learning_rate, getattr(self, "beta_1", getattr(self, "momentum",
                                                                          None))))
        return apply(self, pairs)

    monkeypatch.setattr(xg.optim.Optimizer, "apply_gradients", recording)
    return used


def _torch_settings(make):
    opt = make([torch.zeros(1, requires_grad=True)])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=PEAK, total_steps=TOTAL)
    out = []
    for _ in range(TOTAL):
        group = opt.param_groups[0]
        out.append((group["lr"], group["betas"][0] if "betas" in group else group["momentum"]))
        opt.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("name, make", [
    ("adam", lambda p: torch.optim.Adam(p)),
    ("adamw", lambda p: torch.optim.AdamW(p)),
    ("momentum", lambda p: torch.optim.SGD(p, lr=PEAK, momentum=0.9)),
    ("sgd", lambda p: torch.optim.SGD(p, lr=PEAK)),     # torch cycles its zero momentum too
    ("rmsprop", lambda p: torch.optim.RMSprop(p)),
])
def test_each_step_has_torchs_rate_and_momentum(name, make, settings):
    assert main([*RUN, "--optimizer", name]) == 0
    expected = _torch_settings(make)
    assert len(settings) == TOTAL
    np.testing.assert_allclose(np.array(settings, dtype=float), np.array(expected),
                               rtol=1e-12, atol=1e-15)
    assert len({m for _, m in settings}) > 5          # it moved


def test_an_optimizer_without_momentum_keeps_the_rate_schedule_alone(settings):
    """torch's OneCycleLR refuses cycle_momentum=True for Adagrad; the run is its
    cycle_momentum=False."""
    assert main([*RUN, "--optimizer", "adagrad"]) == 0
    opt = torch.optim.Adagrad([torch.zeros(1, requires_grad=True)], lr=PEAK)
    with pytest.raises(ValueError, match="momentum"):
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=PEAK, total_steps=TOTAL)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=PEAK, total_steps=TOTAL,
                                                    cycle_momentum=False)
    expected = []
    for _ in range(TOTAL):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    np.testing.assert_allclose([r for r, _ in settings], expected, rtol=1e-12, atol=1e-15)
    assert {m for _, m in settings} == {None}


@pytest.mark.parametrize("name, extra", [("sgd", []), ("adam", []), ("sgd", ["--compile"])])
def test_a_run_stopped_mid_cycle_and_resumed_equals_the_uninterrupted_one(name, extra,
                                                                          tmp_path):
    """Plain SGD's momentum is 0 when built and cycled from its first update, so its
    checkpoint holds velocities: resuming it was 'unexpected .../velocity' (the optimizer
    the checkpoint loaded into still had momentum 0). Stopped at step 7 of 18, in the rate's
    descent, and resumed: every weight and slot equals the uninterrupted run's."""
    run = [*RUN, "--progress", "never", "--optimizer", name, *extra]
    a = assert_resumed_equals_whole(run, tmp_path, stop_after=7)
    assert name != "sgd" or any(key.endswith("/velocity") for key in a)
