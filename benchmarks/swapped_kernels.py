"""Two versions of xpgrad on one named workload, interleaved, for a difference smaller than a
shared machine's noise: each version (a commit, ``WORKTREE``, or a source tree such as another
git worktree) runs in its own worker process (the regression gate's, tools/asv_gate.py), the two
taking turns sample by sample (A B, B A, ...) so a change in load lands on both; each sample is
the thread CPU time (``time.thread_time_ns``) of as many calls as last ``--min-time``, compile
time excluded (the workload runs once when built). Printed: each side's median time per call,
the median of the rounds' after/before ratios and its 95 % bootstrap confidence interval.

    python benchmarks/swapped_kernels.py main WORKTREE --workload mlp_step --param batch=32
    python benchmarks/swapped_kernels.py /work/main /work/wt/x --workload lstm_step --backend numba

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
            clock="thread", out=sys.stdout) -> dict:
    """Time ``workload(**params)`` of xpgrad's ``backend`` in ``before`` and ``after`` (as
    ``asv_gate.resolve`` takes them), interleaved ``rounds`` times; the gate's statistics of
    ``clock`` (``asv_gate.paired_ratios``), with ``samples`` and ``number`` (calls a sample)."""
    lib = f"xpgrad-{backend}"
    key = f"{lib} {asv_gate.label(workload, params)}"
    before, after = asv_gate.resolve(before), asv_gate.resolve(after)
    with tempfile.TemporaryDirectory(prefix="swapped-kernels-") as tmp:
        sides = [asv_gate.Worker(asv_gate.export(before, Path(tmp, "before")), "before"),
                 asv_gate.Worker(asv_gate.export(after, Path(tmp, "after")), "after")]
        try:
            times, number = asv_gate.interleaved_times(sides, key, workload, lib, params,
                                                       rounds, min_time)
        finally:
            for side in sides:
                side.close()
    if number is None:
        raise RuntimeError(f"{key}: {times}")
    row = asv_gate.paired_ratios(times["before", clock], times["after", clock])
    row.update(samples={"before": times["before", clock], "after": times["after", clock]},
               number=number, workload=key)
    low, high = row["interval"]
    print(f"{key}: {clock} time per call, {rounds} rounds of {number} calls\n"
          f"  before {asv_gate._fmt(row['before'])} ({before})\n"
          f"  after  {asv_gate._fmt(row['after'])} ({after})\n"
          f"  after/before {row['ratio']:.3f}, 95 % bootstrap interval [{low:.3f}, {high:.3f}]",
          file=out, flush=True)
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
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.rounds < 3 or not args.min_time > 0:
        p.error("--rounds must be at least 3 and --min-time positive")
    try:
        compare(args.before, args.after, args.workload, dict(args.param), args.backend,
                args.rounds, args.min_time, args.clock)
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
