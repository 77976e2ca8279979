"""`xpgrad` under bad input and interruption: every user error is one line and exit 2, found
before training starts; SIGINT/SIGTERM save everything (exit 130/143); checkpoints carry the
run's settings and position, so `--resume PATH` continues exactly where the run stopped."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.checkpoint import checkpoint_metadata
from xpgrad.cli import main
from xpgrad.training import TrainConfig, TrainingError, resume_config, train

SMALL = ["--hidden", "16", "--batch-size", "128", "--learning-rate", "0.01"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A checkpoint of a finished 1-epoch run, and one that is not a training checkpoint."""
    d = tmp_path_factory.mktemp("ckpts")
    path = str(d / "done.npz")
    assert main(["train", "--epochs", "1", "--no-log", "--quiet", "--checkpoint", path,
                 *SMALL]) == 0
    plain = str(d / "plain.npz")
    xg.save_checkpoint(plain, xg.nn.Linear(2, 1, rng=0))
    corrupt = str(d / "corrupt.npz")
    with open(path, "rb") as f:
        data = f.read()
    with open(corrupt, "wb") as f:
        f.write(data[: len(data) // 2])
    damaged = str(d / "damaged.npz")             # its run position rewritten by hand
    arrays = dict(np.load(path, allow_pickle=False))
    (key,) = [k for k in arrays if "__xpgrad__" in k]
    header = json.loads(str(arrays[key]))
    header["metadata"]["epochs_done"] = "garbage"
    np.savez(damaged, **{**arrays, key: np.array(json.dumps(header))})
    return {"done": path, "plain": plain, "corrupt": corrupt, "damaged": damaged,
            "dir": str(d)}


def _cases(tmp, ck):
    afile = os.path.join(tmp, "a_file")
    with open(afile, "w") as f:
        f.write("x")
    return [
        (["train", "--checkpoint", "/no/such/dir/c.npz"], "'/no/such/dir' does not exist"),
        (["train", "--checkpoint", tmp], "it is a directory"),
        (["train", "--checkpoint", os.path.join(afile, "c.npz")], "is a file, not a directory"),
        (["train", "--logdir", afile], "logdir (--logdir)"),
        (["train", "--logdir", os.path.join(afile, "run")], "logdir (--logdir)"),
        (["train", "--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
        (["train", "--seed", "1.5"], "argument --seed: expected an integer"),
        (["train", "--learning-rate", "inf"], "--learning-rate/--lr: must be a finite number"),
        (["train", "--learning-rate", "nan"], "--learning-rate/--lr: must be a finite number"),
        (["train", "--learning-rate", "0"], "--learning-rate/--lr: must be a finite number"),
        (["train", "--lr", "-1"], "--learning-rate/--lr: must be a finite number > 0, got -1"),
        (["train", "--epochs", "0"], "argument --epochs: must be an integer > 0, got 0"),
        (["train", "--epochs", "-3"], "argument --epochs: must be an integer > 0, got -3"),
        (["train", "--batch-size", "0"], "argument --batch-size: must be an integer > 0"),
        (["train", "--max-steps", "0"], "argument --max-steps: must be an integer > 0"),
        (["train", "--checkpoint-every", "0"], "argument --checkpoint-every: must be an int"),
        (["train", "--checkpoint-every", "5"], "checkpoint_every (--checkpoint-every) needs a "
                                               "checkpoint path"),
        (["train", "--hidden", "0"], "argument --hidden: layer sizes must be positive"),
        (["train", "--model", "nope"], "argument --model: invalid choice: 'nope'"),
        (["train", "--optimizer", "nope"], "argument --optimizer: invalid choice: 'nope'"),
        (["train", "--dataset", "nope"], "argument --dataset: invalid choice: 'nope'"),
        (["train", "--backend", "nope"], "argument --backend: unknown backend 'nope'"),
        (["train", "--data-dir", tmp], "data_dir (--data-dir) is only read with --dataset mnist "
                                       "or fashion-mnist (the dataset is 'digits')"),
        (["train", "--dataset", "mnist", "--data-dir", "/no/such"], "'/no/such' does not exist"),
        (["train", "--dataset", "fashion-mnist", "--data-dir", tmp],
         "Fashion-MNIST file train-images-idx3-ubyte[.gz] not found"),
        (["train", "--threads", "0"], "argument --threads: must be an integer >= 1, got 0"),
        (["train", "--threads", "two"], "argument --threads: expected a number of threads"),
        (["train", "--progress", "sometimes"], "argument --progress: invalid choice: 'sometimes'"),
        (["train", "--quiet", "--progress", "always"], "--quiet and --progress always contradict"),
        (["train", "--logdir", "x", "--no-log"], "--no-log and --logdir contradict"),
        (["train", "--resume", ck["corrupt"]], "corrupt.npz' is not a checkpoint"),
        (["train", "--resume", os.path.join(tmp, "missing.npz")],
         "missing.npz': no checkpoint file there"),
        (["train", "--resume", ck["dir"]], "is a directory, not a checkpoint file"),
        (["train", "--resume", "/dev/zero"], "'/dev/zero' is not a regular file"),
        (["train", "--checkpoint", "/dev/zero"], "'/dev/zero' is not a regular file"),
        (["train", "--resume", ck["plain"]], "holds no training configuration"),
        (["train", "--resume", ck["done"]], "is of a finished run (1 of 1 epochs)"),
        (["train", "--resume", ck["done"], "--epochs", "1", "--hidden", "8"],
         "hidden (--hidden) is 8 but the checkpoint was trained with 16"),
        (["train", "--resume", ck["done"], "--epochs", "1", "--model", "lstm"],
         "model (--model) is 'lstm' but the checkpoint was trained with 'mlp'"),
        (["train", "--resume", ck["done"], "--epochs", "1", "--optimizer", "sgd"],
         "optimizer (--optimizer) is 'sgd'"),
        (["train", "--checkpoint", ck["corrupt"]], "corrupt.npz' is not a checkpoint"),
        (["train", "--resume", ck["damaged"]], "damaged.npz' is damaged: its metadata's "
                                               "'epochs_done' is 'garbage', not an integer"),
        (["train", "--frobnicate"], "unrecognized arguments: --frobnicate (see 'xpgrad train -h')"),
        (["nope"], "invalid choice: 'nope'"),
        (["warmup", "--backend", "nope"], "argument --backend: unknown backend 'nope'"),
        (["warmup", "--dtypes", "int8"], "argument --dtypes: expected float32 and/or float64"),
        (["warmup", "--jobs", "0"], "argument --jobs/-j: must be an integer > 0, got 0"),
        (["bench", "--threads", "0"], "bench: argument --threads: must be an integer >= 1"),
        (["bench", "--only", "nope"], "bench: argument --only: invalid choice"),
    ]


CASES = 49


def test_the_table_has_every_case(tmp_path, finished):
    assert len(_cases(str(tmp_path), finished)) == CASES


@pytest.mark.parametrize("i", range(CASES))
def test_user_errors_are_one_line_and_exit_2_before_training(i, tmp_path, finished, capsys,
                                                             monkeypatch):
    argv, message = _cases(str(tmp_path), finished)[i]
    monkeypatch.chdir(tmp_path)                   # a case that trained would write runs/ here
    if argv[0] == "train" and "--epochs" not in argv and "--resume" not in argv:
        argv = argv + ["--epochs", "1000"]
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        main(argv)
    out = capsys.readouterr()
    assert e.value.code == 2, (argv, out.err)
    assert out.err.startswith("xpgrad: error: ") and out.err.count("\n") == 1, out.err
    assert message in out.err, out.err
    assert "Traceback" not in out.err and "epoch" not in out.out
    assert time.perf_counter() - t0 < 60          # nothing of the 1000 epochs ran


def test_info_and_warmup_run(capsys):
    assert main(["warmup", "--backend", "numpy"]) == 0
    assert "nothing to warm up" in capsys.readouterr().out
    pytest.importorskip("numba")
    assert main(["warmup", "--backend", "numba", "--dtypes", "float32", "--jobs", "2"]) == 0
    assert "kernels for float32 ready" in capsys.readouterr().out


def test_warmup_prune_reports_what_the_backend_removed(capsys, monkeypatch):
    """``--prune`` deletes through the backend's ``prune_cache`` (tested on a package copy in
    test_numba_cache_key.py) and says how much it freed; a backend without kernels says so."""
    assert main(["warmup", "--backend", "numpy", "--prune"]) == 0
    assert "nothing to warm up or prune" in capsys.readouterr().out
    pytest.importorskip("numba")
    import xpgrad

    calls = []
    monkeypatch.setattr(type(xpgrad.get_backend("numba")), "prune_cache",
                        lambda self: calls.append(self.name) or (2, 3 * 2**20))
    assert main(["warmup", "--backend", "numba", "--dtypes", "float32", "--prune"]) == 0
    assert calls == ["numba"]
    assert "removed 2 cache directories of older sources or Numba versions (3.0 MiB)" in \
        capsys.readouterr().out


# -- resuming ----------------------------------------------------------------------------------
BASE = dict(hidden=(16,), batch_size=128, progress=False, optimizer="adam", learning_rate=0.01)


def test_a_mid_epoch_checkpoint_resumes_exactly(tmp_path):
    """Stopped after 17 of 24 steps (5 batches into epoch 2), then resumed from the checkpoint
    alone: the same losses as one uninterrupted run."""
    ckpt = str(tmp_path / "c.npz")
    whole = train(TrainConfig(epochs=2, **BASE), echo=None)
    first = train(TrainConfig(epochs=2, max_steps=17, checkpoint=ckpt, **BASE), echo=None)
    meta = checkpoint_metadata(ckpt)
    assert (meta["epochs_done"], meta["examples_in_epoch"], meta["steps"]) == (1, 640, 17)
    cfg = resume_config(ckpt)
    assert cfg.epochs == 1 and cfg.hidden == (16,) and cfg.learning_rate == 0.01
    second = train(cfg, echo=None)
    assert second.steps == 7 and second.history.epoch == [2]
    np.testing.assert_allclose(first.history.step_loss + second.history.step_loss,
                               whole.history.step_loss, rtol=1e-6)
    assert second.test_accuracy == pytest.approx(whole.test_accuracy)


def test_resume_needs_no_flags_and_explicit_ones_override(tmp_path, capsys):
    ckpt = str(tmp_path / "c.npz")
    assert main(["train", "--epochs", "3", "--max-steps", "5", "--no-log", "--quiet",
                 "--checkpoint", ckpt, *SMALL]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", ckpt, "--no-log", "--lr", "0.02", "--max-steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "lr=0.02" in out and "[64, 16, 10]" in out
    meta = checkpoint_metadata(ckpt)
    assert meta["steps"] == 8 and meta["config"]["learning_rate"] == 0.02
    assert meta["target_epochs"] == 3


def test_checkpoint_every_saves_during_the_run(tmp_path, monkeypatch):
    from xpgrad import checkpoint

    saves = []
    real = checkpoint.save_checkpoint

    def spy(path, model, optimizer=None, metadata=None):
        saves.append(metadata["steps"])
        real(path, model, optimizer, metadata)

    monkeypatch.setattr(checkpoint, "save_checkpoint", spy)
    train(TrainConfig(epochs=1, max_steps=12, checkpoint=str(tmp_path / "c.npz"),
                      checkpoint_every=5, **BASE), echo=None)
    assert saves == [5, 10, 12]


def test_a_diverging_run_stops_before_a_nan_update_and_keeps_the_checkpoint(tmp_path):
    ckpt = str(tmp_path / "c.npz")
    train(TrainConfig(epochs=1, max_steps=2, checkpoint=ckpt, **BASE), echo=None)
    good = open(ckpt, "rb").read()
    cfg = TrainConfig(**{**BASE, "optimizer": "sgd", "learning_rate": 1e30}, epochs=5,
                      checkpoint=str(tmp_path / "d.npz"), checkpoint_every=1,
                      logdir=str(tmp_path / "log"))
    with pytest.raises(TrainingError, match="(training loss became|NaN or infinite)"):
        train(cfg, echo=None)
    history = json.loads((tmp_path / "log" / "history.json").read_text())
    assert history["step_loss"]                      # the log is written, NaN as null
    assert open(ckpt, "rb").read() == good


def test_a_diverging_run_whose_logs_cannot_be_written_names_both(tmp_path, monkeypatch):
    # was: the OSError of history.json alone, the NaN loss only in its context
    import errno

    from xpgrad.training import run_files

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(run_files, "_write_json", full)
    cfg = TrainConfig(**{**BASE, "optimizer": "sgd", "learning_rate": 1e30}, epochs=5,
                      logdir=str(tmp_path / "log"))
    with pytest.raises(TrainingError, match="training loss became") as caught:
        train(cfg, echo=None)
    assert "the logs were not written either (OSError: [Errno 28] No space left on device" \
        in str(caught.value), caught.value


def test_config_checks_name_the_setting():
    for kwargs, message in [(dict(seed=-1), "seed (--seed) must be an integer >= 0, got -1"),
                            (dict(seed=1.5), "seed (--seed) must be an integer >= 0"),
                            (dict(learning_rate=float("inf")), "learning_rate (--learning-rate)"
                                                               " must be a finite number > 0"),
                            (dict(epochs=True), "epochs (--epochs) must be an integer"),
                            (dict(hidden=(0,)), "hidden (--hidden) must be an integer >= 1"),
                            (dict(hidden="32"), "hidden (--hidden) must be a list"),
                            (dict(dataset="cifar"), "unknown dataset 'cifar'"),
                            (dict(checkpoint_every=3), "needs a checkpoint path")]:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            TrainConfig(**kwargs).resolved()


# -- signals -----------------------------------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_checkpoint_curves_history_then_resume(tmp_path, signum, code):
    pytest.importorskip("tensorboardX")
    pytest.importorskip("matplotlib")
    ckpt, logdir = tmp_path / "c.npz", tmp_path / "run"
    cmd = [sys.executable, "-m", "xpgrad.cli", "train", "--epochs", "1000", "--checkpoint",
           str(ckpt), "--checkpoint-every", "5", "--logdir", str(logdir), "--curves", *SMALL]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    deadline = time.monotonic() + 240
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert ckpt.exists(), proc.communicate(timeout=60)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == code, (out, err)
    assert "Traceback" not in err, err
    assert f"interrupted by {signal.Signals(signum).name}" in out
    history = json.loads((logdir / "history.json").read_text())
    assert history["interrupted"] == signal.Signals(signum).name
    assert (logdir / "curves.png").read_bytes()[:4] == b"\x89PNG"
    meta = checkpoint_metadata(ckpt)
    assert meta["steps"] == history["steps_done"] and meta["steps"] >= 5
    model = xg.nn.MLP([64, 16, 10], activation="relu", rng=0)
    xg.load_checkpoint(ckpt, model, xg.optim.Adam(0.01))
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    resumed = subprocess.run([sys.executable, "-m", "xpgrad.cli", "train", "--resume",
                              str(ckpt), "--max-steps", "2", "--no-log"], capture_output=True,
                             text=True, timeout=240, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {ckpt}: {meta['steps']} steps done" in resumed.stdout
    assert checkpoint_metadata(ckpt)["steps"] == meta["steps"] + 2


def test_data_and_seed_checks():
    from xpgrad import data

    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\], got -1"):
        data.split(np.zeros((4, 2)), np.arange(4) % 2, 0.5, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        data.load_digits(seed=1.5)
    with pytest.raises(ValueError, match="batch_size must be >= 1 .*got 2.5"):
        data.batches(10, 2.5)
    for kwargs, message in [(dict(seed=2**32), r"seed \(--seed\) must be an integer in"),
                            (dict(data_dir="/tmp"), r"data_dir \(--data-dir\) is only read "
                                                    r"with --dataset mnist"),
                            (dict(threads=0), r"threads \(--threads\) must be an integer >= 1"),
                            (dict(threads=1.5), r"threads \(--threads\) must be an integer")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig(**kwargs).resolved()


def test_a_moved_checkpoint_resumes_into_its_new_place(tmp_path):
    first, moved = tmp_path / "a.npz", tmp_path / "b.npz"
    train(TrainConfig(epochs=2, max_steps=3, checkpoint=str(first), **BASE), echo=None)
    os.replace(first, moved)
    cfg = resume_config(moved)
    assert cfg.checkpoint == str(moved) and cfg.logdir is None
    train(cfg, echo=None)
    assert not first.exists() and checkpoint_metadata(moved)["steps"] > 3
