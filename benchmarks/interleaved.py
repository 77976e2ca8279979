"""What the layer benchmarks (conv1d.py, conv2d.py, cnn_blocks.py) share: their command line,
and the interleaved timing of xpgrad's backends against PyTorch, each first checked to give
PyTorch's output.

    >>> rows = compare([("sum", {"numpy": lambda: 1.0, "torch": lambda: 1.0})], ["numpy"],
    ...                rounds=1, repeats=1, tol=0.0, show=False)
    >>> [name for name, _ in rows]
    ['sum']
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")


def one_thread():
    """One thread for BLAS, OpenMP and Numba unless the environment says otherwise; call it
    before NumPy is imported, and only when run as a script (a test process keeps its own)."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def arguments(doc, argv=None, repeats=9):
    """``--repeats`` (default ``repeats``), ``--rounds``, ``--scale`` and ``--dtype``, described
    by ``doc``'s first line."""
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--repeats", type=cli_types.positive(int), default=repeats)
    p.add_argument("--rounds", type=cli_types.positive(int), default=3,
                   help="interleaved rounds (best is shown)")
    p.add_argument("--scale", type=cli_types.positive(float), default=1.0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    return p.parse_args(argv)


def median_ms(step, repeats, clock=time.process_time):
    """The median time of ``repeats`` calls of ``step`` by ``clock`` (the process's CPU time,
    which leaves out other processes' time-slices on a shared machine; ``time.perf_counter``
    for wall time), in milliseconds."""
    times = []
    for _ in range(repeats):
        t = clock()
        step()
        times.append(clock() - t)
    return statistics.median(times) * 1e3


def run(doc, argv, workloads, steps, *, tol32, repeats=9):
    """A layer benchmark's ``main``: its command line (``doc``'s first line), one thread for
    PyTorch (its count put back after), then ``compare`` (process CPU time) over ``workloads``,
    ``steps(args, backends, workload)`` giving each ``(name, {library: step})``; ``tol32`` is
    the float32 tolerance (float64: 1e-10)."""
    args = arguments(doc, argv, repeats)
    import torch

    import xpgrad as xg

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    backends = [b for b in ("numpy", "numba") if xg.available_backends()[b]["available"]]
    try:
        return compare((steps(args, backends, w) for w in workloads), backends,
                       rounds=args.rounds, repeats=args.repeats,
                       tol=tol32 if args.dtype == "float32" else 1e-10)
    finally:
        torch.set_num_threads(previous)


def compare(workloads, backends, *, rounds, repeats, tol, show=True, clock=time.process_time):
    """``[(name, {library: best ms})]`` for each ``(name, steps)`` of ``workloads``, where
    ``steps`` maps each of ``backends`` and ``"torch"`` to a call returning its output as a
    NumPy array: the outputs are first checked against torch's (``tol`` relative and absolute),
    then the steps run interleaved ``rounds`` times, each the median of ``repeats`` calls, and
    the best is kept. ``show``: print a line per workload with the ratios to torch.

    ``clock`` is the process's CPU time: every library runs on one thread here, and on a busy
    machine a call's wall time includes the time-slices of other processes that preempted it,
    which, once a call takes about half a slice of CPU, is in most calls and so in the median
    (docs/benchmarks.md, "Timing beside PyTorch on a shared machine")."""
    import numpy as np

    rows = []
    for name, steps in workloads:
        want = steps["torch"]()
        for be in backends:
            np.testing.assert_allclose(steps[be](), want, rtol=tol, atol=tol, err_msg=name)
        best = {k: float("inf") for k in steps}
        for _ in range(rounds):
            for k, step in steps.items():
                best[k] = min(best[k], median_ms(step, repeats, clock))
        rows.append((name, best))
        if show:
            ratios = "  ".join(f"{be} {best[be]:.2f} ms (x{best[be] / best['torch']:.2f})"
                               for be in backends)
            clock_name = "  (CPU)" if clock is time.process_time else ""
            print(f"{name:22s} torch {best['torch']:.2f} ms  {ratios}{clock_name}", flush=True)
    return rows
