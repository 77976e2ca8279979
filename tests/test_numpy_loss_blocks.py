"""The NumPy fused losses' values past one block (``backends/numpy/loss_blocks.py``): the
loss alone (no tape) against the taped loss, and both, with the gradient (same bits), against
the same calls in one block; a NaN, an overflow and an underflow decline the unshifted sums."""
import numpy as np
import pytest

import xpgrad as xg
from xpgrad.backends.numpy import blocks, loss_blocks

pytestmark = pytest.mark.usefixtures("numpy_default")

NAMES = ["softmax_cross_entropy", "sigmoid_mse", "sigmoid_cross_entropy_with_logits"]


def _inputs(name, dtype, shift):
    rng = np.random.default_rng(7)
    x = (rng.normal(size=(300, 130)) * 4 + shift).astype(dtype)
    t = (rng.integers(0, 130, 300) if name == "softmax_cross_entropy"
         else rng.uniform(size=x.shape).astype(dtype))
    return x, t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shift", [0.0, -60.0, 90.0])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", NAMES)
def test_blocked_value_is_the_taped_loss(name, reduction, shift, dtype, monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4096)      # many blocks, the last one short
    x, t = _inputs(name, dtype, shift)
    fn = getattr(xg.losses, name)
    untaped = fn(xg.asarray(x), xg.asarray(t), reduction=reduction).numpy()
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        taped_loss = fn(xt, xg.asarray(t), reduction=reduction)
    taped = taped_loss.numpy()
    assert untaped.dtype == taped.dtype == dtype
    np.testing.assert_allclose(untaped, taped, rtol=8 * np.finfo(dtype).eps)
    grad = tape.gradient(taped_loss, xt).numpy()
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1 << 40)
    whole = fn(xg.asarray(x), xg.asarray(t), reduction=reduction).numpy()
    np.testing.assert_allclose(untaped, whole, rtol=8 * np.finfo(dtype).eps)
    xt = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(xt)
        whole_loss = fn(xt, xg.asarray(t), reduction=reduction)
    np.testing.assert_allclose(taped, whole_loss.numpy(), rtol=8 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(grad, tape.gradient(whole_loss, xt).numpy())


def test_exponential_sums_decline_overflow_nan_and_underflow(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 4096)
    x = np.zeros((40, 50), np.float32)
    assert loss_blocks.exponential_sums(x)[:, 0].tolist() == [50.0] * 40
    for bad in (np.nan, 100.0):
        y = x.copy()
        y[3, 4] = bad
        assert loss_blocks.exponential_sums(y) is None
    assert loss_blocks.exponential_sums(x - 30.0) is None
