"""Wall time of the default ``xpgrad train`` run: numpy, numba from a cold kernel cache, numba
warm, interleaved, with the import / loop / logs split.

    python benchmarks/train_wall_time.py --repeats 5
    python benchmarks/train_wall_time.py --repeats 5 --before /tmp/before   # an older tree too
    python benchmarks/train_wall_time.py --json out.json

Each repeat runs, one after another in fresh processes (``python -m xpgrad.cli train -q``):

- ``numpy``: ``--backend numpy``; ``numpy --no-log``: the same without event files or history,
  so ``logs`` = the difference of their medians;
- ``numba cold``: ``--backend numba`` with ``XPGRAD_NUMBA_CACHE_DIR`` an empty directory (Numba's
  cache there: no kernel compiled), then waits for the background compiler that run started
  (its pid is on the run's stderr) to finish before the next run, so no run competes with it;
- ``numba warm``: ``--backend numba`` again on that directory, now holding the run's kernels.

With ``--before DIR`` (a checkout of an older commit, whose ``xpgrad`` package is imported
from ``DIR`` through ``PYTHONPATH``), the numpy and numba-cold runs are repeated with it.
Every process runs in a scratch directory (``python -m`` imports from its working directory
first). ``loop`` is the sum of the epochs' seconds in ``history.json`` (training steps and their
evaluations); ``imports`` is a process that only imports what ``xpgrad train --backend numpy``
imports before it trains (``xpgrad.cli``, the training package, the NumPy backend's namespace).
Medians are printed; each numba run's ratio is to the numpy run of its own repeat.
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

IMPORTS = ("import xpgrad.cli, xpgrad.training, xpgrad.events, xpgrad.report; "
           "import xpgrad as xg; xg.get_backend('numpy').xp.asarray(0)")


def _run(argv, env, logs_in=None):
    """One process, logging (``logs_in`` given) into a new directory under ``logs_in`` (a run
    refuses a --logdir holding another run's logs): wall seconds, the loop seconds from its
    history (or None), its stderr."""
    logdir = logs_in and tempfile.mkdtemp(prefix="run-", dir=logs_in)
    args = [sys.executable, "-m", "xpgrad.cli", "train", "--progress", "never", *argv]
    args += ["--logdir", logdir] if logdir else ["--no-log"]
    t0 = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, cwd=logdir and
                         os.path.dirname(logdir) or tempfile.gettempdir())
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    loop = None
    if logdir:
        with open(os.path.join(logdir, "history.json")) as f:
            loop = sum(json.load(f)["seconds"])
    return wall, loop, out.stderr


def _wait_for_background(stderr, limit=600.0):
    pids = {int(p) for p in re.findall(r"\(pid (\d+)\)", stderr)}
    t0 = time.perf_counter()
    for pid in pids:
        while time.perf_counter() - t0 < limit:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    return time.perf_counter() - t0


def _parser():
    from xpgrad import cli_types

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=cli_types.positive(int), default=5)
    p.add_argument("--before", type=cli_types.source_tree, default=None,
                   help="an older source tree to run as well")
    p.add_argument("--json", default=None)
    return p


def main(argv=None):
    args = _parser().parse_args(argv)

    base = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    base.pop("PYTHONDONTWRITEBYTECODE", None)       # a user's run reads and writes .pyc files
    base.pop("NUMBA_CACHE_DIR", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    base["PYTHONPATH"] = os.pathsep.join(q for q in (root, base.get("PYTHONPATH")) if q)
    trees = {"": base}
    if args.before:
        trees[" (before)"] = dict(base, PYTHONPATH=os.pathsep.join(
            q for q in (os.path.abspath(args.before), base.get("PYTHONPATH")) if q))
    work = tempfile.mkdtemp(prefix="xpgrad-wall-")
    rows = {}

    def add(name, wall, loop=None):
        rows.setdefault(name, {"wall": [], "loop": []})
        rows[name]["wall"].append(wall)
        if loop is not None:
            rows[name]["loop"].append(loop)

    load0 = os.getloadavg()
    try:
        for rep in range(args.repeats + 1):          # the first repeat warms the .pyc files
            for suffix, env in trees.items():
                logdir = os.path.join(work, f"log{rep}")
                os.makedirs(logdir, exist_ok=True)
                results = {}
                results["numpy"] = _run(["--backend", "numpy"], env, logdir)
                results["numpy --no-log"] = _run(["--backend", "numpy"], env)
                cache = os.path.join(work, f"cache{rep}{suffix.strip()}")
                nb_env = dict(env, XPGRAD_NUMBA_CACHE_DIR=cache)
                results["numba cold"] = _run(["--backend", "numba"], nb_env, logdir)
                waited = _wait_for_background(results["numba cold"][2])
                if not suffix:
                    results["numba warm"] = _run(["--backend", "numba"], nb_env, logdir)
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-c", IMPORTS], env=env, check=True, cwd=work)
                imports = time.perf_counter() - t0
                shutil.rmtree(cache, ignore_errors=True)
                if rep == 0:
                    continue
                for name, (wall, loop, _) in results.items():
                    add(name + suffix, wall, loop)
                add("imports" + suffix, imports)
                numpy_wall = results["numpy"][0]
                for name in ("numba cold", "numba warm"):
                    if name in results:
                        add(f"{name}{suffix} / numpy{suffix}", results[name][0] / numpy_wall)
                add(f"background compile after the cold run{suffix}", waited)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load1 = os.getloadavg()

    print(f"load average (1, 5, 15 min): before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, "
          f"after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; {os.cpu_count()} CPUs; "
          f"{args.repeats} repeats")
    print(f"{'run':52s} {'median':>8s} {'min':>7s} {'max':>7s} {'loop':>7s}")
    summary = {}
    for name, r in rows.items():
        w = r["wall"]
        loop = statistics.median(r["loop"]) if r["loop"] else None
        unit = "" if "/" in name else " s"
        print(f"{name:52s} {statistics.median(w):7.2f}{unit or 'x'} {min(w):7.2f} {max(w):7.2f} "
              + (f"{loop:6.2f} s" if loop is not None else ""))
        summary[name] = {"median": statistics.median(w), "min": min(w), "max": max(w),
                         "loop_median": loop, "values": w}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_before": load0, "load_after": load1, "rows": summary}, f, indent=1)


if __name__ == "__main__":
    main()
