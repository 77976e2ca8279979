"""The Elman RNN's and GRU's layer kernels (``rnn_layer``, ``gru_layer``: the NumPy backend's
``backends/numpy/gated_layers.py`` built on CuPy by ``scan_kernels(cupy)``) on a device (marked
gpu: run by tools/gpu_check.sh where a GPU is lent): forward, vjp (every input, and only some)
and the RNN's ``vjp_in_place`` on CuPy arrays (which have no ``writeable`` flag) equal the
generic rules in float64 and float32, and the recurrent layers through the public API in float32
equal the numpy backend's values and gradients."""
import numpy as np
import pytest

import xpgrad as xg

from gpu_marks import CUPY as BE, on_gpu
from layer_kernel_checks import CASES, GENERIC
from test_projected_scans import layer_inputs

TOLERANCE = {np.float64: {"rtol": 1e-10, "atol": 1e-11}, np.float32: {"rtol": 2e-4, "atol": 2e-5}}


def _close(got, want, dtype, what):
    np.testing.assert_allclose(BE.to_numpy(got), want, **TOLERANCE[dtype], err_msg=what)


@on_gpu
def test_the_recurrent_kernels_are_registered_for_cupy():
    assert {"lstm_scan", "rnn_scan", "gru_scan", "lstm_layer", "rnn_layer",
            "gru_layer"} <= set(BE.kernels)


@on_gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("B,T", [(3, 7), (2, 1), (0, 4)])
@pytest.mark.parametrize("kind,nonlinearity", CASES)
def test_layer_kernel_on_cupy_arrays_equals_the_generic_rule(kind, nonlinearity, B, T, dtype,
                                                             rng):
    args = [a.astype(dtype) for a in layer_inputs(rng, 3 if kind == "gru_layer" else 1, B=B,
                                                  T=T, I=5, H=4)]
    params = {} if nonlinearity is None else {"nonlinearity": nonlinearity}
    g = rng.standard_normal((B, T, 4)).astype(dtype)
    forward, vjp = GENERIC[kind]
    expected = forward(np, *args, **params)
    kernel = BE.kernels[kind]
    device = [BE.from_numpy(a) for a in args]
    out, saved = kernel.forward(*device, **params)
    _close(out, expected, dtype, "forward")
    wanted = [True] * len(args)
    reference = vjp(np, g, expected, wanted, *args, **params)
    got = kernel.vjp(BE.from_numpy(g), saved, wanted, *device, **params)
    for i, (a, b) in enumerate(zip(got, reference, strict=True)):
        _close(a, b, dtype, f"vjp of input {i}")
    some = [False, True, False, True] + [False] * (len(args) - 4)
    partial = kernel.vjp(BE.from_numpy(g), saved, some, *device, **params)
    assert [p is None for p in partial] == [not n for n in some]
    if kernel.vjp_in_place is not None:
        own = BE.from_numpy(g.copy())
        for i, (a, b) in enumerate(zip(kernel.vjp_in_place(own, saved, wanted, *device,
                                                           **params), reference, strict=True)):
            _close(a, b, dtype, f"vjp_in_place of input {i}")
        assert B == 0 or not np.array_equal(BE.to_numpy(own), g), "g was not the workspace"


LAYERS = {
    "RNN_relu": lambda backend: xg.nn.RNN(3, 5, nonlinearity="relu", bidirectional=True,
                                          rng=xg.random.default_rng(0, backend=backend),
                                          backend=backend),
    "GRU": lambda backend: xg.nn.GRU(3, 5, num_layers=2, bidirectional=True,
                                     rng=xg.random.default_rng(0, backend=backend),
                                     backend=backend),
    "LSTM": lambda backend: xg.nn.LSTM(3, 5, bidirectional=True,
                                       rng=xg.random.default_rng(0, backend=backend),
                                       backend=backend),
}


@on_gpu
@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_float32_layers_on_cupy_match_numpy(layer, rng):
    x0 = rng.normal(size=(4, 9, 3)).astype(np.float32)
    results = []
    for backend in ("numpy", "cupy"):
        net = LAYERS[layer](backend)
        x = xg.asarray(x0, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch(x)
            out, _ = net(x)
            loss = xg.sum(out * out)
        assert out.dtype == xg.float32
        grads = tape.gradient(loss, [x, *net.trainable_variables])
        results.append([out.numpy()] + [g.numpy() for g in grads])
    for i, (a, b) in enumerate(zip(*results, strict=True)):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-5, err_msg=f"result {i}")
