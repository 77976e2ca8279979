"""`xpgrad train --early-stopping/--restore-best/--lr-schedule plateau` across resumptions and
ranks: a run split by --max-steps (mid-epoch, and after its best epoch) and resumed takes the
uninterrupted run's rates, decisions and weights; a 2-rank run (eager, --compile) those of one
process; and every bad setting is one line naming the flag, before training."""
import json

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.cli import main
from xpgrad.training import ConfigError, TrainConfig

from resumed_runs import checkpoint_arrays
from test_cli_bad_inputs import _cli_error

RUN = ["train", "-q", "--hidden", "8", "--batch-size", "256", "--validation-split", "0.2",
       "--lr", "0.05", "--epochs", "40", "--early-stopping", "2", "--restore-best",
       "--lr-schedule", "plateau", "--lr-patience", "0", "--lr-gamma", "0.5"]
# that run: 5 steps per epoch, best epoch 10, stopped after epoch 12 (tests/test_cli_train_
# early_stop.py checks the rule); the splits below fall mid-epoch 2 and mid-epoch 11


@pytest.mark.parametrize("monitor, lr, second", [
    ("val_loss", "0.05", 46),   # best epoch 10, stopped after 12: the splits at 7 and 53
    ("loss", "0.3", 76),        # the epoch's training loss; best 17, stopped 19: 7 and 83,
])                              # mid-epoch 17: its value is summed over the two calls
def test_a_run_split_and_resumed_equals_the_uninterrupted_one(monitor, lr, second, rates,
                                                              tmp_path):
    """Each split falls mid-epoch (val_loss: the second after the best epoch, whose weights
    the checkpoint carries; loss: in the best epoch, whose loss is summed over both calls):
    the counters, the best value, the plateau's state and rate travel in the checkpoint."""
    run = [*RUN, "--monitor", monitor, "--lr", lr]
    whole, part = tmp_path / "whole.npz", str(tmp_path / "part.npz")
    assert main([*run, "--checkpoint", str(whole), "--logdir", str(tmp_path / "w")]) == 0
    uninterrupted = list(rates)
    rates.clear()
    logs = ["--logdir", str(tmp_path / "p")]
    assert main([*run, "--checkpoint", part, *logs, "--max-steps", "7"]) == 0
    assert main(["train", "-q", "--resume", part, *logs, "--max-steps", str(second)]) == 0
    saved = checkpoint_arrays(part)
    assert any(k.startswith("extra/best/") for k in saved)    # the best epoch's weights
    assert main(["train", "-q", "--resume", part, *logs]) == 0
    assert rates == uninterrupted and len(set(rates)) > 1        # the plateau acted
    a, b = checkpoint_arrays(whole), checkpoint_arrays(part)
    assert sorted(a) == sorted(b)
    for k in a:                 # restored weights, optimizer state, the best weights kept
        np.testing.assert_array_equal(b[k], a[k], err_msg=k)
    w, p = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("w", "p"))
    assert w["early_stopping"] == p["early_stopping"]
    assert w["early_stopping"]["stopped_epoch"] == len(w["epoch"]) < 40
    for key in ("epoch", "val_loss", "val_accuracy", "test_loss", "learning_rate"):
        assert p[key] == w[key], key
    meta = xg.checkpoint_metadata(part)
    assert meta["target_epochs"] == meta["epochs_done"] == len(w["epoch"])


def test_an_early_stopped_run_trained_further_starts_its_early_stopping_afresh(tmp_path,
                                                                              capsys):
    path = str(tmp_path / "c.npz")
    assert main([*RUN, "--no-log", "--checkpoint", path]) == 0
    stopped = xg.checkpoint_metadata(path)["monitor"]["stopped_epoch"]
    capsys.readouterr()
    # Keras' fit called again: the counters, the best value and the best weights start anew,
    # from the weights kept (so it does not stop at once on the old best)
    assert main(["train", "-q", "--no-log", "--checkpoint", path, "--epochs", "1"]) == 0
    state = xg.checkpoint_metadata(path)["monitor"]
    assert state["stopped_epoch"] is None and state["best_epoch"] == stopped + 1
    assert "early stopping: did not stop" in capsys.readouterr().out


