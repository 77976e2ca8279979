"""The kernel benchmarks of the Numba backend stay runnable (no timings asserted)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the scripts limit BLAS, Numba and PyTorch to one thread, and set their thread variables, in
# the process they run in: here the worker that runs the next tests
pytestmark = pytest.mark.usefixtures("thread_counts_kept", "environ_kept")


@pytest.fixture(autouse=True)
def _path_kept(monkeypatch):
    """recurrent_steps.py puts examples/ on sys.path as it loads; the test puts it back."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_copy_floor_table_covers_both_softmax_kernels(capsys):
    pytest.importorskip("numba")
    from xpgrad.backends.numba import _config

    _load("numba_kernels").floor(1, classes=(3, _config.SHORT_ROWS_MAX + 1), sizes=(512,))
    out = capsys.readouterr().out
    assert "copy floor" in out and f"up to {_config.SHORT_ROWS_MAX} classes" in out
    assert len([line for line in out.splitlines() if " us " in line]) == 2


@pytest.mark.parametrize("workload,extra", [("char_lm", []), ("lstm_step", ["--compiled"]),
                                            ("gru_step", []), ("rnn_step", [])])
def test_recurrent_steps_run_and_agree_with_torch(workload, extra, capsys):
    """A tiny update on each side; for char_lm, gru_step and rnn_step the script itself stops
    when the first losses differ."""
    pytest.importorskip("torch")
    args = ["--workload", workload, "--backends", "numpy", "--rounds", "1", "--calls", "1",
            "--batch", "2", "--steps", "5", "--hidden", "8", *extra]
    assert _load("recurrent_steps").main(args) == 0
    out = capsys.readouterr().out
    assert "xpgrad-numpy" in out and ("numpy compiled" in out) == bool(extra)


def test_lstm_phases_runs_and_prints_the_bound(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("numba")
    args = ["--rounds", "1", "--batch", "2", "--steps", "3", "--hidden", "4", "--inputs", "3"]
    assert _load("lstm_phases").main(args) == 0
    out = capsys.readouterr().out
    assert "torch: backward" in out and "Numba: T backward gate passes" in out
    assert "the bound with this BLAS" in out and "products at peak rate" in out
    assert "kernel: NumPy vjp" in out and "layout: T forward, feature-major" in out
    from xpgrad.backends import blas

    assert "kernels' T backward products" in out or blas._library() is None
    assert "kernels' weight-gradient product" in out or blas._library() is None


def test_lstm_eager_gap_runs_and_prints_every_row(capsys):
    pytest.importorskip("numba")
    assert _load("lstm_eager_gap").main(["--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("eager ", "compiled ", "kernels ", "eager: gradient", "eager - kernels"):
        assert row in out
    assert "faults/step" in out


def test_mlp_phases_prints_every_phase_of_each_step(capsys):
    """benchmarks/mlp_phases.py: a row per step (PyTorch's where installed), a column per
    phase; the phases' medians of a tiny run are positive numbers."""
    assert _load("mlp_phases").main(["--batch", "3", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    for column in ("linear+relu", "softmax-CE", "backward", "update", "total"):
        assert column in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.split() and line.split()[0] in ("xpgrad", "numpy", "torch")}
    assert {"xpgrad", "numpy"} <= set(rows)
    assert all(len(values) == 6 and min(map(float, values)) > 0 for values in rows.values())


def test_lstm_numpy_phases_prints_every_row_without_numba(capsys):
    """The NumPy backend's breakdown (no Numba needed); its product-less kernels leave the
    real ones as they were."""
    import numpy as np

    from xpgrad.backends import blas

    matmul = blas.matmul
    args = ["--rounds", "1", "--batch", "3", "--hidden", "4", "--steps", "5"]
    assert _load("lstm_numpy_phases").main(args) == 0
    out = capsys.readouterr().out
    for row in ("xpgrad step ", "kernel forward ", "kernel vjp without products", "products ",
                "xpgrad step - kernels"):
        assert row in out
    assert blas.matmul is matmul
    a = np.ones((2, 2))
    np.testing.assert_array_equal(blas.matmul(a, a), a @ a)


def test_lstm_numpy_phases_product_less_kernels_run_no_product(monkeypatch):
    """The ``... without products`` rows run none of ``blas``'s products (the blocks'
    ``dw += x_rows.T @ dz`` by ``gemm_update`` included, which they ran, adding ~3.5 ms to
    the vjp's row), and ``blas`` is left as it was."""
    from xpgrad.backends import blas
    from xpgrad.backends.numpy import scan_rings

    monkeypatch.setattr(scan_rings, "RING_BYTES", 1)     # rings of 2 steps: blocks after the first
    calls = []

    def spy(name):
        def product(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} ran")
        return product
    names = ("matmul", "stepped_matmul", "stepped_update", "gemm_update")
    for name in names:
        monkeypatch.setattr(blas, name, spy(name))
    spies = [getattr(blas, name) for name in names]
    forward, vjp = _load("lstm_numpy_phases").kernel_calls(3, 5, 64, 4, products=False)
    forward()
    vjp()
    assert calls == []
    assert [getattr(blas, name) for name in names] == spies
