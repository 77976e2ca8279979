"""The regression gate's schedule and verdict with stand-in workers (no timing): the rounds split
among fresh pairs of processes, each side started and timed first as often as the other, every
pair timing every workload (one a side cannot build: n/a, asked once); a bias of one pair
widens the interval instead of failing the gate; the shared statistics' doctests
(tools/paired_timing.py)."""
import doctest
import importlib
import io
import json
import sys
from pathlib import Path

import pytest
from gate_stand_ins import stand_in_workers as use_stand_in_workers

ROOT = Path(__file__).resolve().parents[1]
_PATH_BEFORE = list(sys.path)
sys.path.insert(0, str(ROOT / "tools"))
asv_gate = importlib.import_module("asv_gate")
paired_timing = importlib.import_module("paired_timing")
sys.path[:] = _PATH_BEFORE          # asv_gate puts tools/ on the path again for itself
SUITE = (("chain", {"n_ops": 8}), ("mlp_step", {"batch": 32}))


@pytest.fixture
def stand_in_workers(monkeypatch):
    monkeypatch.setattr(asv_gate, "SUITE", SUITE)
    workers = use_stand_in_workers(monkeypatch, asv_gate)
    workers.jitter = 0.005
    return workers


def _gate(workers, rounds, threshold=0.1):
    return asv_gate.run_gate(asv_gate.WORKTREE, asv_gate.WORKTREE, ["numpy"], rounds=rounds,
                             min_time=0.002, threshold=threshold, clock="cpu", out=io.StringIO(),
                             workers=workers)


def test_doctests():
    assert doctest.testmod(paired_timing).failed == 0


def test_rounds_are_split_among_fresh_pairs_each_side_first_as_often(stand_in_workers):
    rows = _gate(workers=3, rounds=12)
    log = stand_in_workers.log
    starts = [entry for entry in log if entry[0] == "start"]
    assert [name for _, name in starts] == ["before", "after", "after", "before", "before",
                                            "after"]
    assert log.count(("close", "before")) == log.count(("close", "after")) == 3
    # each pair is closed before the next starts, and times both workloads, 4 rounds each
    pairs = "".join("s" if e[0] == "start" else "c" if e[0] == "close" else "" for e in log)
    assert pairs == "sscc" * 3
    first_side = {"before": 0, "after": 0}
    for row, (workload, params) in zip(rows, SUITE):
        key = row["workload"]
        assert key == f"xpgrad-numpy {asv_gate.label(workload, params)}"
        timed = [e[1] for e in log if e[0] == "time" and e[2] == key]
        rounds = [timed[i:i + 2] for i in range(0, len(timed), 2)]
        assert len(rounds) == 12 and all(sorted(r) == ["after", "before"] for r in rounds)
        for r in rounds:
            first_side[r[0]] += 1
        assert [first for _, first in row["pairs"]] == ["before", "after", "before"]
        assert len(row["cpu"]["samples"]["before"]) == 12 and row["rounds"] == 12
        assert row["verdict"] == "" and abs(row["ratio"] - 1) < 0.02, row
    assert first_side == {"before": 12, "after": 12}
    json.dumps(rows)                    # the rows go to --json as they are


def test_a_bias_of_one_pair_widens_the_interval_instead_of_failing_the_gate(stand_in_workers):
    # the first pair reads the unchanged code 30 % slower on the "after" side
    stand_in_workers.bias = {0: 1.3}
    alone = _gate(workers=1, rounds=12)      # one pair, as the gate was: a false "slower"
    assert all(row["verdict"] == "slower" and row["interval"][0] > 1.25 for row in alone)
    stand_in_workers.log.clear()
    rows = _gate(workers=3, rounds=12)
    for row in rows:
        low, high = row["interval"]
        assert [round(ratio, 1) for ratio, _ in row["pairs"]] == [1.3, 1.0, 1.0]
        assert low < 1.01 and high > 1.25 and row["verdict"] == "", row


def test_a_slowdown_read_by_every_pair_fails_the_gate(stand_in_workers):
    stand_in_workers.bias = {0: 1.3, 1: 1.25, 2: 1.35}
    rows = _gate(workers=3, rounds=9)
    assert all(row["verdict"] == "slower" and row["interval"][0] > 1.2 for row in rows), rows


def test_a_workload_a_side_cannot_build_is_n_a_and_not_built_again(stand_in_workers):
    unbuilt = f"xpgrad-numpy {asv_gate.label(*SUITE[0])}"
    stand_in_workers.unavailable = (unbuilt,)
    rows = _gate(workers=3, rounds=6)
    assert rows[0] == {"workload": unbuilt, "verdict": "n/a",
                       "why": "before: not on this stand-in"}
    assert rows[1]["verdict"] == "" and len(rows[1]["pairs"]) == 3
    assert [e for e in stand_in_workers.log if e[0] == "build" and e[2] == unbuilt] == [
        ("build", "before", unbuilt)]


def test_workers_option(stand_in_workers, tmp_path, capsys):
    gate_json = tmp_path / "gate.json"
    assert asv_gate.main(["HEAD", "HEAD", "--workers", "2", "--rounds", "4", "--min-time",
                          "0.002", "--json", str(gate_json)]) == 0
    out = capsys.readouterr().out
    assert "4 rounds of >= 0.002 s in 2 pairs of processes" in out
    assert "pairs 1.000 1.000" in out
    written = json.loads(gate_json.read_text())
    assert written["workers"] == 2 and len(written["rows"][0]["pairs"]) == 2
    with pytest.raises(SystemExit) as caught:
        asv_gate.main(["HEAD", "HEAD", "--workers", "0"])
    assert caught.value.code == 2 and "--workers must be at least 1" in capsys.readouterr().err
