"""`xpgrad train --validation-split/--early-stopping/--min-delta/--restore-best/--lr-schedule
plateau`: the validation split (disjoint, stratified, seeded, the test set untouched), the epoch
early stopping stops at against Keras' rule applied to the recorded history, the restored
weights against a run that simply ends at the best epoch, the plateau's rates against
``torch.optim.lr_scheduler.ReduceLROnPlateau`` fed the same values, and --compile against
eager. Resumption, data-parallel runs and bad input: tests/test_cli_train_early_stop_resume.py.
"""
import json
import math

import numpy as np
import pytest

from xpgrad.cli import main
from xpgrad.data.dataset import Dataset
from xpgrad.training import TrainConfig
from xpgrad.training.monitor import held_out

# 1437 digits, 288 held out: 1149 in batches of 256, 5 steps per epoch
RUN = ["train", "-q", "--hidden", "8", "--batch-size", "256", "--validation-split", "0.2"]
PER_EPOCH = 5


def _history(logdir):
    return json.loads((logdir / "history.json").read_text())


def _keras_stop(values, patience, min_delta=0.0):
    """(stopped epoch or None, best epoch) by Keras' EarlyStopping.on_epoch_end (mode min)."""
    best, best_epoch, wait = math.inf, None, 0
    for epoch, value in enumerate(values, 1):
        wait += 1
        if value < best - min_delta:       # Keras: monitor_op(current + min_delta, best)
            best, best_epoch, wait = value, epoch, 0
            continue
        if wait >= patience:
            return epoch, best_epoch
    return None, best_epoch


# -- the split ---------------------------------------------------------------------------------
def _toy(n=200, classes=4):
    """A data set whose one feature names its training row: label * 1000 + index."""
    y = np.arange(n) % classes
    x = (y * 1000 + np.arange(n)).astype(np.float32)[:, None]
    return Dataset("toy", x, y, np.arange(10, dtype=np.float32)[:, None],
                   np.arange(10) % classes, (1, 1), classes)


def _rows(x, mean, std):
    """The feature a standardized ``x`` came from."""
    return np.rint(x[:, 0].astype(np.float64) * std + mean).astype(np.int64)


