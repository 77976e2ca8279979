"""tools/gpu_check.sh and tools/gpu_evidence.py without a device: the dry run end to end (what
CI runs so the script cannot rot), test counts read from real JUnit XML (failures included),
the stage time limits, the missing-package message, the source stamp, and evidence import."""
import doctest
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.sh"


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


_PATH_BEFORE = list(sys.path)
gpu_check = _load("tools/gpu_check.py", "gpu_check_tool")
# the modules it is made of (tools/gpu_check_*.py, which it imports with tools/ put on
# sys.path); the stages read their settings from the globals of gpu_check_stages, so tests
# patch them there. gpu_check_asv, which the stages import when they run, is imported now.
PARTS = [sys.modules[name] for name in ("gpu_check_config", "gpu_check_log", "gpu_check_results",
                                        "gpu_check_source", "gpu_check_env", "gpu_check_install",
                                        "gpu_check_stages")]
importlib.import_module("gpu_check_asv")
stages = sys.modules[gpu_check.Check.__module__]
gpu_evidence = _load("tools/gpu_evidence.py", "gpu_evidence_tool")
sys.path[:] = _PATH_BEFORE          # tools/ stays off the path of the tests that follow


def _has_gpu():
    import xpgrad as xg

    try:
        xg.get_backend("cupy")
        return True
    except xg.BackendUnavailableError:
        return False


def _in_git_checkout():
    res = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True,
                         text=True)
    return res.returncode == 0 and Path(res.stdout.strip()).resolve() == ROOT.resolve()


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """One dry run of the real script, as CI runs it: (completed process, output folder, secs)."""
    out = tmp_path_factory.mktemp("gpu-check-dry")
    t0 = time.monotonic()
    res = subprocess.run(["bash", str(SCRIPT), "--dry-run"], capture_output=True, text=True,
                         encoding="utf-8", timeout=300, env=dict(os.environ, OUT=str(out)))
    return res, out, time.monotonic() - t0


def test_dry_run_ends_with_the_summary_line_and_writes_the_json(dry_run):
    res, out, seconds = dry_run
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    last = res.stdout.strip().splitlines()[-1]
    m = gpu_check.SUMMARY_RE.match(last)
    assert m, last
    check = json.loads((out / "gpu_check.json").read_text())
    assert check["finished"] and check["dry_run"] and check["exit_code"] == 0
    assert check["summary_line"] == last
    assert [*check["stages"]] == list(gpu_check.STAGES)
    assert all(s["status"] == "ok" for s in check["stages"].values()), check["stages"]
    total = check["counts"]         # the tests and portable stages' together
    assert (int(m["passed"]), int(m["failed"]), int(m["skipped"])) == (
        total["passed"], total["failed"], total["skipped"])
    assert total["failed"] == 0
    counts = check["tests"]["counts"]
    assert total["total"] == counts["total"] + check["portable"]["counts"]["total"]
    if not _has_gpu():     # the GPU tests are collected, and seen as skips with their reason
        assert counts["passed"] == 0 and counts["skipped"] > 100
        assert any("cupy" in reason for reason in check["tests"]["skip_reasons"])
        assert any(f.endswith("test_cupy_gated_layers.py") for f in check["tests"]["files"])
    if _in_git_checkout():
        assert re.fullmatch(r"[0-9a-f]{40}", check["source"]["commit"]), check["source"]
    assert check["env"]["python"] and "packages" in check["env"]
    # the strict tests, pointed at cupy by the variable, all collected (and skipped without a
    # device, for cupy's reason); a sample of them passed on numpy through the same variable
    on_cupy, sample = check["portable"]["counts"], check["portable"]["dry_run_sample"]["counts"]
    assert on_cupy["total"] > 500 and on_cupy["failed"] == 0
    if not _has_gpu():
        assert on_cupy["skipped"] == on_cupy["total"]
        assert all(reason.startswith(("cupy: ", "on cupy: "))
                   for reason in check["portable"]["skip_reasons"])
    assert sample["passed"] >= 10 and sample["failed"] == 0
    # the variable reached the sample: array-api-strict's own test skipped as on numpy
    reasons = check["portable"]["dry_run_sample"]["skip_reasons"]
    assert sample["skipped"] == 1 and all(r.startswith("on numpy: ") for r in reasons), reasons
    assert "strict tests on cupy" in last
    assert check["bench"]["sections_done"][0] == "mlp (plan)"
    assert check["bench"]["sections_done"] and "softmax CE" in check["bench"]["rows"][0]["workload"]
    assert (out / "summary.txt").read_text(encoding="utf-8").strip().endswith(last)
    assert "=== tests" in (out / "gpu_check.log").read_text(encoding="utf-8")
    # what the device tool returns: at most 8 files, plain names, at most 2 folders deep
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8, files
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in files)
    assert all(len(p.relative_to(out).parts) <= 3 for p in files)
    # about 40 s on a loaded 2-core machine: the portable stage collects its 840 tests twice
    assert seconds < 90, f"the dry run took {seconds:.0f} s"


