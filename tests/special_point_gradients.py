"""The gradient of ``sum(weights * f(*inputs))`` computed by xpgrad (on a backend, eagerly or
under ``xg.function``) and by PyTorch (float64 or float32 CPU tensors), shared by the tables of
tests/test_gradients_at_special_points*.py. The weights are a ramp, one value per output
entry, so a rule that gives a tie's gradient to the wrong entry shows."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from gpu_marks import cupy_param

MODES = ["eager", "function"]
#: (backend, mode): each host backend in both modes; cupy (a GPU test) eagerly, which keeps the
#: GPU check's tests stage within its time (tests/test_function_cuda.py replays on graphs)
BACKEND_MODES = [(backend, mode) for backend in ("numpy", "numba")
                 if backend in backend_report() for mode in MODES] + [cupy_param("cupy", "eager")]


def ramp(shape, dtype=np.float64):
    """Weights 0.5 .. 1.5, a different one at every entry of ``shape``."""
    size = int(np.prod(shape))
    return np.linspace(0.5, 1.5, size).reshape(shape).astype(dtype) if size > 1 else \
        np.full(shape, 0.75, dtype)


def ours(f, arrays, watch, backend, mode):
    """xpgrad's gradients for the inputs ``watch`` names, as NumPy arrays."""
    def gradients(*xs):
        with xg.GradientTape() as tape:
            tape.watch([xs[i] for i in watch])
            out = f(*xs)
            loss = xg.sum(out * xg.asarray(ramp(out.shape, arrays[0].dtype), backend=backend))
        return tape.gradient(loss, [xs[i] for i in watch])

    inputs = [xg.asarray(a, backend=backend) for a in arrays]
    with np.errstate(all="ignore"):
        if mode == "eager":
            result = gradients(*inputs)
        else:       # traced on the first call (no eager warm-up), the second a replay
            compiled = xg.function(gradients, warmup=0)
            compiled(*inputs)
            result = compiled(*inputs)
            assert compiled.trace_count == 1, "not replayed: the test would check eager code"
    return [g.numpy() for g in result]


def theirs(f, arrays, watch):
    """PyTorch's gradients (an input that does not reach the output gets zeros)."""
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(a, requires_grad=i in watch) for i, a in enumerate(arrays)]
    out = f(*tensors)
    weights = torch.tensor(ramp(tuple(out.shape), arrays[0].dtype))
    grads = torch.autograd.grad((out * weights).sum(), [tensors[i] for i in watch],
                                allow_unused=True)
    return [np.zeros_like(arrays[i]) if g is None else g.numpy() for g, i in zip(grads, watch)]


def assert_same(got, want, what, rtol=1e-12):
    """The same NaN places and signs of infinity, and values to ``rtol``."""
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        message = f"{what}, gradient {index}"
        assert g.shape == w.shape, message
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{message}: NaN at")
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, err_msg=message)
