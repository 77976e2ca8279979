"""xg.losses.multilabel_margin and triplet_margin_with_distance against torch.nn.functional's
multilabel_margin_loss and triplet_margin_with_distance_loss: values and gradients in float64
for every reduction, the -1 that ends a row's targets, hinges exactly at 0, custom distance
functions and swap; finite differences; bad input naming the argument."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(3)
REDUCTIONS = ["mean", "sum", "none"]


def _compare(ours, theirs, arrays, diff, rtol=1e-12, atol=1e-14):
    """Values of ``ours(*xg tensors)`` and ``theirs(*torch tensors)``, and the gradients of
    ``sum(w * loss)`` for the arrays at positions ``diff``."""
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        for i in diff:
            tape.watch(xs[i])
        y = ours(*xs)
        w = np.linspace(0.5, 1.5, y.size).reshape(y.shape)
        total = xg.sum(y * xg.asarray(w))
    got = [g.numpy() for g in tape.gradient(total, [xs[i] for i in diff])]
    ts = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    t = theirs(*ts)
    want = torch.autograd.grad((t * torch.tensor(w)).sum(), [ts[i] for i in diff])
    assert y.shape == tuple(t.shape)
    np.testing.assert_allclose(y.numpy(), t.detach().numpy(), rtol=rtol, atol=atol)
    for i, g, h in zip(diff, got, want):
        np.testing.assert_allclose(g, h.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")


# -- multilabel_margin ------------------------------------------------------------------------
def _multilabel_targets(n, c):
    """Rows ending at a -1 in every position (the first: no targets), rows with none,
    duplicates, and labels after the -1 that must be ignored."""
    y = RNG.integers(0, c, size=(n, c))
    for row in range(n):
        end = row % (c + 1)
        if end < c:
            y[row, end] = -1
    y[1, 0] = y[1, 1] = 2            # a duplicate target (counted twice, as PyTorch's)
    return y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_matches_torch(reduction):
    x, y = RNG.normal(size=(9, 5)), _multilabel_targets(9, 5)
    _compare(lambda x, y: xg.losses.multilabel_margin(x, y, reduction=reduction),
             lambda x, y: F.multilabel_margin_loss(x, y, reduction=reduction), [x, y], (0,))


@pytest.mark.parametrize("longest", [1, 3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_with_short_lists_matches_torch(reduction, longest):
    """Every row's list ends by position ``longest`` (the terms past it are skipped; labels
    after the -1 still ignored), duplicates and an empty list among them; under xg.function,
    whose trace keeps every position, a replay with other lengths equals eager."""
    y = RNG.integers(0, 12, size=(20, 12))
    y[np.arange(20), np.arange(20) % (longest + 1)] = -1
    y[1, :2] = 4
    x = RNG.normal(size=(20, 12))
    _compare(lambda x, y: xg.losses.multilabel_margin(x, y, reduction=reduction),
             lambda x, y: F.multilabel_margin_loss(x, y, reduction=reduction), [x, y], (0,))
    if reduction != "mean":
        return

    def step(x, y):
        with xg.GradientTape() as tape:
            tape.watch(x)
            loss = xg.losses.multilabel_margin(x, y)
        return [loss, tape.gradient(loss, x)]

    compiled = xg.function(step)
    for seed, width in [(0, longest), (1, longest + 2), (2, 12)]:
        rows = np.random.default_rng(seed).integers(0, 12, size=(20, 12))
        rows[:, min(width, 11)] = -1
        xs, ys = xg.asarray(RNG.normal(size=(20, 12))), xg.asarray(rows)
        for got, want in zip(compiled(xs, ys), step(xs, ys)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_one_sample_matches_torch(reduction):
    x, y = RNG.normal(size=6), np.array([4, 0, -1, 4, 1, 2])
    _compare(lambda x, y: xg.losses.multilabel_margin(x, y, reduction=reduction),
             lambda x, y: F.multilabel_margin_loss(x, y, reduction=reduction), [x, y], (0,))


def test_multilabel_margin_hinge_at_zero_has_no_gradient_as_torch():
    x = np.array([[0.0, 1.0, 0.25], [2.0, 1.0, 1.0]])      # 1 - (x[1] - x[0]) == 0 exactly
    y = np.array([[1, -1, 0], [0, 1, -1]])
    _compare(lambda x, y: xg.losses.multilabel_margin(x, y, reduction="sum"),
             lambda x, y: F.multilabel_margin_loss(x, y, reduction="sum"), [x, y], (0,))


def test_multilabel_margin_all_or_no_targets_is_zero():
    x = xg.asarray(RNG.normal(size=(2, 3)))
    y = xg.asarray([[-1, 0, 1], [2, 0, 1]])            # no targets; every class a target
    assert xg.losses.multilabel_margin(x, y, reduction="none").tolist() == [0.0, 0.0]


def test_multilabel_margin_finite_differences_and_module():
    y = xg.asarray(_multilabel_targets(4, 5))
    check_grads(lambda x: xg.losses.multilabel_margin(x, y), (RNG.normal(size=(4, 5)),),
                rtol=1e-6, atol=1e-9)
    x = xg.asarray(RNG.normal(size=(4, 5)))
    module = xg.nn.MultiLabelMarginLoss(reduction="sum")
    assert module(x, y).item() == xg.losses.multilabel_margin(x, y, reduction="sum").item()


@pytest.mark.parametrize("x, y, exc, match", [
    (np.zeros((2, 3)), np.zeros((2, 3)), TypeError, r"multilabel_margin: y must be integer"),
    (np.zeros((2, 3)), np.zeros((2, 2), dtype=int), ValueError,
     r"multilabel_margin: y must have x's shape \(2, 3\)"),
    (np.zeros((2, 3)), np.array([[0, 3, -1], [0, 1, 2]]), IndexError,
     r"multilabel_margin: label 3 in y is out of range for 3 classes"),
    (np.zeros((2, 3)), np.array([[0, -2, -1], [0, 1, 2]]), IndexError,
     r"multilabel_margin: label -2 in y"),
    (np.zeros((2, 3, 4)), np.zeros((2, 3, 4), dtype=int), ValueError,
     r"multilabel_margin: x must have shape \(N, C\) or \(C,\)"),
    (np.zeros((2, 0)), np.zeros((2, 0), dtype=int), ValueError, r"multilabel_margin: x must"),
    (np.zeros(3, dtype=int), np.zeros(3, dtype=int), TypeError, r"multilabel_margin: x"),
    (np.zeros(3), "labels", TypeError, r"multilabel_margin: y must be integer class indices"),
])
def test_multilabel_margin_bad_input_names_it(x, y, exc, match):
    with pytest.raises(exc, match=match):
        xg.losses.multilabel_margin(xg.asarray(x), y if isinstance(y, str) else xg.asarray(y))


def test_multilabel_margin_bad_reduction():
    with pytest.raises(ValueError, match="reduction"):
        xg.losses.multilabel_margin(xg.zeros((1, 2)), xg.asarray([[0, -1]]), reduction="avg")
    with pytest.raises(ValueError, match="MultiLabelMarginLoss: reduction"):
        xg.nn.MultiLabelMarginLoss(reduction="avg")


# -- triplet_margin_with_distance --------------------------------------------------------------
def _l1(u, v):
    return (u - v).abs().sum(-1)          # a Tensor method on both sides


def _cosine_distance(u, v):
    if isinstance(u, torch.Tensor):
        return 1.0 - F.cosine_similarity(u, v, dim=-1)
    return 1.0 - xg.nn.cosine_similarity(u, v, axis=-1)


DISTANCES = {"default": None, "l1": _l1, "cosine": _cosine_distance}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("distance", sorted(DISTANCES))
def test_triplet_margin_with_distance_matches_torch(distance, swap, reduction):
    fn = DISTANCES[distance]
    arrays = [RNG.normal(size=(7, 4)) for _ in range(3)]
    options = {"margin": 1.5, "swap": swap, "reduction": reduction}
    _compare(lambda a, p, n: xg.losses.triplet_margin_with_distance(
                 a, p, n, distance_function=fn, **options),
             lambda a, p, n: F.triplet_margin_with_distance_loss(
                 a, p, n, distance_function=fn, **options), arrays, (0, 1, 2))


def test_triplet_margin_with_distance_of_single_vectors_and_modules():
    arrays = [RNG.normal(size=5) for _ in range(3)]
    _compare(lambda a, p, n: xg.nn.TripletMarginWithDistanceLoss(
                 distance_function=_l1, margin=3.0, reduction="none")(a, p, n),
             lambda a, p, n: torch.nn.TripletMarginWithDistanceLoss(
                 distance_function=_l1, margin=3.0, reduction="none")(a, p, n),
             arrays, (0, 1, 2))
    a, p, n = (xg.asarray(v) for v in arrays)
    default = xg.losses.triplet_margin_with_distance(a, p, n, swap=True)
    assert default.item() == xg.losses.triplet_margin(a, p, n, swap=True).item()


def test_triplet_margin_with_distance_finite_differences():
    check_grads(lambda a, p, n: xg.losses.triplet_margin_with_distance(
                    a, p, n, distance_function=_cosine_distance, margin=1.2, swap=True),
                [RNG.normal(size=(4, 3)) for _ in range(3)], order=2, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("call, exc, match", [
    (lambda a: xg.losses.triplet_margin_with_distance(a, a, a, margin=0.0), ValueError,
     r"triplet_margin_with_distance: margin"),
    (lambda a: xg.losses.triplet_margin_with_distance(a, a, a, distance_function="l2"),
     TypeError, r"triplet_margin_with_distance: distance_function must be a callable"),
    (lambda a: xg.losses.triplet_margin_with_distance(a, a[0], a), ValueError,
     r"triplet_margin_with_distance: anchor, positive and negative must have one number"),
    (lambda a: xg.losses.triplet_margin_with_distance(
        a, a, a, distance_function=lambda u, v: 1.0), TypeError,
     r"distance_function must return a floating-point tensor, got float"),
    (lambda a: xg.losses.triplet_margin_with_distance(a, a, a, swap="yes"), TypeError,
     r"triplet_margin_with_distance: swap"),
    (lambda a: xg.losses.triplet_margin_with_distance(a, a, "n"), TypeError,
     r"triplet_margin_with_distance: negative"),
    (lambda a: xg.nn.TripletMarginWithDistanceLoss(margin=-1.0), ValueError,
     r"TripletMarginWithDistanceLoss: margin"),
    (lambda a: xg.nn.TripletMarginWithDistanceLoss(distance_function=3), TypeError,
     r"TripletMarginWithDistanceLoss: distance_function"),
    (lambda a: xg.nn.TripletMarginWithDistanceLoss(swap=1), TypeError,
     r"TripletMarginWithDistanceLoss: swap"),
])
def test_triplet_margin_with_distance_bad_input_names_it(call, exc, match):
    with pytest.raises(exc, match=match):
        call(xg.asarray(RNG.normal(size=(2, 3))))
