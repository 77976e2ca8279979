"""The Numba CTC kernel (backends/numba/_ctc.py): it runs (does not decline) on the numba
backend, its threaded loop equals its one-thread loop, a persistent tape's second gradient
equals the first, and warmup compiles it. (Its values against the generic rule:
tests/test_kernel_protocol.py; through xg.losses.ctc against numpy: tests/test_ctc_loss.py.)"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

pytest.importorskip("numba")
if "numba" not in backend_report():
    pytest.skip("the numba backend is unavailable", allow_module_level=True)

from xpgrad.backends.numba import _cache, _config, _ctc  # noqa: E402


def _inputs(seed=0, T=30, N=6, C=7, S=8):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, C))
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    targets = rng.integers(1, C, (N, S))
    targets[0, :4] = 2                                    # a run of repeats
    tl = rng.integers(0, S + 1, N)
    il = np.minimum(T, 2 * tl + 1 + rng.integers(0, 5, N))
    il[-1], tl[-1] = 3, 5                                 # infeasible
    return lp, targets, il, tl


def test_kernel_runs_on_the_numba_backend(monkeypatch):
    calls = []
    real = _ctc.loops.ctc_serial
    monkeypatch.setattr(_ctc.loops, "ctc_serial", lambda *a: calls.append(1) or real(*a))
    lp, targets, il, tl = _inputs()
    x = xg.asarray(lp, backend="numba")
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.ctc(x, targets, il, tl, reduction="none")
        total = xg.sum(xg.where(xg.isinf(loss), 0.0, loss))
    grad = tape.gradient(total, x).numpy()
    assert calls == [1], "the kernel did not run (or ran again in the backward pass)"
    out = loss.numpy()
    assert np.isinf(out[-1]) and np.isfinite(out[:-1]).all()
    # the infeasible sample's gradient is NaN on its 3 steps even with a 0 output gradient
    # (NaN * 0, as PyTorch's), the others' finite
    assert np.isnan(grad[:3, -1]).all() and not np.isnan(grad[3:, -1]).any()
    assert np.isfinite(grad[:, :-1]).all()


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_call_no_tape_records_computes_the_losses_alone(monkeypatch, dtype, reduction,
                                                          zero_infinity):
    """No tape: the loops run without the gradient (want_grad False), the losses equal the
    recorded call's bit for bit (the infeasible sample's inf, or 0 with zero_infinity)."""
    lp, targets, il, tl = _inputs(2)
    lp = lp.astype(dtype)
    wanted = []
    real = _ctc.loops.ctc_serial
    monkeypatch.setattr(_ctc.loops, "ctc_serial",
                        lambda *a: wanted.append(a[-1]) or real(*a))
    x = xg.asarray(lp, backend="numba")
    kwargs = dict(reduction=reduction, zero_infinity=zero_infinity)
    free = xg.losses.ctc(x, targets, il, tl, **kwargs).numpy()
    with xg.GradientTape() as tape:
        tape.watch(x)
        recorded = xg.losses.ctc(x, targets, il, tl, **kwargs).numpy()
    assert wanted == [False, True]
    assert free.dtype == recorded.dtype == dtype
    np.testing.assert_array_equal(free, recorded)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_equals_one_thread(monkeypatch, dtype):
    lp, targets, il, tl = _inputs(1, N=9)
    lp = lp.astype(dtype)
    args = (lp, targets, il, tl)
    params = dict(blank=0, reduction="none", zero_infinity=False)
    out1, saved1 = _ctc.ctc_forward(*args, **params)
    monkeypatch.setattr(_config, "ROW_PAR_MIN", 0)
    calls = []
    real = _config.run_parallel
    monkeypatch.setattr(_config, "run_parallel", lambda *a: calls.append(1) or real(*a))
    out2, saved2 = _ctc.ctc_forward(*args, **params)
    assert calls, "the threaded loop did not run"
    np.testing.assert_array_equal(out2, out1)
    np.testing.assert_array_equal(saved2.grad, saved1.grad)


def test_persistent_tape_second_gradient_equals_first():
    lp, targets, il, tl = _inputs(2)
    x = xg.asarray(lp, backend="numba")
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = xg.losses.ctc(x, targets, il, tl, zero_infinity=True)
    first = tape.gradient(loss, x).numpy().copy()
    second = tape.gradient(loss, x).numpy()
    np.testing.assert_array_equal(second, first)
    assert np.abs(first).max() > 0


def test_warmup_knows_the_ctc_loops():
    names = set(_cache.kernel_dispatchers())
    assert {"_ctc_kernels.ctc_serial", "_ctc_kernels.ctc_threaded"} <= names
    assert any(name == "ctc_loss" for _, name in _cache.UNITS)


def test_benchmark_script_runs(capsys, monkeypatch):
    """benchmarks/ctc_loss.py on a tiny shape: every variant gives the same loss (it asserts
    that) and is timed; the thread counts it sets to 1 are put back."""
    from pathlib import Path

    import numba

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "benchmarks"))
    import ctc_loss
    before = numba.get_num_threads()
    times = ctc_loss.main(["--shape", "6", "3", "4", "2", "--repeats", "2"])
    assert numba.get_num_threads() == before
    assert {"generic (numpy)", "kernel (numba)"} <= set(times)
    assert all(len(ts) == 2 for ts in times.values())
    assert "one thread" in capsys.readouterr().out
