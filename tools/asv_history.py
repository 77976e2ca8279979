"""Benchmark the project's landed commits with asv, keep the results in the repository, publish the
dashboard and screenshot two of its graphs.

    python tools/asv_history.py                  # up to 20 commits not yet measured, then publish
    python tools/asv_history.py --max-new 5      # a shorter session: the history grows by 5 points
    python tools/asv_history.py --list           # which commits it would measure, and stop
    python tools/asv_history.py --publish-only   # dashboard and screenshots from kept results

Every commit of ``main`` (first parent) since the asv suites exist is a candidate. A session
measures the newest and the first commit when they are not measured yet, then the middle commit
of the longest unmeasured run, again and again, so each session makes the history denser instead
of starting over (and one cut short leaves its points spread out). Results go to
``asv_results/<machine>/`` (kept in git: ``asv.conf.json``'s ``.asv/results`` is for ad-hoc runs
and stays out of it).

Each commit is measured by asv itself, with asv's default repeat, warm-up and sample settings
(never ``--quick``; one round of samples instead of asv's two), in this Python
(``--python=same``, recorded under the commit with ``--set-commit-hash``). The commit's
``xpgrad/`` and ``backends/`` are exported with ``git archive`` into the layout its wheel would
install, and asv's benchmark processes import that copy (``ASV_PYTHONPATH``); the benchmark
definitions and workloads are this checkout's, so every commit runs the same code. Every library
runs at one thread (``XPGRAD_BENCH_THREADS``, BLAS through threadpoolctl,
``torch.set_num_threads``). PyTorch (and JAX where installed) is measured in every commit's run
on the same graphs: it does not change between commits, so its line shows what the machine's
load did to the numbers.

The suite (``SUITE``) is short so that a session finishes on a shared 2-core machine: the tape
overhead (100 ops, taped + gradient), the MLP step (time at batch 32 and 128, peak memory at
4096), the LSTM step (time and peak memory) on the NumPy backend. Numba is left out: each
commit's kernels would compile from scratch (20-40 s per commit, outside the timings but not the
session).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "asv_results"
HTML = ROOT / ".asv" / "html-history"
DEFAULT_MACHINE = "dev-2cpu-shared"
BRANCH = "main"
PEERS = "torch-cpu|jax-cpu"
LIBS = f"xpgrad-numpy|{PEERS}"
#: asv ``-b`` patterns: a parameterized benchmark is matched as ``name(param, param, ...)``
SUITE = (
    rf"TapeOverhead\.time_chain\('({LIBS})', 100, 'forward\+gradient'\)",
    rf"MLPTrainStep\.time_train_step\('({LIBS})', (32|128)\)",
    rf"MLPTrainStep\.peakmem_train_step\('({LIBS})', 4096\)",
    rf"LSTMTrainStep\.(time|peakmem)_train_step\('({LIBS})', 64\)",
)
#: asv's defaults but one round instead of two (``processes`` is asv's older name for
#: ``rounds``): 5 samples per benchmark instead of 10, the session takes half as long
ATTRIBUTES = ("processes=1",)
#: the two graphs in docs/: (file, asv graph page: benchmark?parameter selection)
SCREENSHOTS = (
    ("docs/asv-history-tape.png", "bench_tape.TapeOverhead.time_chain",
     {"lib": ["xpgrad-numpy", "torch-cpu"], "n_ops": ["100"], "mode": ["forward+gradient"]}),
    ("docs/asv-history-mlp.png", "bench_mlp.MLPTrainStep.time_train_step",
     {"lib": ["xpgrad-numpy", "torch-cpu"], "batch": ["128"]}),
)


def git(*args, cwd=ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def candidate_commits(branch=BRANCH) -> list[str]:
    """Full hashes of ``branch``'s first-parent commits since the asv suites were added,
    oldest first."""
    first = git("log", "--first-parent", "--reverse", "--format=%H", branch, "--",
                "asv_benchmarks").splitlines()
    if not first:
        raise SystemExit(f"no commit of {branch} has asv_benchmarks/")
    return git("rev-list", "--first-parent", "--reverse", f"{first[0]}^..{branch}").splitlines()


def measured_commits(results_dir: Path) -> set[str]:
    """Commit hashes with a result file in ``results_dir`` (one machine's directory)."""
    done = set()
    for path in results_dir.glob("*.json"):
        if path.name in ("machine.json", "benchmarks.json"):
            continue
        try:
            done.add(json.loads(path.read_text())["commit_hash"])
        except (ValueError, KeyError):
            continue
    return done


def plan(commits: list[str], done: set[str], max_new: int) -> list[str]:
    """Up to ``max_new`` commits to measure, in the order to measure them: the ends of the
    history (first and newest), then the middle of the longest unmeasured run, again and again
    (a session cut short leaves points spread over the whole history).

    >>> c = [f"c{i}" for i in range(10)]
    >>> plan(c, set(), 3)
    ['c0', 'c9', 'c4']
    >>> plan(c, {"c0", "c4", "c9"}, 2)
    ['c6', 'c2']
    >>> plan(c, set(c), 4)
    []
    """
    chosen = [c for c in (commits[:1] + commits[-1:]) if c not in done][:max_new]
    have = sorted({commits.index(c) for c in done if c in commits} |
                  {commits.index(c) for c in chosen})
    while len(chosen) < max_new:
        bounds = [-1, *have, len(commits)]
        gaps = [(b - a - 1, a, b) for a, b in zip(bounds, bounds[1:]) if b - a > 1]
        if not gaps:
            break
        _, a, b = max(gaps, key=lambda g: (g[0], -g[1]))
        mid = min(max((a + b) // 2, 0), len(commits) - 1)
        chosen.append(commits[mid])
        have = sorted(set(have) | {mid})
    return chosen


def machine_info(name: str) -> dict:
    """What asv records about the machine (``asv machine`` asks for the same fields)."""
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        ram = str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        ram = ""
    return {"machine": name, "os": f"{platform.system()} {platform.release()}",
            "arch": platform.machine(), "cpu": cpu, "num_cpu": str(os.cpu_count()), "ram": ram}


def write_config(work: Path, results: Path, html: Path) -> Path:
    """asv.conf.json with absolute paths and this history's results and dashboard folders;
    the suites and workloads are copied into ``work`` first, so that editing the checkout
    while a session runs cannot change what it measures."""
    conf = json.loads((ROOT / "asv.conf.json").read_text())
    bench = work / "asv_benchmarks"
    shutil.copytree(ROOT / conf["benchmark_dir"], bench,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "xpgrad" / "bench_workloads", work / "xpgrad" / "bench_workloads",
                    ignore=shutil.ignore_patterns("__pycache__"))
    conf.update(repo=str(ROOT), benchmark_dir=str(bench),
                results_dir=str(results), html_dir=str(html), env_dir=str(work / "env"))
    path = work / "asv.conf.json"
    path.write_text(json.dumps(conf, indent=1))
    return path


def export_commit(commit: str, dest: Path) -> Path:
    """The commit's package as its wheel lays it out (``backends/`` as ``xpgrad/backends``)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit, "xpgrad", "backends"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    (dest / "backends").rename(dest / "xpgrad" / "backends")
    return dest


def check_import(site: Path) -> None:
    """The exported copy is the xpgrad that imports (not an installed one)."""
    code = ("import xpgrad, xpgrad.backends.numpy, sys; "
            "sys.stdout.write(xpgrad.__file__)")
    env = dict(os.environ, PYTHONPATH=str(site))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=site)
    if out.returncode or not out.stdout.startswith(str(site)):
        raise RuntimeError(f"the export in {site} does not import: {out.stderr[-2000:]}")


def asv(args, home: Path, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home), XPGRAD_BENCH_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **kw)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-m", "asv", *args], env=env, cwd=ROOT, text=True)


def run_commit(commit: str, conf: Path, home: Path, machine: str, work: Path) -> float:
    site = export_commit(commit, work / "site")
    check_import(site)
    start = time.monotonic()
    res = asv(["run", "--config", str(conf), "--machine", machine, "--python=same",
               "--set-commit-hash", commit, "--record-samples", "--show-stderr",
               *[a for attr in ATTRIBUTES for a in ("-a", attr)],
               *[a for pattern in SUITE for a in ("-b", pattern)]],
              home, ASV_PYTHONPATH=str(site))
    if res.returncode:
        print(f"asv run for {commit[:8]} exited with {res.returncode}", file=sys.stderr)
    return time.monotonic() - start


def graph_url(benchmark: str, params: dict, machine: str, log_scale=True) -> str:
    """The dashboard address of one graph with these parameter values selected (on a log
    scale: a point the machine's load made ten times slower leaves the others readable).

    >>> graph_url("b.C.time_x", {"lib": ["xpgrad-numpy"], "n": ["1"]}, "m", log_scale=False)
    "#b.C.time_x?machine=m&p-lib='xpgrad-numpy'&p-n=1"
    """
    from urllib.parse import quote

    def value(v):
        return v if v.lstrip("-").isdigit() else f"'{v}'"
    parts = [f"machine={quote(machine)}"]
    parts += [f"p-{k}={quote(value(v), safe=chr(39))}" for k, vs in params.items() for v in vs]
    parts += ["y-axis-scale=log"] if log_scale else []
    return f"#{benchmark}?" + "&".join(parts)


def ensure_machine_files(results: Path) -> list[Path]:
    """Write ``machine.json`` (which ``asv publish`` needs to draw a machine) into every machine
    folder of ``results`` that has result files but none, from their recorded parameters:
    the GPU check returns only its result file. Returns the files written."""
    written = []
    for folder in sorted(p for p in Path(results).iterdir() if p.is_dir()):
        if (folder / "machine.json").exists():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                params = json.loads(path.read_text())["params"]
            except (ValueError, KeyError):
                continue
            info = {k: str(params.get(k, "")) for k in
                    ("machine", "os", "arch", "cpu", "num_cpu", "ram")}
            info.update(machine=folder.name, version=1)
            (folder / "machine.json").write_text(json.dumps(info, indent=1) + "\n")
            written.append(folder / "machine.json")
            break
    return written


def publish(conf: Path, home: Path, machine: str, screenshots=True) -> None:
    ensure_machine_files(Path(json.loads(conf.read_text())["results_dir"]))
    res = asv(["publish", "--config", str(conf)], home)
    if res.returncode:
        raise SystemExit("asv publish failed")
    if not screenshots:
        return
    html = Path(json.loads(conf.read_text())["html_dir"])
    for out, benchmark, params in SCREENSHOTS:
        subprocess.run(["bash", str(ROOT / "tools" / "dashboard_screenshot.sh"), str(html),
                        str(ROOT / out), graph_url(benchmark, params, machine), "1200x700"],
                       cwd=ROOT, check=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--machine", default=DEFAULT_MACHINE,
                   help=f"the machine name the results are kept under (default {DEFAULT_MACHINE})")
    p.add_argument("--max-new", type=int, default=20, metavar="N",
                   help="commits to measure in this session (default 20)")
    p.add_argument("--branch", default=BRANCH, help=f"whose commits (default {BRANCH})")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help="results folder, one subfolder per machine (default asv_results/)")
    p.add_argument("--html", type=Path, default=HTML,
                   help="where the dashboard is published (default .asv/html-history)")
    p.add_argument("--list", action="store_true", help="print the plan and stop")
    p.add_argument("--publish-only", action="store_true",
                   help="measure nothing: publish and screenshot the kept results")
    p.add_argument("--no-screenshots", action="store_true")
    args = p.parse_args(argv)
    if args.max_new < 0:
        p.error("--max-new must be 0 or more")

    commits = candidate_commits(args.branch)
    done = measured_commits(args.results / args.machine)
    todo = [] if args.publish_only else plan(commits, done, args.max_new)
    print(f"{len(commits)} commits of {args.branch} since the asv suites exist; "
          f"{len(done & set(commits))} measured on {args.machine}; this session: {len(todo)}")
    for c in todo:
        print("  ", git("log", "-1", "--format=%h %ad %s", "--date=short", c)[:100])
    if args.list:
        return 0

    with tempfile.TemporaryDirectory(prefix="asv-history-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        (home / ".asv-machine.json").write_text(json.dumps(
            {args.machine: machine_info(args.machine), "version": 1}, indent=1))
        conf = write_config(work, args.results.resolve(), args.html.resolve())
        session = time.monotonic()
        for i, commit in enumerate(todo, 1):
            load = os.getloadavg()[0]
            seconds = run_commit(commit, conf, home, args.machine, work)
            print(f"[{i}/{len(todo)}] {commit[:8]}: {seconds:.0f} s (load average before "
                  f"{load:.1f}, after {os.getloadavg()[0]:.1f})", flush=True)
        if todo:
            print(f"measured {len(todo)} commits in {time.monotonic() - session:.0f} s")
        publish(conf, home, args.machine, screenshots=not args.no_screenshots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
