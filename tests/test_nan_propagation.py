"""A NaN that reaches a loss must reach the gradients it came from: never a silent finite number
(PyTorch and JAX propagate it too). Elementwise maximum/minimum here; max/min reductions in
test_statistical.py."""
import math

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
nan = math.nan


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_give_a_nan_input_its_gradient(backend, name):
    a = np.array([nan, 1.0, 2.0, nan, 3.0, -1.0])
    b = np.array([0.0, nan, 2.0, nan, 1.0, 5.0])
    x, y = xg.asarray(a, backend=backend), xg.asarray(b, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch([x, y])
        out = getattr(xg, name)(x, y)
        total = xg.sum(out)
    gx, gy = tape.gradient(total, [x, y])
    better = np.greater if name == "maximum" else np.less
    # the input the output is: the better one, or the NaN; ties (equal, or both NaN) split
    wins = better(a, b) | (np.isnan(a) & ~np.isnan(b))
    tie = (a == b) | (np.isnan(a) & np.isnan(b))
    np.testing.assert_array_equal(gx.numpy(), np.where(wins, 1.0, np.where(tie, 0.5, 0.0)))
    np.testing.assert_array_equal(gx.numpy() + gy.numpy(), np.ones(6))
    np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(a) | np.isnan(b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_nan_weight_behind_maximum_gets_its_gradient_as_in_pytorch(backend):
    torch = pytest.importorskip("torch")
    w0, x0 = np.array([nan, 0.5]), np.array([[1.0, 2.0], [3.0, -4.0]])
    w = xg.Variable(xg.asarray(w0, backend=backend), name="w")
    x = xg.asarray(x0, backend=backend)
    with xg.GradientTape() as tape:
        loss = xg.sum(xg.maximum(x * w, 0.0)) + xg.sum(xg.minimum(1.0, x * w))
    (g,) = tape.gradient(loss, [w])
    tw = torch.tensor(w0, requires_grad=True)
    tx = torch.tensor(x0)
    zero, one = torch.tensor(0.0, dtype=tw.dtype), torch.tensor(1.0, dtype=tw.dtype)
    (torch.maximum(tx * tw, zero).sum() + torch.minimum(one, tx * tw).sum()).backward()
    assert math.isnan(loss.item())
    # the NaN weight's gradient was 0 (as if nothing depended on it)
    np.testing.assert_allclose(g.numpy(), tw.grad.numpy())
