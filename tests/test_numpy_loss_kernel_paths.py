"""The NumPy loss kernels' faster paths: softmax cross-entropy on unshifted exponentials (every
row's maximum in [0, 64]) and on shifted ones, the chunked row sums and float32 sums of squares,
and sigmoid cross-entropy's select-free weight of the losing side. Each against a float64
reference to a few float32 ulp, the generic rule, PyTorch, and float64 finite differences;
NaN/inf inputs as the generic rule.
"""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from sce_checks import assert_float32_sce_matches_generic_and_torch
from sce_checks import float64_reference as _sce_reference
from sce_checks import numpy_loss_and_grad as _loss_and_grad
from xpgrad.backends.numpy import kernel_common, loss_kernels
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.usefixtures("numpy_default")
F32_EPS = float(np.finfo(np.float32).eps)


# which rows take the unshifted exponentials: all maxima in [0, 64] (the last row decides)
SCE_CASES = {
    "unshifted, small maxima": lambda rng: rng.normal(size=(64, 1000)),
    "unshifted, maxima near 64": lambda rng: rng.normal(size=(64, 300)) + 58.0,
    "unshifted, a maximum of exactly 64": lambda rng: np.vstack(
        [rng.normal(size=(7, 40)), np.full((1, 40), 64.0)]),
    "shifted, one maximum past 64": lambda rng: np.vstack(
        [rng.normal(size=(7, 40)), np.full((1, 40), 64.5)]),
    "shifted, one negative maximum": lambda rng: np.vstack(
        [rng.normal(size=(7, 40)) + 5.0, np.full((1, 40), -0.5)]),
    "shifted, large magnitudes": lambda rng: rng.normal(size=(32, 600)) * 1e3,
    "unshifted, masked classes": lambda rng: np.where(rng.random((16, 700)) < 0.3, -np.inf,
                                                      rng.normal(size=(16, 700)) + 3.0),
}


@pytest.mark.parametrize("case", list(SCE_CASES))
def test_softmax_cross_entropy_paths_match_float64_generic_rule_and_torch(case, rng,
                                                                           monkeypatch):
    x = SCE_CASES[case](rng).astype(np.float32)
    labels = rng.integers(0, x.shape[1], x.shape[0])
    if case == "unshifted, masked classes":
        x[np.arange(x.shape[0]), labels] = 1.0          # the labelled class is never masked
    assert kernel_common._exponentials(x)[2] is case.startswith("shifted")
    loss, grad = _loss_and_grad("softmax_cross_entropy", x, labels, "none")
    ref_loss, ref_grad = _sce_reference(x, labels)
    # the loss is log(sum(exp(x - max))) + (max - x_label), two terms >= 0: within 1.5 ulp of
    # their sum (the kernels measured 0.7, the shifted ones before them 0.5)
    scale = 1.0 + ref_loss
    assert np.all(np.abs(loss - ref_loss) <= 1.5 * F32_EPS * scale)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=F32_EPS)
    assert_float32_sce_matches_generic_and_torch(loss, grad, x, labels, scale, monkeypatch)


@pytest.mark.parametrize("unshifted", [True, False])
def test_softmax_cross_entropy_paths_match_finite_differences(unshifted, rng):
    x = rng.normal(size=(5, 7)) + (2.0 if unshifted else -30.0)
    labels = xg.asarray(rng.integers(0, 7, 5))
    assert kernel_common._exponentials(x)[2] is not unshifted
    check_grads(lambda v: xg.losses.softmax_cross_entropy(v, labels), [xg.asarray(x)],
                order=1)


def test_softmax_cross_entropy_nan_and_inf_rows_as_the_generic_rule(monkeypatch):
    x = np.array([[0.0, 1.0, 2.0], [np.nan, 1.0, 2.0], [np.inf, 0.0, 1.0],
                  [-np.inf, -np.inf, -np.inf], [1.0, 2.0, 3.0]], np.float32)
    labels = np.array([0, 1, 2, 0, 2])
    with np.errstate(all="raise"):              # no RuntimeWarning from the kernel
        fused = _loss_and_grad("softmax_cross_entropy", x, labels, "none")
    with np.errstate(invalid="ignore"):         # the generic rule's inf - inf
        generic = _loss_and_grad("softmax_cross_entropy", x, labels, "none", True, monkeypatch)
    for f, g in zip(fused, generic):
        np.testing.assert_array_equal(np.isnan(f), np.isnan(g))
        np.testing.assert_allclose(f[~np.isnan(f)], g[~np.isnan(g)], rtol=1e-6)


@pytest.mark.parametrize("shape", [(3, 0 + 1), (0, 5), (4, 511), (4, 512), (3, 1000),
                                   (3, 1031), (2, 100_000)])
def test_row_sums_match_float64_at_any_length(shape, rng):
    a = np.exp(rng.normal(size=shape)).astype(np.float32)
    got = kernel_common._row_sums(a)
    assert got.shape == (shape[0], 1) and got.dtype == np.float32
    exact = a.astype(np.float64).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, exact, rtol=4 * F32_EPS)


