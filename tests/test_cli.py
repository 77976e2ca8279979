"""`xpgrad train | info | bench` end to end on short budgets, and the training loop's contract."""
import glob
import json
import os
import struct
import subprocess
import sys
import types

import numpy as np
import pytest

from xpgrad.cli import main
from xpgrad.data import write_idx
from xpgrad.training import TrainConfig, train

SMALL = ["--hidden", "32", "--batch-size", "64", "--learning-rate", "0.01"]


def read_events(logdir):
    """Every Event in the TensorBoard files under ``logdir``, parsed with tensorboardX's
    protobuf classes (TensorBoard's schema; xpgrad writes the files without them), with
    both CRCs of every TFRecord checked."""
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    from xpgrad.events import _masked_crc

    events = []
    for path in glob.glob(os.path.join(logdir, "events.out.tfevents.*")):
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):
            (n,) = struct.unpack("<Q", data[pos:pos + 8])
            (crc_len,) = struct.unpack("<I", data[pos + 8:pos + 12])
            body = data[pos + 12:pos + 12 + n]
            (crc_body,) = struct.unpack("<I", data[pos + 12 + n:pos + 16 + n])
            assert crc_len == _masked_crc(data[pos:pos + 8]) and crc_body == _masked_crc(body)
            events.append(event_pb2.Event.FromString(body))
            pos += 12 + n + 4
    return events


