"""The prepared GPU check: one command that proves (or disproves) every CUDA claim on a lent device.

    tools/gpu_check.sh --prepare     # here, with network: wheels the device lacks + source stamp
    tools/gpu_check.sh               # on the device: everything below, about 3-6 minutes
    tools/gpu_check.sh --dry-run     # anywhere (CI): the same stages without device work

Stages, most valuable evidence first, each under its own time limit inside one overall budget
(``--budget``, 360 s), so that a hang in one cannot eat the lease and the run fits twice into a
15-minute one:

1. ``source``: the commit and date the run is for (git where ``.git`` travelled; otherwise the
   stamp ``--prepare`` wrote, with every file's hash checked against the tree that arrived).
2. ``env``: ``nvidia-smi``; Python; device name, driver, CUDA runtime, NVRTC, compute capability;
   the versions of CuPy, PyTorch, JAX, NumPy, Numba found there (reused, never installed).
3. ``install``: the carried wheels (``.whl/``, no registry: ``pip --no-index``) into a private
   folder on ``PYTHONPATH``; xpgrad itself with ``pip install --no-deps --no-build-isolation -e .``
   unless it already imports from this tree. CuPy is never installed: the one present is used.
   A missing ``array-api-compat`` stops the check here with the command that fixes it.
4. ``tests``: ``pytest -m gpu -rfEs`` over ``tests/test_cupy_backend.py`` (every kernel against
   the generic rule in float32 and float64, optimizer updates, MLP training parity with numpy,
   LSTM/RNN, 1,000-step memory growth) and ``tests/test_kernel_protocol.py`` where it exists;
   counts read from the JUnit XML pytest writes.
5. ``bench``: ``benchmarks/cuda_kernels.py --json`` next to PyTorch CUDA and the copy bandwidth.

Everything goes under ``$OUT`` if set, else ``runs/gpu-check-<UTC time>/``: ``gpu_check.log``
(all output), ``gpu_check.json`` (rewritten after each stage), ``summary.txt``, the JUnit XML
and ``bench.json``; at most 8 plain-named files, as the device tool returns. The last line
printed is the summary::

    GPU CHECK: 154 passed, 0 failed, 0 skipped; CE 1.62× torch (API 1.41×), 83% of copy BW; ...

``tools/gpu_evidence.py`` turns that folder into dated evidence under ``docs/gpu-evidence/``.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_DIR_NAME = ".whl"
STAMP_NAME = "SOURCE.json"
SCHEMA = 1
SUMMARY_PREFIX = "GPU CHECK:"
FILES = {"log": "gpu_check.log", "json": "gpu_check.json", "summary": "summary.txt",
         "junit": "pytest-gpu.xml", "junit_protocol": "pytest-protocol.xml",
         "bench": "bench.json"}
GPU_TESTS = ("tests/test_cupy_backend.py",)
PROTOCOL_TESTS = "tests/test_kernel_protocol.py"
# packages the device image lacks (/work/.library/device/KINDS.md): dist name -> import name
REQUIRED_WHEELS = {"array-api-compat": "array_api_compat"}
OPTIONAL_WHEELS = {"array-api-strict": "array_api_strict"}
# packages reported, never installed: the device's own
REPORTED = ("numpy", "cupy", "torch", "jax", "jaxlib", "numba", "array-api-compat",
            "array-api-strict", "pytest", "pytest-timeout", "hypothesis", "scipy", "setuptools",
            "pip")
STAGES = ("source", "env", "install", "tests", "bench")
# stage -> (cap: the most seconds it may take, floor: the seconds kept back for it while the
# stages before it run)
LIMITS = {"source": (10, 1), "env": (60, 10), "install": (90, 10), "tests": (200, 30),
          "bench": (200, 45)}
DEFAULT_BUDGET = 360
PER_TEST_TIMEOUT = 150
KILL_GRACE = 15


# -- small pure helpers (tested without a device) -------------------------------------------------
def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second.

    >>> len(utc_now()) == len("2026-01-01T00:00:00Z")
    True
    """
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stage_timeout(stage, remaining, later) -> float:
    """Seconds ``stage`` may run when ``remaining`` seconds of the budget are left and the
    stages in ``later`` still have to run: its cap, less what their floors keep back, but at
    least its own floor while any time is left (0 when none is).

    >>> stage_timeout("tests", 300, ["bench"])
    200
    >>> stage_timeout("tests", 100, ["bench"])
    55
    >>> stage_timeout("tests", 40, ["bench"])
    30
    >>> stage_timeout("bench", -3, [])
    0
    """
    if remaining <= 0:
        return 0
    cap, floor = LIMITS[stage]
    held = sum(LIMITS[s][1] for s in later)
    return max(min(cap, remaining - held), min(floor, remaining))


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