def _fake_tests(folder, name, body):
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def test_counts_come_from_pytests_junit_xml_failures_included(tmp_path, monkeypatch):
    """Real pytest runs over fake GPU tests (one passes, one fails, one errors in its fixture,
    one skips): the summary line and the JSON carry exactly those counts, and the exit status
    says the check failed. The protocol file's tests, not marked gpu, are picked by name; a
    host test file's cupy case (marked gpu) runs after them."""
    main = _fake_tests(tmp_path, "test_fake_gpu.py", """
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("no context")

        @pytest.mark.gpu
        def test_ok():
            pass

        @pytest.mark.gpu
        def test_bad():
            assert 1 == 2, "kernel differs"

        @pytest.mark.gpu
        def test_error(broken):
            pass

        @pytest.mark.gpu
        @pytest.mark.skip(reason="no device here")
        def test_skipped():
            pass

        def test_not_gpu_is_deselected():
            pass
        """)
    protocol = _fake_tests(tmp_path, "test_fake_protocol.py", """
        import pytest

        @pytest.mark.parametrize("backend", ["numpy", "cupy"])
        def test_kernel(backend):
            pass
        """)
    later = _fake_tests(tmp_path, "test_fake_host.py", """
        import pytest

        @pytest.mark.parametrize("backend", ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
        def test_on_a_backend(backend):
            pass
        """)
    monkeypatch.setattr(stages, "GPU_TESTS", (str(main),))
    monkeypatch.setattr(stages, "PROTOCOL_TESTS", str(protocol))
    monkeypatch.setattr(stages, "LATER_GPU_TESTS", (str(later),))
    check = gpu_check.Check(tmp_path / "out", dry_run=True, budget=120, stages=["tests"])
    rc = check.run()
    state = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    counts = state["tests"]["counts"]
    assert counts == {"passed": 3, "failed": 2, "errors": 1, "skipped": 1, "total": 6}, counts
    assert state["tests"]["files"] == [str(main), str(protocol), str(later)]
    assert rc == 1 and state["exit_code"] == 1
    assert state["stages"]["tests"]["status"] == "failed"
    assert set(state["tests"]["runs"]) == {"main", "protocol"}
    failed = {f["test"].split("::")[-1]: f for f in state["tests"]["failures"]}
    assert set(failed) == {"test_bad", "test_error"}
    assert "kernel differs" in failed["test_bad"]["message"]
    assert failed["test_error"]["outcome"] == "error"
    assert state["tests"]["skip_reasons"] == {"no device here": 1}
    line = state["summary_line"]
    assert line.startswith("GPU CHECK: 3 passed, 2 failed, 1 skipped; CE not measured;")
    assert "stages not ok: tests failed" in line and gpu_check.SUMMARY_RE.match(line)


