"""`xpgrad train --overwrite` (and ``TrainConfig(overwrite=True)``): another run's logs in
--logdir are replaced -- its history.json, event files and curves.png removed as training
starts, nothing else there touched -- instead of the directory being refused; a run whose
other flags are refused removes nothing."""
import json

import pytest

from xpgrad.cli import main

from test_cli_bash_logdir import TINY, _refused

SAYING = [a for a in TINY if a != "-q"]     # -q keeps the run's notes to itself


def _events(logdir):
    return sorted(p.name for p in logdir.glob("events.out.tfevents.*"))


def _first_run(tmp_path, *extra):
    logdir = tmp_path / "run"
    assert main([*TINY, "--max-steps", "3", "--logdir", str(logdir), *extra]) == 0
    (logdir / "notes.txt").write_text("mine")
    return logdir, json.loads((logdir / "history.json").read_text()), _events(logdir)


def test_overwrite_replaces_another_runs_logs_and_nothing_else(tmp_path, capsys):
    logdir, first, first_events = _first_run(tmp_path, "--curves")
    assert (logdir / "curves.png").is_file() and len(first_events) == 1
    first_bytes = (logdir / first_events[0]).read_bytes()
    err = _refused(capsys, [*TINY, "--max-steps", "2", "--logdir", str(logdir)])
    assert "--overwrite" in err, err
    capsys.readouterr()
    assert main([*SAYING, "--max-steps", "2", "--seed", "1", "--logdir", str(logdir),
                 "--overwrite"]) == 0
    assert "replaced the logs of another run" in capsys.readouterr().out
    history = json.loads((logdir / "history.json").read_text())
    assert history["run_id"] != first["run_id"]
    assert history["steps_done"] == 2 and len(history["step_loss"]) == 2
    events = _events(logdir)
    assert len(events) == 1                                    # the new run's file alone
    assert events != first_events or (logdir / events[0]).read_bytes() != first_bytes
    assert not (logdir / "curves.png").exists()                # the other run's plot went too
    assert (logdir / "notes.txt").read_text() == "mine"


def test_overwrite_of_a_logdir_without_logs_changes_nothing_there(tmp_path, capsys):
    logdir = tmp_path / "run"
    logdir.mkdir()
    (logdir / "curves.png").write_bytes(b"not a run's")       # no history or events: no run
    capsys.readouterr()
    assert main([*SAYING, "--max-steps", "1", "--logdir", str(logdir), "--overwrite"]) == 0
    assert "replaced" not in capsys.readouterr().out
    assert (logdir / "curves.png").read_bytes() == b"not a run's"


def test_overwrite_removes_nothing_when_another_flag_is_refused(tmp_path, capsys):
    logdir, first, first_events = _first_run(tmp_path)
    err = _refused(capsys, [*TINY, "--logdir", str(logdir), "--overwrite",
                            "--checkpoint", str(tmp_path / "no" / "such" / "dir" / "c.npz")])
    assert "checkpoint" in err, err
    assert json.loads((logdir / "history.json").read_text()) == first
    assert _events(logdir) == first_events


def test_overwrite_lets_a_resumed_run_take_another_runs_logdir(tmp_path):
    """Resuming run b into run a's --logdir is refused (it would extend a's history); with
    --overwrite, b's resumed run starts that directory's logs afresh."""
    shared, a_logs = tmp_path / "shared", tmp_path / "b_logs"
    b = str(tmp_path / "b.npz")
    assert main([*TINY, "--max-steps", "3", "--logdir", str(shared)]) == 0
    assert main([*TINY, "--max-steps", "3", "--logdir", str(a_logs), "--checkpoint", b]) == 0
    assert main(["train", "-q", "--resume", b, "--max-steps", "2", "--logdir", str(shared),
                 "--overwrite"]) == 0
    history = json.loads((shared / "history.json").read_text())
    b_history = json.loads((a_logs / "history.json").read_text())
    assert history["run_id"] == b_history["run_id"]
    assert history["steps_done"] == 5 and len(_events(shared)) == 1


def test_overwrite_and_no_log_contradict(capsys):
    err = _refused(capsys, [*TINY, "--no-log", "--overwrite"])
    assert "--overwrite" in err and "--no-log" in err, err


def test_train_config_overwrite(tmp_path):
    from xpgrad.training import ConfigError, TrainConfig, train

    logdir = str(tmp_path / "run")
    base = dict(epochs=1, hidden=(4,), batch_size=256, max_steps=1, logdir=logdir,
                progress=False)
    train(TrainConfig(**base), echo=None)
    with pytest.raises(ConfigError, match="overwrite"):
        train(TrainConfig(**base, seed=1), echo=None)
    result = train(TrainConfig(**base, seed=1, overwrite=True), echo=None)
    assert result is not None
    with pytest.raises(ConfigError, match="overwrite"):
        TrainConfig(overwrite="yes").resolved()
