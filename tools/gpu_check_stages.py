"""The prepared GPU check's run (``Check``): the stages ``source``, ``env``, ``install``,
``tests``, ``portable`` and ``bench`` (``tools/gpu_check.py`` describes them), each under its own time limit
inside one budget (``stage_timeout``), their results in ``gpu_check.json`` and the summary.

>>> stage_timeout("source", 300, ["env"])
10
"""
from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gpu_check_config import (BENCH_SECTIONS, FILES, GPU_TESTS, LATER_GPU_TESTS, LIMITS,
                              PER_TEST_TIMEOUT,
                              PORTABLE_BACKEND_VARIABLE, PORTABLE_DRY_SAMPLE, PORTABLE_TESTS,
                              PROTOCOL_TESTS, ROOT, SCHEMA, SCRIPT, STAGES, STAMP_NAME,
                              WHEEL_DIR_NAME)
from gpu_check_env import _format_env
from gpu_check_install import InstallStage
from gpu_check_log import Log, run_logged, utc_now
from gpu_check_results import merge_results, parse_junit, summary_line
from gpu_check_source import _git, compare_digests, file_digests


def stage_timeout(stage, remaining, later) -> float:
    """Seconds ``stage`` may run when ``remaining`` seconds of the budget are left and the
    stages in ``later`` still have to run: its cap, less what their floors keep back, but at
    least its own floor while any time is left (0 when none is).

    >>> stage_timeout("tests", 300, ["portable", "bench"])
    150
    >>> stage_timeout("tests", 130, ["portable", "bench"])
    40
    >>> stage_timeout("tests", 50, ["portable", "bench"])
    30
    >>> stage_timeout("bench", -3, [])
    0
    """
    if remaining <= 0:
        return 0
    cap, floor = LIMITS[stage]
    held = sum(LIMITS[s][1] for s in later)
    return max(min(cap, remaining - held), min(floor, remaining))


