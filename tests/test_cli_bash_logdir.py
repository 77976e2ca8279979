"""`xpgrad train` runs sharing one explicit --logdir: a fresh run never presents another run's
history (history.json, TensorBoard event files) as its own, and a resumed run extends only the
history of the run it continues."""
import json

import pytest

from xpgrad.cli import main

TINY = ["train", "-q", "--hidden", "4", "--progress", "never", "--epochs", "2",
        "--batch-size", "256"]


def _refused(capsys, args):
    """``xpgrad ARGS`` stops before training: exit 2, one line; returns that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    captured = capsys.readouterr()
    assert "held-out" not in captured.out
    assert captured.err.startswith("xpgrad: error: ") and captured.err.count("\n") == 1
    return captured.err


def _logs(logdir):
    """What a run left in ``logdir``: its history.json's text and its event files."""
    return (logdir / "history.json").read_text(), sorted(logdir.glob("events.out.tfevents.*"))


def test_a_fresh_run_refuses_a_logdir_that_holds_another_runs_logs(tmp_path, capsys):
    logdir = tmp_path / "run"
    assert main([*TINY, "--max-steps", "3", "--logdir", str(logdir)]) == 0
    before = _logs(logdir)
    err = _refused(capsys, [*TINY, "--max-steps", "2", "--seed", "1", "--logdir", str(logdir)])
    assert "--logdir" in err and str(logdir) in err and "--resume" in err, err
    assert _logs(logdir) == before


def test_a_fresh_run_refuses_a_logdir_with_event_files_only(tmp_path, capsys):
    """An earlier run killed before it wrote history.json left its TensorBoard file: TensorBoard
    would draw the two runs as one."""
    logdir = tmp_path / "run"
    logdir.mkdir()
    (logdir / "events.out.tfevents.1.host.1").write_bytes(b"")
    assert "--logdir" in _refused(capsys, [*TINY, "--max-steps", "1", "--logdir", str(logdir)])


def test_a_fresh_run_takes_a_logdir_holding_other_files(tmp_path):
    logdir = tmp_path / "run"
    logdir.mkdir()
    (logdir / "notes.txt").write_text("mine")
    assert main([*TINY, "--max-steps", "1", "--logdir", str(logdir)]) == 0
    assert json.loads((logdir / "history.json").read_text())["steps_done"] == 1


@pytest.mark.parametrize("how", ["--resume", "--checkpoint"])
def test_a_resumed_run_never_continues_another_runs_history(tmp_path, capsys, how):
    """Runs a and b stop at the same step with the same model settings (only the learning rate
    differs); resuming b into a's --logdir (by --resume, or by its existing --checkpoint) took
    a's rows as the start of b's history."""
    shared, other = tmp_path / "shared", tmp_path / "other"
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    assert main([*TINY, "--max-steps", "5", "--logdir", str(shared), "--checkpoint", a]) == 0
    assert main([*TINY, "--max-steps", "5", "--logdir", str(other), "--checkpoint", b,
                 "--learning-rate", "0.5"]) == 0
    before = _logs(shared)
    resume = ["train", "-q", "--resume", b] if how == "--resume" else [*TINY, "--checkpoint", b]
    err = _refused(capsys, [*resume, "--max-steps", "2", "--logdir", str(shared)])
    assert "another run" in err and b in err and "--logdir" in err, err
    assert _logs(shared) == before
    # a's own resumption continues a's history
    assert main(["train", "-q", "--resume", a, "--max-steps", "2", "--logdir", str(shared)]) == 0
    history = json.loads((shared / "history.json").read_text())
    assert history["steps_done"] == 7 and len(history["step_loss"]) == 7
    assert history["step_loss"][:5] == json.loads(before[0])["step_loss"]


def _as_written_before_run_ids(checkpoint, logdir):
    """Drop ``run_id`` from a checkpoint's metadata and from history.json, as an xpgrad older
    than run ids wrote them."""
    import numpy as np

    from xpgrad.checkpoint import _META

    with np.load(checkpoint) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays[_META]))
    del meta["metadata"]["run_id"]
    arrays[_META] = np.asarray(json.dumps(meta))
    np.savez(checkpoint, **arrays)
    history = json.loads((logdir / "history.json").read_text())
    del history["run_id"]
    (logdir / "history.json").write_text(json.dumps(history))


def test_a_run_from_before_run_ids_resumes_into_its_logdir(tmp_path):
    """Its checkpoint and history.json hold no run id: resuming it continues its history."""
    logdir, ckpt = tmp_path / "run", str(tmp_path / "old.npz")
    assert main([*TINY, "--max-steps", "4", "--logdir", str(logdir), "--checkpoint", ckpt]) == 0
    _as_written_before_run_ids(ckpt, logdir)
    before = json.loads((logdir / "history.json").read_text())
    assert main(["train", "-q", "--resume", ckpt, "--max-steps", "2",
                 "--logdir", str(logdir)]) == 0
    history = json.loads((logdir / "history.json").read_text())
    assert history["steps_done"] == 6 and history["step_loss"][:4] == before["step_loss"]