def test_an_older_history_without_validation_rows_is_extended(tmp_path):
    logdir = tmp_path / "run"
    path = str(tmp_path / "c.npz")
    plain = ["train", "-q", "--hidden", "8", "--batch-size", "256", "--epochs", "2",
             "--logdir", str(logdir), "--checkpoint", path]
    assert main([*plain, "--max-steps", "6"]) == 0
    history = json.loads((logdir / "history.json").read_text())
    for key in ("val_loss", "val_accuracy"):        # as xpgrad wrote it before this flag
        del history[key]
    (logdir / "history.json").write_text(json.dumps(history))
    assert main(["train", "-q", "--resume", path, "--logdir", str(logdir)]) == 0
    merged = json.loads((logdir / "history.json").read_text())
    assert merged["epoch"] == [1, 2] and merged["val_loss"] == [None, None]


def test_ranks_take_the_same_decisions_as_one_process(tmp_path, monkeypatch):
    from test_distributed import WHY_NOT, _assert_same_checkpoints, _run_distributed

    if WHY_NOT:
        pytest.skip(WHY_NOT)
    monkeypatch.chdir(tmp_path)
    flags = [*RUN[2:], "--no-log", "--progress", "never"]
    assert main(["train", "-q", *flags, "--checkpoint", "one.npz"]) == 0
    steps = int(np.load("one.npz")["optimizer/iterations"])
    # two ranks, interrupted after the best epoch (rank 0 alone reads the checkpoint: the
    # counters, the plateau's rate and the best weights reach rank 1 by broadcast)
    _run_distributed(tmp_path, 2, ["train", *flags, "--checkpoint", "many.npz",
                                   "--max-steps", "53"])
    _run_distributed(tmp_path, 2, ["train", "--resume", "many.npz", "--no-log", "--progress",
                                   "never"])
    _assert_same_checkpoints(tmp_path / "one.npz", tmp_path / "many.npz", steps)
    _run_distributed(tmp_path, 2, ["train", *flags, "--compile", "--checkpoint",
                                   "compiled.npz"])
    _assert_same_checkpoints(tmp_path / "one.npz", tmp_path / "compiled.npz", steps)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--validation-split", "0"], "argument --validation-split: must be a fraction strictly "
                                  "between 0 and 1, got 0"),
    (["--validation-split", "1"], "argument --validation-split: must be a fraction strictly "
                                  "between 0 and 1, got 1"),
    (["--validation-split", "-0.1"], "argument --validation-split: must be a fraction"),
    (["--validation-split", "x"], "argument --validation-split: expected a number, got 'x'"),
    (["--validation-split", "0.003"], "validation_split (--validation-split) 0.003 of the "
                                      "1437 training examples: a stratified split"),
    (["--early-stopping", "0"], "argument --early-stopping: must be an integer > 0, got 0"),
    (["--restore-best"], "restore_best (--restore-best) applies to early stopping: give "
                         "--early-stopping PATIENCE too"),
    (["--min-delta", "0.1"], "min_delta (--min-delta) applies to early stopping"),
    (["--early-stopping", "3", "--min-delta", "-1"], "argument --min-delta: must be a finite "
                                                     "number >= 0"),
    (["--early-stopping", "3"], "--early-stopping monitors val_loss (--monitor), which needs "
                                "validation data: give --validation-split FRACTION"),
    (["--lr-schedule", "plateau"], "--lr-schedule plateau monitors val_loss (--monitor), "
                                   "which needs validation data"),
    (["--lr-schedule", "plateau", "--monitor", "val_accuracy", "--early-stopping", "2"],
     "--early-stopping and --lr-schedule plateau monitor val_accuracy"),
    (["--monitor", "test_loss"], "argument --monitor: invalid choice: 'test_loss'"),
    (["--lr-patience", "2"], "--lr-patience applies to --lr-schedule plateau, but the schedule "
                             "is 'constant'"),
    (["--lr-schedule", "plateau", "--monitor", "loss", "--lr-gamma", "1"],
     "lr_gamma (--lr-gamma) 1: --lr-schedule plateau lowers the rate, its factor must be "
     "below 1"),
    (["--lr-schedule", "plateau", "--monitor", "loss", "--warmup-steps", "2"],
     "warmup_steps (--warmup-steps) 2 does not apply to --lr-schedule plateau"),
])
def test_bad_values_exit_2_naming_the_flag_before_training(argv, words, capsys):
    err = _cli_error(["train", "--no-log", "--epochs", "1", *argv], capsys)
    assert words in err
    assert "held-out" not in capsys.readouterr().out


