"""The Numba backend compiling in a background process (``compiling_in_background``, what
``xpgrad train`` runs in): from an empty kernel cache nothing compiles in the calling process,
the NumPy kernels stand in, and the Numba kernel takes over once the background process has
put it in the cache; a forward and its backward run on the same kernel across the switch."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

import xpgrad as xg  # noqa: E402
from xpgrad.backends.numba import _background, _cache  # noqa: E402

NB = xg.get_backend("numba")


def _wrapped_names():
    units = {name for _, name in _cache.UNITS}
    return [n for n in NB.kernels if _background.UNIT_OF.get(n, n) in units]


def test_every_unit_kernel_is_wrapped_and_its_loops_are_found():
    """Each kernel a warmup unit compiles is deferred, and the loops found for it are the ones
    its unit compiles (after a float64 warmup of the unit, each has a float64 version here)."""
    names = _wrapped_names()
    assert set(names) == ({n for _, n in _cache.UNITS if n != "lstm"}
                          | {"lstm_scan", "lstm_layer", "rnn_scan", "gru_scan"})
    _cache._compile(NB, (np.dtype("float64"),), None, parallel=False)
    for name in names:
        loops = _background.kernel_loops(NB.kernels[name])
        assert loops, name
        for d in loops:
            assert not d.targetoptions.get("parallel"), (name, d)
            # a float32-only loop (the erf family's polynomials) has no float64 version to find
            assert _background.has_version(d, "float64") == bool(
                _cache.versions_needed(d, ("float64",))), (name, d)
            assert not _background.has_version(d, "complex128"), (name, d)


def test_every_scan_kernel_waits_for_its_unit_and_the_warm_check_covers_its_loops():
    """Each recurrent scan kernel (the Elman RNN's too) is deferred to the warmup unit that
    compiles it, and every loop a deferred kernel runs is one the cache's warm check
    (``kernel_dispatchers``: ``xpgrad info``'s cache_warm, ``warmup``'s skip) counts."""
    from xpgrad.backends.numba import _scans

    assert set(_scans.KERNELS) <= set(_wrapped_names())
    counted = {id(d) for d in _cache.kernel_dispatchers().values()}
    for name in _wrapped_names():
        missing = [d.py_func.__qualname__ for d in _background.kernel_loops(NB.kernels[name])
                   if id(d) not in counted]
        assert not missing, (name, missing)


def test_kernels_restored_on_exit():
    before = dict(NB.kernels)
    with NB.compiling_in_background():
        assert NB.kernels["relu"] is not before["relu"]
        assert NB.kernels["linear"] is before["linear"]          # no warmup unit: untouched
    assert dict(NB.kernels) == before


_COLD = r"""
import json, sys, time
import numpy as np
from numba.core import event
import xpgrad as xg
from xpgrad.backends.numba import _background

be = xg.get_backend("numba")
x = np.linspace(-2.0, 2.0, 7)
report = {}
with event.install_recorder("numba:compile") as compiles:
    with be.compiling_in_background() as compiler:
        v = xg.Variable(x.copy(), backend="numba")
        with xg.GradientTape() as tape:            # forward on the stand-in ...
            y = xg.nn.relu(v * 3.0)
            loss = xg.sum(y * y)
        report["first"] = y.numpy().tolist()
        report["requested"] = sorted(map(list, compiler.requested))
        t0 = time.time()
        while not compiler.ready("relu", "float64") and time.time() - t0 < 300:
            if compiler.failed:
                break
            time.sleep(0.1)
        report["failed"] = {" ".join(k): v for k, v in compiler.failed.items()}
        report["grad"] = tape.gradient(loss, v).numpy().tolist()   # ... its own backward
        with xg.GradientTape() as tape:                               # now Numba's kernel
            y2 = xg.nn.relu(v * 3.0)
            loss2 = xg.sum(y2 * y2)
        report["grad2"] = tape.gradient(loss2, v).numpy().tolist()
        report["second"] = y2.numpy().tolist()
        report["summary"] = compiler.summary()
    from xpgrad.backends.numba import _act_kernels
report["compiled_here"] = sorted({e.data["dispatcher"].py_func.__qualname__
                                  for _, e in compiles.buffer})
report["loaded"] = sum(_act_kernels.relu_fwd.stats.cache_hits.values())
print(json.dumps(report))
"""


def test_cold_cache_compiles_in_the_background_and_switches(tmp_path):
    env = dict(os.environ, XPGRAD_NUMBA_CACHE_DIR=str(tmp_path / "kernels"))
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", _COLD], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.splitlines()[-1])
    x = np.linspace(-2.0, 2.0, 7)
    want = np.maximum(3 * x, 0)
    np.testing.assert_allclose(report["first"], want)
    np.testing.assert_allclose(report["second"], want)
    np.testing.assert_allclose(report["grad"], 6 * want)
    np.testing.assert_allclose(report["grad2"], 6 * want)
    assert report["failed"] == {}
    assert ["relu", "float64"] in report["requested"]
    assert report["compiled_here"] == []          # nothing compiled in the calling process
    assert report["loaded"] >= 1                  # relu's loop came from the cache
    assert "relu (float64) ready after" in report["summary"]


def test_background_process_reports_a_bad_request():
    out = subprocess.run([sys.executable, "-m", "xpgrad.backends.numba._background"],
                         input="nope float32\nrelu int8\n", capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("failed nope float32 no kernel 'nope'"), lines
    assert lines[1].startswith("failed relu int8 "), lines


def test_docstring_examples():
    import doctest

    assert doctest.testmod(_background).failed == 0


def test_train_on_a_warm_cache_runs_the_numba_kernels_from_the_first_step(monkeypatch, capsys,
                                                                          tmp_path):
    from xpgrad.cli import main

    NB.warmup(dtypes=("float32",))           # loads them (compiles only in a cold clone)
    asked = []
    monkeypatch.setattr(_background.BackgroundCompiler, "request",
                        lambda self, name, dtype: asked.append((name, dtype)))
    assert main(["train", "--backend", "numba", "--epochs", "1", "--no-log",
                 "--progress", "never"]) == 0
    assert asked == []
    assert "compiled in the background" not in capsys.readouterr().err


def test_first_train_run_on_a_cold_cache(tmp_path):
    """`xpgrad train --backend numba` with an empty cache: the run asks for its three kernels,
    follows the numpy run (the NumPy kernels stand in), and says so on stderr; the background
    process is stopped at the end (it would go on filling the cache)."""
    import contextlib
    import re
    import signal

    env = dict(os.environ, XPGRAD_NUMBA_CACHE_DIR=str(tmp_path / "kernels"), XPGRAD_BACKEND="")
    env.pop("NUMBA_CACHE_DIR", None)
    runs = {}
    for backend in ("numpy", "numba"):
        out = subprocess.run([sys.executable, "-m", "xpgrad.cli", "train", "--backend", backend,
                              "--epochs", "1", "--progress", "never", "--logdir",
                              str(tmp_path / backend)], env=env, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        runs[backend] = (json.loads((tmp_path / backend / "history.json").read_text()),
                         out.stderr)
    history, err = runs["numba"]
    for name in ("adam_update", "relu", "softmax_cross_entropy"):
        assert f"{name} (float32)" in err, err
    np.testing.assert_allclose(history["step_loss"], runs["numpy"][0]["step_loss"], rtol=1e-4)
    for pid in map(int, re.findall(r"\(pid (\d+)\)", err)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("cached", [False, True], ids=["stand-in", "numba"])
def test_a_deferred_kernel_told_its_needs_gives_the_layers_gradients(monkeypatch, cached):
    """``lstm_layer``'s kernel takes ``needs``; deferred, it keeps that protocol whichever of
    the NumPy stand-in and Numba's kernel runs, and an LSTM's gradients are the numpy
    backend's."""
    from xpgrad.backends.numpy.scans import scan_kernels

    class Compiler:
        def request(self, unit, dt):
            pass

        def ready(self, unit, dt):
            return False

    monkeypatch.setattr(_background, "has_version", lambda d, dt: cached)
    kernel = _background.deferred("lstm_layer", NB.kernels["lstm_layer"],
                                  scan_kernels(np)["lstm_layer"], Compiler())
    assert kernel.needs
    monkeypatch.setitem(NB.kernels, "lstm_layer", kernel)
    x = np.random.default_rng(2).normal(size=(3, 4, 2))
    grads = []
    for backend in ("numba", "numpy"):
        lstm = xg.nn.LSTM(2, 5, num_layers=2, rng=0, dtype="float64", backend=backend)
        xs = xg.asarray(x, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(xs)
            loss = xg.sum(lstm(xs)[0] ** 2)
        grads.append([g.numpy() for g in tape.gradient(loss, [xs, *lstm.trainable_variables])])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_contexts_reuse_their_kernels_and_free_their_compilers(monkeypatch):
    """A run of ``xpgrad.training.train`` per setting enters a context each time: it must add
    no Kernel (each is kept for the process) and keep no compiler (nor its process's pipes)."""
    import gc
    import weakref

    from xpgrad.backend import KERNELS_BY_INDEX

    monkeypatch.setattr(_background.BackgroundCompiler, "request", lambda self, name, dt: None)
    originals = dict(NB.kernels)
    x = xg.asarray(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32), backend="numba")

    def run():
        with NB.compiling_in_background() as compiler:
            with xg.GradientTape() as tape:
                tape.watch(x)
                loss = xg.losses.mse(xg.nn.relu(x), xg.zeros_like(x))
            grad = tape.gradient(loss, x)
        return weakref.ref(compiler), grad

    run()
    made = len(KERNELS_BY_INDEX)
    compiler, grad = run()
    gc.collect()
    assert compiler() is None
    assert len(KERNELS_BY_INDEX) == made
    assert NB.kernels == originals
    np.testing.assert_allclose(grad.numpy(), np.maximum(x.numpy(), 0) / 2, rtol=1e-6)
