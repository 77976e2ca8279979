"""The command line under bad input (the API's cases are in ``test_bad_inputs_api.py``): each
case exited with a traceback (status 1), silently did something else, or ran minutes before
failing; now it exits 2 with one line naming the flag before any work."""
import os

import pytest


def _cli_error(argv, capsys):
    """Run ``xpgrad argv`` in-process; the one line it printed, asserting exit status 2."""
    from xpgrad.cli import main

    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("where, words", [("missing", "does not exist"),
                                          ("dir", "is a directory"), ("empty", "is empty"),
                                          ("read-only", "cannot write in '/sys'")])
def test_bench_json_path_is_checked_before_timing(tmp_path, capsys, where, words):
    if where == "read-only" and not os.path.isdir("/sys"):
        pytest.skip("needs Linux's /sys, where no file can be made (root included)")
    path = {"missing": str(tmp_path / "no" / "x.json"), "dir": str(tmp_path), "empty": "",
            "read-only": "/sys/xpgrad-bench.json"}[where]
    err = _cli_error(["bench", "--json", path, "--quick", "--only", "loss", "--backend",
                      "numpy", "--repeat", "1", "--peers"], capsys)   # raised OSError, exit 1
    assert "--json" in err and words in err


def _run_dir(tmp_path):
    import json

    run = tmp_path / "run"
    run.mkdir()
    history = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "test_loss": [1.1, 0.7],
               "train_accuracy": [0.5, 0.8], "test_accuracy": [0.4, 0.7]}
    (run / "history.json").write_text(json.dumps(history))
    return run


def test_plot_reports_the_file_it_wrote(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from xpgrad.cli import main

    run = _run_dir(tmp_path)
    assert main(["plot", str(run), "-o", str(tmp_path / "curves")]) == 0
    said = capsys.readouterr().out.strip().split("wrote curves: ")[1]
    assert os.path.isfile(said), f"said {said!r}, wrote {sorted(os.listdir(tmp_path))}"


def test_plot_output_directory_is_refused(tmp_path, capsys):
    run = _run_dir(tmp_path)
    err = _cli_error(["plot", str(run), "-o", str(run)], capsys)     # wrote run.png before
    assert "--output" in err and "is a directory" in err
    assert not os.path.exists(str(run) + ".png")


@pytest.mark.parametrize("hidden", ["8,,4", "8,", ",8"])
def test_train_hidden_with_an_empty_size_is_refused(capsys, hidden):
    err = _cli_error(["train", "--hidden", hidden, "--epochs", "1", "--max-steps", "1",
                      "--no-log", "--quiet"], capsys)                 # trained 8,4 before
    assert "--hidden" in err and "empty layer size" in err


def test_info_reports_a_bad_xpgrad_backend(monkeypatch, capsys):
    from xpgrad.cli import main

    monkeypatch.setenv("XPGRAD_BACKEND", "nump")
    assert main(["info"]) == 0                                  # was a traceback, exit 1
    out = capsys.readouterr().out
    assert "current backend: none ($XPGRAD_BACKEND='nump'" in out
    assert "numpy" in out.split("backends:")[1]


def test_train_names_xpgrad_backend(monkeypatch, capsys):
    monkeypatch.setenv("XPGRAD_BACKEND", "nump")
    err = _cli_error(["train", "--epochs", "1", "--max-steps", "1", "--no-log", "--quiet"],
                     capsys)
    assert "$XPGRAD_BACKEND='nump'" in err and "unknown backend" in err


@pytest.mark.parametrize("flag", ["--checkpoint", "--logdir", "--resume", "--data-dir"])
def test_train_refuses_an_empty_path(tmp_path, capsys, monkeypatch, flag):
    monkeypatch.chdir(tmp_path)
    argv = ["train", flag, "", "--epochs", "1", "--max-steps", "1", "--quiet"]
    if flag != "--logdir":
        argv.append("--no-log")
    if flag == "--data-dir":
        argv += ["--dataset", "mnist"]
    err = _cli_error(argv, capsys)     # --checkpoint "" trained and saved nothing, exit 0
    assert f"{flag} is empty" in err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("count", ["99999999999999999999", "100000"])   # a ctypes traceback;
@pytest.mark.parametrize("command", ["train", "bench"])                  # OpenMP's abort
def test_threads_beyond_the_cap_exit_2(capsys, command, count):
    err = _cli_error([command, "--threads", count], capsys)
    assert "--threads: must be at most 1024" in err


def test_train_hidden_too_large_for_memory_exits_2(capsys):
    # 64 x 10**15 float32 weights (256 PB) exceed any address space: refused by the estimate
    # before building (training/memory_check.py), or where the machine's memory is unknown by
    # the MemoryError, a traceback before either
    err = _cli_error(["train", "--hidden", str(10**15), "--epochs", "1", "--max-steps", "1",
                      "--no-log", "--quiet"], capsys)
    assert "--hidden" in err
    assert "not enough memory" in err or "more than this machine's" in err