def test_parse_junit_reads_errors_and_the_summary_formats_bench_numbers():
    xml = """<testsuites><testsuite name="pytest" errors="1" failures="2" skipped="1" tests="6">
      <testcase classname="tests.test_cupy_backend" name="test_a" time="1.5"/>
      <testcase classname="tests.test_cupy_backend" name="test_b" time="0.5"/>
      <testcase classname="tests.test_cupy_backend" name="test_c" time="0.1">
        <failure message="AssertionError: loss">long trace</failure></testcase>
      <testcase classname="tests.test_cupy_backend" name="test_d" time="0.1">
        <failure message="AssertionError: gradient">trace</failure></testcase>
      <testcase classname="tests.test_cupy_backend" name="test_e" time="0.0">
        <error message="failed on setup with CUDARuntimeError">trace</error></testcase>
      <testcase classname="tests.test_cupy_backend" name="test_f" time="0.0">
        <skipped type="pytest.skip" message="needs 2 devices">skip</skipped></testcase>
    </testsuite></testsuites>"""
    r = gpu_check.parse_junit(xml)
    assert r["counts"] == {"passed": 2, "failed": 3, "errors": 1, "skipped": 1, "total": 6}
    bench = {"summary": {"ce": {"128x10": {"vs_torch": 0.5, "vs_torch_api": 0.3, "of_copy": 0.01},
                                "8192x32000": {"vs_torch": 1.234, "vs_torch_api": 1.1,
                                               "of_copy": 0.815}},
                         "sigmoid_mse": {"vs_torch": 2.0, "of_copy": 0.9},
                         "optimizers": {"adam": {"vs_torch": 1.5, "vs_torch_fused": 0.8}},
                         "mlp": {"b128": 0.9, "b4096": 1.2}, "lstm": {"b64 h128": 0.3},
                         "copy_GB/s": 4301.2}}
    line = gpu_check.summary_line(r["counts"], bench, {"tests": "failed", "bench": "ok"}, 300)
    assert line.startswith("GPU CHECK: 2 passed, 3 failed, 1 skipped; CE 1.23× torch "
                           "(API 1.10×), 82% of copy BW; sigmoid-MSE 2.00× torch, 90% of copy BW")
    for part in ("Adam 1.50× torch (Adam vs fused 0.80×)", "MLP b128 0.90×, b4096 1.20× torch",
                 "LSTM b64 h128 0.30× torch", "copy 4301 GB/s", "stages not ok: tests failed",
                 "; 300 s"):
        assert part in line
    assert gpu_check.SUMMARY_RE.match(line)


def test_a_stage_over_its_limit_is_interrupted_and_its_output_kept(tmp_path):
    log = gpu_check.Log(tmp_path / "log")
    child = ("import signal, sys, time\n"
             "print('partial result', flush=True)\n"
             "if sys.argv[1] == 'stubborn': signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
             "time.sleep(60)\n")
    # generous bounds: on a loaded 2-core CI machine Python's start alone can take seconds;
    # what matters is which signal ended each child, long before its 60 s sleep
    t0 = time.monotonic()
    polite = gpu_check.run_logged([sys.executable, "-c", child, "polite"], log, 3, grace=30)
    assert polite["timed_out"] and polite["rc"] not in (0, -9) and time.monotonic() - t0 < 30
    t0 = time.monotonic()
    stubborn = gpu_check.run_logged([sys.executable, "-c", child, "stubborn"], log, 1.5, grace=1)
    assert stubborn["timed_out"] and stubborn["rc"] == -9 and time.monotonic() - t0 < 30
    log.close()
    text = (tmp_path / "log").read_text()
    assert text.splitlines().count("partial result") == 2
    assert "time limit of 2 s reached" in text


