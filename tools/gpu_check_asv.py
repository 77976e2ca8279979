"""The GPU check's benchmark rows in asv's result format, so that a lent device adds a point to
the asv dashboard next to the CPU history (``asv_results/``).

The check's ``bench`` stage (benchmarks/cuda_kernels.py) times the MLP and LSTM training steps
with the asv suites' own workloads (``xpgrad.bench_workloads``) for ``xpgrad-cupy`` and
``torch-cuda``; those rows become results of ``bench_mlp.MLPTrainStep.time_train_step`` and
``bench_lstm.LSTMTrainStep.time_train_step`` for a machine named after the device
(``gpu-nvidia-h200``), at the commit the check ran (its source stamp). Rows of other sections
measure different code than any asv benchmark and are left out. The check writes them under
``$OUT/asv-results/<machine>/``; copy that folder into ``asv_results/`` and publish:

    cp -r RUN/asv-results/gpu-* asv_results/ && python tools/asv_history.py --publish-only
    python tools/gpu_check_asv.py RUN/gpu_check.json asv_results   # again, from the check's JSON

>>> machine_name({"env": {"cupy": {"device": "NVIDIA H200"}}})
'gpu-nvidia-h200'
>>> match_row("MLP step 784-256-10 b4096")
('bench_mlp.MLPTrainStep.time_train_step', {'batch': 4096})
>>> match_row("softmax_cross_entropy 8192x32000") is None
True
"""
from __future__ import annotations

import argparse
import importlib
import itertools
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_NAME = "gpu-check"
#: a bench row's workload name -> (asv benchmark, parameter values other than ``lib``)
ROWS = (
    (re.compile(r"MLP step 784-256-10 b(?P<batch>\d+)$"),
     "bench_mlp.MLPTrainStep.time_train_step"),
    (re.compile(r"LSTM step b(?P<batch>\d+) h128 t50 i64$"),
     "bench_lstm.LSTMTrainStep.time_train_step"),
)


def match_row(workload: str):
    """``(benchmark name, {param: value})`` for a bench row asv has a benchmark for, else None."""
    for pattern, name in ROWS:
        m = pattern.match(workload)
        if m:
            return name, {k: int(v) for k, v in m.groupdict().items()}
    return None


def machine_name(state: dict) -> str:
    """``gpu-`` and the device's name as CuPy (else PyTorch) reports it, in lower case."""
    env = state.get("env") or {}
    device = ((env.get("cupy") or {}).get("device") or (env.get("torch") or {}).get("device")
              or "unknown")
    return "gpu-" + re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")


def suite(name: str):
    """The asv benchmark ``module.Class.method``'s class, imported from asv_benchmarks/."""
    module, cls, _ = name.split(".")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return getattr(importlib.import_module(f"asv_benchmarks.{module}"), cls)


def asv_documents(state: dict, date_ms: int | None = None):
    """``(machine name, machine.json dict, result dict)`` for the check's state, or None when
    it has no commit or no row that maps to an asv benchmark."""
    commit = (state.get("source") or {}).get("commit")
    rows = ((state.get("bench") or {}).get("rows") or [])
    measured = {}
    for row in rows:
        hit = match_row(row.get("workload", ""))
        if hit and row.get("ms") is not None:
            name, params = hit
            measured.setdefault(name, {})[(row["lib"], *params.values())] = row["ms"] / 1e3
    if not commit or not measured:
        return None
    machine = machine_name(state)
    env = state.get("env") or {}
    versions = {k: v for k, v in (env.get("packages") or {}).items() if isinstance(v, str)}
    info = {"machine": machine, "arch": env.get("machine", ""), "os": env.get("platform", ""),
            "cpu": "", "num_cpu": "", "ram": "", "version": 1}
    now_ms = int(time.time() * 1000)
    results = {}
    for name, values in measured.items():
        cls = suite(name)
        params = [[repr(v) for v in p] for p in cls.params]
        flat = [values.get(combo) for combo in itertools.product(*cls.params)]
        results[name] = [flat, params, str(cls.version), now_ms, None]
    doc = {"commit_hash": commit, "env_name": ENV_NAME, "date": date_ms or now_ms,
           "params": {"machine": machine, "python": env.get("python", "")},
           "python": env.get("python", ""), "requirements": versions, "env_vars": {},
           "result_columns": ["result", "params", "version", "started_at", "duration"],
           "results": results, "durations": {}, "version": 2}
    return machine, info, doc


def write_asv_results(state: dict, results_dir: Path, date_ms: int | None = None,
                      machine_file: bool = True) -> list:
    """Write the result file (and, with ``machine_file``, ``machine.json``, which ``asv
    publish`` needs and ``tools/asv_history.py`` also writes when it is missing: the device
    returns at most 8 files) under ``results_dir/<machine>/``; the paths written (none when
    nothing maps)."""
    docs = asv_documents(state, date_ms)
    if docs is None:
        return []
    machine, info, doc = docs
    folder = Path(results_dir) / machine
    folder.mkdir(parents=True, exist_ok=True)
    result = folder / f"{doc['commit_hash'][:8]}-{ENV_NAME}.json"
    result.write_text(json.dumps(doc, indent=1) + "\n")
    if not machine_file:
        return [result]
    (folder / "machine.json").write_text(json.dumps(info, indent=1) + "\n")
    return [folder / "machine.json", result]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("state", type=Path, help="the check's gpu_check.json")
    p.add_argument("results", type=Path, help="asv results folder (e.g. asv_results)")
    args = p.parse_args(argv)
    state = json.loads(args.state.read_text())
    date_ms = None
    commit = (state.get("source") or {}).get("commit")
    if commit:
        import subprocess

        out = subprocess.run(["git", "log", "-1", "--format=%ct", commit], cwd=ROOT,
                             capture_output=True, text=True)
        date_ms = int(out.stdout) * 1000 if out.returncode == 0 and out.stdout.strip() else None
    paths = write_asv_results(state, args.results, date_ms)
    print("\n".join(map(str, paths)) if paths else "no asv benchmark rows (or no commit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