def summary_line(counts, bench, stages, seconds, dry_run=False) -> str:
    """The one line that ends the check: test counts, then the benchmark's headline ratios
    (PyTorch time / xpgrad time: > 1 means xpgrad is faster) and fractions of copy bandwidth,
    then any stage that did not finish cleanly.

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


def wheel_dist(filename: str) -> str:
    """The normalized distribution name of a wheel file.

    >>> wheel_dist("array_api_compat-1.16.0-py3-none-any.whl")
    'array-api-compat'
    """
    return re.sub(r"[-_.]+", "-", filename.split("-")[0]).lower()


def check_wheels(folder) -> dict:
    """The wheels in ``folder`` by distribution name; two versions of one distribution (which
    would stop ``pip install``) and missing required ones are reported as problems.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("array_api_compat-1.16.0-py3-none-any.whl",
    ...           "array_api_compat-1.12.0-py3-none-any.whl"):
    ...     _ = (d / n).write_bytes(b"")
    >>> check_wheels(d)["problems"]            # doctest: +ELLIPSIS
    ['two versions of array-api-compat: array_api_compat-1.12.0-..., array_api_compat-1.16.0-...']
    """
    folder = Path(folder)
    found = {}
    for w in sorted(folder.glob("*.whl")) if folder.is_dir() else []:
        found.setdefault(wheel_dist(w.name), []).append(w.name)
    problems = [f"two versions of {d}: {', '.join(v)}" for d, v in found.items() if len(v) > 1]
    return {"folder": str(folder), "wheels": found, "problems": problems,
            "missing_required": [d for d in REQUIRED_WHEELS if d not in found]}


def file_digests(root, paths) -> dict:
    """sha256 (first 16 hex digits) of each existing file under ``root``.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a").write_text("x")
    >>> file_digests(d, ["a", "gone"])
    {'a': '2d711642b726b044'}
    """
    out = {}
    for rel in paths:
        p = Path(root) / rel
        if p.is_file() and not p.is_symlink():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return out


def compare_digests(expected: dict, actual: dict) -> dict:
    """Which files differ between a stamp's digests and the tree's.

    >>> compare_digests({"a": "1", "b": "2"}, {"a": "1", "b": "3"})
    {'matches': False, 'changed': ['b'], 'missing': []}
    """
    changed = sorted(k for k in expected if k in actual and actual[k] != expected[k])
    missing = sorted(k for k in expected if k not in actual)
    return {"matches": not changed and not missing, "changed": changed, "missing": missing}


def link_tree(root, site) -> dict:
    """Make ``import xpgrad`` load ``root``'s sources from the folder ``site`` (on PYTHONPATH)
    without pip or setuptools: ``site/xpgrad`` links every entry of ``root/xpgrad`` and maps
    ``xpgrad.backends`` to ``root/backends`` (the package-dir mapping of pyproject.toml), and a
    minimal ``xpgrad-<version>.dist-info`` carries the version and the entry points.

    >>> import tempfile, pathlib
    >>> root, site = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
    >>> for d in ("xpgrad", "backends"):
    ...     (root / d).mkdir(); _ = (root / d / "__init__.py").write_text("")
    >>> _ = (root / "pyproject.toml").write_text('[project]\\nversion = "1.2"\\n')
    >>> link_tree(root, site)["dist_info"]
    'xpgrad-1.2.dist-info'
    >>> sorted(p.name for p in (site / "xpgrad").iterdir())
    ['__init__.py', 'backends']
    """
    root, site = Path(root), Path(site)
    pkg = site / "xpgrad"
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    for entry in (root / "xpgrad").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    (pkg / "backends").symlink_to(root / "backends", target_is_directory=True)
    text = (root / "pyproject.toml").read_text()
    version = (re.search(r'^version\s*=\s*"([^"]+)"', text, re.M) or [None, "0"])[1]
    dist = site / f"xpgrad-{version}.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: xpgrad\nVersion: {version}\n")
    block = re.search(r'^\[project\.entry-points\."xpgrad\.backends"\]\n((?:[^\[\n].*\n?)*)',
                      text, re.M)
    if block:
        (dist / "entry_points.txt").write_text("[xpgrad.backends]\n" + block[1])
    return {"package": str(pkg), "dist_info": dist.name}


def _git(*args, cwd=ROOT):
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout if res.returncode == 0 else None


# -- the log and the stage runner -----------------------------------------------------------------
class Log:
    """Everything printed goes to stdout and to ``path``, line by line, flushed."""

    def __init__(self, path):
        self.path = Path(path)
        self._f = open(self.path, "a", encoding="utf-8", errors="replace")
        self._lock = threading.Lock()

    def write(self, text: str):
        with self._lock:
            sys.stdout.write(text)
            sys.stdout.flush()
            self._f.write(text)
            self._f.flush()

    def line(self, text: str = ""):
        self.write(text + "\n")

    def close(self):
        self._f.close()


def _pump(stream, log):
    for raw in iter(stream.readline, b""):
        log.write(raw.decode("utf-8", errors="replace"))
    stream.close()


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_logged(cmd, log, timeout, env=None, cwd=ROOT, grace=KILL_GRACE) -> dict:
    """Run ``cmd`` in its own process group, its output copied to ``log`` as it comes. After
    ``timeout`` seconds the group gets SIGINT (pytest then still writes its JUnit XML and a
    benchmark keeps the JSON of the sections it finished), and SIGKILL ``grace`` seconds later.

    >>> import sys, io, tempfile, os
    >>> log = Log(os.path.join(tempfile.mkdtemp(), "log"))
    >>> r = run_logged([sys.executable, "-c", "print('hi')"], log, 30)   # doctest: +ELLIPSIS
    $ ... -c ...   (limit 30 s)
    hi
    -> exit 0 after ... s
    >>> r["rc"], r["timed_out"]
    (0, False)
    """
    t0 = time.monotonic()
    log.line(f"$ {shlex.join(str(c) for c in cmd)}   (limit {timeout:.0f} s)")
    try:
        proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=env, start_new_session=True)
    except OSError as e:
        log.line(f"!! could not start: {e}")
        return {"cmd": [str(c) for c in cmd], "rc": None, "seconds": 0.0, "timed_out": False,
                "error": str(e)}
    reader = threading.Thread(target=_pump, args=(proc.stdout, log), daemon=True)
    reader.start()
    timed_out = False
    try:
        rc = proc.wait(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
        log.line(f"\n!! time limit of {timeout:.0f} s reached: SIGINT to the process group, "
                 f"SIGKILL after {grace} s")
        _signal_group(proc, signal.SIGINT)
        try:
            rc = proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            rc = proc.wait()
    _signal_group(proc, signal.SIGKILL)          # nothing of the stage outlives it
    reader.join(timeout=5)
    seconds = time.monotonic() - t0
    log.line(f"-> exit {rc} after {seconds:.1f} s" + (" (timed out)" if timed_out else ""))
    return {"cmd": [str(c) for c in cmd], "rc": rc, "seconds": round(seconds, 1),
            "timed_out": timed_out}


# -- the environment probe (runs in a subprocess: imports CuPy and PyTorch) ------------------------
def _dist_versions(names) -> dict:
    out = {}
    for name in names:
        if name == "cupy":        # cupy-cuda12x, cupy-cuda13x, cupy (source build)...
            found = [(d.metadata["Name"], d.version) for d in importlib.metadata.distributions()
                     if (d.metadata["Name"] or "").lower().startswith("cupy")]
            out["cupy"] = ", ".join(f"{n} {v}" for n, v in sorted(set(found))) or None
            continue
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cuda_version(v):
    """12080 -> '12.8'; CUDA encodes versions as 1000 * major + 10 * minor."""
    return f"{v // 1000}.{(v % 1000) // 10}" if isinstance(v, int) and v > 0 else v


def probe_env() -> dict:
    """Python, packages, and what CuPy and PyTorch say about the device (errors as text)."""
    env = {"python": sys.version.split()[0], "executable": sys.executable,
           "platform": platform.platform(), "machine": platform.machine(),
           "packages": _dist_versions(REPORTED)}
    try:
        import cupy

        rt = cupy.cuda.runtime
        c = {"version": cupy.__version__,
             "runtime": _cuda_version(rt.runtimeGetVersion()),
             "driver": _cuda_version(rt.driverGetVersion())}
        try:
            c["nvrtc"] = ".".join(map(str, cupy.cuda.nvrtc.getVersion()))
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            c["nvrtc"] = f"{type(e).__name__}: {e}"
        c["device_count"] = rt.getDeviceCount()
        props = rt.getDeviceProperties(0)
        name = props.get("name", b"?")
        c["device"] = name.decode() if isinstance(name, bytes) else str(name)
        c["compute_capability"] = f"{props.get('major')}.{props.get('minor')}"
        c["multiprocessors"] = props.get("multiProcessorCount")
        c["memory_gib"] = round(props.get("totalGlobalMem", 0) / 2**30, 1)
        c["l2_mib"] = round(props.get("l2CacheSize", 0) / 2**20, 1)
        env["cupy"] = c
    except Exception as e:  # noqa: BLE001 - ImportError, CUDARuntimeError...
        env["cupy"] = {"error": f"{type(e).__name__}: {e}"}
    try:
        import torch

        t = {"version": torch.__version__, "cuda": torch.version.cuda,
             "cuda_available": torch.cuda.is_available()}
        if t["cuda_available"]:
            t["device"] = torch.cuda.get_device_name(0)
            t["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
            t["cudnn"] = torch.backends.cudnn.version()
        env["torch"] = t
    except Exception as e:  # noqa: BLE001
        env["torch"] = {"error": f"{type(e).__name__}: {e}"}
    # JAX is reported, not imported: initializing it would take most of the GPU's memory
    env["jax"] = {"version": env["packages"].get("jax"), "note": "version only; not imported"}
    return env


def _format_env(env) -> str:
    p, c, t = env.get("packages", {}), env.get("cupy", {}), env.get("torch", {})
    lines = [f"python {env.get('python')} ({env.get('executable')}), {env.get('platform')}"]
    if "error" in c:
        lines.append(f"CuPy: {c['error']}")
    else:
        lines.append(f"device: {c.get('device')} x{c.get('device_count')}, compute capability "
                     f"{c.get('compute_capability')}, {c.get('multiprocessors')} SMs, "
                     f"{c.get('memory_gib')} GiB, L2 {c.get('l2_mib')} MiB")
        lines.append(f"CUDA driver {c.get('driver')}, runtime {c.get('runtime')}, NVRTC "
                     f"{c.get('nvrtc')}; CuPy {c.get('version')} ({p.get('cupy')})")
    if "error" in t:
        lines.append(f"PyTorch: {t['error']}")
    else:
        lines.append(f"PyTorch {t.get('version')} (CUDA {t.get('cuda')}, cuDNN {t.get('cudnn')},"
                     f" device: {t.get('device') if t.get('cuda_available') else 'none'})")
    lines.append("packages: " + ", ".join(f"{k} {v}" for k, v in p.items() if v))
    lines.append("not installed: " + (", ".join(k for k, v in p.items() if not v) or "-"))
    return "\n".join(lines)


# -- the check ----------------------------------------------------------------------------------
class Check:
    """One run of the check: the stages, their results, the output folder."""

    def __init__(self, out, dry_run, budget, stages, python=sys.executable, bench_args=(),
                 pytest_args=(), protocol_args=None):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.dry_run = dry_run
        self.budget = budget
        wanted = set(stages) | {"source"}           # the evidence always names its source
        if wanted & {"tests", "bench"}:
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
        res = run_logged([self.python, Path(__file__), "--probe-env", probe_file], self.log,
                         self.left(), env=self.env)
        if probe_file.is_file():
            env.update(json.loads(probe_file.read_text()))
            probe_file.unlink()
        self.state["env"] = env
        self.log.line(_format_env(env))
        if res["rc"] != 0:
            return "failed", f"environment probe exit {res['rc']}"
        return "ok", env.get("cupy", {}).get("device") or env.get("cupy", {}).get("error", "")

    def _verify_import(self, limit):
        """Does ``import xpgrad`` give this tree's code, with array_api_compat? (JSON report)"""
        code = ("import json, sys\nr = {}\n"
                "try:\n import array_api_compat\n r['array_api_compat'] = "
                "[array_api_compat.__version__, array_api_compat.__file__]\n"
                "except Exception as e:\n r['array_api_compat_error'] = repr(e)\n"
                "try:\n import xpgrad, xpgrad.backends.cupy\n r['xpgrad'] = xpgrad.__file__\n"
                " r['backends'] = {k: {'available': v.get('available'), "
                "'reason': v.get('reason')} for k, v in xpgrad.available_backends().items()}\n"
                "except Exception as e:\n r['xpgrad_error'] = repr(e)\n"
                "print('VERIFY ' + json.dumps(r))\n")
        try:
            res = subprocess.run([self.python, "-c", code], cwd=ROOT, env=self.env,
                                 capture_output=True, text=True, timeout=max(limit, 5))
        except subprocess.TimeoutExpired:
            return {"error": f"importing xpgrad took over {limit:.0f} s", "from_this_tree": False}
        line = next((ln for ln in res.stdout.splitlines() if ln.startswith("VERIFY ")), None)
        report = json.loads(line[7:]) if line else {"error": res.stderr[-2000:]}
        where = report.get("xpgrad")
        report["from_this_tree"] = bool(where) and (
            Path(where).resolve().is_relative_to(ROOT) or
            Path(where).resolve().is_relative_to(self.site.resolve()))
        return report

    def _pip(self, args, limit):
        return run_logged([self.python, "-m", "pip", *args], self.log, limit, env=self.env)

    def stage_install(self, limit):
        left = self.left
        info = {"site": str(self.site), "steps": []}
        self.state["install"] = info
        wheels = check_wheels(ROOT / WHEEL_DIR_NAME)
        info["wheels"] = wheels
        self.log.line(f"carried wheels: {wheels['wheels'] or 'none'}"
                      + (f"; problems: {wheels['problems']}" if wheels["problems"] else ""))
        if wheels["problems"]:
            return "failed", "; ".join(wheels["problems"])
        files = [ROOT / WHEEL_DIR_NAME / n for v in wheels["wheels"].values() for n in v]
        if files and not self.dry_run:
            r = self._pip(["install", "-q", "--no-index", "--no-deps", "--no-compile",
                           "--no-cache-dir", "--upgrade", "--target", self.site, *files], left())
            info["steps"].append(r)
            if r["rc"] != 0:
                return "failed", "pip could not install the carried wheels"
        elif files:
            self.log.line(f"dry run: would install {len(files)} wheel(s) into {self.site}")
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(self.site)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
        found = self._verify_import(left())
        info["mode"] = "already importable" if found.get("from_this_tree") else None
        if not found.get("from_this_tree") and not self.dry_run:
            self.log.line(f"xpgrad does not import from {ROOT} yet: installing it (editable, "
                          "no dependencies, no registry)")
            r = self._pip(["install", "-q", "--no-index", "--no-deps", "--no-build-isolation",
                           "-e", ROOT], left())
            info["steps"].append(r)
            info["mode"] = "pip install -e"
            if r["rc"] != 0:
                self.log.line("the editable install failed (the build tools here are too old or "
                              "missing?): linking the tree into the private site folder instead")
                info["mode"] = "linked into the site folder"
                info["linked"] = link_tree(ROOT, self.site)
            found = self._verify_import(left())
        info["import"] = found
        self.log.line(f"xpgrad: {found.get('xpgrad') or found.get('xpgrad_error')}; "
                      f"array_api_compat: {found.get('array_api_compat') or 'MISSING'}")
        for name, b in (found.get("backends") or {}).items():
            self.log.line(f"  backend {name}: " + ("available" if b["available"]
                                                   else f"unavailable ({b['reason']})"))
        if "array_api_compat" not in found:
            return "failed", (
                "array-api-compat is not installed here and no wheel of it was carried: run "
                "`tools/gpu_check.sh --prepare` where pip can reach PyPI, and name .whl in the "
                "device run's carry list")
        if not found.get("from_this_tree"):
            return "failed", f"xpgrad does not import from this tree: {found}"
        cupy_ok = (found.get("backends") or {}).get("cupy", {}).get("available")
        return "ok", "cupy backend " + ("available" if cupy_ok else "unavailable")

    def _pytest(self, files, junit, selection, limit):
        cmd = [self.python, "-m", "pytest", *files, *selection, "-rfEs", "-q",
               "--durations=15", f"--junitxml={junit}", "-o", "junit_logging=no",
               *self.pytest_args]
        if importlib.util.find_spec("pytest_timeout") is not None:
            cmd += ["-p", "pytest_timeout", f"--timeout={PER_TEST_TIMEOUT}"]
        junit.unlink(missing_ok=True)
        r = run_logged(cmd, self.log, limit, env=self.env)
        r["junit"] = parse_junit(junit.read_text()) if junit.is_file() else None
        return r

    def stage_tests(self, limit):
        files = [f for f in GPU_TESTS if (ROOT / f).is_file()]
        protocol = (ROOT / PROTOCOL_TESTS).is_file()
        if protocol:
            files.append(PROTOCOL_TESTS)
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

    def stage_bench(self, limit):
        out = self.out / FILES["bench"]
        out.unlink(missing_ok=True)
        cmd = [self.python, ROOT / "benchmarks" / "cuda_kernels.py", "--json", out,
               *self.bench_args]
        if self.dry_run:
            cmd.append("--dry-run")
        r = run_logged(cmd, self.log, limit, env=self.env)
        bench = json.loads(out.read_text()) if out.is_file() else None
        self.state["bench"] = bench
        self.state["bench_run"] = r
        if r["timed_out"]:
            return "timeout", f"sections done: {(bench or {}).get('sections_done')}"
        if r["rc"] != 0:
            errors = [e["section"] for e in (bench or {}).get("errors", [])]
            return "failed", f"exit {r['rc']}" + (f"; sections failed: {errors}" if errors else "")
        return "ok", f"sections: {(bench or {}).get('sections_done')}"

    # -- the whole run
    def run(self) -> int:
        self.log.line(f"xpgrad GPU check{' (DRY RUN: no device work)' if self.dry_run else ''}"
                      f": {ROOT}, output in {self.out}, budget {self.budget} s, "
                      f"python {self.python}")
        needs_install = {"tests", "bench"}
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
        tests = self.state.get("tests") or {}
        counts = tests.get("counts") or {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
        stages = {k: v["status"] for k, v in self.state["stages"].items()}
        line = summary_line(counts, self.state.get("bench"), stages, self.elapsed(),
                            self.dry_run)
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


# -- preparing the device run (here, with network) -------------------------------------------------
def _travelling_files():
    listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is None:
        raise SystemExit("--prepare needs git (it records the commit the device run is for)")
    return sorted(p for p in listed.split("\0") if p)


def prepare(log=print) -> int:
    """Download the wheels the device lacks into ``.whl/``, write ``.whl/SOURCE.json`` (commit,
    uncommitted files, each travelling file's hash) and print the device tool call."""
    wheel_dir = ROOT / WHEEL_DIR_NAME
    wheel_dir.mkdir(exist_ok=True)
    probe = wheel_dir / "probe.whl"
    if _git("check-ignore", "-q", str(probe.relative_to(ROOT))) is None:
        git_dir = Path((_git("rev-parse", "--git-dir") or ".git").strip())
        exclude = (git_dir if git_dir.is_absolute() else ROOT / git_dir) / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with open(exclude, "a") as f:
            f.write(f"/{WHEEL_DIR_NAME}/\n")
        log(f"added /{WHEEL_DIR_NAME}/ to {exclude}")
    for dist in {**REQUIRED_WHEELS, **OPTIONAL_WHEELS}:
        try:
            spec = f"{dist}=={importlib.metadata.version(dist)}"   # the version tested here
        except importlib.metadata.PackageNotFoundError:
            spec = dist
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp",
               "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
               "--platform", "manylinux2014_x86_64", "-d", str(wheel_dir), spec]
        log("$ " + shlex.join(cmd))
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            log(res.stderr[-2000:])
            if dist in REQUIRED_WHEELS:
                return 1
            continue
        keep = spec.split("==")[-1] if "==" in spec else None
        for w in wheel_dir.glob("*.whl"):    # one version each: two stop pip on the device
            if wheel_dist(w.name) == dist and keep and w.name.split("-")[1] != keep:
                w.unlink()
                log(f"removed {w.name} (another version)")
    status = _git("status", "--porcelain") or ""
    files = _travelling_files()
    stamp = {"commit": (_git("rev-parse", "HEAD") or "").strip() or None,
             "prepared_utc": utc_now(),
             "dirty_files": [ln[3:] for ln in status.splitlines()],
             "digests": file_digests(ROOT, files)}
    (wheel_dir / STAMP_NAME).write_text(json.dumps(stamp, indent=1))
    size = sum((ROOT / f).stat().st_size for f in stamp["digests"]) + sum(
        w.stat().st_size for w in wheel_dir.iterdir() if w.is_file())
    log(f"wrote {wheel_dir / STAMP_NAME}: commit {stamp['commit']}, "
        f"{len(stamp['dirty_files'])} uncommitted path(s), {len(stamp['digests'])} files hashed")
    log(f"wheels: {check_wheels(wheel_dir)['wheels']}")
    log(f"the tree that travels: about {size / 2**20:.1f} MiB of the 64 MiB a call may carry")
    if stamp["dirty_files"]:
        log("note: uncommitted changes travel too; the evidence will say the tree differs "
            "from the commit. Commit first, then prepare, for clean evidence.")
    log("\nthe device call (tool `run`):\n" + json.dumps(DEVICE_CALL, indent=1))
    return 0