# -- the check ----------------------------------------------------------------------------------
class Check(InstallStage):
    """One run of the check: the stages, their results, the output folder."""

    def __init__(self, out, dry_run, budget, stages, python=sys.executable, bench_args=(),
                 pytest_args=(), protocol_args=None):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.dry_run = dry_run
        self.budget = budget
        wanted = set(stages) | {"source"}           # the evidence always names its source
        if wanted & {"tests", "portable", "bench"}:
            wanted.add("install")                   # they need the carried wheels on the path
        self.selected = [s for s in STAGES if s in wanted]
        self.python = python
        self.bench_args = list(bench_args)
        self.pytest_args = list(pytest_args)
        self.protocol_args = protocol_args
        self.t0 = time.monotonic()
        self.deadline = self.t0 + budget
        self.log = Log(self.out / FILES["log"])
        self.site = Path(tempfile.mkdtemp(prefix="xpgrad-gpu-check-site-"))
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8",
                        PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
                        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONSAFEPATH="1")
        self.env.pop("XPGRAD_BACKEND", None)
        self.env.pop(PORTABLE_BACKEND_VARIABLE, None)
        self.state = {"schema": SCHEMA, "tool": "tools/gpu_check.py", "dry_run": dry_run,
                      "started_utc": utc_now(), "finished_utc": None, "finished": False,
                      "budget_s": budget, "argv": sys.argv[1:], "stages": {}}

    # -- bookkeeping
    def elapsed(self):
        return time.monotonic() - self.t0

    def left(self, at_least=5):
        """Seconds left to the running stage (at least ``at_least``)."""
        return max(self.deadline - time.monotonic(), at_least)

    def save(self):
        self.state["seconds"] = round(self.elapsed(), 1)
        tmp = self.out / (FILES["json"] + ".tmp")
        tmp.write_text(json.dumps(self.state, indent=2, default=str))
        os.replace(tmp, self.out / FILES["json"])

    def _stage(self, name, fn):
        later = [s for s in self.selected[self.selected.index(name) + 1:]]
        limit = stage_timeout(name, self.budget - self.elapsed(), later)
        self.log.line(f"\n=== {name} (limit {limit:.0f} s, {self.elapsed():.0f} s elapsed) ===")
        t = time.monotonic()
        self.deadline = t + limit
        if limit <= 0:
            status, detail = "skipped", "the budget is spent"
        else:
            try:
                status, detail = fn(limit)
            except Exception as e:  # noqa: BLE001 - a bug here must not lose the other stages
                import traceback

                self.log.write(traceback.format_exc())
                status, detail = "error", f"{type(e).__name__}: {e}"
        self.state["stages"][name] = {"status": status, "detail": detail,
                                      "seconds": round(time.monotonic() - t, 1),
                                      "limit_s": round(limit, 1)}
        self.log.line(f"=== {name}: {status}" + (f" ({detail})" if detail else ""))
        self.save()
        return status

    # -- stages
    def stage_source(self, limit):
        src = {"root": str(ROOT)}
        top = (_git("rev-parse", "--show-toplevel") or "").strip()
        head = _git("rev-parse", "HEAD") if top and Path(top).resolve() == ROOT else None
        stamp_path = ROOT / WHEEL_DIR_NAME / STAMP_NAME
        if head:
            status = _git("status", "--porcelain") or ""
            src.update(commit=head.strip(), commit_from="git",
                       dirty=bool(status.strip()),
                       dirty_files=[ln[3:] for ln in status.splitlines()][:100])
        elif stamp_path.is_file():
            stamp = json.loads(stamp_path.read_text())
            check = compare_digests(stamp.get("digests", {}),
                                    file_digests(ROOT, stamp.get("digests", {})))
            src.update(commit=stamp.get("commit"), commit_from=f"{WHEEL_DIR_NAME}/{STAMP_NAME}",
                       prepared_utc=stamp.get("prepared_utc"),
                       dirty=bool(stamp.get("dirty_files")) or not check["matches"],
                       dirty_files=stamp.get("dirty_files", [])[:100],
                       tree_matches_stamp=check["matches"],
                       changed_since_stamp=check["changed"][:100],
                       missing_since_stamp=check["missing"][:100])
        else:
            src.update(commit=None, commit_from="unknown: no .git and no "
                       f"{WHEEL_DIR_NAME}/{STAMP_NAME} (run tools/gpu_check.sh --prepare)")
        self.state["source"] = src
        self.log.line(f"commit {src.get('commit')} (from {src['commit_from']})"
                      + ("; working tree differs from it" if src.get("dirty") else ""))
        if src.get("tree_matches_stamp") is False:
            self.log.line(f"!! changed since --prepare: {src['changed_since_stamp'][:20]}, "
                          f"missing: {src['missing_since_stamp'][:20]}")
        self.log.line(f"started {self.state['started_utc']} (UTC, this machine's clock)")
        # a device run that cannot name its commit is weak evidence; a dry run needs none
        return ("ok" if src.get("commit") or self.dry_run else "failed"), src["commit_from"]

    def stage_env(self, limit):
        smi = shutil.which("nvidia-smi")
        env = {}
        if smi:
            run_logged([smi], self.log, min(20, limit), env=self.env)
            query = "name,driver_version,memory.total,compute_cap,clocks.max.sm,clocks.max.mem"
            try:
                q = subprocess.run([smi, f"--query-gpu={query}", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=20)
                env["nvidia_smi"] = {"query": query,
                                     "answer": q.stdout.strip() or q.stderr.strip()}
            except subprocess.TimeoutExpired:
                env["nvidia_smi"] = {"query": query, "answer": "timed out after 20 s"}
        else:
            env["nvidia_smi"] = "not found"
            self.log.line("nvidia-smi: not found")
        probe_file = self.out / "env.probe.json"
        res = run_logged([self.python, SCRIPT, "--probe-env", probe_file], self.log,
                         self.left(), env=self.env)
        if probe_file.is_file():
            env.update(json.loads(probe_file.read_text()))
            probe_file.unlink()
        self.state["env"] = env
        self.log.line(_format_env(env))
        if res["rc"] != 0:
            return "failed", f"environment probe exit {res['rc']}"
        return "ok", env.get("cupy", {}).get("device") or env.get("cupy", {}).get("error", "")

    def _pytest(self, files, junit, selection, limit, env=None):
        cmd = [self.python, "-m", "pytest", *files, *selection, "-rfEs", "-q",
               "--durations=15", f"--junitxml={junit}", "-o", "junit_logging=no",
               *self.pytest_args]
        if importlib.util.find_spec("pytest_timeout") is not None:
            cmd += ["-p", "pytest_timeout", f"--timeout={PER_TEST_TIMEOUT}"]
        junit.unlink(missing_ok=True)
        r = run_logged(cmd, self.log, limit, env=dict(self.env, **(env or {})))
        r["junit"] = parse_junit(junit.read_text()) if junit.is_file() else None
        return r

    def stage_tests(self, limit):
        files = [f for f in GPU_TESTS if (ROOT / f).is_file()]
        protocol = (ROOT / PROTOCOL_TESTS).is_file()
        if protocol:
            files.append(PROTOCOL_TESTS)
        files += [f for f in LATER_GPU_TESTS if (ROOT / f).is_file()]
        runs = {"main": self._pytest(files, self.out / FILES["junit"], ["-m", "gpu"], limit)}
        module = PROTOCOL_TESTS[:-3].replace("/", ".")
        main = runs["main"]["junit"]
        picked = main and any(c[0].startswith(module + "::") for c in main["cases"])
        left = self.deadline - time.monotonic()
        if protocol and not picked and left > 10:
            # its tests carry no gpu mark: select its cupy cases by name instead
            selection = (shlex.split(self.protocol_args) if self.protocol_args is not None
                         else ["-k", "cupy"])
            runs["protocol"] = self._pytest([PROTOCOL_TESTS], self.out / FILES["junit_protocol"],
                                            selection, left)
        results = [r["junit"] for r in runs.values() if r["junit"]]
        merged = merge_results(results)
        self.state["tests"] = {"files": files, "runs": {k: {kk: vv for kk, vv in r.items()
                                                            if kk != "junit"}
                                                        for k, r in runs.items()},
                               **merged,
                               "slowest": sorted(merged["cases"], key=lambda c: -c[2])[:15]}
        c = merged["counts"]
        detail = f"{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
        if any(r["timed_out"] for r in runs.values()):
            return "timeout", detail
        if any(r["junit"] is None for r in runs.values()):
            return "error", detail + "; pytest wrote no JUnit XML"
        if not self.dry_run and c["passed"] == 0:
            return "failed", detail + "; no GPU test passed (is the device visible to CuPy?)"
        if c["failed"] or any(r["rc"] not in (0,) for r in runs.values()):
            return "failed", detail + "; pytest exit " + ", ".join(
                str(r["rc"]) for r in runs.values())
        return "ok", detail

    def stage_portable(self, limit):
        """The array-api-strict tests on the cupy backend (``PORTABLE_TESTS``). A dry run
        also checks the plumbing: there the tests pointed at cupy must all skip (collected,
        saying cupy is unavailable), and a sample of them must pass on the numpy backend
        through the same variable (the fixture, the tolerance, the xfails and skips of a
        backend other than array-api-strict); the sample's counts are kept apart."""
        files = [f for f in PORTABLE_TESTS if (ROOT / f).is_file()]
        run = self._pytest(files, self.out / FILES["junit_portable"], [], limit,
                           env={PORTABLE_BACKEND_VARIABLE: "cupy"})
        result = run["junit"] or merge_results([])
        self.state["portable"] = {"files": files, "variable": PORTABLE_BACKEND_VARIABLE,
                                  "run": {k: v for k, v in run.items() if k != "junit"},
                                  **result,
                                  "slowest": sorted(result["cases"], key=lambda c: -c[2])[:15]}
        c = result["counts"]
        detail = f"{c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
        if run["timed_out"]:
            return "timeout", detail
        if run["junit"] is None:
            return "error", detail + "; pytest wrote no JUnit XML"
        if c["failed"] or run["rc"] != 0:
            return "failed", detail + f"; pytest exit {run['rc']}"
        if not self.dry_run:
            return ("ok", detail) if c["passed"] else (
                "failed", detail + "; none passed (is the device visible to CuPy?)")
        if c["passed"] or not c["skipped"]:
            return "failed", detail + "; pointed at cupy, not every test skipped here"
        return self._portable_sample(files, detail)

    def _portable_sample(self, files, detail):
        """The dry run's sample of the portable tests on the numpy backend (``state
        ["portable"]["dry_run_sample"]``)."""
        left = self.deadline - time.monotonic()
        if left <= 5:
            return "timeout", detail + "; no time left for the numpy sample"
        junit = self.out / "pytest-portable-sample.xml"
        run = self._pytest(files, junit, list(PORTABLE_DRY_SAMPLE), left,
                           env={PORTABLE_BACKEND_VARIABLE: "numpy"})
        junit.unlink(missing_ok=True)          # the device tool returns at most 8 files
        counts = (run["junit"] or {}).get("counts")
        self.state["portable"]["dry_run_sample"] = {
            "counts": counts, "skip_reasons": (run["junit"] or {}).get("skip_reasons"),
            "rc": run["rc"], "timed_out": run["timed_out"]}
        detail += f"; numpy sample: {counts}"
        if run["timed_out"] or run["rc"] != 0 or not counts or not counts["passed"]:
            return "failed", detail
        return "ok", detail

    def stage_bench(self, limit):
        out = self.out / FILES["bench"]
        out.unlink(missing_ok=True)
        sections = [] if any(a.startswith("--sections") for a in self.bench_args) else [
            "--sections", BENCH_SECTIONS]
        cmd = [self.python, ROOT / "benchmarks" / "cuda_kernels.py", "--json", out,
               *sections, *self.bench_args]
        if self.dry_run:
            cmd.append("--dry-run")
        r = run_logged(cmd, self.log, limit, env=self.env)
        bench = json.loads(out.read_text()) if out.is_file() else None
        self.state["bench"] = bench
        self.state["bench_run"] = r
        if bench and not self.dry_run:
            self._asv_results()
        if r["timed_out"]:
            return "timeout", f"sections done: {(bench or {}).get('sections_done')}"
        if r["rc"] != 0:
            errors = [e["section"] for e in (bench or {}).get("errors", [])]
            return "failed", f"exit {r['rc']}" + (f"; sections failed: {errors}" if errors else "")
        return "ok", f"sections: {(bench or {}).get('sections_done')}"

    def _asv_results(self):
        """The MLP/LSTM rows in asv's result format under ``asv-results/`` (gpu_check_asv)."""
        try:
            from gpu_check_asv import write_asv_results

            paths = write_asv_results(self.state, self.out / FILES["asv"], machine_file=False)
        except Exception as e:      # noqa: BLE001 - the benchmark stage itself still counts
            self.state["asv_results"] = {"error": f"{type(e).__name__}: {e}"}
            self.log.line(f"asv results not written: {type(e).__name__}: {e}")
            return
        self.state["asv_results"] = [str(p.relative_to(self.out)) for p in paths]
        self.log.line("asv results: " + (", ".join(self.state["asv_results"]) or "no rows"))

    # -- the whole run
    def run(self) -> int:
        self.log.line(f"xpgrad GPU check{' (DRY RUN: no device work)' if self.dry_run else ''}"
                      f": {ROOT}, output in {self.out}, budget {self.budget} s, "
                      f"python {self.python}")
        needs_install = {"tests", "portable", "bench"}
        for name in self.selected:
            if (name in needs_install and "install" in self.state["stages"]
                    and self.state["stages"]["install"]["status"] != "ok"):
                self.state["stages"][name] = {"status": "skipped",
                                              "detail": "install did not succeed",
                                              "seconds": 0, "limit_s": 0}
                self.log.line(f"\n=== {name}: skipped (install did not succeed)")
                continue
            self._stage(name, getattr(self, f"stage_{name}"))
        return self.finish()

    def finish(self) -> int:
        tested = [self.state[s] for s in ("tests", "portable") if self.state.get(s)]
        counts = merge_results(tested)["counts"]
        self.state["counts"] = counts
        stages = {k: v["status"] for k, v in self.state["stages"].items()}
        portable = (self.state.get("portable") or {}).get("counts")
        line = summary_line(counts, self.state.get("bench"), stages, self.elapsed(),
                            self.dry_run, portable=portable)
        ok = all(v in ("ok",) for v in stages.values()) and counts["failed"] == 0
        if not self.dry_run and counts.get("passed", 0) == 0 and "tests" in stages:
            ok = False          # on a device, a check where nothing passed proves nothing
        self.state.update(summary_line=line, finished=True, finished_utc=utc_now(),
                          exit_code=0 if ok else 1)
        self.save()
        table = [f"{k:<8} {v['status']:<8} {v['seconds']:>6.1f} s  {v.get('detail') or ''}"
                 for k, v in self.state["stages"].items()]
        src = self.state.get("source") or {}
        text = (f"commit {src.get('commit')}{' (tree differs)' if src.get('dirty') else ''}; "
                f"started {self.state['started_utc']}\n" + "\n".join(table) + "\n" + line + "\n")
        (self.out / FILES["summary"]).write_text(text, encoding="utf-8")
        self.log.line("\n" + text.rstrip())
        self.log.close()
        shutil.rmtree(self.site, ignore_errors=True)
        return self.state["exit_code"]
