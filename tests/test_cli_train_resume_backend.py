"""`xpgrad train --resume` continues on the saved run's --backend, not on $XPGRAD_BACKEND;
a --backend given again wins, with a one-line note that it differs from the saved one."""
import pytest

from xpgrad.cli import main

pytestmark = pytest.mark.usefixtures("numpy_default")

RUN = ["train", "--no-log", "--progress", "never", "--hidden", "8", "--batch-size", "256",
       "--epochs", "2"]


def _backend_line(out):
    """The backend the run reports in its settings line."""
    lines = [line for line in out.splitlines() if "; backend " in line]
    assert len(lines) == 1, out
    return lines[0].rsplit("; backend ", 1)[1]


@pytest.fixture
def saved_on_numpy(tmp_path, capsys):
    path = str(tmp_path / "part.npz")
    assert main([*RUN, "-q", "--backend", "numpy", "--checkpoint", path, "--max-steps", "2"]) == 0
    capsys.readouterr()
    return path


def test_resume_keeps_the_saved_backend_over_the_environment(saved_on_numpy, capsys,
                                                             monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("XPGRAD_BACKEND", "numba")
    assert main(["train", "--no-log", "--progress", "never", "--max-steps", "1",
                 "--resume", saved_on_numpy]) == 0
    out, err = capsys.readouterr()
    assert _backend_line(out) == "numpy"
    assert "was trained with --backend" not in err


def test_a_backend_given_again_wins_with_a_note(saved_on_numpy, capsys):
    pytest.importorskip("numba")
    assert main(["train", "--no-log", "--progress", "never", "--max-steps", "1",
                 "--backend", "numba", "--resume", saved_on_numpy]) == 0
    out, err = capsys.readouterr()
    assert _backend_line(out) == "numba"
    notes = [line for line in err.splitlines() if "was trained with --backend numpy" in line]
    assert notes == [f"xpgrad: note: {saved_on_numpy} was trained with --backend numpy; this "
                     f"run continues it with --backend numba"]


def test_the_same_backend_given_again_says_nothing(saved_on_numpy, capsys):
    assert main(["train", "--no-log", "--progress", "never", "--max-steps", "1",
                 "--backend", "numpy", "--resume", saved_on_numpy]) == 0
    out, err = capsys.readouterr()
    assert _backend_line(out) == "numpy"
    assert "was trained with" not in err
