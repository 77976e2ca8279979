"""Where the default ``xpgrad train`` run spends its CPU time, phase by phase, for numpy and numba
(cold and warm kernel cache): CPU seconds of the run's own process, which a busy machine
disturbs far less than wall time, and which is about the wall time on an idle one (the run uses
one thread; the background compiler of a cold numba run is another process).

    python benchmarks/train_cpu_split.py --repeats 4
    python benchmarks/train_cpu_split.py --repeats 4 --before /tmp/f5a10eb   # an older tree too

Phases: ``start`` (the interpreter, before the first line), ``imports`` (what the run imports:
NumPy, xpgrad, the NumPy backend's array-api-compat namespace), ``prepare`` (backend, data,
model: for numba, importing Numba), ``loop`` (the epochs, their evaluations and event files),
``logs`` (``history.json``; ``curves.png`` too with ``--curves``: importing matplotlib and
drawing). A cold run
gets an empty ``XPGRAD_NUMBA_CACHE_DIR``; the next run waits for its background compiler.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

#: run in a fresh process: argv = logdir, backend; prints the phases' CPU seconds as JSON
CHILD = r"""
import time
C0 = time.process_time()
import json, sys
import numpy, threadpoolctl
import xpgrad, xpgrad.cli, xpgrad.training, xpgrad.events, xpgrad.report, xpgrad.data
xpgrad.get_backend("numpy").xp.asarray(0)
C1 = time.process_time()
import xpgrad.training.loop as loop
from xpgrad.cli import main
spent = {}
def timed(module, name):
    inner = getattr(module, name)
    def wrapper(*a, **k):
        c = time.process_time()
        try:
            return inner(*a, **k)
        finally:
            spent[name] = time.process_time() - c
    setattr(module, name, wrapper)
timed(loop, "_write_logs"); timed(loop, "_fit"); timed(xpgrad.training, "prepare")
assert main(["train", "--progress", "never", "--logdir", sys.argv[1],
             "--backend", sys.argv[2]]) == 0
print(json.dumps({"start": C0, "imports": C1 - C0, "prepare": spent["prepare"],
                  "loop": spent["_fit"] - spent["_write_logs"], "logs": spent["_write_logs"],
                  "total": time.process_time()}))
"""
RUNS = (("numpy", "numpy", None), ("numba cold", "numba", "cold"), ("numba warm", "numba", "warm"))


def _parser():
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=cli_types.positive(int), default=4)
    p.add_argument("--before", type=cli_types.source_tree, default=None,
                   help="an older source tree to run as well")
    return p


def _wait(stderr):
    for pid in map(int, re.findall(r"\(pid (\d+)\)", stderr)):
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def main(argv=None):
    args = _parser().parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"": root}
    if args.before:
        trees["before: "] = os.path.abspath(args.before)
    work = tempfile.mkdtemp(prefix="xpgrad-split-")
    rows = {}
    load0 = os.getloadavg()
    try:
        for rep in range(args.repeats + 1):          # the first repeat warms the .pyc files
            for prefix, tree in trees.items():
                cache = os.path.join(work, f"cache{rep}{len(prefix)}")
                for name, backend, state in RUNS:
                    if prefix and state == "warm":
                        continue
                    if state == "cold":
                        shutil.rmtree(cache, ignore_errors=True)
                    env = dict(os.environ, PYTHONPATH=tree, OPENBLAS_NUM_THREADS="1",
                               XPGRAD_NUMBA_CACHE_DIR=cache)
                    env.pop("PYTHONDONTWRITEBYTECODE", None)
                    env.pop("NUMBA_CACHE_DIR", None)
                    # a run of its own: xpgrad train refuses another run's --logdir
                    logdir = os.path.join(work, f"log{rep}-{len(prefix)}-{backend}-{state}")
                    out = subprocess.run([sys.executable, "-c", CHILD, logdir, backend], env=env,
                                         capture_output=True, text=True, cwd=work)
                    if out.returncode:
                        raise SystemExit(f"{prefix}{name} failed:\n{out.stderr[-3000:]}")
                    _wait(out.stderr)
                    if rep:
                        rows.setdefault(prefix + name, []).append(
                            json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load1 = os.getloadavg()
    print(f"load average (1 min) {load0[0]:.2f} before, {load1[0]:.2f} after; {args.repeats} "
          f"repeats; CPU seconds of the run's process, medians")
    phases = ("start", "imports", "prepare", "loop", "logs", "total")
    print(f"{'run':24s}" + "".join(f"{p:>9s}" for p in phases) + "  ratio")
    for name, results in rows.items():
        med = {p: statistics.median(r[p] for r in results) for p in phases}
        base = rows.get("before: numpy" if name.startswith("before") else "numpy")
        ratio = med["total"] / statistics.median(r["total"] for r in base) if base else None
        print(f"{name:24s}" + "".join(f"{med[p]:9.3f}" for p in phases)
              + (f"  {ratio:.2f}x" if ratio else ""))


if __name__ == "__main__":
    main()