@pytest.mark.parametrize("size", [1, 255, 257, 4096, 16383, 16384, 20_000, 1_000_003])
def test_float32_sum_of_squares_is_as_accurate_as_the_pairwise_sum(size, rng):
    flat = rng.normal(size=size).astype(np.float32)      # (a float32 BLAS dot: 3e-6 at 1e6)
    got = loss_kernels._sum_of_squares(flat)
    exact = np.dot(flat.astype(np.float64), flat.astype(np.float64))
    assert got.dtype == np.float32
    assert abs(float(got) - exact) <= 4 * F32_EPS * exact


@pytest.mark.parametrize("name", ["mse", "sigmoid_mse"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_squared_errors_match_generic_rule_and_torch(name, reduction, rng, monkeypatch):
    x = rng.normal(size=(300, 700)).astype(np.float32)
    t = rng.uniform(size=x.shape).astype(np.float32)
    loss, grad = _loss_and_grad(name, x, t, reduction)
    generic = _loss_and_grad(name, x, t, reduction, True, monkeypatch)
    np.testing.assert_allclose(loss, generic[0], rtol=4 * F32_EPS)
    # sigmoid(x) - t cancels: the gradients agree to a few ulp of their largest entry
    np.testing.assert_allclose(grad, generic[1], rtol=4 * F32_EPS,
                               atol=4 * F32_EPS * np.abs(generic[1]).max())
    tx = torch.tensor(x, requires_grad=True)
    pred = torch.sigmoid(tx) if name == "sigmoid_mse" else tx
    tl = F.mse_loss(pred, torch.tensor(t), reduction=reduction)
    tl.backward()
    np.testing.assert_allclose(loss, tl.item(), rtol=4 * F32_EPS)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-5,
                               atol=4 * F32_EPS * np.abs(generic[1]).max())


def test_sigmoid_cross_entropy_products_equal_the_selected_weights(rng):
    """``x * ((x > 0) - t)`` is ``|x|`` times the losing side's weight, bit for bit."""
    x = np.concatenate([rng.normal(size=5000) * 20, [0.0, -0.0, 1e-40, -1e-40, 3e38, -3e38]])
    x = x.astype(np.float32)
    t = rng.uniform(size=x.shape).astype(np.float32)
    per = loss_kernels._bce_loss(x, t, "none")
    weights = np.where(x > 0, np.float32(1) - t, t) * np.abs(x)
    np.testing.assert_array_equal(per, weights + np.log1p(np.exp(-np.abs(x))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_cross_entropy_matches_float64_generic_rule_and_torch(dtype, rng, monkeypatch):
    x = (rng.normal(size=(200, 300)) * 10).astype(dtype)
    t = rng.uniform(size=x.shape).astype(dtype)
    loss, grad = _loss_and_grad("sigmoid_cross_entropy_with_logits", x, t, "none")
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    exact = np.where(x64 > 0, (1 - t64) * x64, -t64 * x64) + np.log1p(np.exp(-abs(x64)))
    np.testing.assert_allclose(loss, exact, rtol=8 * np.finfo(dtype).eps)
    generic = _loss_and_grad("sigmoid_cross_entropy_with_logits", x, t, "none", True,
                             monkeypatch)
    np.testing.assert_array_equal(loss, generic[0])
    eps = np.finfo(dtype).eps            # sigmoid(x) - t cancels: a few ulp of the largest
    np.testing.assert_allclose(grad, generic[1], rtol=4 * eps, atol=4 * eps)
    tx = torch.tensor(x, requires_grad=True)
    tl = F.binary_cross_entropy_with_logits(tx, torch.tensor(t), reduction="none")
    tl.sum().backward()
    # PyTorch's max(x, 0) - x t cancels: a few ulp of |x|
    assert np.all(np.abs(loss - tl.detach().numpy()) <= 8 * eps * (np.abs(x) + 1))
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=4 * eps, atol=4 * eps)


def test_sigmoid_cross_entropy_gradient_matches_finite_differences(rng):
    t = xg.asarray(rng.uniform(size=(4, 6)))
    check_grads(lambda v: xg.losses.sigmoid_cross_entropy_with_logits(v, t),
                [xg.asarray(rng.normal(size=(4, 6)) * 3)], order=1)


def test_sigmoid_cross_entropy_edges_as_the_generic_rule(monkeypatch):
    x = np.array([0.0, -0.0, np.inf, np.inf, -np.inf, -np.inf, np.nan, 2.0, -3.0], np.float32)
    t = np.array([0.5, 0.5, 1.0, 0.5, 0.0, 0.5, 0.5, np.nan, 1.0], np.float32)
    with np.errstate(all="raise"):
        fused = _loss_and_grad("sigmoid_cross_entropy_with_logits", x, t, "none")
    with np.errstate(invalid="ignore"):
        generic = _loss_and_grad("sigmoid_cross_entropy_with_logits", x, t, "none", True,
                                 monkeypatch)
    for f, g in zip(fused, generic):
        np.testing.assert_array_equal(f, g)


def test_bad_loss_inputs_still_name_the_argument():
    x = xg.asarray(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="targets"):
        xg.losses.sigmoid_cross_entropy_with_logits(x, xg.asarray(np.zeros((3, 2), np.float32)))
    with pytest.raises(TypeError, match="target"):
        xg.losses.mse(x, xg.asarray(np.zeros((2, 3), np.float64)))
