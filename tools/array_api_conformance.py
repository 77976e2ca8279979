"""Run the official array-API conformance suite against the xpgrad namespace, per backend, and
write the pass table (``docs/array-api.md``).

The suite is not part of this repository: fetch ``data-apis/array-api-tests`` with its
``array-api`` submodule (the spec) and pass the checkout's path::

    git clone --recurse-submodules https://github.com/data-apis/array-api-tests
    pip install -r array-api-tests/requirements.txt
    python tools/array_api_conformance.py array-api-tests --backend numpy numba strict \\
        --version 2025.12 --markdown docs/array-api.md --marker conformance-2025

Arguments after ``--`` go to pytest (e.g. ``-- array_api_tests/test_linalg.py`` for one area).

Each backend runs in its own pytest process with ``XPGRAD_BACKEND`` set, so every array the
suite makes lives there; ``strict`` is the array API's reference implementation
(array-api-strict) registered as a third-party backend (``xpgrad.testing.StrictBackend``).
The share that counts is passed / (passed + failed): skips are the suite's own (optional
features, versions).

>>> summarize({"tests": [{"nodeid": "array_api_tests/test_a.py::t1", "outcome": "passed"},
...                      {"nodeid": "array_api_tests/test_a.py::t2", "outcome": "failed"}]})
{'test_a': {'passed': 1, 'failed': 1, 'skipped': 0}}
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the namespace under test, as the suite's ARRAY_API_TESTS_MODULE; registers the strict backend
# (only for the strict run: a registered backend's devices are listed by the namespace's
# __array_namespace_info__().devices(), and the suite then moves arrays to all of them)
MODULE = ("exec('import os, xpgrad as xp; from xpgrad.testing import StrictBackend; "
          "xp.register_backend(\"strict\", StrictBackend) "
          "if os.environ[\"XPGRAD_BACKEND\"] == \"strict\" else None')")


def run_backend(suite: Path, backend: str, version: str, max_examples: int, extra) -> dict:
    """One pytest run of the suite with ``backend`` as the default; returns its JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        env = {**os.environ, "XPGRAD_BACKEND": backend, "ARRAY_API_TESTS_MODULE": MODULE,
               "ARRAY_API_TESTS_VERSION": version, "PYTHONWARNINGS": "ignore"}
        where = [a for a in extra if a.startswith("array_api_tests")] or ["array_api_tests"]
        extra = [a for a in extra if not a.startswith("array_api_tests")]
        cmd = [sys.executable, "-m", "pytest", *where, "-q", "-p", "no:cacheprovider",
               "-W", "ignore", f"--max-examples={max_examples}", "--disable-deadline",
               "--json-report", f"--json-report-file={report}", "--json-report-omit",
               "collectors", "keywords", "streams", *extra]
        print(f"[{backend}] {' '.join(cmd[2:6])} ... ({suite})", flush=True)
        subprocess.run(cmd, cwd=suite, env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if not report.exists():
            raise SystemExit(f"the suite wrote no report for backend {backend!r}; run it by "
                             f"hand in {suite} to see why")
        return json.loads(report.read_text())


def summarize(report: dict) -> dict:
    """``{area: {passed, failed, skipped}}`` with an area per test file."""
    areas: dict = {}
    for test in report["tests"]:
        area = test["nodeid"].split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        counts = areas.setdefault(area, {"passed": 0, "failed": 0, "skipped": 0})
        outcome = test["outcome"]
        key = "failed" if outcome in ("failed", "error") else \
            "passed" if outcome in ("passed", "xpassed") else "skipped"
        counts[key] += 1
    return areas


def failures(report: dict) -> list:
    """``(test id, first line of the error)`` of every failed test."""
    out = []
    for test in report["tests"]:
        if test["outcome"] in ("failed", "error"):
            phase = test.get("call") or test.get("setup") or {}
            crash = phase.get("crash") or {}
            message = (crash.get("message") or phase.get("longrepr") or "").strip()
            out.append((test["nodeid"].split("::", 1)[-1], message.splitlines()[0][:160]
                        if message else ""))
    return out


def share(counts: dict) -> str:
    ran = counts["passed"] + counts["failed"]
    return f"{100 * counts['passed'] / ran:.1f}%" if ran else "n/a"


def run_facts(version: str, max_examples: int, suite_commit: str) -> dict:
    """What a table must say about its run: the commit, the suite, the settings, the date."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "unknown"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return {"commit": commit, "suite_commit": suite_commit, "version": version,
            "max_examples": max_examples, "date": date}


def markdown(results: dict, facts: dict) -> str:
    commit, suite_commit, date = facts["commit"], facts["suite_commit"], facts["date"]
    version, max_examples = facts["version"], facts["max_examples"]
    backends = list(results)
    lines = [f"Run on {date} at xpgrad commit `{commit}`, suite commit `{suite_commit}`, API "
             f"version {version}, {max_examples} examples per test:",
             "", "| area | " + " | ".join(backends) + " |",
             "|---|" + "---|" * len(backends)]
    areas = sorted({a for r in results.values() for a in r["areas"]})
    total = {b: {"passed": 0, "failed": 0, "skipped": 0} for b in backends}
    for area in areas:
        cells = []
        for b in backends:
            c = results[b]["areas"].get(area, {"passed": 0, "failed": 0, "skipped": 0})
            for k in total[b]:
                total[b][k] += c[k]
            cells.append(f"{c['passed']}/{c['passed'] + c['failed']} ({share(c)}), "
                         f"{c['skipped']} skipped")
        lines.append(f"| {area} | " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(
        f"**{total[b]['passed']}/{total[b]['passed'] + total[b]['failed']} "
        f"({share(total[b])})**, {total[b]['skipped']} skipped" for b in backends) + " |")
    for b in backends:
        fails = results[b]["failures"]
        lines += ["", f"Failing on `{b}` ({len(fails)}):", ""]
        lines += [f"- `{name}`: {msg}" for name, msg in fails] or ["- none"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", type=Path, help="checkout of data-apis/array-api-tests")
    parser.add_argument("--backend", nargs="+", default=["numpy", "numba", "strict"])
    parser.add_argument("--version", default="2025.12", help="ARRAY_API_TESTS_VERSION")
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--markdown", type=Path, help="write the table here (between the "
                        "markers <!-- MARKER --> and <!-- /MARKER --> if present)")
    parser.add_argument("--marker", default="conformance", help="the markers' name")
    parser.add_argument("--json", type=Path, help="write the counts and failures as JSON")
    parser.add_argument("--from-json", type=Path, help="make the table from a saved --json "
                        "instead of running the suite (SUITE still names its checkout)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    args.pytest_args = extra
    suite = args.suite.resolve()
    if not (suite / "array_api_tests").is_dir() or not (suite / "array-api" / "src").is_dir():
        parser.error(f"{suite} is not a checkout of array-api-tests with its array-api "
                     "submodule (clone with --recurse-submodules)")
    suite_commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=suite,
                                  capture_output=True, text=True).stdout.strip() or "unknown"
    saved = json.loads(args.from_json.read_text()) if args.from_json else None
    facts = saved["run"] if saved else run_facts(args.version, args.max_examples, suite_commit)
    results = saved["backends"] if saved else {}
    for backend in [] if saved else args.backend:
        report = run_backend(suite, backend, args.version, args.max_examples, args.pytest_args)
        results[backend] = {"areas": summarize(report), "failures": failures(report)}
        tot = {k: sum(a[k] for a in results[backend]["areas"].values())
               for k in ("passed", "failed", "skipped")}
        print(f"[{backend}] {tot['passed']} passed, {tot['failed']} failed, {tot['skipped']} "
              f"skipped: {share(tot)} of the tests that ran", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"run": facts, "backends": results}, indent=1))
    if args.markdown:
        table = markdown(results, facts)
        text = args.markdown.read_text() if args.markdown.exists() else ""
        start, end = f"<!-- {args.marker} -->", f"<!-- /{args.marker} -->"
        if start in text and end in text:
            text = text[:text.index(start) + len(start)] + "\n" + table + text[text.index(end):]
        else:
            text = table
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
