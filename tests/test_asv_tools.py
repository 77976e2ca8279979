"""The asv tooling: the GPU check's results in asv's format (read back by asv, drawn by
``asv publish``), the history script's choice of commits, and the regression gate end to end
(an A/A comparison passes, an injected slowdown fails)."""
import doctest
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_PATH_BEFORE = list(sys.path)
sys.path.insert(0, str(ROOT / "tools"))
gpu_check_asv = importlib.import_module("gpu_check_asv")
asv_history = importlib.import_module("asv_history")
asv_gate = importlib.import_module("asv_gate")
sys.path[:] = _PATH_BEFORE          # asv_gate puts tools/ on the path again for itself

HAS_ASV = importlib.util.find_spec("asv") is not None


@pytest.mark.parametrize("module", [gpu_check_asv, asv_history, asv_gate],
                         ids=lambda m: m.__name__)
def test_doctests(module):
    assert doctest.testmod(module).failed == 0


def _head():
    return subprocess.run(["git", "rev-parse", "main"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


def _fake_state(commit):
    """What tools/gpu_check.py records on a device: its source, environment and bench rows."""
    rows = [{"workload": "MLP step 784-256-10 b128", "lib": "xpgrad-cupy", "ms": 0.5},
            {"workload": "MLP step 784-256-10 b128", "lib": "torch-cuda", "ms": 0.25},
            {"workload": "MLP step 784-256-10 b4096", "lib": "xpgrad-cupy", "ms": 1.5},
            {"workload": "LSTM step b64 h128 t50 i64", "lib": "torch-cuda", "ms": 4.0},
            {"workload": "LSTM step b256 h512 t50 i256", "lib": "torch-cuda", "ms": 9.0},
            {"workload": "softmax_cross_entropy 8192x32000", "lib": "torch-cuda", "ms": 3.0},
            {"workload": "MLP step 784-256-10 b32", "lib": "xpgrad-cupy", "ms": None,
             "note": "unavailable: x"}]
    return {"source": {"commit": commit},
            "env": {"python": "3.12.1", "platform": "Linux-6.8", "machine": "x86_64",
                    "packages": {"cupy": "14.2.0", "torch": "2.13.0", "numba": None},
                    "cupy": {"device": "NVIDIA H200", "device_count": 1}},
            "bench": {"rows": rows}}


def test_gpu_rows_are_written_as_asv_results(tmp_path):
    paths = gpu_check_asv.write_asv_results(_fake_state("a" * 40), tmp_path, date_ms=1000)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "gpu-nvidia-h200/machine.json", "gpu-nvidia-h200/aaaaaaaa-gpu-check.json"]
    doc = json.loads(paths[1].read_text())
    assert doc["commit_hash"] == "a" * 40 and doc["date"] == 1000 and doc["version"] == 2
    mlp = doc["results"]["bench_mlp.MLPTrainStep.time_train_step"]
    libs, batches = mlp[1]
    assert batches == ["32", "128", "4096"] and "'xpgrad-cupy'" in libs
    values = dict(zip([(lib, b) for lib in libs for b in batches], mlp[0]))
    assert values["'xpgrad-cupy'", "128"] == 0.5e-3
    assert values["'torch-cuda'", "128"] == 0.25e-3
    assert values["'xpgrad-cupy'", "4096"] == 1.5e-3
    assert values["'xpgrad-cupy'", "32"] is None          # unavailable there: no point
    assert sum(v is not None for v in mlp[0]) == 3
    lstm = doc["results"]["bench_lstm.LSTMTrainStep.time_train_step"]
    assert sum(v is not None for v in lstm[0]) == 1       # only the asv suite's LSTM size
    assert set(doc["results"]) == {"bench_mlp.MLPTrainStep.time_train_step",
                                   "bench_lstm.LSTMTrainStep.time_train_step"}


def test_gpu_without_commit_or_rows_writes_nothing(tmp_path):
    state = _fake_state(None)
    assert gpu_check_asv.write_asv_results(state, tmp_path) == []
    state = _fake_state("b" * 40)
    state["bench"]["rows"] = state["bench"]["rows"][-2:]
    assert gpu_check_asv.write_asv_results(state, tmp_path) == []
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(not HAS_ASV, reason="asv is not installed (pip install -e '.[dev]')")
def test_gpu_results_load_in_asv_and_reach_the_dashboard(tmp_path, monkeypatch):
    """asv reads the file back, and ``asv publish`` draws the GPU machine's point on the MLP
    graph (its benchmark version and parameters match the suites')."""
    from asv.results import Results

    commit = _head()
    results = tmp_path / "results"
    # as the check writes them on a device: the result file alone (8 files come back)
    assert len(gpu_check_asv.write_asv_results(_fake_state(commit), results,
                                               machine_file=False)) == 1
    loaded = Results.load(str(results / "gpu-nvidia-h200" / f"{commit[:8]}-gpu-check.json"),
                          "gpu-nvidia-h200")
    name = "bench_mlp.MLPTrainStep.time_train_step"
    params = loaded.get_result_params(name)
    values = dict(zip([(lib, b) for lib in params[0] for b in params[1]],
                      loaded.get_result_value(name, params)))
    assert values["'xpgrad-cupy'", "128"] == 0.5e-3
    # benchmarks.json as asv run writes it, for the two suites (asv check --python=same is
    # tested in test_benchmarks.py; here its output format is all publish needs)
    benchmarks = {"version": 2}
    monkeypatch.syspath_prepend(str(ROOT))      # suite() would put it there for good
    for bench in (name, "bench_lstm.LSTMTrainStep.time_train_step"):
        cls = gpu_check_asv.suite(bench)
        benchmarks[bench] = {
            "name": bench, "code": "", "type": "time", "unit": "seconds",
            "param_names": cls.param_names, "version": cls.version,
            "params": [[repr(v) for v in p] for p in cls.params], "timeout": 60}
    (results / "benchmarks.json").write_text(json.dumps(benchmarks))
    # publish needs the machine's machine.json: the history script writes it from the results
    assert asv_history.ensure_machine_files(results) == [results / "gpu-nvidia-h200" /
                                                         "machine.json"]
    assert asv_history.ensure_machine_files(results) == []
    conf = json.loads((ROOT / "asv.conf.json").read_text())
    conf.update(repo=str(ROOT), results_dir=str(results), html_dir=str(tmp_path / "html"),
                benchmark_dir=str(ROOT / "asv_benchmarks"), env_dir=str(tmp_path / "env"))
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    res = subprocess.run([sys.executable, "-m", "asv", "publish", "--config",
                          str(tmp_path / "asv.conf.json")], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    graphs = list((tmp_path / "html" / "graphs").rglob(f"{name}.json"))
    gpu = [g for g in graphs if "machine-gpu-nvidia-h200" in g.as_posix()]
    assert len(gpu) == 1, [g.as_posix() for g in graphs]
    (revision, values), = json.loads(gpu[0].read_text())     # one commit: one point
    combos = [(lib, b) for lib in params[0] for b in params[1]]
    assert values[combos.index(("'xpgrad-cupy'", "128"))] == 0.5e-3
    assert values[combos.index(("'torch-cuda'", "128"))] == 0.25e-3


def test_history_reads_measured_commits_and_plans_the_rest(tmp_path):
    (tmp_path / "machine.json").write_text("{}")
    (tmp_path / "benchmarks.json").write_text("{}")
    (tmp_path / "c3-env.json").write_text(json.dumps({"commit_hash": "c3"}))
    (tmp_path / "broken.json").write_text("not json")
    done = asv_history.measured_commits(tmp_path)
    assert done == {"c3"}
    commits = [f"c{i}" for i in range(8)]
    first = asv_history.plan(commits, done, 3)
    assert first[:2] == ["c0", "c7"] and len(first) == 3 and not set(first) & done
    everything = asv_history.plan(commits, done, 100)
    assert sorted(everything) == sorted(set(commits) - done)


def test_history_candidates_start_where_the_suites_do():
    commits = asv_history.candidate_commits()
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "main", "--",
                            "asv_benchmarks/__init__.py"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    assert commits[0] == added[-1] and commits[-1] == _head()


def _export_with_slow_apply(export, dest):
    """The working tree's xpgrad, with 1 ms of sleep each time a tape opens (once per step of
    the chain; the operations themselves bypass ``apply`` through their appliers)."""
    site = export(asv_gate.WORKTREE, dest)
    path = site / "xpgrad" / "tape.py"
    text = path.read_text()
    marker = "    def __enter__(self):\n"
    assert text.count(marker) == 1
    path.write_text(text.replace(
        marker, marker + "        __import__('time').sleep(0.001)  # injected by the test\n", 1))
    return site


def test_gate_passes_a_to_a_and_flags_an_injected_slowdown(monkeypatch):
    chain = ("chain", {"n_ops": 8, "size": 4, "mode": "forward+gradient"})
    monkeypatch.setattr(asv_gate, "SUITE", (chain,))
    rows = asv_gate.run_gate(asv_gate.WORKTREE, asv_gate.WORKTREE, ["numpy"], rounds=3,
                             min_time=0.002, threshold=0.5, clock="cpu")
    assert len(rows) == 1 and "ratio" in rows[0] and rows[0]["verdict"] != "slower", rows

    real_export = asv_gate.export

    def export(rev, dest):
        return (_export_with_slow_apply(real_export, dest) if dest.name == "after"
                else real_export(rev, dest))
    monkeypatch.setattr(asv_gate, "export", export)
    rows = asv_gate.run_gate(asv_gate.WORKTREE, asv_gate.WORKTREE, ["numpy"], rounds=3,
                             min_time=0.002, threshold=0.5, clock="wall")
    assert rows[0]["verdict"] == "slower" and rows[0]["ratio"] > 2, rows


def test_gate_rejects_bad_arguments(capsys):
    for argv in (["--rounds", "2"], ["--threshold", "0"], ["--min-time", "-1"]):
        with pytest.raises(SystemExit) as e:
            asv_gate.main(["HEAD", "HEAD", *argv])
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--rounds must be at least 3" in err and "must be positive" in err
    with pytest.raises(SystemExit):
        asv_gate.main(["no-such-commit-xyz", "HEAD"])
    assert "not a commit" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        asv_gate.main(["HEAD", "HEAD", "--only", "no-such-workload"])
    assert "--only 'no-such-workload' matches no workload" in capsys.readouterr().err


@pytest.mark.parametrize("link", [True, False], ids=["symlink", "directory"])
def test_gate_exports_a_worktree_whose_package_has_its_own_backends(tmp_path, monkeypatch,
                                                                     link):
    """A git worktree's xpgrad/backends (a symlink to ../backends, or a stale copy) is not
    copied over backends/: the export used to stop on FileExistsError."""
    root = tmp_path / "checkout"
    (root / "xpgrad").mkdir(parents=True)
    (root / "xpgrad" / "__init__.py").write_text("")
    (root / "backends").mkdir()
    (root / "backends" / "numpy.py").write_text("FRESH = True\n")
    if link:
        (root / "xpgrad" / "backends").symlink_to("../backends")
    else:
        (root / "xpgrad" / "backends").mkdir()
        (root / "xpgrad" / "backends" / "stale.py").write_text("")
    monkeypatch.setattr(asv_gate, "ROOT", root)
    site = asv_gate.export(asv_gate.WORKTREE, tmp_path / "site")
    exported = site / "xpgrad" / "backends"
    assert not exported.is_symlink()
    assert sorted(p.name for p in exported.iterdir()) == ["numpy.py"]
    assert (exported / "numpy.py").read_text() == "FRESH = True\n"
