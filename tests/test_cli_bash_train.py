"""`xpgrad train` as a new user runs it from a shell: environment settings, resuming a run
stopped by --max-steps, and the results it prints against the files it writes."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from xpgrad.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["train", "-q", "--hidden", "4", "--progress", "never"]


def _xpgrad(args, cwd, **env):
    """``xpgrad ARGS`` in a fresh process (this worktree's xpgrad): (status, stdout, stderr)."""
    environ = {**os.environ, "PYTHONPATH": ROOT, **env}
    out = subprocess.run([sys.executable, "-m", "xpgrad.cli", *args], cwd=cwd, env=environ,
                         capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout, out.stderr


def test_bad_xpgrad_blas_is_one_line_before_training(tmp_path):
    status, out, err = _xpgrad([*TINY, "--epochs", "1", "--max-steps", "1", "--no-log"],
                               tmp_path, XPGRAD_BLAS="bad")
    assert status == 2, err
    assert err.startswith("xpgrad: error: ") and err.count("\n") == 1, err
    assert "XPGRAD_BLAS" in err and "'bad'" in err and "Traceback" not in err
    assert "held-out" not in out


def test_xpgrad_blas_mkl_without_mkl_is_a_user_error(tmp_path, monkeypatch, capsys):
    from xpgrad.backends import blas

    monkeypatch.setenv("XPGRAD_BLAS", "mkl")
    monkeypatch.setattr(blas, "_find_mkl", lambda: None)
    monkeypatch.setattr(blas, "_STATE", {})        # as in a process that has not loaded MKL
    with pytest.raises(SystemExit) as stop:
        main([*TINY, "--epochs", "1", "--max-steps", "1", "--no-log"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("xpgrad: error: ") and "XPGRAD_BLAS=mkl" in err


def test_xpgrad_blas_numpy_trains(tmp_path):
    status, out, err = _xpgrad([*TINY, "--epochs", "1", "--max-steps", "2", "--no-log"],
                               tmp_path, XPGRAD_BLAS="numpy")
    assert status == 0, err
    assert "after 2 steps" in out


def _weights(path):
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files if k.startswith(("model/", "optimizer/"))}


def test_resume_of_a_max_steps_run_finishes_it_like_one_run(tmp_path, capsys):
    run = [*TINY, "--epochs", "2", "--no-log", "--batch-size", "64"]
    assert main([*run, "--checkpoint", str(tmp_path / "whole.npz")]) == 0
    assert main([*run, "--checkpoint", str(tmp_path / "part.npz"), "--max-steps", "5"]) == 0
    capsys.readouterr()
    # the saved run's --max-steps was a budget for that call, not a setting of the run
    assert main(["train", "-q", "--no-log", "--resume", str(tmp_path / "part.npz")]) == 0
    assert "after 46 steps (41 in this run)" in capsys.readouterr().out     # 2 * 23 - 5
    whole, part = _weights(tmp_path / "whole.npz"), _weights(tmp_path / "part.npz")
    assert sorted(whole) == sorted(part)
    for key in whole:
        np.testing.assert_array_equal(whole[key], part[key], err_msg=key)


def test_resume_takes_a_new_max_steps(tmp_path, capsys):
    path = str(tmp_path / "c.npz")
    assert main([*TINY, "--epochs", "2", "--no-log", "--checkpoint", path,
                 "--max-steps", "5"]) == 0
    assert main(["train", "-q", "--no-log", "--resume", path, "--max-steps", "3"]) == 0
    assert "after 8 steps (3 in this run)" in capsys.readouterr().out.splitlines()[-2]


def test_printed_accuracy_is_the_saved_history(tmp_path, capsys):
    logdir = tmp_path / "ünï cødé run"
    assert main([*TINY, "--epochs", "2", "--batch-size", "256", "--max-steps", "8",
                 "--logdir", str(logdir)]) == 0
    out = capsys.readouterr().out
    history = json.loads((logdir / "history.json").read_text())
    assert history["epoch"] == [1, 2] and history["steps_done"] == 8     # 6 + 2 steps
    assert len(history["step_loss"]) == 8
    assert f"held-out accuracy {history['test_accuracy'][-1]:.2%}" in out


def test_runs_started_in_the_same_second_get_their_own_default_logdir(tmp_path, monkeypatch,
                                                                      capsys):
    from xpgrad import cli_train_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_train_settings, "_timestamp", lambda: "20260101-120000")
    for seed in ("1", "2"):
        assert main([*TINY, "--epochs", "1", "--max-steps", "1", "--seed", seed]) == 0
    first, second = tmp_path / "runs" / "20260101-120000", tmp_path / "runs" / "20260101-120000-2"
    seeds = [json.loads((d / "history.json").read_text())["config"]["seed"]
             for d in (first, second)]
    assert seeds == [1, 2]
    assert len(list(first.glob("events.out.tfevents.*"))) == 1
    assert f"wrote history: {os.path.join('runs', '20260101-120000-2', 'history.json')}" \
        in capsys.readouterr().out


def test_a_run_failing_its_checks_leaves_no_default_logdir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main([*TINY, "--checkpoint", str(tmp_path / "no" / "c.npz")])
    assert stop.value.code == 2
    assert not (tmp_path / "runs").exists()


def test_a_run_resumed_into_its_logdir_continues_its_history(tmp_path, capsys):
    run = [*TINY, "--epochs", "3", "--batch-size", "256"]          # 6 steps an epoch
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main([*run, "--logdir", str(whole)]) == 0
    assert main([*run, "--logdir", str(part), "--checkpoint", str(tmp_path / "c.npz"),
                 "--max-steps", "8"]) == 0                          # stops in epoch 2
    assert main(["train", "-q", "--resume", str(tmp_path / "c.npz"), "--logdir", str(part),
                 "--progress", "never"]) == 0
    one, two = (json.loads((d / "history.json").read_text()) for d in (whole, part))
    assert two["epoch"] == one["epoch"] == [1, 2, 3]
    assert two["steps_done"] == one["steps_done"] == 18
    assert two["train_examples"] == one["train_examples"] == [1437] * 3
    np.testing.assert_array_equal(two["step_loss"], one["step_loss"])
    for key in ("test_loss", "test_accuracy", "train_loss", "train_accuracy"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-6, err_msg=key)
    assert f"held-out accuracy {two['test_accuracy'][-1]:.2%}" in capsys.readouterr().out


def test_a_resumed_run_in_another_logdir_keeps_its_own_history(tmp_path):
    path = str(tmp_path / "c.npz")
    run = [*TINY, "--epochs", "2", "--batch-size", "256", "--checkpoint", path]
    assert main([*run, "--logdir", str(tmp_path / "a"), "--max-steps", "8"]) == 0
    assert main(["train", "-q", "--resume", path, "--logdir", str(tmp_path / "b")]) == 0
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert history["epoch"] == [2] and len(history["step_loss"]) == 4
    # the row's loss counts epoch 2's examples before the resumption too (their saved sums)
    assert history["train_examples"] == [1437]


def test_the_resumed_line_says_where_the_run_stands(tmp_path, capsys):
    path = str(tmp_path / "c.npz")
    assert main([*TINY, "--epochs", "3", "--batch-size", "256", "--no-log", "--checkpoint", path,
                 "--max-steps", "8"]) == 0                     # 6 steps an epoch: 1 and 512
    capsys.readouterr()
    assert main(["train", "--resume", path, "--no-log", "--max-steps", "1"]) == 0
    out = capsys.readouterr().out
    assert f"resumed from {path}: 8 steps done (1 epoch and 512 examples of epoch 2)" in out
    # the epoch's line: its loss and accuracy count the examples before the resumption too
    assert "(partial: 768/1437 examples)" in out


def test_resume_help_names_every_setting_that_cannot_change(capsys):
    from xpgrad.training.config import FLAGS, IDENTITY

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    start = text.index("--resume PATH continue")
    resume = text[start:text.index("--max-steps MAX_STEPS stop", start)]
    assert all(FLAGS[key] in resume for key in IDENTITY), resume
    assert "shape" not in resume


def test_a_data_dir_that_is_a_file_is_named_as_one(tmp_path, capsys):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        main([*TINY, "--no-log", "--dataset", "mnist", "--data-dir",
              str(tmp_path / "train-images-idx3-ubyte.gz")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "is a file, not a directory" in err and err.count("\n") == 1, err


def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path):
    """``xpgrad train | head -2``: when the reader closes the pipe, the run stops as a Unix tool
    does on SIGPIPE (status 141), without 'xpgrad: error: [Errno 32] Broken pipe'."""
    run = subprocess.Popen([sys.executable, "-m", "xpgrad.cli", "train", "--epochs", "5",
                            "--hidden", "4", "--progress", "never", "--no-log"], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stdout.readline().startswith("Dataset(")
    run.stdout.close()
    err = run.stderr.read()
    assert run.wait(timeout=120) == 141
    assert err == ""