DEVICE_CALL = {"command": "bash tools/gpu_check.sh --budget 360", "carry": [".whl"],
               "timeout_s": 420}


def default_out(dry_run) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return ROOT / "runs" / f"gpu-check-{stamp}{'-dry' if dry_run else ''}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true",
                   help="no device work: no installs, GPU tests seen as skips, benchmark plan")
    p.add_argument("--prepare", action="store_true",
                   help="here, with network: fetch the wheels the device lacks into .whl/ and "
                        "stamp the source")
    p.add_argument("--out", help="output folder (default: $OUT, else runs/gpu-check-<time>)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds for all stages together (default {DEFAULT_BUDGET}; "
                        "120 for --dry-run)")
    p.add_argument("--stages", default=",".join(STAGES),
                   help=f"comma-separated subset of {','.join(STAGES)} (source always runs, "
                        "and install whenever tests or bench do)")
    p.add_argument("--bench-args", default="",
                   help="extra arguments for benchmarks/cuda_kernels.py, e.g. '--sections ce'")
    p.add_argument("--pytest-args", default="", help="extra arguments for pytest")
    p.add_argument("--protocol-args", default=None,
                   help="selection for tests/test_kernel_protocol.py when none of its tests is "
                        "marked gpu (default: '-k cupy')")
    p.add_argument("--probe-env", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.probe_env:
        env = probe_env()
        Path(args.probe_env).write_text(json.dumps(env, indent=2, default=str))
        return 0
    if args.prepare:
        return prepare()
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        p.error(f"unknown stage(s) {unknown}; choose from {STAGES}")
    out = Path(args.out or os.environ.get("OUT") or default_out(args.dry_run))
    budget = args.budget or (120 if args.dry_run else DEFAULT_BUDGET)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    check = Check(out, args.dry_run, budget, stages, bench_args=shlex.split(args.bench_args),
                  pytest_args=shlex.split(args.pytest_args), protocol_args=args.protocol_args)
    return check.run()


if __name__ == "__main__":
    sys.exit(main())
