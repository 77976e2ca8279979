"""Session 20 bug bash of ``xpgrad train``'s early stopping (--monitor, --resume of a run that
stopped early, the summary when the best epoch is the last): each test failed before its fix."""
import json

import numpy as np
import pytest

from xpgrad.cli import main

from test_cli_bad_inputs import _cli_error

RUN = ["train", "-q", "--hidden", "8", "--batch-size", "256", "--validation-split", "0.2"]
# with these, 40 epochs stop early after epoch 12, the best being 10
STOPS = [*RUN, "--lr", "0.05", "--epochs", "40", "--early-stopping", "2", "--lr-schedule",
         "plateau", "--lr-patience", "0", "--lr-gamma", "0.5"]


@pytest.mark.parametrize("extra", [[], ["--validation-split", "0.2"], ["--lr-schedule", "step"]])
@pytest.mark.parametrize("monitor", ["val_loss", "loss"])
def test_monitor_without_anything_watching_it_is_refused(monitor, extra, capsys):
    err = _cli_error(["train", "--no-log", "--monitor", monitor, *extra], capsys)
    assert f"--monitor {monitor} chooses what --early-stopping and --lr-schedule plateau " \
           f"watch, but this run has neither" in err


def test_monitor_given_again_to_a_resumed_run_that_watches_it_is_kept(tmp_path):
    path = str(tmp_path / "c.npz")
    assert main([*RUN, "--epochs", "2", "--early-stopping", "3", "--no-log", "--checkpoint",
                 path, "--max-steps", "3"]) == 0
    assert main(["train", "-q", "--no-log", "--resume", path, "--monitor", "loss"]) == 0


@pytest.mark.parametrize("restore", [False, True])
def test_resuming_a_run_that_stopped_early_says_so_and_how_to_go_on(restore, tmp_path,
                                                                    capsys):
    path, logdir = str(tmp_path / "c.npz"), tmp_path / "log"
    flags = ["--restore-best"] if restore else []
    assert main([*STOPS, *flags, "--logdir", str(logdir), "--checkpoint", path]) == 0
    record = json.loads((logdir / "history.json").read_text())["early_stopping"]
    stopped, best = record["stopped_epoch"], record["best_epoch"]
    assert stopped is not None and stopped < 40
    capsys.readouterr()
    err = _cli_error(["train", "--no-log", "--resume", path], capsys)
    assert f"is of a run that early stopping ended after epoch {stopped} (val_loss had not " \
           f"improved for 2 epochs" in err
    assert "give --epochs N to train N more" in err
    assert (f"kept the weights of epoch {best}, the best" in err) == restore
    assert f"({stopped} of {stopped} epochs)" not in err


@pytest.mark.parametrize("restore", [False, True])
def test_summary_when_the_best_epoch_is_the_last(restore, tmp_path, capsys):
    logdir = tmp_path / "log"
    flags = ["--restore-best"] if restore else []
    assert main([*RUN, "--epochs", "3", "--early-stopping", "5", *flags, "--logdir",
                 str(logdir)]) == 0
    history = json.loads((logdir / "history.json").read_text())
    assert int(np.argmin(history["val_loss"])) + 1 == 3       # the last is the best
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("early stopping"))
    best = f"{min(history['val_loss']):.4f}"
    assert line == ("early stopping: did not stop (3 of 3 epochs); kept the weights of epoch "
                    f"3, the last and the best (val_loss {best})")


def test_a_patience_of_one_epoch_reads_in_the_singular(tmp_path, capsys):
    path = str(tmp_path / "c.npz")
    # min-delta 0.5 on val_accuracy: epoch 2 cannot improve by that much, so it stops there
    assert main([*RUN, "--epochs", "30", "--early-stopping", "1", "--monitor", "val_accuracy",
                 "--min-delta", "0.5", "--no-log", "--checkpoint", path]) == 0
    out = capsys.readouterr().out
    assert "early stopping: stopped after epoch 2 of 30 (val_accuracy did not improve by " \
           "more than 0.5 for 1 epoch); kept the weights of epoch 2, the last (the best was " \
           "epoch 1" in out
    err = _cli_error(["train", "--no-log", "--resume", path], capsys)
    assert "(val_accuracy had not improved for 1 epoch)" in err
    assert main([*RUN, "--epochs", "1", "--early-stopping", "3", "--no-log"]) == 0
    assert "early stopping: did not stop (1 of 1 epoch); kept" in capsys.readouterr().out


def _model_weights(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k.startswith("model/")}


def _assert_same_weights(a, b):
    a, b = _model_weights(a), _model_weights(b)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_restore_best_given_on_resume_restores_only_weights_it_kept(tmp_path, capsys):
    """--restore-best first given when resuming a run past its best epoch (10): that epoch's
    weights were never kept, so the run keeps its last ones and says so (it restored the
    weights of the resumption, calling them epoch 10's); resumed at the end of epoch 10
    itself, the weights loaded are epoch 10's, and it ends as the uninterrupted run."""
    flags = [*STOPS, "--no-log"]
    assert main([*flags, "--checkpoint", str(tmp_path / "plain.npz")]) == 0
    assert main([*flags, "--restore-best", "--checkpoint", str(tmp_path / "best.npz")]) == 0
    capsys.readouterr()
    late = str(tmp_path / "late.npz")
    assert main([*flags, "--checkpoint", late, "--max-steps", "53"]) == 0   # mid-epoch 11
    assert main(["train", "-q", "--no-log", "--resume", late, "--restore-best"]) == 0
    out = capsys.readouterr().out
    assert "kept the weights of epoch 12, the last (the best was epoch 10, val_loss " in out
    assert "whose weights were not kept: the run was resumed with --restore-best after it" in out
    assert "with the weights of epoch" not in out
    _assert_same_weights(late, tmp_path / "plain.npz")
    err = _cli_error(["train", "--no-log", "--resume", late], capsys)
    assert "after epoch 12 (val_loss had not improved for 2 epochs);" in err      # no "kept"
    on_time = str(tmp_path / "on_time.npz")
    assert main([*flags, "--checkpoint", on_time, "--max-steps", "50"]) == 0  # end of epoch 10
    assert main(["train", "-q", "--no-log", "--resume", on_time, "--restore-best"]) == 0
    assert "restored the weights of epoch 10" in capsys.readouterr().out
    _assert_same_weights(on_time, tmp_path / "best.npz")