def test_the_validation_split_cannot_change_on_resume(tmp_path, capsys):
    path = str(tmp_path / "c.npz")
    assert main(["train", "-q", "--no-log", "--hidden", "8", "--epochs", "2", "--max-steps",
                 "2", "--validation-split", "0.2", "--checkpoint", path]) == 0
    err = _cli_error(["train", "--no-log", "--resume", path, "--validation-split", "0.3"],
                     capsys)
    assert "validation_split (--validation-split) is 0.3 but the checkpoint was trained with " \
           "0.2" in err


@pytest.mark.parametrize("field, value, words", [
    ("validation_split", 0, "validation_split (--validation-split) must be a fraction of the "
                            "training set strictly between 0 and 1, got 0"),
    ("validation_split", 1.0, "strictly between 0 and 1, got 1.0"),
    ("validation_split", True, "strictly between 0 and 1, got True"),
    ("early_stopping", 0, "early_stopping (--early-stopping) must be an integer >= 1, got 0"),
    ("early_stopping", 2.0, "early_stopping (--early-stopping) must be an integer >= 1"),
    ("lr_patience", -1, "lr_patience (--lr-patience) must be an integer >= 0, got -1"),
    ("min_delta", float("nan"), "min_delta (--min-delta) must be a finite number >= 0"),
    ("monitor", "test_loss", "unknown monitor (--monitor) 'test_loss'; choose one of "
                             "val_loss, val_accuracy, loss, accuracy"),
    ("restore_best", 1, "restore_best (--restore-best) must be True or False, got 1"),
])
def test_the_api_checks_the_same_settings(field, value, words):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**{field: value}).resolved()
    assert words in str(e.value)


def test_the_api_refuses_to_monitor_what_is_not_there():
    with pytest.raises(ConfigError, match="needs validation data"):
        TrainConfig(lr_schedule="plateau").resolved()
    cfg = TrainConfig(lr_schedule="plateau", monitor="loss", early_stopping=3,
                      restore_best=True).resolved()
    assert (cfg.monitor, cfg.early_stopping, cfg.restore_best) == ("loss", 3, True)


def test_a_new_learning_rate_on_resume_replaces_the_lowered_one(rates, tmp_path):
    path = str(tmp_path / "c.npz")
    assert main([*RUN, "--no-log", "--checkpoint", path, "--max-steps", "57"]) == 0
    assert xg.checkpoint_metadata(path)["monitor"]["learning_rate"] == 0.025   # lowered once
    rates.clear()
    assert main(["train", "-q", "--no-log", "--resume", path, "--max-steps", "1"]) == 0
    assert rates == [0.025]                         # the plateau's rate carries on
    rates.clear()
    assert main(["train", "-q", "--no-log", "--resume", path, "--lr", "0.01", "--max-steps",
                 "1"]) == 0
    assert rates == [0.01]                          # as a PyTorch user edits param_groups


def test_the_checkpoint_with_best_weights_loads_into_a_plain_model(tmp_path):
    from xpgrad.training import prepare

    path = str(tmp_path / "c.npz")
    assert main([*RUN, "--no-log", "--checkpoint", path, "--max-steps", "53"]) == 0
    plan = prepare(TrainConfig(hidden=(8,), validation_split=0.2, logdir=None,
                               progress=False))
    xg.load_checkpoint(path, plan.model, plan.opt)     # the best weights are extra arrays
    best = xg.checkpoint_extra(path)
    assert sorted(best) == sorted(f"best/{k}" for k in plan.model.named_variables())
    with np.load(path) as z:
        for k, v in plan.model.named_variables().items():
            np.testing.assert_array_equal(v.numpy(), z[f"model/{k}"])
            assert not np.array_equal(best[f"best/{k}"], z[f"model/{k}"]), k  # epoch 10's