def test_a_stage_is_interrupted_even_when_its_caller_ignores_and_blocks_sigint(tmp_path):
    # a shell without job control starts background commands with SIGINT ignored; exec keeps
    # that and a blocked mask, so the stage's own SIGINT must be restored for it
    caller = textwrap.dedent(f"""
        import signal, sys, time
        sys.path.insert(0, {str(ROOT / "tools")!r})
        import gpu_check
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGINT}})
        log = gpu_check.Log({str(tmp_path / "log")!r})
        child = "import time; print('started', flush=True); time.sleep(60)"
        r = gpu_check.run_logged([sys.executable, "-c", child], log, 3, grace=40)
        print("RC", r["rc"])
    """)
    out = subprocess.run([sys.executable, "-c", caller], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "RC -2" in out.stdout, out.stdout        # SIGINT ended it, not the SIGKILL after 40 s


def test_stage_limits_fit_the_budget_and_the_lease():
    assert gpu_check.stage_timeout("tests", 1000, ["bench"]) == gpu_check.LIMITS["tests"][0]
    # a 15-minute lease: a 2-minute machine start, then the whole budget twice (a warm rerun);
    # one run, start and a stage's SIGINT-to-SIGKILL grace included, well inside 10 minutes
    assert 2 * 60 + 2 * gpu_check.DEFAULT_BUDGET <= 15 * 60
    assert 2 * 60 + gpu_check.DEFAULT_BUDGET + gpu_check.KILL_GRACE <= 9 * 60
    # the run tool's limit covers the budget, one stage's SIGINT-to-SIGKILL grace and the summary
    call = gpu_check.DEVICE_CALL
    assert gpu_check.DEFAULT_BUDGET + gpu_check.KILL_GRACE + 30 <= call["timeout_s"] <= 600
    assert len(call["command"]) < 2000 and call["carry"] == [gpu_check.WHEEL_DIR_NAME]
    doc = (ROOT / "docs" / "gpu.md").read_text()
    assert call["command"] in doc and f'"timeout_s": {call["timeout_s"]}' in doc


def test_without_array_api_compat_the_install_stage_says_what_to_do(tmp_path):
    """A Python that has neither xpgrad nor array-api-compat (a bare device without the carried
    wheel): install fails naming the package and the fix; tests and bench are skipped."""
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    check = gpu_check.Check(tmp_path / "out", dry_run=True, budget=60,
                            stages=["install", "tests", "bench"], python=str(python))
    check.env.pop("PYTHONPATH", None)
    assert check.run() == 1
    state = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    install = state["stages"]["install"]
    assert install["status"] == "failed"
    assert "array-api-compat" in install["detail"] and "--prepare" in install["detail"]
    assert state["stages"]["tests"]["status"] == "skipped"
    assert state["stages"]["bench"]["status"] == "skipped"


def test_the_source_stamp_is_checked_against_the_tree_that_arrived(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("one")
    (tmp_path / "b.py").write_text("two")
    (tmp_path / ".whl").mkdir()
    stamp = {"commit": "f" * 40, "prepared_utc": "2026-12-02T00:00:00Z", "dirty_files": [],
             "digests": gpu_check.file_digests(tmp_path, ["a.py", "b.py"])}
    (tmp_path / ".whl" / "SOURCE.json").write_text(json.dumps(stamp))
    monkeypatch.setattr(stages, "ROOT", tmp_path)
    monkeypatch.setattr(stages, "_git", lambda *a, **k: None)      # no .git on the device
    check = gpu_check.Check(tmp_path / "out", dry_run=True, budget=30, stages=["source"])
    check.deadline = time.monotonic() + 30
    assert check.stage_source(10)[0] == "ok"
    src = check.state["source"]
    assert src["commit"] == "f" * 40 and src["tree_matches_stamp"] and not src["dirty"]
    (tmp_path / "b.py").write_text("changed on the way")
    check.stage_source(10)
    src = check.state["source"]
    assert src["dirty"] and src["changed_since_stamp"] == ["b.py"]
    check.log.close()
    shutil.rmtree(check.site, ignore_errors=True)


def test_evidence_import_of_the_dry_runs_output(dry_run, tmp_path):
    _, out, _ = dry_run
    dest = tmp_path / "evidence"
    refused = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_evidence.py"), str(out),
                              "--dest", str(dest)], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "dry run" in refused.stderr and not dest.exists()
    check = json.loads((out / "gpu_check.json").read_text())
    known = bool(check["source"]["commit"])       # not outside a git checkout
    first = gpu_evidence.import_evidence(out, dest, allow_dry_run=True, force=not known)
    second = gpu_evidence.import_evidence(out, dest, allow_dry_run=True, force=not known)
    commit = check["source"]["commit"][:10] if known else "no-commit"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-([0-9a-f]{10}|no-commit)(-dirty)?-dry-run", first.name)
    assert first.name.startswith(f"{check['started_utc'][:10]}-{commit}")
    assert second.name == first.name + "-2"
    assert sorted(p.name for p in first.iterdir()) == sorted(gpu_evidence.COPIED)
    assert json.loads((first / "gpu_check.json").read_text()) == check
    index = (dest / "README.md").read_text()
    assert index.count(check["summary_line"]) == 2 and f"]({first.name}/summary.txt)" in index


def test_docstring_examples_run(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))   # the script puts benchmarks/ there
    bench = _load("benchmarks/cuda_kernels.py", "cuda_kernels_bench_doc")
    for module in (gpu_check, *PARTS, gpu_evidence, bench):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