def test_the_validation_split_is_disjoint_stratified_seeded_and_leaves_the_test_set():
    from xpgrad.data.stratified_split import split

    raw = _toy()
    ds, (x_val, y_val) = held_out(raw, TrainConfig(validation_split=0.25, seed=3))
    assert (len(ds.x_train), len(x_val), len(ds.x_test)) == (150, 50, 10)
    # xpgrad's stratified split of the training set, seeded by --seed; everything standardized
    # by the statistics of the training part alone (the validation set is unseen data)
    x_train, x_held, _, _ = split(raw.x_train, raw.y_train, 0.25, seed=3)
    mean, std = x_train.mean(dtype=np.float64), x_train.std(dtype=np.float64)
    np.testing.assert_allclose(ds.x_train, (x_train - mean) / std, rtol=1e-6)
    np.testing.assert_allclose(x_val, (x_held - mean) / std, rtol=1e-6)
    seen_train, seen_val = _rows(ds.x_train, mean, std), _rows(x_val, mean, std)
    assert sorted(np.concatenate([seen_train, seen_val]).tolist()) == sorted(
        raw.x_train[:, 0].astype(np.int64).tolist())              # disjoint, covering all
    np.testing.assert_array_equal(seen_train // 1000, ds.y_train)  # rows keep their labels
    np.testing.assert_array_equal(seen_val // 1000, y_val)
    assert sorted(np.bincount(y_val).tolist()) == [12, 12, 13, 13]  # stratified: 50 of 4x50
    np.testing.assert_array_equal(_rows(ds.x_test, mean, std), np.arange(10))  # untouched
    np.testing.assert_array_equal(ds.y_test, raw.y_test)
    again, (x_again, _) = held_out(raw, TrainConfig(validation_split=0.25, seed=3))
    np.testing.assert_array_equal(x_again, x_val)
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    _, (x_other, _) = held_out(raw, TrainConfig(validation_split=0.25, seed=4))
    assert set(_rows(x_other, mean, std)) != set(seen_val)


def test_a_run_reports_validation_metrics_everywhere(tmp_path, capsys):
    from test_cli import read_events

    logdir = tmp_path / "run"
    curves = ["--curves"] if _has("matplotlib") else []
    assert main(["train", "--hidden", "8", "--batch-size", "256", "--validation-split", "0.1",
                 "--epochs", "2", "--logdir", str(logdir), "--progress", "never",
                 *curves]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and all("  val loss " in line and "  val acc " in line
                                   for line in lines)
    assert "train=1293" in out                  # 1437 less the 144 held out
    history = _history(logdir)
    assert len(history["val_loss"]) == len(history["val_accuracy"]) == 2
    assert all(0 < v < 5 for v in history["val_loss"]) and history["config"][
        "validation_split"] == 0.1
    assert history["val_loss"] != history["test_loss"]
    tags = {v.tag for e in read_events(logdir) for v in e.summary.value}
    assert {"loss/val", "accuracy/val", "loss/test"} <= tags
    if curves:
        assert (logdir / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # without a split, the rows say so with null, and no val scalars are written
    plain = tmp_path / "plain"
    assert main([*RUN[:-2], "--epochs", "1", "--max-steps", "2", "--logdir", str(plain)]) == 0
    assert _history(plain)["val_loss"] == [None]
    assert "loss/val" not in {v.tag for e in read_events(plain) for v in e.summary.value}


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- early stopping ----------------------------------------------------------------------------
@pytest.mark.parametrize("patience, min_delta", [(2, 0.0), (3, 0.01)])
def test_early_stopping_stops_at_the_epoch_keras_rule_gives(patience, min_delta, tmp_path,
                                                            capsys):
    logdir = tmp_path / "run"
    result = main([*RUN, "--lr", "0.05", "--epochs", "40", "--early-stopping", str(patience),
                   "--min-delta", str(min_delta), "--logdir", str(logdir)])
    assert result == 0
    history = _history(logdir)
    stopped, best = _keras_stop(history["val_loss"], patience, min_delta)
    # the run recorded its epochs up to the stop, and the rule stops at the last of them
    assert stopped == len(history["epoch"]) < 40
    assert _keras_stop(history["val_loss"][:-1], patience, min_delta)[0] is None
    assert history["early_stopping"]["stopped_epoch"] == stopped
    assert history["early_stopping"]["best_epoch"] == best
    out = capsys.readouterr().out
    assert f"early stopping: stopped after epoch {stopped} of 40 (val_loss did not improve by " \
           f"more than {min_delta:g} for {patience} epochs); kept the weights of epoch " \
           f"{stopped}, the last (the best was epoch {best}" in out
    assert f"after {stopped * PER_EPOCH} steps" in out


def _weights(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k.startswith("model/")}


def test_restore_best_keeps_the_weights_of_the_run_that_ends_at_the_best_epoch(tmp_path,
                                                                               capsys):
    logdir = tmp_path / "run"
    stopping = ["--lr", "0.05", "--epochs", "40", "--early-stopping", "2"]
    assert main([*RUN, *stopping, "--restore-best", "--logdir", str(logdir), "--checkpoint",
                 str(tmp_path / "best.npz")]) == 0
    out = capsys.readouterr().out
    history = _history(logdir)
    best, stopped = (history["early_stopping"][k] for k in ("best_epoch", "stopped_epoch"))
    assert best < stopped          # else restoring would change nothing
    assert f"restored the weights of epoch {best} (val_loss " in out
    held_out_acc = history["test_accuracy"][best - 1]
    assert f"held-out accuracy {held_out_acc:.2%} on 360 digits test images with the weights " \
           f"of epoch {best} after {stopped * PER_EPOCH} steps" in out
    # the same run, simply ending at the best epoch, ends with the same weights, bit for bit
    assert main([*RUN, "--lr", "0.05", "--epochs", str(best), "--no-log", "--checkpoint",
                 str(tmp_path / "short.npz")]) == 0
    restored, short = _weights(tmp_path / "best.npz"), _weights(tmp_path / "short.npz")
    assert restored.keys() == short.keys()
    for k in short:
        np.testing.assert_array_equal(restored[k], short[k], err_msg=k)
    # and without --restore-best, the weights of the epoch it stopped at
    assert main([*RUN, *stopping, "--no-log", "--checkpoint", str(tmp_path / "last.npz")]) == 0
    assert main([*RUN, "--lr", "0.05", "--epochs", str(stopped), "--no-log", "--checkpoint",
                 str(tmp_path / "plain.npz")]) == 0
    last, plain = _weights(tmp_path / "last.npz"), _weights(tmp_path / "plain.npz")
    for k in plain:
        np.testing.assert_array_equal(last[k], plain[k], err_msg=k)
    # a run that stopped early is finished: --resume says so
    from test_cli_bad_inputs import _cli_error

    err = _cli_error(["train", "--no-log", "--resume", str(tmp_path / "best.npz")], capsys)
    assert f"is of a run that early stopping ended after epoch {stopped}" in err


# -- the plateau schedule ----------------------------------------------------------------------
def _torch_plateau(values, mode, factor, patience, lr):
    """The rate after each epoch's ``step(value)`` of PyTorch's ReduceLROnPlateau."""
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=factor,
                                                           patience=patience)
    out = []
    for value in values:
        opt.step()
        scheduler.step(value)
        out.append(opt.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize("monitor, mode, patience, flags", [
    ("val_loss", "min", 1, ["--lr", "0.05", "--epochs", "20"]),
    ("val_accuracy", "max", 0, ["--lr", "0.05", "--epochs", "15"]),
    ("loss", "min", 0, ["--optimizer", "sgd", "--lr", "3", "--epochs", "10"]),
])
def test_plateau_lowers_the_rate_as_pytorchs_reduce_lr_on_plateau(monitor, mode, patience, flags,
                                                                  rates, tmp_path):
    logdir = tmp_path / "run"
    lr = float(flags[flags.index("--lr") + 1])
    assert main([*RUN, *flags, "--lr-schedule", "plateau", "--monitor", monitor,
                 "--lr-patience", str(patience), "--lr-gamma", "0.5",
                 "--logdir", str(logdir)]) == 0
    history = _history(logdir)
    values = history[monitor] if monitor.startswith("val_") else history["train_loss"]
    expected = _torch_plateau(values, mode, 0.5, patience, lr)
    assert len(set(expected)) >= 2, expected           # it did lower the rate
    np.testing.assert_allclose(history["learning_rate"], expected, rtol=1e-12)
    # each epoch's steps at the rate the previous epoch's value left
    per_step = [r for r in [lr, *expected[:-1]] for _ in range(PER_EPOCH)]
    np.testing.assert_allclose(rates, per_step, rtol=1e-12)
    assert history["config"]["lr_patience"] == patience


def test_compile_takes_the_same_steps_and_decisions_as_eager(tmp_path):
    run = [*RUN, "--lr", "0.05", "--epochs", "40", "--early-stopping", "2", "--restore-best",
           "--lr-schedule", "plateau", "--lr-patience", "0", "--lr-gamma", "0.5"]
    assert main([*run, "--logdir", str(tmp_path / "e"), "--checkpoint",
                 str(tmp_path / "eager.npz")]) == 0
    assert main([*run, "--compile", "--logdir", str(tmp_path / "c"), "--checkpoint",
                 str(tmp_path / "compiled.npz")]) == 0
    eager, compiled = _history(tmp_path / "e"), _history(tmp_path / "c")
    stops, want = compiled["early_stopping"], eager["early_stopping"]
    assert stops.keys() == want.keys()
    for key, value in want.items():          # pytest 9.2's approx takes no strings in a dict
        assert stops[key] == (value if isinstance(value, str) or value is None
                              else pytest.approx(value, rel=1e-5)), key
    np.testing.assert_allclose(compiled["learning_rate"], eager["learning_rate"])
    a, b = _weights(tmp_path / "eager.npz"), _weights(tmp_path / "compiled.npz")
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-5, atol=1e-6, err_msg=k)
