"""benchmarks/swapped_kernels.py, tiny: two versions in two workers taking turns on one
workload, thread CPU time; an A/A run's bootstrap interval holds its ratio, a version made
slower by CPU work (not sleep: thread time does not count a sleep) is found slower; a source
tree on disk is a version; bad arguments, and those the workers refuse, exit 2."""
import importlib.util
import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_PATH_BEFORE = list(sys.path)
_spec = importlib.util.spec_from_file_location("swapped_kernels",
                                               ROOT / "benchmarks" / "swapped_kernels.py")
swapped_kernels = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(swapped_kernels)
sys.path[:] = _PATH_BEFORE          # the script puts tools/ on the path for itself
asv_gate = swapped_kernels.asv_gate
CHAIN = dict(workload="chain", params={"n_ops": 8, "size": 4, "mode": "forward+gradient"},
             rounds=3, min_time=0.002)
pytestmark = pytest.mark.usefixtures("environ_kept")


def _export_with_busy_tape(export, rev, dest):
    """``rev``'s export with about 0.3 ms of arithmetic each time a tape opens (once a step)."""
    site = export(rev, dest)
    path = site / "xpgrad" / "tape.py"
    text = path.read_text()
    marker = "    def __enter__(self):\n"
    assert text.count(marker) == 1
    path.write_text(text.replace(marker, marker + "        sum(range(20000))  # the test's\n", 1))
    return site


def test_a_to_a_interval_holds_the_ratio_and_a_source_tree_is_a_version():
    out = io.StringIO()
    row = swapped_kernels.compare(asv_gate.WORKTREE, str(ROOT), **CHAIN, out=out)
    low, high = row["interval"]
    assert low <= row["ratio"] <= high and row["number"] >= 1
    assert len(row["samples"]["before"]) == len(row["samples"]["after"]) == 3
    assert all(t > 0 for t in row["samples"]["before"] + row["samples"]["after"])
    assert f"({ROOT.resolve()})" in out.getvalue() and "bootstrap interval" in out.getvalue()


def test_cpu_work_added_to_one_side_is_found(monkeypatch):
    real_export = asv_gate.export

    def export(rev, dest):
        if dest.name == "after":
            return _export_with_busy_tape(real_export, rev, dest)
        return real_export(rev, dest)
    monkeypatch.setattr(asv_gate, "export", export)
    row = swapped_kernels.compare(asv_gate.WORKTREE, asv_gate.WORKTREE, **CHAIN,
                                  out=io.StringIO())
    assert row["ratio"] > 2 and row["interval"][0] > 1, row


def test_bad_arguments_exit_2(capsys):
    for argv, words in ((["--workload", "chain", "--param", "batch"], "expected name=value"),
                        (["--workload", "chain", "--rounds", "2"], "--rounds must be"),
                        (["--workload", "no_such"], "invalid choice"),
                        (["--workload", "chain"], None)):
        with pytest.raises(SystemExit) as caught:
            swapped_kernels.main(["no-such-commit-xyz" if words is None else "HEAD", "HEAD",
                                  *argv])
        assert caught.value.code == 2
        assert (words or "not a commit or a source tree") in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--param", "no_such=3"], "unexpected keyword argument 'no_such'"),
    (["--backend", "no_such"], "unknown backend 'no_such'"),
], ids=["param", "backend"])
def test_what_the_workers_refuse_exits_2_with_their_message(argv, words, capsys):
    # the workload's parameters and the backend are checked where the workers build it
    with pytest.raises(SystemExit) as caught:
        swapped_kernels.main([asv_gate.WORKTREE, asv_gate.WORKTREE, "--workload", "chain",
                              "--rounds", "3", "--min-time", "0.002", *argv])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
