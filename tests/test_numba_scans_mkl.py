"""The Numba backend's recurrent layers at sizes whose per-step products MKL takes
(``blas.stepped_matmul``: each step a bare MKL call planned once per scan). The other scan
tests use hidden sizes under ``blas.MIN_WORK``, where the steps run on NumPy's matmul."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends import blas

pytest.importorskip("numba", reason="Numba is not installed")

B, T, I, H = 64, 5, 24, 192          # B * H * 4H and B * 4H * H well over MIN_WORK
LAYERS = {"LSTM": {}, "GRU": {}, "RNN-tanh": {"nonlinearity": "tanh"},
          "RNN-relu": {"nonlinearity": "relu"}}


def _gradients(backend, name, x, weights, g):
    cls = getattr(xg.nn, name.split("-")[0])
    layer = cls(I, H, dtype="float64", backend=backend, rng=0, **LAYERS[name])
    for v, w in zip(layer.trainable_variables, weights):
        v.assign(xg.asarray(w, backend=backend))
    xs = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = layer(xs)[0]
        loss = xg.sum(out * xg.asarray(g, backend=backend))
    grads = tape.gradient(loss, [xs, *layer.trainable_variables])
    return [out.numpy()] + [d.numpy() for d in grads]


@pytest.mark.parametrize("mode", ["mkl", "openblas", "numpy"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_at_mkl_sizes_match_the_numpy_backend(name, mode, monkeypatch):
    if mode == "mkl" and blas._find_mkl() is None:
        pytest.skip("the mkl wheel is not installed")
    if mode == "openblas" and blas.numpys_openblas() is None:
        pytest.skip("NumPy ships no OpenBLAS here")
    previous = blas.use(mode)
    try:
        calls = []
        lib = blas._library()
        if lib is not None:
            real = lib.gemm[np.dtype(np.float64)]
            monkeypatch.setitem(lib.gemm, np.dtype(np.float64),
                                lambda *args: calls.append(args[3:6]) or real(*args))
        rng = np.random.default_rng(4)
        x = rng.normal(size=(B, T, I))
        g = rng.normal(size=(B, T, H))
        reference = getattr(xg.nn, name.split("-")[0])(I, H, dtype="float64", backend="numpy",
                                                       rng=0, **LAYERS[name])
        weights = [rng.uniform(-0.2, 0.2, v.shape) for v in reference.trainable_variables]
        got = _gradients("numba", name, x, weights, g)
        calls = list(calls)                 # the numba layer's products only
    finally:
        blas.restore(previous)
    want = _gradients("numpy", name, x, weights, g)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    # the steps' products (m = B rows) went to MKL when it is on: each step forward and back
    steps = [c for c in calls if c[0] == B]
    assert (len(steps) >= 2 * T - 1) == (mode != "numpy"), calls
