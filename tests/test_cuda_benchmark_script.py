"""benchmarks/cuda_kernels.py, as far as it runs without a GPU: the dry run, the refusal with
the reason, and its measuring code driven through the emulated CUDA kernels on small inputs."""
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg
from cuda_emu import EmuLauncher, build, build_dir, compiler, emulated_backend

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "cuda_kernels.py"


@pytest.fixture(autouse=True)
def _path_kept(monkeypatch):
    """The script puts benchmarks/ on ``sys.path`` when it loads: on a copy, put back after
    each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def _load():
    import importlib.util

    spec = importlib.util.spec_from_file_location("cuda_kernels_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod        # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod


def test_dry_run_prints_the_plan():
    res = subprocess.run([sys.executable, str(SCRIPT), "--dry-run"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "8192x32000" in res.stdout and "100M" in res.stdout
    assert "28796 of 32000 columns cached" in res.stdout


def test_without_a_device_it_refuses_with_the_reason():
    try:
        xg.get_backend("cupy")
        pytest.skip("a CUDA device is available here")
    except xg.BackendUnavailableError:
        pass
    res = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and "cannot run the CUDA benchmarks here" in res.stderr


def test_docstring_examples_of_the_section_modules_run():
    import doctest

    _load()                                  # puts benchmarks/ on the path
    import cuda_bench_common
    import cuda_bench_kernels
    import cuda_bench_steps

    for module in (cuda_bench_common, cuda_bench_kernels, cuda_bench_steps):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_byte_accounting():
    bench = _load()
    assert bench.ce_bytes(8192, 32000) == 8192 * 32000 * 8 + 8192 * 12
    assert bench.mse_bytes(100_000_000) == 1_200_000_000
    r = bench.result("w", "lib", 0.5, 10**9, copy_bw=4e9)
    assert r["GB/s"] == 2.0 and r["of_copy"] == 0.5 and r["ms"] == 500.0


def test_kernel_lookup_accepts_names_and_primitive_keys():
    bench = _load()
    prim = type("Prim", (), {"name": "relu"})()       # a hashable stand-in for a Primitive
    assert bench.kernel_for(types.SimpleNamespace(kernels={"relu": 1}), "relu") == 1
    assert bench.kernel_for(types.SimpleNamespace(kernels={prim: 2}), "relu") == 2
    with pytest.raises(KeyError, match="no kernel for 'tanh'"):
        bench.kernel_for(types.SimpleNamespace(name="x", kernels={prim: 2}), "tanh")


def test_dry_run_json_and_sections(tmp_path):
    out = tmp_path / "plan.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--json", str(out),
                          "--sections", "ce,optim"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    names = [r["workload"] for r in report["rows"]]
    assert names == ["softmax CE fwd+bwd 8192x32000", "softmax CE fwd+bwd 4096x1000",
                     "softmax CE fwd+bwd 128x10", "SGD(momentum) update 64Mi", "Adam update 64Mi"]
    assert report["rows"][-1]["bytes"] == 7 * 4 * 2**26
    bad = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--sections", "cee"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown section" in bad.stderr


def _torch_cpu(bench):
    try:
        import torch
    except ImportError:
        return None
    return bench.Peer(torch, "cpu")


@pytest.mark.skipif(compiler() is None, reason="no host C++ compiler for the emulator")
def test_measurements_run_on_emulated_kernels(tmp_path):
    """Every section's measuring code, on the emulated CUDA kernels standing in for the device
    and PyTorch on the CPU standing in for PyTorch CUDA, with tiny sizes: the rows, ratios and
    headline numbers the device run will produce, and the JSON written after each section."""
    bench = _load()
    be = emulated_backend(EmuLauncher(build(build_dir()), sm_count=1))
    be.synchronize = lambda: None
    fake_cupy = types.SimpleNamespace(      # what the benchmark uses of CuPy, on the host
        asarray=np.asarray, ones=np.ones, float32=np.float32,
        get_default_memory_pool=lambda: types.SimpleNamespace(free_all_blocks=lambda: None))
    peer = _torch_cpu(bench)
    ctx = bench.Ctx(xg, be, fake_cupy, peer, reps=1, copy_bw=1e9)
    report = bench.Report(device="emulated", copy_bw=1e9)
    sizes = {"ce": ((4, 64), (3, 5)), "mse": 1000, "act": 1000, "optim": 1000, "mlp": (8,),
             "lstm": ((2, 4, 3, 5),), "libs": ("xpgrad-numpy", "torch-cpu")}
    out = tmp_path / "bench.json"
    bench.run_sections(ctx, report, bench.SECTIONS, sizes, json_path=out)
    assert report.errors == [], report.errors[0]["traceback"] if report.errors else ""
    assert report.sections_done == list(bench.SECTIONS)
    libs = [(r["workload"], r["lib"]) for r in report.rows]
    assert libs[:4] == [("softmax CE fwd+bwd 4x64", "xpgrad kernel")] * 3 + [
        ("softmax CE fwd+bwd 4x64", "xpgrad API (tape)")]
    kernel_rows = [r for r in report.rows if r["lib"].startswith("xpgrad kernel")]
    assert len(kernel_rows) == 3 + 1 + 1 + 3 + 2      # CE variants, CE 3x5, MSE, acts, optims
    assert all(r["ms"] > 0 and r["of_copy"] > 0 for r in kernel_rows)
    summary = report.summary
    assert set(summary["ce"]) == {"4x64", "3x5"} and summary["sigmoid_mse"]["of_copy"] > 0
    assert set(summary["activations"]) == {"sigmoid", "tanh", "relu"}
    assert set(summary["optimizers"]) == {"sgd_momentum", "adam"}
    if peer is not None:
        assert summary["ce"]["4x64"]["vs_torch"] > 0 and summary["mlp"]["b8"] > 0
        assert summary["optimizers"]["adam"]["vs_torch_fused"] > 0
        assert summary["lstm"]["b2 h4"] > 0
    saved = json.loads(out.read_text())
    assert saved["sections_done"] == list(bench.SECTIONS) and saved["summary"]["ce"]
    text = bench.format_report("emulated", 1e9, report.rows, report.ratios)
    assert "softmax CE fwd+bwd 4x64" in text and "sigmoid-MSE" in text and "MLP step" in text


def test_a_failing_section_is_recorded_and_the_others_run(tmp_path):
    bench = _load()
    ctx = bench.Ctx(xg, types.SimpleNamespace(kernels={}, name="empty"), None, None, 1, None)
    report = bench.Report()
    sizes = {"ce": ((2, 3),), "mse": 10, "act": 10, "optim": 10, "mlp": (2,), "lstm": (),
             "libs": ("xpgrad-numpy", "torch-cpu")}
    bench.run_sections(ctx, report, ["ce", "lstm"], sizes, json_path=tmp_path / "b.json")
    assert [e["section"] for e in report.errors] == ["ce"]
    assert "no kernel for 'softmax_cross_entropy'" in report.errors[0]["error"]
    assert report.sections_done == ["lstm"]
    assert json.loads((tmp_path / "b.json").read_text())["errors"][0]["section"] == "ce"
