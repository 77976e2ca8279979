"""Two versions of xpgrad on one named workload, interleaved, for a difference smaller than a
shared machine's noise: each version (a commit, ``WORKTREE``, or a source tree such as another
git worktree) runs in its own worker process (the regression gate's, tools/asv_gate.py), the two
taking turns sample by sample (A B, B A, ...) so a change in load lands on both; each sample is
the thread CPU time (``time.thread_time_ns``) of as many calls as last ``--min-time``, compile
time excluded (the workload runs once when built). The rounds are split among ``--workers``
fresh pairs of processes, the side started, built and timed first alternating from pair to pair:
one pair of processes carries a bias of its own (memory layout, hash seed, core: up to 3 % on
``lstm_step`` with the same code on both sides) that no order of turns within it removes, so
the interval resamples the pairs, then the rounds within each (``clustered_interval``).
Printed: each side's median time per call, each pair's median ratio, the median of all rounds'
after/before ratios and its 95 % bootstrap confidence interval; ``--self-check`` first runs
``before`` against a second copy of itself the same way and prints that A/A ratio (the bias
the method leaves, with its interval).

    python benchmarks/swapped_kernels.py main WORKTREE --workload mlp_step --param batch=32
    python benchmarks/swapped_kernels.py /work/main /work/wt/x --workload lstm_step --backend numba
    python benchmarks/swapped_kernels.py main main --workload lstm_step --rounds 96 --self-check

``--param name=value`` sets the workload's parameters (``xpgrad/bench_workloads``: ``chain``
``n_ops``/``size``/``mode``, ``mlp_step`` ``batch``, ``lstm_step`` ``batch``/``hidden``/``steps``,
...; a value is read as a Python literal where it is one).
"""
from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import asv_gate  # noqa: E402
from paired_timing import (SIDES, clustered_interval, pooled_ratios,  # noqa: E402,F401
                           time_in_fresh_pairs)


def parameter(text):
    """``name=value`` as ``(name, value)``, the value a Python literal where it parses as one.

    >>> parameter("batch=32"), parameter("mode=forward")
    (('batch', 32), ('mode', 'forward'))
    """
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def compare(before, after, workload, params, backend="numpy", rounds=30, min_time=0.02,
            clock="thread", workers=4, out=None, label="after/before") -> dict:
    """Time ``workload(**params)`` of xpgrad's ``backend`` in ``before`` and ``after`` (as
    ``asv_gate.resolve`` takes them), interleaved ``rounds`` times over ``workers`` fresh pairs
    of processes (``paired_timing.time_in_fresh_pairs``); the statistics of ``clock``
    (``paired_timing.pooled_ratios``: ``interval`` the ``clustered_interval``, ``pairs`` each
    pair's median ratio and the side started first, ``samples``, ``number``); printed to
    ``out`` (default ``sys.stdout`` as it is then)."""
    lib = f"xpgrad-{backend}"
    key = f"{lib} {asv_gate.label(workload, params)}"
    trees = dict(zip(SIDES, (asv_gate.resolve(before), asv_gate.resolve(after))))
    with tempfile.TemporaryDirectory(prefix="swapped-kernels-") as tmp:
        sites = {side: asv_gate.export(trees[side], Path(tmp, side)) for side in SIDES}
        timed, unavailable = time_in_fresh_pairs(asv_gate.Worker, sites,
                                                 [(key, workload, lib, params)], rounds,
                                                 workers, min_time)
    if unavailable:
        raise RuntimeError(f"{key}: {unavailable[key]}")
    row = pooled_ratios(timed[key], clock)
    row["workload"] = key
    pairs = row["pairs"]
    low, high = row["interval"]
    each = ", ".join(f"{ratio:.3f}" for ratio, _ in pairs)
    print(f"{key}: {clock} time per call, {rounds} rounds of {row['number']} calls in "
          f"{len(pairs)} pairs of processes\n"
          f"  before {asv_gate._fmt(row['before'])} ({trees['before']})\n"
          f"  after  {asv_gate._fmt(row['after'])} ({trees['after']})\n"
          f"  {label} per pair {each}\n"
          f"  {label} {row['ratio']:.3f}, 95 % bootstrap interval [{low:.3f}, {high:.3f}]",
          file=out or sys.stdout, flush=True)
    return row


def parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", help=f"a commit, {asv_gate.WORKTREE} or a source tree's directory")
    p.add_argument("after", help="the same, for the other side")
    p.add_argument("--workload", required=True, choices=sorted(_workload_names()))
    p.add_argument("--param", type=parameter, action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--backend", default="numpy", help="xpgrad's backend (default numpy)")
    p.add_argument("--rounds", type=int, default=30, help="samples per side (default 30)")
    p.add_argument("--min-time", type=float, default=0.02, metavar="S",
                   help="seconds per sample at least (default 0.02)")
    p.add_argument("--clock", choices=asv_gate.CLOCKS, default="thread")
    p.add_argument("--workers", type=int, default=4, metavar="N",
                   help="fresh pairs of worker processes the rounds are split among (default 4)")
    p.add_argument("--self-check", action="store_true",
                   help="first time BEFORE against a copy of itself the same way: the A/A bias")
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.rounds < 3 or not args.min_time > 0 or args.workers < 1:
        p.error("--rounds must be at least 3, --min-time positive and --workers at least 1")
    try:
        runs = [(args.before, "A/A (before/before)")] if args.self_check else []
        for after, label in runs + [(args.after, "after/before")]:
            compare(args.before, after, args.workload, dict(args.param), args.backend,
                    args.rounds, args.min_time, args.clock, args.workers, label=label)
    except subprocess.CalledProcessError as e:
        p.error(f"not a commit or a source tree: {e.stderr.strip()}")
    except RuntimeError as e:       # what a worker refused: a --param, the --backend
        p.error(str(e))
    return 0


def _workload_names():
    """The workloads the gate's workers build (``xpgrad/bench_workloads``)."""
    from xpgrad.bench_workloads import WORKLOADS

    return WORKLOADS


if __name__ == "__main__":
    sys.exit(main())
