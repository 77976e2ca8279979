"""Public paths on CuPy arrays that the first GPU tests predate, each against the numpy backend
(marked gpu: run by tools/gpu_check.sh where a GPU is lent): an ``LSTMCell``'s one-step kernel
(backends/numpy/lstm_step.py on CuPy), per-example gradients whose outer products stay factored
(xpgrad/batching/outer_products.py; NumPy's gemm per example is not taken for CuPy arrays),
``custom_gradient`` with several outputs, a recorded ``Variable.read_value``, and ``xg.print``
under CUDA graphs (a host segment between two captured graphs)."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.batching.outer_products import _GEMM_ROWS

from gpu_marks import on_gpu
from per_example_mlp import mlp_loss
from test_custom_gradient import polar

BACKENDS = ("numpy", "cupy")


def _on_each_backend(run):
    """``run(backend)`` (a list of tensors) on numpy and cupy, as NumPy arrays."""
    return [[t.numpy() for t in run(backend)] for backend in BACKENDS]


def _assert_same(results, rtol):
    want, got = results
    assert len(got) == len(want)
    for index, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, err_msg=f"result {index}")


@on_gpu
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_an_lstm_cells_one_step_kernel_matches_numpy(dtype, rtol):
    data = np.random.default_rng(0).normal(size=(3, 5, 4))     # x, h, c (batch 5)

    def run(backend):
        cell = xg.nn.LSTMCell(4, 4, dtype=dtype, backend=backend,
                              rng=xg.random.default_rng(0, backend=backend))
        x, h, c = (xg.asarray(a, dtype=dtype, backend=backend) for a in data)
        with xg.GradientTape() as tape:
            tape.watch([x, h, c])
            h1, c1 = cell(x, (h, c))
            loss = xg.sum(h1 * h1) + xg.sum(c1 * xg.tanh(c1))
        return [h1, c1, *tape.gradient(loss, [x, h, c, *cell.trainable_variables])]
    _assert_same(_on_each_backend(run), rtol)


@on_gpu
def test_per_example_gradients_of_a_tall_layer_match_numpy():
    rng = np.random.default_rng(1)
    sizes = [(_GEMM_ROWS + 2, 16), (16,), (16, 5), (5,)]
    params = [rng.normal(size=s) * 0.2 for s in sizes]
    x, y = rng.normal(size=(6, _GEMM_ROWS + 2)), rng.integers(0, 5, 6)

    def run(backend):
        on = [xg.asarray(a, backend=backend) for a in (*params, x, y)]
        return xg.vmap(xg.grad(mlp_loss), in_axes=(None, 0, 0))(on[:4], on[4], on[5])
    _assert_same(_on_each_backend(run), 1e-10)


@on_gpu
def test_custom_gradient_with_several_outputs_matches_numpy():
    rng = np.random.default_rng(3)
    r, theta, weights = rng.random((2, 3)) + 0.5, rng.normal(size=(2, 3)), rng.normal(size=(2, 3))

    def run(backend):
        r_, theta_ = xg.asarray(r, backend=backend), xg.asarray(theta, backend=backend)
        with xg.GradientTape() as tape:
            tape.watch([r_, theta_])
            x, y = polar(r_, theta_)
            loss = xg.sum(x * xg.asarray(weights, backend=backend)) + xg.sum(y ** 3)
        assert y.backend.name == backend
        return [x, y, *tape.gradient(loss, [r_, theta_])]
    _assert_same(_on_each_backend(run), 1e-12)


@on_gpu
def test_read_value_is_differentiated_as_the_variable_on_cupy():
    v = xg.Variable([1.0, 2.0, 3.0], dtype=xg.float64, backend="cupy")
    with xg.GradientTape() as tape:
        snapshot = v.read_value()
        scale = xg.asarray([1.0, 10.0, 100.0], dtype=xg.float64, backend="cupy")
        loss = xg.sum(snapshot * snapshot * scale)
    assert tape.gradient(loss, v).numpy().tolist() == [2.0, 40.0, 600.0]
    v.assign(xg.zeros(3, dtype=xg.float64, backend="cupy"))
    assert snapshot.numpy().tolist() == [1.0, 2.0, 3.0]            # a copy, not a view


@on_gpu
def test_under_cuda_graphs_a_print_splits_the_program_and_prints_every_replay(capsys):
    @xg.function
    def step(x):
        h = xg.exp(x)
        xg.print("h", h)
        return h * 2.0
    for k in range(6):
        x = xg.asarray([0.0, float(k)], dtype=xg.float64, backend="cupy")
        capsys.readouterr()
        y = step(x)
        printed = capsys.readouterr().out
        assert printed == f"h {y.numpy() / 2.0}\n"             # this call's values, on the host
        np.testing.assert_allclose(y.numpy(), 2.0 * np.exp(x.numpy()), rtol=1e-15)
    replay = step.programs()[0].graph
    assert replay is not None and replay.failed is None and replay.graph_list is not None
    assert [kind for kind, _, _ in replay.segments] == ["device", "host", "device"]
    assert [entry is None for entry in replay.graph_list] == [False, True, False]
