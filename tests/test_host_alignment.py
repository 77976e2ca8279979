"""Arrays that live for many steps on the host backends start on a 64-byte boundary (MKL's
products run up to 14% faster on them: ``benchmarks/blas_products.py --alignment``)."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.backends.numpy.memory import ALIGNMENT, aligned_copy, aligned_empty

HOST = [b for b in ("numpy", "numba") if b in backend_report()]


def _aligned(a):
    return a.ctypes.data % ALIGNMENT == 0


@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 5), (784, 256), (2, 0, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "bool", "complex64",
                                   "uint16"])
def test_aligned_empty_and_copy(shape, dtype):
    a = aligned_empty(shape, dtype)
    assert (a.shape, a.dtype, a.flags.c_contiguous, a.flags.writeable) == \
        (shape, np.dtype(dtype), True, True)
    assert _aligned(a) or a.size == 0
    src = (np.arange(int(np.prod(shape))) % 3).astype(dtype).reshape(shape)
    copy = aligned_copy(src[..., ::-1] if src.ndim else src)     # a strided source too
    assert (_aligned(copy) or copy.size == 0) and copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, src[..., ::-1] if src.ndim else src)
    assert not np.shares_memory(copy, src)


def test_aligned_empty_object_dtype_is_plain_numpy():
    a = aligned_empty((2,), object)
    assert a.dtype == object and a.shape == (2,)


def test_aligned_copy_refuses_a_cast():
    with pytest.raises(TypeError):
        np.copyto(aligned_empty((2,), np.float32), np.ones(2), casting="no")


@pytest.mark.parametrize("backend", HOST)
def test_variable_values_are_aligned_and_stay_so_under_sgd(backend):
    model = xg.nn.MLP([784, 256, 10], backend=backend)
    params = model.trainable_variables
    opt = xg.optim.SGD(learning_rate=0.01)
    x = xg.asarray(np.ones((4, 784), np.float32), backend=backend)
    y = xg.asarray(np.zeros(4, np.int64), backend=backend)
    for _ in range(2):
        with xg.GradientTape() as tape:
            loss = xg.losses.softmax_cross_entropy(model(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        assert all(_aligned(p._data) for p in params), [p._data.ctypes.data % 64 for p in params]
    w = params[0]
    w.assign(np.zeros((784, 256), np.float32))
    assert _aligned(w._data)


@pytest.mark.parametrize("backend", HOST)
def test_aligned_variable_behaves_as_before(backend):
    src = np.arange(12, dtype=np.float32).reshape(3, 4)
    v = xg.Variable(src, backend=backend)
    src[0, 0] = 100                                   # the variable took a copy
    assert v.numpy()[0, 0] == 0
    snapshot = v.numpy()
    v.assign(np.ones((3, 4), np.float32))
    assert snapshot[0, 0] == 0 and v.numpy().tolist() == np.ones((3, 4)).tolist()
    back = pickle.loads(pickle.dumps(v._data))
    np.testing.assert_array_equal(back, v._data)


@pytest.mark.parametrize("backend", ["numpy"])     # Numba fuses these ufuncs: no buffers
def test_compiled_program_buffers_are_aligned(backend):
    w = xg.Variable(np.ones((8, 32), np.float32), backend=backend)

    @xg.function
    def f(x):
        return xg.sum(xg.relu(x @ w) * 2.0)

    x = xg.asarray(np.ones((16, 8), np.float32), backend=backend)
    first = f(x)
    assert float(f(x)) == float(first) == 16 * 32 * 8 * 2
    program = f.programs()[0]
    buffers = [v for k, v in program._namespace.items() if k.startswith("B")]
    assert buffers, program.source
    assert all(_aligned(b) for b in buffers)


def test_numba_lstm_product_operands_are_aligned(monkeypatch):
    """The weight operand of every product of the Numba LSTM's scans sits on a cache line:
    the per-step products (``blas.matmul``) where the loops run in Python, the plans of the
    loops compiled whole (``blas.stepped_plan``: each step's gemm reads that operand)."""
    pytest.importorskip("numba")
    from xpgrad.backends import blas

    seen = []
    real_matmul, real_plan = blas.matmul, blas.stepped_plan

    def spy(a, b, out=None):
        seen.append((a.ctypes.data % ALIGNMENT, b.ctypes.data % ALIGNMENT))
        return real_matmul(a, b, out=out)

    def plan_spy(stack, b, out):
        plan = real_plan(stack, b, out)
        if plan is not None:
            seen.append((stack.ctypes.data % ALIGNMENT, b.ctypes.data % ALIGNMENT))
        return plan

    monkeypatch.setattr(blas, "matmul", spy)
    monkeypatch.setattr(blas, "stepped_plan", plan_spy)
    layer = xg.nn.LSTM(16, 32, backend="numba")
    x = xg.asarray(np.random.default_rng(0).normal(size=(4, 5, 16)).astype(np.float32),
                   backend="numba")
    with xg.GradientTape() as tape:
        loss = xg.sum(layer(x)[0])
    tape.gradient(loss, layer.trainable_variables)
    assert len(seen) >= 2                  # the forward's and the backward's products
    assert all(b == 0 for _, b in seen), seen       # every weight operand on a cache line
