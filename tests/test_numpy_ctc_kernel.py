"""The NumPy CTC kernel (``backends/numpy/ctc.py``): its scaled recursions (probability space,
each step scaled to sum 1) and its log-space ones, which it takes where scaling could lose an
entry to underflow, against the generic rule (``xpgrad/ops/ctc.py``) and PyTorch, float32 and
float64, every reduction, with repeated labels, empty targets, infeasible samples, inputs
shorter than the batch's and NaN padding past them; the loss of a call no tape records (the
alphas alone) equals the forward's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from xpgrad.backends.numpy import ctc

F = torch.nn.functional
NUMPY = xg.get_backend("numpy")
pytestmark = pytest.mark.usefixtures("numpy_default")


def _case(rng, T=30, N=6, C=7, S=8, spread=2.0):
    logits = rng.standard_normal((T, N, C)) * spread
    targets = rng.integers(1, C, (N, S))
    targets[0, 1:4] = targets[0, 0]                       # a run of one label: no skip
    tl = rng.integers(0, S + 1, N)
    tl[1] = 0                                             # an empty target
    il = np.minimum(T, 2 * tl + 1 + rng.integers(0, 6, N))
    il[2] = max(int(tl[2]) - 1, 0) if tl[2] > 1 else 0    # too short: infeasible (or empty)
    return logits, targets, il, tl


def _run(logits, targets, il, tl, dtype, kernels=True, monkeypatch=None, **kw):
    """Loss and gradient w.r.t. the logits (through ``log_softmax``, as PyTorch takes them;
    NaN in the padding past each input's length), and the loss of a call without a tape."""
    if not kernels:
        monkeypatch.setattr(NUMPY, "kernels", {})
    x = xg.asarray(logits.astype(dtype))
    live = xg.asarray((np.arange(len(logits))[:, None] < il[None, :])[:, :, None])
    args = (xg.asarray(targets), xg.asarray(il), xg.asarray(tl))
    weights = None
    with xg.GradientTape() as tape:
        tape.watch(x)
        lp = xg.where(live, xg.nn.log_softmax(x, axis=-1), float("nan"))
        loss = xg.losses.ctc(lp, *args, **kw)
        weights = xg.asarray(np.linspace(0.5, 1.5, loss.size).reshape(loss.shape),
                             dtype=loss.dtype)
        total = xg.sum(loss * weights)
    grad = tape.gradient(total, x)
    value = xg.losses.ctc(lp, *args, **kw)
    if not kernels:
        monkeypatch.undo()
    return loss.numpy(), grad.numpy(), value.numpy()


def _torch(logits, targets, il, tl, dtype, **kw):
    x = torch.tensor(logits.astype(dtype), requires_grad=True)
    loss = F.ctc_loss(x.log_softmax(-1), torch.tensor(targets), torch.tensor(il),
                      torch.tensor(tl), **kw)
    w = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype).reshape(loss.shape)
    (g,) = torch.autograd.grad((loss * w).sum(), x)
    return loss.detach().numpy(), g.numpy()


def _scaled_takes_it(logits, targets, il, tl):
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ext, skip = ctc._extended(targets, tl, 0)
    lpe = lp[:, np.arange(lp.shape[1])[:, None], ext].astype(np.float64)
    lpe[~(np.arange(lp.shape[0])[:, None] < il[None, :])] = 0.0
    found = ctc._scaled_alphas(lpe, skip)
    return found is not None and ctc._scaled_betas(found[2], found[3], il - 1,
                                                   2 * tl + 1) is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("space", ["scaled", "log"])
def test_kernel_matches_the_generic_rule_and_torch(space, reduction, dtype, rng, monkeypatch):
    logits, targets, il, tl = _case(rng)
    assert _scaled_takes_it(logits, targets, il, tl)
    if space == "log":
        monkeypatch.setattr(ctc, "_GAP", -1.0)             # every probability "too small"
    kw = dict(reduction=reduction, zero_infinity=True)
    loss, grad, value = _run(logits, targets, il, tl, dtype, **kw)
    generic = _run(logits, targets, il, tl, dtype, False, monkeypatch, **kw)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(loss, generic[0], **tol)
    np.testing.assert_allclose(grad, generic[1], **tol)
    np.testing.assert_array_equal(value, loss)
    want, want_grad = _torch(logits, targets, il, tl, dtype, **kw)
    np.testing.assert_allclose(loss, want, **tol)
    np.testing.assert_allclose(grad, want_grad, **tol)


def test_infeasible_samples_give_nan_steps_without_zero_infinity(rng):
    logits, targets, il, tl = _case(rng)
    tl[2], il[2] = 4, 3
    loss, grad, _ = _run(logits, targets, il, tl, np.float64, reduction="none")
    assert loss[2] == np.inf and np.isnan(grad[:3, 2]).all() and (grad[3:, 2] == 0).all()
    assert np.isfinite(grad[:, [0, 1, 3, 4, 5]]).all()


def test_a_probability_far_below_its_step_takes_the_log_space(rng, monkeypatch):
    """Logits 300 apart: a path through the small ones would underflow when scaled."""
    logits, targets, il, tl = _case(rng, spread=150.0)
    assert not _scaled_takes_it(logits, targets, il, tl)
    kw = dict(reduction="none", zero_infinity=True)
    loss, grad, value = _run(logits, targets, il, tl, np.float64, **kw)
    generic = _run(logits, targets, il, tl, np.float64, False, monkeypatch, **kw)
    np.testing.assert_allclose(loss, generic[0], rtol=1e-12)
    np.testing.assert_allclose(grad, generic[1], rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(value, loss)


def test_a_path_that_fades_below_tiny_takes_the_log_space(rng, monkeypatch):
    """Probabilities about e^-150 a step for every label but the blank: scaled, the entries
    past three labels fall under ``_TINY`` (and could vanish later on)."""
    T, N, C = 12, 2, 4
    logits = np.full((T, N, C), -150.0)
    logits[:, :, 0] = 0.0
    targets, tl, il = np.array([[1, 2, 1, 2], [3, 3, 1, 1]]), np.array([4, 4]), np.array([T, T])
    assert not _scaled_takes_it(logits, targets, il, tl)
    kw = dict(reduction="none")
    loss, grad, _ = _run(logits, targets, il, tl, np.float64, **kw)
    generic = _run(logits, targets, il, tl, np.float64, False, monkeypatch, **kw)
    np.testing.assert_allclose(loss, generic[0], rtol=1e-12)
    np.testing.assert_allclose(grad, generic[1], rtol=1e-10, atol=1e-14)
    assert np.all(loss > 590)                          # four labels at e^-150 each


def test_other_dtypes_and_layouts_are_left_to_the_generic_rule():
    lp = np.log(np.full((2, 1, 2), 0.5))
    args = (np.array([[1]]), np.array([2]), np.array([1]))
    kw = dict(blank=0, reduction="sum", zero_infinity=False)
    assert ctc.ctc_forward(lp.astype(np.float16), *args, **kw) is None
    assert ctc.ctc_forward(lp[:, :0], np.zeros((0, 1), int), np.zeros(0, int),
                           np.zeros(0, int), **kw) is None
    assert ctc.ctc_forward(lp, np.array([1]), *args[1:], **kw) is None
