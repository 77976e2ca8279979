"""The regression gate: time a change against its base on a short suite, interleaved, and fail
on a slowdown beyond the threshold.

    python tools/asv_gate.py                    # the working tree against merge-base(main, HEAD)
    python tools/asv_gate.py main HEAD          # two commits
    python tools/asv_gate.py HEAD HEAD          # an A/A run: the noise the threshold must clear
    python tools/asv_gate.py --backend numpy numba --json gate.json

Like ``asv continuous`` it compares two versions on the asv suites' workloads (this checkout's
``xpgrad/bench_workloads/``, at one thread per library), but both versions run at the same
time: two worker processes (tools/asv_gate_worker.py), each importing its own export of
xpgrad, take turns sample by sample (A B B A A B ...), so a change in machine load lands on
both sides alike. One pair of processes carries a bias of its own (memory layout, core: a few
percent) that no order of turns removes, so the ``--rounds`` are split among ``--workers``
fresh pairs, the side started first alternating (tools/paired_timing.py, as
benchmarks/swapped_kernels.py). A sample is a run of calls lasting at least ``--min-time``; a
workload's ratio is the median over all rounds of after/before of the samples of one round,
its interval the 95 % bootstrap interval resampling the pairs, then their rounds. A workload
is flagged when that ratio exceeds 1 + ``--threshold``, every round's ratio but a few (the
lower 10 % quantile) is above 1 (not one noisy round) and the interval is above 1 (not one
biased pair).
Exit status 1 when any workload is flagged, 0 otherwise, 2 for bad arguments.

The default threshold (``THRESHOLD``) comes from A/A runs on the shared 2-core development
machine (docs/asv.md, "Regression gate"): the largest A/A deviation seen, rounded up.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from asv_history import ROOT, export_commit, git  # noqa: E402
from paired_timing import (CLOCKS, bootstrap_interval, paired_ratios,  # noqa: E402,F401
                           pooled_ratios, time_in_fresh_pairs)

THRESHOLD = 0.10
#: fresh pairs of worker processes a run's rounds are split among (``--workers``)
WORKERS = 3
WORKTREE = "WORKTREE"
#: (workload, params, the backends it runs on) -- the tape, the MLP step, fused losses, LSTM
SUITE = (
    ("chain", {"n_ops": 100, "size": 4, "mode": "forward+gradient"}),
    ("chain", {"n_ops": 100, "size": 4, "mode": "forward"}),
    ("chain", {"n_ops": 1000, "size": 4, "mode": "forward+gradient"}),
    ("mlp_step", {"batch": 32}),
    ("mlp_step", {"batch": 128}),
    ("loss", {"name": "softmax_cross_entropy", "shape": [128, 10], "mode": "forward+backward"}),
    ("loss", {"name": "softmax_cross_entropy", "shape": [4096, 1000],
              "mode": "forward+backward"}),
    ("loss", {"name": "sigmoid_mse", "shape": [4096, 1000], "mode": "forward+backward"}),
    ("lstm_step", {"batch": 64, "hidden": 128, "steps": 50, "input_size": 64}),
)


def label(workload: str, params: dict) -> str:
    """A workload's row name.

    >>> label("loss", {"name": "mse", "shape": [128, 10], "mode": "forward"})
    'loss mse 128x10 forward'
    """
    parts = [workload]
    for v in params.values():
        parts.append("x".join(map(str, v)) if isinstance(v, list) else str(v))
    return " ".join(parts)


class Worker:
    """One version's worker process."""

    def __init__(self, site: Path, name: str):
        env = dict(os.environ, PYTHONPATH=str(site), XPGRAD_BENCH_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.name = name
        self.site = site
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "asv_gate_worker.py")], env=env, cwd=site,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **req) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker exited ({self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.name}: {reply['error']}")
        return reply

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def verdict(stats: dict, threshold: float) -> str:
    """"slower" / "faster" when the change passes the threshold, (nearly) every round agrees
    (the rounds' 10 % quantile ``low``, or 90 % ``high``, beyond 1) and so do the pairs of
    processes (the clustered ``interval`` excludes 1: one pair's bias does not decide).

    >>> verdict({"ratio": 1.25, "low": 1.1, "high": 1.4, "interval": (1.2, 1.3)}, 0.1)
    'slower'
    >>> verdict({"ratio": 1.25, "low": 0.95, "high": 1.4, "interval": (1.2, 1.3)}, 0.1)
    ''
    >>> verdict({"ratio": 1.25, "low": 1.1, "high": 1.4, "interval": (0.99, 1.3)}, 0.1)
    ''
    >>> verdict({"ratio": 0.7, "low": 0.6, "high": 0.8, "interval": (0.65, 0.75)}, 0.1)
    'faster'
    """
    low, high = stats["interval"]
    if stats["ratio"] > 1 + threshold and stats["low"] > 1 and low > 1:
        return "slower"
    if stats["ratio"] < 1 / (1 + threshold) and stats["high"] < 1 and high < 1:
        return "faster"
    return ""


def resolve(rev: str) -> str:
    """A commit's hash, ``WORKTREE``, or a source tree's absolute path (a directory holding
    ``xpgrad/`` and ``backends/``: another checkout or worktree, as it is on disk)."""
    if rev == WORKTREE:
        return rev
    if (Path(rev) / "xpgrad").is_dir():
        return str(Path(rev).resolve())
    return git("rev-parse", "--verify", f"{rev}^{{commit}}")


def export(rev: str, dest: Path) -> Path:
    """``rev``'s package (or the working tree's, uncommitted edits included, or a source
    tree's) under ``dest``."""
    if rev == WORKTREE:
        return copy_tree(ROOT, dest)
    if Path(rev).is_dir():
        return copy_tree(Path(rev), dest)
    return export_commit(rev, dest)


def copy_tree(root: Path, dest: Path) -> Path:
    """The package of the source tree ``root`` as its wheel lays it out, under ``dest``."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    package = root / "xpgrad"

    def ignore_package(directory, names):
        # a checkout's xpgrad/backends (a symlink to ../backends, or a copy) is replaced by
        # backends/ below, as the wheel lays it out
        dropped = {"backends"} if Path(directory) == package else set()
        return ignore(directory, names) | dropped

    shutil.copytree(package, dest / "xpgrad", ignore=ignore_package)
    shutil.copytree(root / "backends", dest / "xpgrad" / "backends", ignore=ignore)
    return dest


def run_gate(base: str, head: str, backends, rounds: int, min_time: float, threshold: float,
             clock: str = "cpu", only: str | None = None, out=None,
             workers: int = WORKERS) -> list[dict]:
    """Compare ``base`` with ``head`` on ``SUITE`` for each backend (workloads whose label
    matches the regular expression ``only``, when given), the ``rounds`` split among
    ``workers`` fresh pairs of processes (``paired_timing.time_in_fresh_pairs``); one row per
    workload; printed to ``out`` (default ``sys.stdout`` as it is then)."""
    import re

    out = out or sys.stdout
    suite = [(w, p) for w, p in SUITE if only is None or re.search(only, label(w, p))]
    if not suite:
        raise ValueError(f"--only {only!r} matches no workload of the gate's suite: "
                         f"{[label(w, p) for w, p in SUITE]}")
    jobs = [(f"xpgrad-{backend} {label(workload, params)}", workload, f"xpgrad-{backend}",
             params) for backend in backends for workload, params in suite]
    with tempfile.TemporaryDirectory(prefix="asv-gate-") as tmp:
        sites = {"before": export(base, Path(tmp, "before")),
                 "after": export(head, Path(tmp, "after"))}
        timed, unavailable = time_in_fresh_pairs(Worker, sites, jobs, rounds, workers, min_time,
                                                 out)
    return [_row(key, timed.get(key), unavailable.get(key), rounds, threshold, clock, out)
            for key, *_ in jobs]


def _row(key, pairs, why, rounds, threshold, clock, out) -> dict:
    """One workload's row from its pairs' samples (or ``why`` it could not be built)."""
    row = {"workload": key}
    if why is not None:
        row.update(verdict="n/a", why=why)
        print(f"{key:58s} n/a ({why})", file=out, flush=True)
        return row
    for c in CLOCKS:
        row[c] = pooled_ratios(pairs, c)
    row.update({k: v for k, v in row[clock].items() if k != "samples"}, rounds=rounds,
               clock=clock)
    row["verdict"] = verdict(row, threshold)
    low, high = row["interval"]
    each = " ".join(f"{ratio:.3f}" for ratio, _ in row["pairs"])
    print(f"{key:58s} {_fmt(row['before'])} -> {_fmt(row['after'])}  {row['ratio']:6.3f} "
          f"[{low:.3f}, {high:.3f}] pairs {each}  {row['verdict']}", file=out, flush=True)
    return row


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:7.3g} {unit:2s}"
    return f"{seconds * 1e9:7.3g} ns"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", nargs="?", help="the base commit (default: merge-base of main and "
                                           "HEAD)")
    p.add_argument("head", nargs="?", default=WORKTREE,
                   help=f"the change: a commit, or {WORKTREE} (default: the working tree, "
                        "uncommitted edits included)")
    p.add_argument("--backend", nargs="+", default=["numpy"], metavar="NAME",
                   help="xpgrad backends to time (default: numpy; numba compiles both "
                        "versions' kernels first)")
    p.add_argument("--rounds", type=int, default=15, help="interleaved samples per side "
                                                          "(default 15)")
    p.add_argument("--workers", type=int, default=WORKERS, metavar="N",
                   help="fresh pairs of worker processes the rounds are split among (default "
                        f"{WORKERS})")
    p.add_argument("--min-time", type=float, default=0.02, metavar="S",
                   help="seconds per sample at least (default 0.02)")
    p.add_argument("--threshold", type=float, default=THRESHOLD,
                   help=f"slowdown fraction that fails the gate (default {THRESHOLD})")
    p.add_argument("--clock", choices=CLOCKS, default="cpu",
                   help="what a sample measures: the worker's CPU time (default), wall time "
                        "or its main thread's CPU time")
    p.add_argument("--only", metavar="REGEX",
                   help="only the workloads whose label matches, e.g. 'chain|mlp_step'")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = p.parse_args(argv)
    if args.rounds < 3:
        p.error("--rounds must be at least 3")
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if not args.min_time > 0 or not args.threshold > 0:
        p.error("--min-time and --threshold must be positive")
    try:
        base = resolve(args.base or git("merge-base", "main", "HEAD"))
        head = resolve(args.head)
    except subprocess.CalledProcessError as e:
        p.error(f"not a commit: {e.stderr.strip()}")
    start, load = time.monotonic(), os.getloadavg()[0]
    print(f"gate: {base[:10]} -> {head[:10]}, backends {' '.join(args.backend)}, "
          f"{args.rounds} rounds of >= {args.min_time} s in {args.workers} pairs of "
          f"processes, {args.clock} time, threshold "
          f"{args.threshold:.0%}")
    try:
        rows = run_gate(base, head, args.backend, args.rounds, args.min_time, args.threshold,
                        args.clock, args.only, workers=args.workers)
    except ValueError as e:
        p.error(str(e))
    seconds = time.monotonic() - start
    slower = [r["workload"] for r in rows if r.get("verdict") == "slower"]
    print(f"{len(rows)} workloads in {seconds:.0f} s (load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after); "
          + (f"SLOWER: {', '.join(slower)}" if slower else "no slowdown beyond the threshold"))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"base": base, "head": head, "threshold": args.threshold, "rounds": args.rounds,
             "workers": args.workers, "clock": args.clock,
             "min_time": args.min_time, "seconds": seconds, "load_before": load,
             "rows": rows}, indent=1) + "\n")
    return 1 if slower else 0


if __name__ == "__main__":
    sys.exit(main())
