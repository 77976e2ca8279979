"""benchmarks/swapped_kernels.py, tiny: two versions in two workers taking turns on one
workload, thread CPU time; an A/A run's bootstrap interval holds its ratio, a version made
slower by CPU work (not sleep: thread time does not count a sleep) is found slower; a source
tree on disk is a version; the turns' schedule (fresh pairs of processes, each side started
and timed first as often as the other) with stand-in workers; the interval widened by a bias
of one pair of processes; --self-check; bad arguments, and those the workers refuse, exit 2."""
import importlib.util
import io
import sys
from pathlib import Path

import pytest
from gate_stand_ins import stand_in_workers

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


@pytest.fixture
def recording_workers(monkeypatch):
    return stand_in_workers(monkeypatch, asv_gate)


def _pairs_of(log):
    """The log split at each pair's first start: per pair, the sides started in order and the
    sides of its timed samples in order."""
    pairs = []
    for i, (kind, name, *_) in enumerate(log):
        if kind == "start" and (i == 0 or log[i - 1][0] != "start"):
            pairs.append(([], []))
        if kind == "start":
            pairs[-1][0].append(name)
        elif kind == "time":
            pairs[-1][1].append(name)
    return pairs


def test_the_rounds_are_split_among_fresh_pairs_each_side_first_as_often(recording_workers):
    row = swapped_kernels.compare(asv_gate.WORKTREE, asv_gate.WORKTREE, "chain", {}, rounds=8,
                                  min_time=0.002, workers=2, out=io.StringIO())
    log = recording_workers.log
    assert log.count(("close", "before")) == log.count(("close", "after")) == 2
    pairs = _pairs_of(log)
    assert [started for started, _ in pairs] == [["before", "after"], ["after", "before"]]
    for _, timed in pairs:
        rounds = [timed[i:i + 2] for i in range(0, len(timed), 2)]
        assert len(rounds) == 4 and all(sorted(r) == ["after", "before"] for r in rounds)
        assert sum(r[0] == "before" for r in rounds) == 2, rounds
    assert [first for _, first in row["pairs"]] == ["before", "after"]
    assert len(row["samples"]["before"]) == len(row["samples"]["after"]) == 8
    assert row["ratio"] == 1.0 and row["number"] == 2


def test_a_slower_side_is_read_from_the_samples_of_every_pair(recording_workers, monkeypatch):
    monkeypatch.setattr(recording_workers, "scale", 1.5)
    row = swapped_kernels.compare(asv_gate.WORKTREE, asv_gate.WORKTREE, "chain", {}, rounds=6,
                                  min_time=0.002, workers=3, out=io.StringIO())
    assert [ratio for ratio, _ in row["pairs"]] == [1.5, 1.5, 1.5]
    assert row["interval"] == (1.5, 1.5) and row["before"] == 1.0 and row["after"] == 1.5


def test_a_bias_of_one_pair_of_processes_widens_the_interval_to_hold_no_change():
    # four pairs of 30 rounds of an A/A run, each pair off by its own few percent: the rounds
    # pooled give a tight interval away from 1, the pairs resampled one that holds it
    biases = (0.97, 0.99, 1.01, 1.03, 0.98, 1.02)
    groups = [[bias * (1 + 0.002 * ((7 * r) % 5 - 2)) for r in range(30)] for bias in biases]
    low, high = swapped_kernels.clustered_interval(groups)
    assert low < 1 < high and high - low > 0.02
    pooled = asv_gate.bootstrap_interval([ratio for g in groups[:3] for ratio in g])
    assert pooled[1] < 1, pooled            # the same data without the pairs: falsely "faster"


def test_self_check_prints_the_a_to_a_ratio_first(recording_workers, capsys):
    assert swapped_kernels.main([asv_gate.WORKTREE, "HEAD", "--workload", "chain", "--rounds",
                                 "4", "--workers", "2", "--self-check"]) == 0
    out = capsys.readouterr().out
    assert out.index("A/A (before/before) 1.000") < out.index("after/before 1.000")
    assert out.count("per pair 1.000, 1.000") == 2


def test_bad_arguments_exit_2(capsys):
    for argv, words in ((["--workload", "chain", "--param", "batch"], "expected name=value"),
                        (["--workload", "chain", "--rounds", "2"], "--rounds must be"),
                        (["--workload", "chain", "--workers", "0"], "--workers at least 1"),
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
