"""The fused elementwise losses (mse, sigmoid_mse, sigmoid cross-entropy) hand their saved
gradient out once (``backends/numpy/loss_gradients.py``, Numba's ``_losses.Saved``): the first
vjp scales the forward's buffer in place, whatever the incoming gradient, and returns it; a
persistent tape's later gradient is computed again, so the caller may write over what it got (as
the softmax cross-entropy's)."""
import numpy as np
import pytest
import torch

import xpgrad as xg
from conftest import backend_report
from xpgrad.backends.numpy.kernels import KERNELS

pytestmark = pytest.mark.usefixtures("numpy_default")

BACKENDS = ["numpy"] + (["numba"] if backend_report().get("numba", {}).get("available") else [])

LOSSES = {"mse": (xg.losses.mse, torch.nn.functional.mse_loss),
          "sigmoid_mse": (xg.losses.sigmoid_mse,
                          lambda x, t, **kw: torch.nn.functional.mse_loss(torch.sigmoid(x), t,
                                                                          **kw)),
          "sigmoid_cross_entropy_with_logits": (
              xg.losses.sigmoid_cross_entropy_with_logits,
              torch.nn.functional.binary_cross_entropy_with_logits)}


def _inputs(rng):
    x = rng.normal(size=(3, 4, 5))
    return x, rng.uniform(0, 1, size=x.shape)


@pytest.mark.parametrize("name", LOSSES)
def test_the_first_vjp_scales_the_saved_buffer_and_returns_it(name, rng):
    x, t = _inputs(rng)
    kernel = KERNELS[name]
    _, saved = kernel.forward(x, t, reduction="sum")
    buffer = saved.grad
    grad = kernel.vjp(np.asarray(0.5), saved, x, t, reduction="sum")[0]
    assert grad is buffer                                   # no new buffer of x's size
    again = kernel.vjp(np.asarray(0.5), saved, x, t, reduction="sum")[0]
    assert again is not buffer
    np.testing.assert_array_equal(again, grad)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", LOSSES)
def test_scaled_loss_gradient_equals_torch(name, reduction, backend, rng):
    ours, theirs = LOSSES[name]
    x, t = _inputs(rng)
    weights = rng.normal(size=x.shape)
    xv = xg.asarray(x, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(xv)
        out = ours(xv, xg.asarray(t, backend=backend), reduction=reduction)
        loss = xg.sum(out * xg.asarray(weights, backend=backend)) if reduction == "none" \
            else 0.5 * out
    xt = torch.tensor(x, requires_grad=True)
    ref = theirs(xt, torch.tensor(t), reduction=reduction)
    (ref * torch.tensor(weights)).sum().backward() if reduction == "none" else \
        (0.5 * ref).backward()
    np.testing.assert_allclose(tape.gradient(loss, xv).numpy(), xt.grad.numpy(), rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", [*LOSSES, "softmax_cross_entropy"])
def test_a_persistent_tape_gives_each_call_its_own_gradient(name, backend, rng):
    x, t = (xg.asarray(a.astype(np.float32), backend=backend) for a in _inputs(rng))
    if name == "softmax_cross_entropy":
        t = xg.asarray(rng.integers(0, 5, size=(3, 4)), backend=backend)
    loss_of = getattr(xg.losses, name)
    with xg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        loss = loss_of(x, t)
    first = tape.gradient(loss, x).numpy()
    kept = first.copy()
    first *= 100                                            # the caller owns what it got
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), kept)
    np.testing.assert_allclose(tape.gradient(loss, x, output_gradients=3.0).numpy(), 3 * kept,
                               rtol=1e-6)
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), kept)
