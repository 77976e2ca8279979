"""An optimizer's learning rate travels with its state (``state_dict`` / ``load_state_dict``,
checkpoints), as PyTorch's ``param_groups`` and Keras' learning-rate variable do: a rate changed
mid-run (``opt.learning_rate = ...``) survives a save and a restore. A schedule is not saved
(it follows ``iterations``, which is); files without a rate (older, or a schedule's) load."""
import numpy as np
import pytest

import xpgrad as xg


def _variables():
    return [xg.Variable(np.array([1.0, -2.0, 0.5]), name="w"),
            xg.Variable(np.array([0.25]), name="b")]


def _step(opt, variables):
    w, b = variables
    with xg.GradientTape() as tape:
        loss = xg.sum(xg.sin(w) * w) + xg.sum(b * b * 3.0)
    opt.apply_gradients(zip(tape.gradient(loss, variables), variables))


def test_a_rate_changed_mid_run_is_restored_and_the_run_continues_alike(tmp_path):
    path = str(tmp_path / "c.npz")
    variables = _variables()
    opt = xg.optim.Adam(0.01)
    _step(opt, variables)
    opt.learning_rate = 0.002
    xg.save_checkpoint(path, variables, opt)
    _step(opt, variables)

    restored, fresh = _variables(), xg.optim.Adam(0.01)
    xg.load_checkpoint(path, restored, fresh)
    assert fresh.learning_rate == 0.002 and fresh.iterations == 1
    _step(fresh, restored)
    for got, want in zip(restored, variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_pytorch_restores_the_rate_the_same_way():
    """The reference for the behaviour: PyTorch's optimizer state holds the changed rate."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.Adam([p], lr=0.01)
    opt.param_groups[0]["lr"] = 0.002
    fresh = torch.optim.Adam([p], lr=0.01)
    fresh.load_state_dict(opt.state_dict())
    ours = xg.optim.Adam(0.01)
    ours.learning_rate = 0.002
    again = xg.optim.Adam(0.01)
    again.load_state_dict(ours.state_dict(_variables()), _variables())
    assert again.learning_rate == fresh.param_groups[0]["lr"] == 0.002


def test_a_schedule_is_kept_and_follows_the_restored_step_count():
    variables = _variables()
    opt = xg.optim.SGD(0.5)
    for _ in range(3):
        _step(opt, variables)
    state = opt.state_dict(variables)
    assert float(state["learning_rate"].numpy()) == 0.5
    decay = xg.optim.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    scheduled = xg.optim.SGD(decay)
    scheduled.load_state_dict(state, variables)
    assert scheduled.iterations == 3 and scheduled.learning_rate == decay(3)

    assert "learning_rate" not in scheduled.state_dict(variables)    # nothing to save
    constant = xg.optim.SGD(0.25)
    constant.load_state_dict(scheduled.state_dict(variables), variables)
    assert constant.learning_rate == 0.25 and constant.iterations == 3


def test_a_state_without_a_rate_loads_and_keeps_the_optimizers(tmp_path):
    """As saved before the rate was part of the state."""
    variables = _variables()
    opt = xg.optim.Adam(0.01)
    _step(opt, variables)
    opt.learning_rate = 0.002
    state = opt.state_dict(variables)
    del state["learning_rate"]
    fresh = xg.optim.Adam(0.01)
    fresh.load_state_dict(state, variables)
    assert fresh.learning_rate == 0.01 and fresh.iterations == 1

    path = str(tmp_path / "old.npz")
    arrays = {f"model/{v.name}": v.numpy() for v in variables}
    arrays.update({f"optimizer/{k}": t.numpy() for k, t in state.items()})
    xg.save_checkpoint(path, variables, opt)
    with np.load(path) as saved:
        meta = {k: saved[k] for k in saved.files if k not in arrays and "optimizer/" not in k}
    np.savez(path, **arrays, **meta)
    again = xg.optim.Adam(0.01)
    xg.load_checkpoint(path, _variables(), again)
    assert again.learning_rate == 0.01 and again.iterations == 1


@pytest.mark.parametrize("bad", [float("nan"), -1.0, float("inf"), np.array([0.1, 0.2]),
                                 "fast"])
def test_a_bad_saved_rate_is_refused_and_nothing_changes(bad):
    variables = _variables()
    opt = xg.optim.Adam(0.01)
    _step(opt, variables)
    state = dict(opt.state_dict(variables), learning_rate=bad)
    fresh = xg.optim.Adam(0.03)
    with pytest.raises(ValueError, match="'learning_rate'"):
        fresh.load_state_dict(state, variables)
    assert fresh.learning_rate == 0.03 and fresh.iterations == 0


def test_xpgrad_train_resumes_at_the_flags_rate_over_the_files(tmp_path):
    """A resumed `xpgrad train` takes --learning-rate when given, else its saved run's."""
    from xpgrad.training import TrainConfig, prepare, resume_config, train

    ckpt = str(tmp_path / "run.npz")
    train(TrainConfig(epochs=1, hidden=(4,), batch_size=256, max_steps=2, learning_rate=0.05,
                      optimizer="sgd", checkpoint=ckpt, logdir=None, progress=False), echo=None)
    for given, rate in (({}, 0.05), ({"learning_rate": 0.01}, 0.01)):
        config = resume_config(ckpt, given)          # as `xpgrad train --resume` builds it
        config.progress = False
        assert prepare(config).opt.learning_rate == rate
