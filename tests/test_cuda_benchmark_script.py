"""benchmarks/cuda_kernels.py, as far as it runs without a GPU: the dry run, the refusal with
the reason, and its measuring code driven through the emulated CUDA kernels on small inputs."""
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import xpgrad as xg
from cuda_emu import EmuLauncher, build, build_dir, compiler, emulated_backend

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "cuda_kernels.py"


def _load():
    import importlib.util

    spec = importlib.util.spec_from_file_location("cuda_kernels_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
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


def test_byte_accounting():
    bench = _load()
    assert bench.ce_bytes(8192, 32000) == 8192 * 32000 * 8 + 8192 * 12
    assert bench.mse_bytes(100_000_000) == 1_200_000_000
    r = bench.result("w", "lib", 0.5, 10**9, copy_bw=4e9)
    assert r["GB/s"] == 2.0 and r["of_copy"] == 0.5 and r["ms"] == 500.0


@pytest.mark.skipif(compiler() is None, reason="no host C++ compiler for the emulator")
def test_measurements_run_on_emulated_kernels(request, tmp_path_factory):
    bench = _load()
    be = emulated_backend(EmuLauncher(build(build_dir(request, tmp_path_factory)), sm_count=1))
    be.synchronize = lambda: None
    fake_cupy = types.SimpleNamespace(      # what the benchmark uses of CuPy, on the host
        asarray=np.asarray, ones=np.ones, float32=np.float32,
        get_default_memory_pool=lambda: types.SimpleNamespace(free_all_blocks=lambda: None))
    rows, ratios = [], {}
    bench.bench_ce(xg, be, fake_cupy, None, (4, 64), 1, 1e9, rows, ratios)
    bench.bench_sigmoid_mse(xg, be, fake_cupy, None, 1000, 1, 1e9, rows, ratios)
    bench.bench_mlp(None, (8,), 1, rows, ratios)
    text = bench.format_report("emulated", 1e9, rows, ratios)
    assert [r["lib"] for r in rows[:6]] == ["xpgrad kernel"] * 3 + ["xpgrad API (tape)",
                                                                    "xpgrad kernel",
                                                                    "xpgrad API (tape)"]
    assert all(r["ms"] > 0 and r["of_copy"] > 0 for r in rows[:6])
    assert "softmax CE fwd+bwd 4x64" in text and "sigmoid-MSE" in text and "MLP step" in text
