"""The NumPy softmax cross-entropy kernel's unshifted short rows (``loss_kernels.
_unshifted_rows``): short float32 rows of logits in [-64, 64] take ``exp(x)`` decided by
the range of all, without each row's maximum (NumPy's row maxima of short rows cost several
passes). Loss and gradient against a
float64 reference (within the per-row path's 1.5 ulp of the loss), the per-row path, the
generic rule and PyTorch, also for a row whose maximum lies far below the others; wider
windows, NaN, infinities, float64 and long rows keep the row maxima."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import xpgrad as xg
from sce_checks import (assert_float32_sce_matches_generic_and_torch, float64_reference,
                        numpy_loss_and_grad)
from xpgrad.backends.numpy import loss_kernels

F = torch.nn.functional
pytestmark = pytest.mark.usefixtures("numpy_default")
F32_EPS = float(np.finfo(np.float32).eps)


def _loss_and_grad(x, labels, kernels=True, monkeypatch=None):
    return numpy_loss_and_grad("softmax_cross_entropy", x, labels, "none", not kernels,
                               monkeypatch)


def _spread(rng, shape, low, high):
    x = rng.uniform(low, high, size=shape)
    x[0, 0], x[-1, -1] = low, high                      # the range exactly
    return x


CASES = {  # name: (logits, unshifted?)
    "randn, 50 classes": (lambda rng: rng.normal(size=(2048, 50)), True),
    "10 classes, offset": (lambda rng: rng.normal(size=(1024, 10)) + 55.0, True),
    "a row 100 below the rest": (lambda rng: np.vstack(
        [rng.normal(size=(255, 20)) + 50.0, rng.normal(size=(1, 20)) - 50.0]), True),
    "all of [-64, 64]": (lambda rng: _spread(rng, (512, 16), -64.0, 64.0), True),
    "past 64": (lambda rng: _spread(rng, (512, 16), -3.0, 64.01), False),
    "below -64": (lambda rng: _spread(rng, (512, 16), -64.01, 3.0), False),
    "127 classes": (lambda rng: rng.normal(size=(64, 127)), True),
    "128 classes": (lambda rng: rng.normal(size=(64, 128)), False),
    "a small batch": (lambda rng: rng.normal(size=(63, 64)), True),
    "one row": (lambda rng: rng.normal(size=(1, 10)) - 60.0, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_losses_and_gradients_match_float64_per_row_path_generic_rule_and_torch(
        case, rng, monkeypatch):
    make, unshifted = CASES[case]
    x = make(rng).astype(np.float32)
    labels = rng.integers(0, x.shape[1], x.shape[0])
    assert loss_kernels._unshifted_rows(x) is unshifted
    loss, grad = _loss_and_grad(x, labels)
    ref_loss, ref_grad = float64_reference(x, labels)
    scale = 1.0 + ref_loss
    assert np.all(np.abs(loss - ref_loss) <= 1.5 * F32_EPS * scale)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=2 * F32_EPS)
    monkeypatch.setattr(loss_kernels, "_unshifted_rows", lambda logits: False)
    per_row = _loss_and_grad(x, labels)
    monkeypatch.undo()
    np.testing.assert_allclose(loss, per_row[0], rtol=0, atol=3 * F32_EPS * scale.max())
    np.testing.assert_allclose(grad, per_row[1], rtol=0, atol=2 * F32_EPS)
    assert_float32_sce_matches_generic_and_torch(loss, grad, x, labels, scale, monkeypatch)


def test_a_middle_class_axis_through_moveaxis_matches_torch(rng):
    x = rng.normal(size=(32, 50, 64)).astype(np.float32)
    labels = rng.integers(0, 50, size=(32, 64))
    X = xg.asarray(x)
    with xg.GradientTape() as tape:
        tape.watch(X)
        loss = xg.losses.softmax_cross_entropy(xg.moveaxis(X, 1, -1), xg.asarray(labels))
    grad = tape.gradient(loss, X)
    tx = torch.tensor(x, requires_grad=True)
    tl = F.cross_entropy(tx, torch.tensor(labels))
    tl.backward()
    np.testing.assert_allclose(loss.numpy(), tl.detach().numpy(), rtol=2e-6)
    np.testing.assert_allclose(grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_infinite_and_float64_logits_keep_the_row_maxima(bad, rng, monkeypatch):
    x = rng.normal(size=(512, 16)).astype(np.float32)
    x[3, 5] = bad
    assert not loss_kernels._unshifted_rows(x)
    assert not loss_kernels._unshifted_rows(np.nan_to_num(x).astype(np.float64))
    labels = rng.integers(0, 16, 512)
    labels[3] = 4
    with np.errstate(all="raise"):
        fused = _loss_and_grad(x, labels)
    with np.errstate(invalid="ignore"):
        generic = _loss_and_grad(x, labels, False, monkeypatch)
    for f, g in zip(fused, generic):
        np.testing.assert_array_equal(np.isnan(f), np.isnan(g))
        np.testing.assert_allclose(f[~np.isnan(f)], g[~np.isnan(g)], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(32, 10), (3000, 10)])
def test_fortran_ordered_logits_give_the_c_ordered_loss_and_gradient(shape, rng):
    """The one-hot subtraction goes by flat positions in a C-ordered gradient; a Fortran-ordered
    one (exp keeps the logits' layout) takes the row and label indices."""
    x = rng.normal(size=shape).astype(np.float32)
    labels = rng.integers(0, shape[1], shape[0])
    fortran = np.asfortranarray(x)
    loss, grad = _loss_and_grad(x, labels)
    loss_f, grad_f = _loss_and_grad(fortran, labels)
    ref_loss, ref_grad = float64_reference(x, labels)
    scale = 1.0 + ref_loss.max()       # the row sums of the two layouts round apart (1 ulp)
    np.testing.assert_allclose(loss_f, loss, rtol=0, atol=2 * F32_EPS * scale)
    np.testing.assert_allclose(grad_f, grad, rtol=0, atol=2 * F32_EPS)
    np.testing.assert_allclose(grad_f, ref_grad, rtol=0, atol=2 * F32_EPS)
