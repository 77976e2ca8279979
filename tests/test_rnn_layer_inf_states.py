"""A relu rnn_layer whose last state is inf in one batch row (float32 overflow): that state is
no step's h_{t-1}, so dw_hh stays finite in the generic rule and in PyTorch; the fused NumPy and
Numba kernels pair it with another batch row's zeroed step-0 gradient in one product
(inf * 0 = NaN), and must not (``hidden_weight_grad_for`` in backends/numpy/gated_layers.py)."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import scan_rings, scans
from xpgrad.ops.projected_scans import rnn_layer

pytestmark = pytest.mark.usefixtures("numpy_default")

B, T, I, H = 3, 4, 2, 3


def inputs(row):
    """float32 (x, h0, w_ih, w_hh, b) whose relu states overflow at the last step of ``row``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    w_ih = rng.standard_normal((I, H)).astype(np.float32)
    w_hh = (rng.standard_normal((H, H)) * 0.5).astype(np.float32)
    b = rng.standard_normal(H).astype(np.float32)
    x[row, T - 1, 0] = 3e38
    w_ih[0] = np.abs(w_ih[0]) + 2
    return x, h0, w_ih, w_hh, b


def gradients(arrays, backend, all_steps):
    args = [xg.asarray(a, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        for a in args:
            tape.watch(a)
        out = rnn_layer(*args, "relu")
        loss = xg.sum(out if all_steps else out[:, :T - 1])
    last = out.numpy()[:, -1]
    return last, [g.numpy() for g in tape.gradient(loss, args)]


def torch_gradients(arrays, all_steps):
    torch = pytest.importorskip("torch")
    x, h0, w_ih, w_hh, b = arrays
    rnn = torch.nn.RNN(I, H, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(w_ih.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(w_hh.T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
    tx, th0 = torch.from_numpy(x).requires_grad_(), torch.from_numpy(h0[None]).requires_grad_()
    out, _ = rnn(tx, th0)
    (out if all_steps else out[:, :T - 1]).sum().backward()
    return [tx.grad.numpy(), th0.grad.numpy()[0], rnn.weight_ih_l0.grad.numpy().T,
            rnn.weight_hh_l0.grad.numpy().T, rnn.bias_ih_l0.grad.numpy()]


@pytest.mark.parametrize("all_steps", [False, True])
@pytest.mark.parametrize("row", [0, 1])
@pytest.mark.parametrize("backend", ["numpy", "numba", "generic"])
def test_an_inf_last_state_leaves_dw_hh_finite(backend, row, all_steps, monkeypatch):
    if backend == "numba":
        pytest.importorskip("numba")
    if backend == "generic":
        monkeypatch.setattr(xg.get_backend("numpy"), "kernels", {})
    arrays = inputs(row)
    with np.errstate(over="ignore", invalid="ignore"):
        last, got = gradients(arrays, "numpy" if backend == "generic" else backend, all_steps)
        expected = torch_gradients(arrays, all_steps)
    assert np.isposinf(last[row]).all() and np.isfinite(np.delete(last, row, 0)).all()
    assert np.isfinite(expected[3]).all()
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-5)


@pytest.mark.parametrize("steps", [2, 3])
def test_the_ring_vjp_agrees(steps, monkeypatch):
    """The NumPy kernel's ring (a g it may not write over) at block boundaries: the same."""
    monkeypatch.setattr(scan_rings, "ring_steps", lambda T, step_bytes: steps)
    kernel = scans.scan_kernels(np)["rnn_layer"]
    arrays = inputs(0)
    with np.errstate(over="ignore", invalid="ignore"):
        seq, saved = kernel.forward(*arrays, "relu")
        g = np.ones_like(seq)
        ring = kernel.vjp(g, saved, [True] * 5, *arrays, "relu")
        in_place = kernel.vjp_in_place(g.copy(), saved, [True] * 5, *arrays, "relu")
    assert np.isfinite(ring[3]).all()
    for a, b in zip(ring, in_place, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)
