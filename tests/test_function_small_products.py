"""xg.function on the host backends replays a product under ``blas.MIN_WORK`` multiply-adds as
NumPy's ``matmul`` itself (``jit/small_products.py``), into a planned buffer; a larger one
stays ``blas.matmul`` (MKL's where installed). Results equal the eager ones."""
import re

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends import blas


def _make(backend):
    rng = np.random.default_rng(0)
    ws = [xg.Variable(rng.normal(size=s), backend=backend) for s in ((7, 9), (9,), (9, 4), (4,))]

    def grads(x, y):
        with xg.GradientTape() as tape:
            h = xg.nn.relu(xg.nn.linear(x, ws[0], ws[1]))
            loss = xg.losses.softmax_cross_entropy(xg.nn.linear(h, ws[2], ws[3]), y)
        return tape.gradient(loss, ws)       # h's gradient: g @ w2.T, a traced product

    return grads


def _run(backend):
    eager, compiled = _make(backend), xg.function(_make(backend))
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = xg.asarray(rng.normal(size=(5, 7)), backend=backend)
        y = xg.asarray(rng.integers(0, 4, 5), backend=backend)
        for got, want in zip(compiled(x, y), eager(x, y)):
            if backend == "numba":    # a fused run's float64 column sum adds rows in order,
                # the eager bias gradient by BLAS products (backends/axis_sums.py): to rounding
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-14, atol=1e-15)
            else:
                np.testing.assert_array_equal(got.numpy(), want.numpy())
    return compiled.programs()[0]


def _products(program):
    """How many steps call NumPy's matmul and blas.matmul (one global name per function)."""
    def calls(fn):
        names = [name for name, v in program._namespace.items() if v is fn]
        return sum(len(re.findall(rf"\b{name}\(", program.source)) for name in names)
    return calls(np.matmul), calls(blas.matmul)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_small_products_call_numpys_matmul_into_a_buffer(backend):
    program = _run(backend)
    assert program.numpy_products >= 1
    numpys, blases = _products(program)
    assert numpys == program.numpy_products and blases == 0
    if backend == "numba":      # h's gradient, read by the fused ReLU backward: a buffer
        assert "out=B" in program.source


def test_a_product_over_the_threshold_stays_blas(monkeypatch):
    monkeypatch.setattr(blas, "MIN_WORK", 0)
    program = _run("numpy")
    assert program.numpy_products == 0
    assert _products(program)[0] == 0 and _products(program)[1] >= 1


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_small_dense_layer_forward_replays_as_matmul_and_add(backend):
    from xpgrad.backends.numpy.kernels import _linear_forward

    program = _run(backend)
    names = list(program._namespace.values())
    assert not any(v is _linear_forward for v in names)
    assert any(v is np.add for v in names)


def test_a_dense_layer_of_mixed_dtypes_keeps_its_kernel():
    from xpgrad.backends.numpy.kernels import _linear_forward

    w = xg.Variable(np.ones((3, 2)), backend="numpy")
    b = xg.Variable(np.full(2, 0.1, np.float32), backend="numpy")   # added to float64 in place
    f = xg.function(lambda x: xg.nn.linear(x, w, b))
    x = xg.asarray(np.ones((4, 3)), backend="numpy")
    for _ in range(3):
        np.testing.assert_array_equal(f(x).numpy(), xg.nn.linear(x, w, b).numpy())
    assert any(v is _linear_forward for v in f.programs()[0]._namespace.values())
