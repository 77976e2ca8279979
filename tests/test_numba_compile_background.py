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
                          | {"lstm_scan", "lstm_layer", "rnn_scan", "gru_scan", "rnn_layer",
                             "gru_layer", "batch_moments", "weighted_multi_margin",
                             "max_pool_positions"})
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


def test_every_kernel_running_numba_loops_waits_for_a_unit():
    """No kernel of the backend runs a Numba loop outside ``compiling_in_background``: each one
    whose forward or vjp calls one is deferred to a warmup unit (a new kernel with loops and no
    unit fails here), and every other one is the NumPy backend's own."""
    wrapped = set(_wrapped_names())
    numpy_kernels = xg.get_backend("numpy").kernels
    for name, kernel in NB.kernels.items():
        if name in wrapped:
            continue
        loops = [d.py_func.__qualname__ for d in _background.kernel_loops(kernel)]
        assert not loops, (name, loops)
        assert kernel is numpy_kernels.get(name), name


class _NeverReady:
    """A compiler that records what it is asked and never finishes."""

    def __init__(self):
        self.requested = []

    def request(self, unit, dt):
        self.requested.append((unit, dt))

    def ready(self, unit, dt):
        return False


def _max_pool_with_indices(x):
    return xg.nn.max_pool2d(x, 2, stride=2, return_indices=True)


def _batch_moments(x):
    from xpgrad.ops.batch_norm import _batch_moments
    from xpgrad.primitive import apply

    return (apply(_batch_moments, x),)         # off the tape in batch_norm: no gradient


def _weighted_multi_margin(x):
    weight = xg.asarray(np.array([0.5, 2.0, 1.0, 1.5]), backend=x.backend)
    labels = xg.asarray(np.array([0, 3, 1, 2, 2, 0] * 4), backend=x.backend)
    return (xg.losses.multi_margin(xg.reshape(x, (24, 4)), labels, weight=weight, p=2),)


@pytest.mark.parametrize("name, unit, run", [
    ("max_pool_positions", "max_pool", _max_pool_with_indices),
    ("batch_moments", "batch_norm", _batch_moments),
    ("weighted_multi_margin", "multi_margin", _weighted_multi_margin)])
def test_kernels_sharing_a_unit_wait_for_it_on_the_numpy_kernel(monkeypatch, name, unit, run):
    """With their loops not cached, ``max_pool_positions``, ``batch_moments`` and
    ``weighted_multi_margin`` ask for the unit that compiles their loops and run the NumPy
    backend's kernel meanwhile: the same values and gradients as the numpy backend."""
    import dataclasses

    compiler, calls = _NeverReady(), []
    numpy_kernel = xg.get_backend("numpy").kernels[name]
    counted = dataclasses.replace(
        numpy_kernel, forward=lambda *a, **k: calls.append(1) or numpy_kernel.forward(*a, **k))
    monkeypatch.setattr(_background, "has_version", lambda d, dt: False)
    monkeypatch.setitem(NB.kernels, name,
                        _background.deferred(name, NB.kernels[name], counted, compiler))
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 4))
    results = []
    for backend in ("numba", "numpy"):
        xs = xg.asarray(x, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(xs)
            outs = run(xs)
            loss = xg.sum(outs[0] * outs[0])
        grad = tape.gradient(loss, xs) if name != "batch_moments" else None
        results.append([o.numpy() for o in outs] + ([] if grad is None else [grad.numpy()]))
    assert compiler.requested == [(unit, "float64")]
    assert len(calls) == 1                  # the stand-in ran in Numba's place
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_the_numpy_backends_kernels_stand_in():
    """Inside the context each deferred kernel's stand-in is the NumPy backend's kernel for the
    same primitive (the generic rule only where NumPy has none, or calls its vjp otherwise)."""
    numpy_kernels = xg.get_backend("numpy").kernels
    with NB.compiling_in_background():
        stand_ins = {name: entry[1] for name in _wrapped_names()
                     for entry in _background._DEFERRED.values() if entry[2] is NB.kernels[name]}
    assert set(stand_ins) == set(_wrapped_names())
    for name, stand_in in stand_ins.items():
        assert stand_in is numpy_kernels.get(name), name
    assert {n for n, k in stand_ins.items() if k is None} == {n for n in stand_ins
                                                              if n not in numpy_kernels}


def test_kernels_restored_on_exit():
    before = dict(NB.kernels)
    with NB.compiling_in_background():
        assert NB.kernels["relu"] is not before["relu"]
        assert NB.kernels["linear"] is before["linear"]          # no warmup unit: untouched
        assert "index_add" in vars(NB)
    assert dict(NB.kernels) == before
    assert "index_add" not in vars(NB)


def test_nested_contexts_restore_the_outer_ones_index_add():
    with NB.compiling_in_background():
        outer = vars(NB)["index_add"]
        with NB.compiling_in_background():
            assert vars(NB)["index_add"] is not outer
        assert vars(NB)["index_add"] is outer
    assert "index_add" not in vars(NB)


def test_index_add_waits_for_its_row_loop(monkeypatch):
    """Inside the context, an embedding's gradient (``index_add`` of whole rows) does not run
    the uncached row loop: it asks for the unit that compiles it and adds on NumPy meanwhile;
    once that unit is ready the loop runs."""
    from xpgrad.backends.numba import _scatter

    ran = []
    loop = _scatter.index_add_rows
    monkeypatch.setattr(_scatter, "index_add_rows", lambda *a: ran.append(1) or loop(*a))
    monkeypatch.setattr(_background, "has_version", lambda d, dt: False)
    monkeypatch.setattr(_background.BackgroundCompiler, "request",
                        lambda self, name, dt: self.requested.setdefault((name, dt), 0.0))
    table = np.random.default_rng(4).normal(size=(5, 3))
    ids = np.array([[4, 0, 4], [2, 4, 1]])
    want = np.zeros_like(table)
    np.add.at(want, ids.ravel(), 2 * table[ids.ravel()])
    with NB.compiling_in_background() as compiler:
        for ready in (False, True):
            if ready:
                compiler.finished[_background.INDEX_ADD_UNIT, "float64"] = 0.0
            w = xg.Variable(table.copy(), backend="numba")
            with xg.GradientTape() as tape:
                loss = xg.sum(xg.nn.embedding(xg.asarray(ids, backend="numba"), w) ** 2)
            np.testing.assert_allclose(tape.gradient(loss, w).numpy(), want, rtol=1e-14)
            assert len(ran) == ready, ready
    assert list(compiler.requested) == [(_background.INDEX_ADD_UNIT, "float64")]


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