def test_train_end_to_end_writes_events_plot_and_reports_accuracy(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    logdir = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--logdir", str(logdir), "--curves", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "epoch   1" in out and "epoch   2" in out
    line = [ln for ln in out.splitlines() if ln.startswith("held-out accuracy")]
    assert len(line) == 1
    accuracy = float(line[0].split()[2].rstrip("%"))
    assert accuracy > 80.0, line          # two epochs of a small MLP already do this well

    assert (logdir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((logdir / "history.json").read_text())
    assert history["epoch"] == [1, 2] and history["config"]["optimizer"] == "adam"
    assert history["test_accuracy"][-1] == pytest.approx(accuracy / 100, abs=1e-4)

    events = read_events(logdir)
    scalars = {}
    images = set()
    for e in events:
        for v in e.summary.value:
            if v.HasField("image"):
                images.add(v.tag)
                # 64 digits, 8x8 grid, 1-pixel grey borders: 8 * (8 + 1) + 1
                assert (v.image.height, v.image.width) == (73, 73)
            elif v.HasField("simple_value"):
                scalars.setdefault(v.tag, []).append((e.step, v.simple_value))
    for tag in ("loss/train", "loss/test", "accuracy/train", "accuracy/test", "learning_rate"):
        assert [s for s, _ in scalars[tag]] == [1, 2], tag
    assert scalars["learning_rate"][0][1] == pytest.approx(0.01)
    assert scalars["accuracy/test"][-1][1] == pytest.approx(accuracy / 100, abs=1e-4)
    assert "inputs/train_samples" in images
    # every optimizer step's loss, numbered by step (23 batches of 64 per epoch)
    steps = scalars["loss/train_step"]
    assert [s for s, _ in steps] == list(range(1, 2 * 23 + 1))
    np.testing.assert_allclose([v for _, v in steps], history["step_loss"], rtol=1e-6)
    assert "config/text_summary" in {v.tag for e in events for v in e.summary.value}


def test_history_and_determinism():
    cfg = TrainConfig(epochs=2, hidden=(16,), batch_size=128, progress=False)
    a, b = train(cfg, echo=None), train(cfg, echo=None)
    assert a.history.epoch == [1, 2] and a.steps == 2 * 12      # ceil(1437 / 128) = 12
    assert len(a.history.step_loss) == a.steps
    np.testing.assert_array_equal(a.history.step_loss, b.history.step_loss)
    assert a.history.step_loss[-1] < a.history.step_loss[0]
    c = train(TrainConfig(epochs=2, hidden=(16,), batch_size=128, seed=1, progress=False),
              echo=None)
    assert c.history.step_loss != a.history.step_loss


def test_max_steps_and_progress_bar(capsys):
    r = train(TrainConfig(epochs=5, hidden=(16,), max_steps=3, progress=True), echo=print)
    assert r.steps == 3 and r.history.epoch == [1]
    captured = capsys.readouterr()
    assert "held-out accuracy" in captured.out
    assert "epoch 1/5" in captured.err          # the tqdm bar


def test_the_summary_counts_one_step_in_the_singular(capsys):
    train(TrainConfig(epochs=1, hidden=(8,), max_steps=1, progress=False),
          echo=print)
    assert "after 1 step in " in capsys.readouterr().out


def test_checkpoint_resume_continues_the_same_run(tmp_path, capsys):
    ckpt = str(tmp_path / "model.npz")
    base = dict(hidden=(16,), batch_size=128, progress=False, optimizer="adam")
    whole = train(TrainConfig(epochs=2, **base), echo=None)
    first = train(TrainConfig(epochs=1, checkpoint=ckpt, **base), echo=None)
    assert os.path.exists(ckpt)
    second = train(TrainConfig(epochs=1, checkpoint=ckpt, **base), echo=print)
    assert "resumed from" in capsys.readouterr().out
    assert second.resumed_from == 1 and second.history.epoch == [2]
    # weights, Adam moments and data order all carried over: identical to one 2-epoch run
    np.testing.assert_allclose(first.history.step_loss + second.history.step_loss,
                               whole.history.step_loss, rtol=1e-6)
    assert second.test_accuracy == pytest.approx(whole.test_accuracy)


def test_resume_with_other_architecture_is_a_clear_error(tmp_path, capsys):
    ckpt = str(tmp_path / "m.npz")
    assert main(["train", "--epochs", "1", "--no-log", "--quiet", "--checkpoint", ckpt,
                 *SMALL]) == 0
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "1", "--no-log", "--quiet", "--checkpoint", ckpt,
              "--hidden", "8"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xpgrad: error: cannot resume from")
    assert "hidden (--hidden) is 8 but the checkpoint was trained with 32" in err


@pytest.mark.parametrize("argv, message", [
    (["--backend", "nope"], "unknown backend 'nope'; known backends"),
    (["--optimizer", "nope"], "argument --optimizer: invalid choice: 'nope'"),
    (["--model", "nope"], "argument --model: invalid choice: 'nope'"),
    (["--epochs", "0"], "argument --epochs: must be an integer > 0, got 0"),
    (["--learning-rate", "abc"], "argument --learning-rate/--lr: expected a number"),
    (["--hidden", "32,x"], "argument --hidden: expected layer sizes"),
    (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
])
def test_bad_flags_give_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--no-log", *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_mnist_reads_idx_files_from_data_dir(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz",
                  rng.integers(0, 10, n, dtype=np.uint8))
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--epochs", "1",
                 "--no-log", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "features=784" in out and "on 32 mnist test images" in out


def test_info_lists_versions_and_backends(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("xpgrad   0.") and "numpy    " in out
    assert "numpy    available   version=" in out
    assert "torch" in out and "jax" in out
    assert main(["info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backends"]["numpy"]["available"] is True
    for name, row in report["backends"].items():
        assert row["available"] or row["reason"], name   # unavailable ones say why
    assert set(report["installed"]) >= {"torch", "jax", "numba"}
    from xpgrad import allocator
    assert report["malloc"] == allocator.STATE != "not applied"


def test_info_says_what_was_done_to_malloc(monkeypatch, capsys):
    from xpgrad import allocator

    monkeypatch.setattr(allocator, "STATE", "off: MALLOC_TOP_PAD_ is set")
    assert main(["info"]) == 0
    assert "malloc: off: MALLOC_TOP_PAD_ is set" in capsys.readouterr().out


def test_info_names_the_blas_kernels_and_who_chose_them(monkeypatch, capsys):
    """`xpgrad info` shows the CPU kernels OpenBLAS runs and says when OPENBLAS_CORETYPE forced
    them (threadpoolctl's report is replaced by one OpenBLAS row, so the check does not depend
    on this machine's BLAS)."""
    import xpgrad.threads

    row = {"user_api": "blas", "internal_api": "openblas", "num_threads": 1, "version": "0.3",
           "threading_layer": "pthreads", "architecture": "SkylakeX", "filepath": "/lib.so"}
    monkeypatch.setattr(xpgrad.threads, "blas_info", lambda: [row])
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    assert main(["info"]) == 0
    assert "openblas 0.3 (pthreads, SkylakeX kernels): 1 threads" in capsys.readouterr().out
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    row["architecture"] = "Haswell"
    assert main(["info"]) == 0
    assert "(pthreads, Haswell kernels forced by OPENBLAS_CORETYPE=Haswell)" in \
        capsys.readouterr().out


def test_bench_dispatches_to_xpgrad_bench(monkeypatch):
    seen = []
    fake = types.ModuleType("xpgrad.bench")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "xpgrad.bench", fake)
    assert main(["bench", "--quick", "-h"]) == 0
    assert seen == [["--quick", "-h"]]


def test_console_script_runs_as_a_process(tmp_path):
    out = subprocess.run([sys.executable, "-m", "xpgrad.cli", "train", "--epochs", "1",
                          "--no-log", "--quiet", *SMALL], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("held-out accuracy")
    assert not (tmp_path / "runs").exists()
    out = subprocess.run([sys.executable, "-m", "xpgrad.cli"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 2 and "train" in out.stdout


def test_missing_optional_package_names_the_install_command(tmp_path, monkeypatch, capsys):
    from xpgrad.report import require

    with pytest.raises(ImportError, match=r'needs the \'no_such_pkg\' package: pip install -e '
                                          r'"\.\[train\]"'):
        require("no_such_pkg", "testing")
    with pytest.raises(ImportError, match="no_such_pkg"):
        require("no_such_pkg", "testing", load=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import now fails
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "1", "--logdir", str(tmp_path / "run"), "--curves", *SMALL])
    assert e.value.code == 1
    assert ("plotting the learning curves (--curves) needs the 'matplotlib' package: "
            'pip install -e ".[viz]"') in capsys.readouterr().err
    assert not (tmp_path / "run").exists()                    # checked before anything is made
    # without --curves nothing needs matplotlib: events and history are written all the same
    assert main(["train", "--epochs", "1", "--logdir", str(tmp_path / "run"), "--quiet",
                 *SMALL]) == 0
    assert (tmp_path / "run" / "history.json").exists()
    assert not (tmp_path / "run" / "curves.png").exists()
    with pytest.raises(SystemExit) as e:                     # ... and `xpgrad plot` says so
        main(["plot", str(tmp_path / "run")])
    assert e.value.code == 1 and "pip install -e \".[viz]\"" in capsys.readouterr().err


def test_curves_with_a_broken_matplotlib_fails_before_training(tmp_path, monkeypatch,
                                                                capsys):
    """An installed matplotlib whose import fails is found before training starts, with the
    import's own error, not after the last epoch."""
    fake = tmp_path / "site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('built against another NumPy')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "1", "--logdir", str(tmp_path / "run"), "--curves", *SMALL])
    err = capsys.readouterr().err
    assert e.value.code == 1
    assert "is installed but does not import (built against another NumPy)" in err, err
    assert not (tmp_path / "run").exists()


def test_plot_draws_the_curves_of_a_finished_run(tmp_path, capsys):
    """`xpgrad plot RUN_DIR` draws curves.png from the run's history.json, the same plot
    `--curves` draws at the end of the run."""
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--logdir", str(run), "--quiet", *SMALL]) == 0
    assert not (run / "curves.png").exists()
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote curves: {run / 'curves.png'}"
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", str(run), "--output", str(tmp_path / "sub" / "c.png")]) == 0
    assert (tmp_path / "sub" / "c.png").read_bytes()[:4] == b"\x89PNG"
    drawn = tmp_path / "drawn"                    # the same picture --curves draws, title too
    assert main(["train", "--epochs", "2", "--logdir", str(drawn), "--quiet", "--curves",
                 *SMALL]) == 0
    assert (drawn / "curves.png").read_bytes() == (run / "curves.png").read_bytes()


@pytest.mark.parametrize("content, message", [
    (None, "holds no history.json"),
    ("{not json", "cannot read"),
    ("[1, 2]", "is not the history of an `xpgrad train` run"),
    ('{"epoch": []}', "records no finished epoch"),
    ('{"epoch": [1, 2], "train_loss": [0.5], "config": [1]}', "cannot be plotted"),
])
def test_plot_bad_run_dir_is_one_line_exit_2(tmp_path, capsys, content, message):
    if "cannot be plotted" in message:
        pytest.importorskip("matplotlib")
    if content is not None:
        (tmp_path / "history.json").write_text(content)
    with pytest.raises(SystemExit) as e:
        main(["plot", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and err.count("\n") == 1, err


def test_plot_names_a_missing_run_dir_and_a_wrong_output_suffix(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    with pytest.raises(SystemExit) as e:
        main(["plot", str(tmp_path / "nowhere")])
    assert e.value.code == 2 and "does not exist" in capsys.readouterr().err
    (tmp_path / "history.json").write_text('{"epoch": [1], "train_loss": [0.5]}')
    with pytest.raises(SystemExit) as e:
        main(["plot", str(tmp_path), "-o", str(tmp_path / "x.txt")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "'txt' is not an image format" in err, err
    assert main(["plot", str(tmp_path), "-o", str(tmp_path / "c.svg")]) == 0


def test_curves_with_no_log_is_a_contradiction(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--no-log", "--curves", *SMALL])
    assert e.value.code == 2 and "--curves" in capsys.readouterr().err


def test_progress_always_never_auto(monkeypatch, capsys):
    """--progress always draws the bars without a terminal; never and auto (no terminal here)
    do not; always without tqdm is an error naming the install command."""
    assert main(["train", "--epochs", "1", "--no-log", "--progress", "always", *SMALL]) == 0
    assert "epoch 1/1" in capsys.readouterr().err
    for choice in ("never", "auto"):
        assert main(["train", "--epochs", "1", "--no-log", "--progress", choice, *SMALL]) == 0
        assert "epoch 1/1" not in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert main(["train", "--epochs", "1", "--no-log", *SMALL]) == 0      # auto: no bar
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "1", "--no-log", "--progress", "always", *SMALL])
    assert e.value.code == 1
    assert "the progress bar needs the 'tqdm' package" in capsys.readouterr().err


def test_threads_limit_blas_while_training_and_restore_after(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy

    from xpgrad.training import prepare

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info()
                if i["user_api"] == "blas"]

    seen = []
    plan = prepare(TrainConfig(epochs=1, hidden=(8,), progress=False, threads=1, max_steps=2))
    before = blas_threads()             # prepare loads MKL where the products use it
    real = type(plan.model).__call__

    def spy(self, *args, **kwargs):          # the thread counts BLAS has during each step
        seen.append(blas_threads())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(plan.model), "__call__", spy)
    plan.fit(echo=None)
    monkeypatch.undo()
    assert seen and all(t == [1] * len(t) for t in seen), seen
    assert blas_threads() == before
    assert numpy.ones(3).sum() == 3.0


_RESTORE_SCRIPT = """
import numba, torch
import xpgrad.threads as threads
numba.set_num_threads(1)
torch.set_num_threads(2)
limits = threads.limit(1, numba=True, torch=True)
limits.restore()
print(numba.get_num_threads(), torch.get_num_threads())
"""


@pytest.mark.parametrize("numba_threads", ["1", "2"])
def test_threads_limit_restores_numba_and_torch_each_to_its_own_count(numba_threads):
    """The undo of Numba's limit read PyTorch's earlier count (one closure variable for both):
    under NUMBA_NUM_THREADS=1 with PyTorch at 2 threads, training ended in Numba's
    ValueError; with more Numba threads it restored Numba to PyTorch's count."""
    pytest.importorskip("torch")
    pytest.importorskip("numba")
    env = {**os.environ, "NUMBA_NUM_THREADS": numba_threads}
    out = subprocess.run([sys.executable, "-c", _RESTORE_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "2"]
