"""Session 17 bug bash of `xpgrad train`'s schedules and of SyncBatchNorm: each test failed
before its fix."""
import pytest

import xpgrad as xg
from xpgrad.cli import main

# 1437 digits in batches of 256: 6 steps per epoch
RUN = ["train", "--progress", "never", "--no-log", "--hidden", "8", "--batch-size", "256",
       "--optimizer", "sgd", "--learning-rate", "0.5"]


def test_a_resumed_partial_epoch_going_past_a_cosines_end_says_so(tmp_path, capsys):
    # 8 steps of a 12-step cosine (1 epoch and 512 examples), then 3 more epochs: 4 steps
    # finish epoch 2, and the 12 after step 12 train at the cosine's final rate 0. The note
    # counted the 512 examples done as 512 steps and never came.
    path = str(tmp_path / "c.npz")
    assert main([*RUN, "--epochs", "2", "--lr-schedule", "cosine", "--checkpoint", path,
                 "--max-steps", "8"]) == 0
    capsys.readouterr()
    assert main(["train", "--progress", "never", "--no-log", "--resume", path,
                 "--epochs", "3", "--max-steps", "5"]) == 0
    assert "the cosine schedule ends at step 12" in capsys.readouterr().out
    # and none where the resumed call ends on the schedule's last step
    path2 = str(tmp_path / "d.npz")
    assert main([*RUN, "--epochs", "2", "--lr-schedule", "cosine", "--checkpoint", path2,
                 "--max-steps", "8"]) == 0
    capsys.readouterr()
    assert main(["train", "--progress", "never", "--no-log", "--resume", path2]) == 0
    assert "schedule ends" not in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["exponential", "step"])
def test_resuming_an_epoch_schedule_with_another_batch_size_is_refused(kind, tmp_path, capsys):
    # the schedule counts the saved run's 6 steps per epoch: at --batch-size 128 (12 steps per
    # epoch) it decayed twice an epoch, silently
    path = str(tmp_path / "c.npz")
    assert main([*RUN, "--epochs", "3", "--lr-schedule", kind, "--checkpoint", path,
                 "--max-steps", "7"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(["train", "-q", "--no-log", "--resume", path, "--batch-size", "128"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "batch_size (--batch-size) 128 makes 12 steps per epoch of the 1437 training " \
           "examples, but the resumed run made 6" in err and kind in err
    # the same batch size, or a constant rate, resume
    assert main(["train", "-q", "--no-log", "--resume", path, "--max-steps", "1"]) == 0
    assert main(["train", "-q", "--no-log", "--resume", path, "--batch-size", "128",
                 "--lr-schedule", "constant", "--max-steps", "1"]) == 0


def test_a_sync_batch_norm_models_checkpoint_loads_into_its_batch_norm_1d_twin(tmp_path):
    # PyTorch's way to deploy: train with SyncBatchNorm, load its state_dict into the same
    # model with BatchNorm1d (the keys are the attribute paths in both). SyncBatchNorm's
    # default name "sync_batch_norm" made other keys, so load_checkpoint refused them (and a
    # model built with SyncBatchNorm differed from the same model converted from BatchNorm1d).
    def model(norm):
        return xg.nn.Sequential(xg.nn.Linear(3, 4, rng=0, dtype=xg.float64),
                                norm(4, dtype=xg.float64))

    trained = model(xg.nn.SyncBatchNorm)
    trained(xg.asarray([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]], dtype=xg.float64))
    path = str(tmp_path / "m.npz")
    xg.save_checkpoint(path, trained)
    twin = model(xg.nn.BatchNorm1d)
    xg.load_checkpoint(path, twin)
    assert list(twin.named_variables()) == list(trained.named_variables())
    for (name, a), b in zip(trained.named_variables().items(), twin.named_variables().values()):
        assert a.numpy().tolist() == b.numpy().tolist(), name
    converted = xg.nn.SyncBatchNorm.convert_sync_batchnorm(model(xg.nn.BatchNorm1d))
    assert list(converted.named_variables()) == list(trained.named_variables())


def test_a_growing_decay_overflowing_gives_inf_and_the_optimizer_names_the_step():
    # 1e300 ** 2 raised Python's OverflowError inside the schedule; Keras returns inf
    for schedule in (xg.optim.ExponentialDecay(0.1, 1, 1e300),
                     xg.optim.ExponentialDecay(0.1, 2, 1e300, staircase=True),
                     xg.optim.StepDecay(0.1, 1, 1e300)):
        assert schedule(0) == 0.1 and schedule(10) == float("inf")
        opt = xg.optim.SGD(schedule)
        opt.iterations = 10
        v = xg.Variable(xg.asarray([1.0], dtype=xg.float64), name="w")
        with pytest.raises(ValueError, match="returned inf at step 10"):
            opt.apply_gradients([(xg.asarray([1.0], dtype=xg.float64), v)])


@pytest.mark.parametrize("flags", [["--lr-schedule", "exponential", "--lr-gamma", "1e300"],
                                   ["--lr-schedule", "step", "--lr-step-size", "1",
                                    "--lr-gamma", "1e30", "--learning-rate", "1e6"]])
def test_a_growing_epoch_schedule_past_float32_is_refused_before_training(flags, capsys):
    # it crashed with a traceback (OverflowError or the optimizer's ValueError) at epoch 2
    with pytest.raises(SystemExit) as stop:
        main([*RUN, "--epochs", "3", *flags])
    assert stop.value.code == 2
    out = capsys.readouterr()
    assert "epoch   1" not in out.out
    assert "lr_gamma (--lr-gamma)" in out.err and "too far by the run's last step" in out.err
    assert "Traceback" not in out.err


def test_a_learning_rate_past_float32_is_refused_before_training(capsys):
    # the optimizer's ValueError came out of `xpgrad train` as a traceback at the first step
    with pytest.raises(SystemExit) as stop:
        main([*RUN, "--epochs", "1", "--learning-rate", "1e39"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "learning_rate (--learning-rate) 1e+39 is too large" in err and "float32" in err
