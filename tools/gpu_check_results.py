"""The prepared GPU check's results: test counts and outcomes read from pytest's JUnit XML, and
the one summary line that ends the check (``SUMMARY_RE`` recognizes it).

>>> bool(SUMMARY_RE.match("GPU CHECK: 1 passed, 0 failed, 0 skipped; CE not measured; 3 s"))
True
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from gpu_check_config import SUMMARY_PREFIX


def parse_junit(text: str) -> dict:
    """Counts and per-test outcomes from one pytest JUnit XML document.

    ``failed`` counts failures and errors together (``errors`` says how many were errors).

    >>> doc = ('<testsuites><testsuite name="pytest" tests="3" failures="1" errors="0" '
    ...        'skipped="1"><testcase classname="tests.test_a" name="test_ok" time="0.1"/>'
    ...        '<testcase classname="tests.test_a" name="test_bad" time="0.2">'
    ...        '<failure message="assert 1 == 2">trace</failure></testcase>'
    ...        '<testcase classname="tests.test_a" name="test_gpu" time="0.0">'
    ...        '<skipped message="no CUDA device"/></testcase></testsuite></testsuites>')
    >>> r = parse_junit(doc)
    >>> r["counts"]
    {'passed': 1, 'failed': 1, 'errors': 0, 'skipped': 1, 'total': 3}
    >>> r["failures"][0]["test"], r["skip_reasons"]
    ('tests.test_a::test_bad', {'no CUDA device': 1})
    """
    root = ElementTree.fromstring(text)
    cases, failures, skips = [], [], {}
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "total": 0}
    for case in root.iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (node.get("message") or (node.text or "")).strip()
                if outcome != "skipped":
                    message = (message + "\n" + (node.text or "")).strip()
                break
        counts["total"] += 1
        if outcome == "passed":
            counts["passed"] += 1
        elif outcome == "skipped":
            counts["skipped"] += 1
            reason = re.sub(r"^Skipped: ", "", message)[:300]
            skips[reason] = skips.get(reason, 0) + 1
        else:
            counts["failed"] += 1
            counts["errors"] += outcome == "error"
            failures.append({"test": test, "outcome": outcome, "message": message[:4000]})
        cases.append([test, outcome, round(float(case.get("time") or 0), 3)])
    return {"counts": counts, "failures": failures, "skip_reasons": skips, "cases": cases}


def merge_results(results) -> dict:
    """One result from several ``parse_junit`` results (counts added, lists joined).

    >>> a = {"counts": {"passed": 2, "failed": 0, "errors": 0, "skipped": 1, "total": 3},
    ...      "failures": [], "skip_reasons": {"x": 1}, "cases": []}
    >>> merge_results([a, a])["counts"]["passed"], merge_results([a, a])["skip_reasons"]
    (4, {'x': 2})
    >>> merge_results([])["counts"]["total"]
    0
    """
    out = {"counts": {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "total": 0},
           "failures": [], "skip_reasons": {}, "cases": []}
    for r in results:
        for k, v in r["counts"].items():
            out["counts"][k] += v
        out["failures"] += r["failures"]
        out["cases"] += r["cases"]
        for k, v in r["skip_reasons"].items():
            out["skip_reasons"][k] = out["skip_reasons"].get(k, 0) + v
    return out


def _x(v):
    return "n/a" if v is None else f"{v:.2f}×"


def _pct(v):
    return "n/a" if v is None else f"{v:.0%}"


def _headline_ce(ce: dict):
    """The headline CE entry: 8192x32000 when measured, else the largest measured shape."""
    if not ce:
        return None
    if "8192x32000" in ce:
        return ce["8192x32000"]
    return max(ce.items(), key=lambda kv: int(kv[0].split("x")[0]) * int(kv[0].split("x")[1]))[1]


def summary_line(counts, bench, stages, seconds, dry_run=False, portable=None) -> str:
    """The one line that ends the check: test counts (every stage's), then the benchmark's
    headline ratios (PyTorch time / xpgrad time: > 1 means xpgrad is faster) and fractions of
    copy bandwidth, the ``portable`` stage's own counts, then any stage that did not finish
    cleanly.

    >>> counts = {"passed": 150, "failed": 2, "errors": 0, "skipped": 1, "total": 153}
    >>> bench = {"summary": {"ce": {"8192x32000": {"vs_torch": 1.6, "vs_torch_api": 1.4,
    ...                                           "of_copy": 0.83}},
    ...                      "copy_GB/s": 4310.0}}
    >>> print(summary_line(counts, bench, {"tests": "failed"}, 312).replace("; ", ";\\n"))
    GPU CHECK: 150 passed, 2 failed, 1 skipped;
    CE 1.60× torch (API 1.40×), 83% of copy BW;
    copy 4310 GB/s;
    stages not ok: tests failed;
    312 s
    >>> summary_line({"passed": 0, "failed": 0, "skipped": 9}, {}, {}, 12, dry_run=True)
    'GPU CHECK: 0 passed, 0 failed, 9 skipped; CE not measured; dry run: no device work; 12 s'
    >>> summary_line(counts, {}, {}, 9, portable={"passed": 800, "failed": 1, "skipped": 2})
    'GPU CHECK: 150 passed, ...; strict tests on cupy 800 passed, 1 failed, 2 skipped; 9 s'
    """
    s = (bench or {}).get("summary") or {}
    parts = [f"{SUMMARY_PREFIX} {counts.get('passed', 0)} passed, {counts.get('failed', 0)} "
             f"failed, {counts.get('skipped', 0)} skipped"]
    ce = _headline_ce(s.get("ce"))
    if ce and (ce.get("vs_torch") is not None or ce.get("of_copy") is not None):
        parts.append(f"CE {_x(ce.get('vs_torch'))} torch (API {_x(ce.get('vs_torch_api'))}), "
                     f"{_pct(ce.get('of_copy'))} of copy BW")
    else:
        parts.append("CE not measured")
    mse = s.get("sigmoid_mse")
    if mse:
        parts.append(f"sigmoid-MSE {_x(mse.get('vs_torch'))} torch, {_pct(mse.get('of_copy'))}"
                     " of copy BW")
    acts = s.get("activations") or {}
    if acts:
        parts.append("activations " + ", ".join(f"{k} {_x(v.get('vs_torch'))}"
                                                for k, v in acts.items()) + " torch")
    opts = s.get("optimizers") or {}
    if opts:
        names = {"sgd_momentum": "SGD", "adam": "Adam"}
        text = ", ".join(f"{names.get(k, k)} {_x(v.get('vs_torch'))}" for k, v in opts.items())
        fused = (opts.get("adam") or {}).get("vs_torch_fused")
        parts.append(f"{text} torch" + (f" (Adam vs fused {_x(fused)})" if fused else ""))
    mlp = s.get("mlp") or {}
    if mlp:
        parts.append("MLP " + ", ".join(f"{k} {_x(v)}" for k, v in mlp.items()) + " torch")
    lstm = s.get("lstm") or {}
    if lstm:
        parts.append("LSTM " + ", ".join(f"{k} {_x(v)}" for k, v in lstm.items()) + " torch")
    if s.get("copy_GB/s"):
        parts.append(f"copy {s['copy_GB/s']:.0f} GB/s")
    if portable:
        parts.append(f"strict tests on cupy {portable.get('passed', 0)} passed, "
                     f"{portable.get('failed', 0)} failed, {portable.get('skipped', 0)} skipped")
    bad = [f"{k} {v}" for k, v in stages.items() if v != "ok"]
    if bad:
        parts.append("stages not ok: " + ", ".join(bad))
    if dry_run:
        parts.append("dry run: no device work")
    parts.append(f"{seconds:.0f} s")
    return "; ".join(parts)


SUMMARY_RE = re.compile(
    r"^GPU CHECK: (?P<passed>\d+) passed, (?P<failed>\d+) failed, (?P<skipped>\d+) skipped; "
    r"CE (?:not measured|\S+× torch \(API \S+\), \S+ of copy BW)(?:; [^;]+)*; (?P<s>\d+) s$")
