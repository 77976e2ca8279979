"""The losses PyTorch users reach for (l1, huber, smooth_l1, nll, binary_cross_entropy,
kl_div): values and gradients against PyTorch in float64, edge values, finite differences,
every host backend equal to numpy, argument errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
REDUCTIONS = ["mean", "sum", "none"]


def _run(fn, arrays, diff, backend="numpy"):
    """Value of ``fn(*arrays)`` and the gradients of sum(value * weights) for ``diff``."""
    xs = [xg.asarray(a, backend=backend) for a in arrays]
    with xg.GradientTape() as tape:
        for i in diff:
            tape.watch(xs[i])
        y = fn(*xs)
        s = xg.sum(y * xg.asarray(_weights(y.shape), dtype=y.dtype, backend=backend))
    return [y.numpy()] + [g.numpy() for g in tape.gradient(s, [xs[i] for i in diff])]


def _weights(shape):
    return np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)


def _torch(fn, arrays, diff):
    ts = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)      # kl_div's note on reduction="mean"
        y = fn(*ts)
    w = torch.tensor(_weights(tuple(y.shape)), dtype=y.dtype)
    grads = torch.autograd.grad((y * w).sum(), [ts[i] for i in diff])
    return [y.detach().numpy()] + [g.numpy() for g in grads]


def _compare(ours, theirs, arrays, diff=(0, 1), rtol=1e-12, atol=0.0):
    got = _run(ours, arrays, diff)
    want = _torch(theirs, arrays, diff)
    for what, a, b in zip(["value"] + [f"gradient {i}" for i in diff], got, want):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _log_softmax(a, axis=-1):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


SHAPES = [(5,), (3, 4), (2, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(reduction, shape, rng):
    p, t = rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2
    p.flat[0] = t.flat[0]                                       # d = 0: l1's gradient is 0
    r = reduction
    _compare(lambda a, b: xg.losses.l1(a, b, reduction=r),
             lambda a, b: F.l1_loss(a, b, reduction=r), [p, t])
    for delta in (1.0, 0.3, 5.0):
        _compare(lambda a, b: xg.losses.huber(a, b, delta=delta, reduction=r),
                 lambda a, b: F.huber_loss(a, b, delta=delta, reduction=r), [p, t])
        _compare(lambda a, b: xg.losses.smooth_l1(a, b, beta=delta, reduction=r),
                 lambda a, b: F.smooth_l1_loss(a, b, beta=delta, reduction=r), [p, t],
                 rtol=1e-12, atol=1e-16)
    _compare(lambda a, b: xg.losses.smooth_l1(a, b, beta=0.0, reduction=r),
             lambda a, b: F.l1_loss(a, b, reduction=r), [p, t])


def test_regression_losses_at_the_edges():
    inf, nan = math.inf, math.nan
    p = np.array([0.0, 1e300, -1e300, inf, nan, 2.0, 100.0])
    t = np.array([0.0, 0.0, 1e300, 0.0, 0.0, nan, -100.0])
    for ours, theirs in [
        (lambda a, b: xg.losses.l1(a, b, reduction="none"),
         lambda a, b: F.l1_loss(a, b, reduction="none")),
        (lambda a, b: xg.losses.huber(a, b, delta=2.0, reduction="none"),
         lambda a, b: F.huber_loss(a, b, delta=2.0, reduction="none")),
        (lambda a, b: xg.losses.smooth_l1(a, b, beta=0.5, reduction="none"),
         lambda a, b: F.smooth_l1_loss(a, b, beta=0.5, reduction="none")),
    ]:
        got_y, got_gp, _ = _run(ours, [p, t], (0, 1))
        want_y, want_gp, _ = _torch(theirs, [p, t], (0, 1))
        np.testing.assert_allclose(got_y, want_y, rtol=1e-12)
        # PyTorch's l1 gradient at NaN is sign(NaN) = 0; xpgrad's is NaN, as its abs and sign
        nan = np.isnan(p - t)
        assert np.isnan(got_gp[nan]).all()
        np.testing.assert_allclose(got_gp[~nan], want_gp[~nan], rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_matches_torch(reduction, weighted, rng):
    logits = rng.standard_normal((6, 5)) * 3
    lp = _log_softmax(logits)
    labels = np.array([1, -100, 4, 0, 4, 2])
    weight = rng.uniform(0.2, 2.0, 5)
    extra = [weight] if weighted else []
    _compare(lambda a, b, *w: xg.losses.nll(a, b, weight=w[0] if w else None,
                                            reduction=reduction),
             lambda a, b, *w: F.nll_loss(a, b, weight=w[0] if w else None,
                                         reduction=reduction),
             [lp, labels] + extra, diff=(0,), rtol=1e-13)
    # ignore_index inside the class range
    _compare(lambda a, b: xg.losses.nll(a, b, ignore_index=4, reduction=reduction),
             lambda a, b: F.nll_loss(a, b, ignore_index=4, reduction=reduction),
             [lp, np.array([1, 2, 4, 0, 4, 3])], diff=(0,), rtol=1e-13)


def test_nll_leading_axes_and_edges(rng):
    lp = _log_softmax(rng.standard_normal((2, 3, 4)))
    labels = np.array([[0, 3, 1], [2, 2, -100]])
    for reduction in REDUCTIONS:
        # PyTorch's class axis is 1; xpgrad's is the last, like softmax_cross_entropy
        _compare(lambda a, b: xg.losses.nll(a, b, reduction=reduction),
                 lambda a, b: F.nll_loss(a.permute(0, 2, 1), b, reduction=reduction),
                 [lp, labels], diff=(0,), rtol=1e-13)
    # a single sample (C,) with a 0-d label
    _compare(lambda a, b: xg.losses.nll(a, b), lambda a, b: F.nll_loss(a, b),
             [lp[0, 0], np.array(3)], diff=(0,))
    # every row ignored: NaN mean (0 / 0), as PyTorch; 0 for sum
    everything = xg.asarray(np.array([-100, -100]))
    assert math.isnan(xg.losses.nll(xg.asarray(lp[0, :2]), everything).item())
    assert xg.losses.nll(xg.asarray(lp[0, :2]), everything, reduction="sum").item() == 0.0
    # a -inf log-probability of a class nobody picks does not leak NaN
    masked = np.array([[0.0, -math.inf], [-math.inf, 0.0]])
    _compare(lambda a, b: xg.losses.nll(a, b), lambda a, b: F.nll_loss(a, b),
             [masked, np.array([0, 1])], diff=(0,))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction, shape, rng):
    p = 1.0 / (1.0 + np.exp(-rng.standard_normal(shape) * 3))
    t = rng.uniform(size=shape)
    _compare(lambda a, b: xg.losses.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), [p, t],
             rtol=1e-12)


def test_binary_cross_entropy_at_zero_and_one():
    """The logs are clamped at -100 as PyTorch, so p = 0 or 1 costs at most 100; the
    probability gradient is PyTorch's (p - t) / max(p (1 - p), 1e-12)."""
    p = np.array([0.0, 0.0, 1.0, 1.0, 1e-300, 0.5])
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.25])
    got_y, got_gp, got_gt = _run(
        lambda a, b: xg.losses.binary_cross_entropy(a, b, reduction="none"), [p, t], (0, 1))
    want_y, want_gp, want_gt = _torch(
        lambda a, b: F.binary_cross_entropy(a, b, reduction="none"), [p, t], (0, 1))
    np.testing.assert_allclose(got_y, want_y, rtol=1e-12)
    # PyTorch's 1e-12 is a float32 constant (9.99999996e-13) even in float64
    np.testing.assert_allclose(got_gp, want_gp, rtol=1e-8)
    # the target gradient is that of the clamped loss, log(1 - p) - log(p) with both logs
    # clamped (PyTorch's is the unclamped -logit(p): inf at 0 and 1, 690.8 at 1e-300)
    unclamped = (p > 1e-40) & (p < 1)
    np.testing.assert_allclose(got_gt[unclamped], want_gt[unclamped], rtol=1e-12)
    with np.errstate(divide="ignore"):
        clamped = np.maximum(np.log1p(-p), -100.0) - np.maximum(np.log(p), -100.0)
    np.testing.assert_allclose(got_gt, _weights(p.shape) * clamped, rtol=1e-14)
    # NaN probabilities: a ValueError, as PyTorch (tests/test_losses_range_checks.py)


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div_matches_torch(reduction, log_target, rng):
    x = _log_softmax(rng.standard_normal((4, 5)))
    t = np.exp(_log_softmax(rng.standard_normal((4, 5)) * 2))
    if log_target:
        t = np.log(t)
    _compare(lambda a, b: xg.losses.kl_div(a, b, reduction=reduction, log_target=log_target),
             lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
             [x, t], rtol=1e-12, atol=1e-16)


def test_kl_div_zero_targets():
    """0 log 0 = 0: a zero target costs nothing, even where the input is -inf (PyTorch: NaN
    there); a negative target is NaN, as PyTorch's xlogy."""
    x = np.array([-1.0, -math.inf, -2.0, -0.5])
    t = np.array([0.0, 0.0, 0.5, -0.1])
    y = xg.losses.kl_div(xg.asarray(x), xg.asarray(t), reduction="none").numpy()
    want = F.kl_div(torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    assert y[0] == want[0] == 0.0 and y[1] == 0.0
    np.testing.assert_allclose(y[2], want[2], rtol=1e-14)
    assert math.isnan(y[3]) and math.isnan(want[3])


@pytest.mark.parametrize("case", ["l1", "huber", "smooth_l1", "bce", "kl", "kl_log", "nll"])
def test_finite_differences_float64(case, rng):
    p, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    probs, targets = 1 / (1 + np.exp(-p)), rng.uniform(size=(3, 4))
    fns = {
        "l1": (lambda a, b: xg.losses.l1(a, b, reduction="sum"), [p, t]),
        "huber": (lambda a, b: xg.losses.huber(a, b, delta=0.8), [p, t]),
        "smooth_l1": (lambda a, b: xg.losses.smooth_l1(a, b, beta=0.6, reduction="none"),
                      [p, t]),
        "bce": (lambda a, b: xg.losses.binary_cross_entropy(a, b), [probs, targets]),
        "kl": (lambda a, b: xg.losses.kl_div(a, b, reduction="batchmean"),
               [_log_softmax(p), targets]),
        "kl_log": (lambda a, b: xg.losses.kl_div(a, b, log_target=True), [p, t]),
        "nll": (lambda a: xg.losses.nll(a, xg.asarray([0, 3, -100]),
                                        weight=[1.0, 2.0, 0.5, 3.0]), [p]),
    }
    fn, arrays = fns[case]
    check_grads(fn, [xg.asarray(a) for a in arrays], order=2)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backends_equal_numpy(backend, dtype, rng):
    p = rng.standard_normal((4, 3)).astype(dtype)
    t = rng.standard_normal((4, 3)).astype(dtype)
    probs = (1 / (1 + np.exp(-p))).astype(dtype)
    targets = rng.uniform(size=(4, 3)).astype(dtype)
    lp = _log_softmax(p).astype(dtype)
    labels = np.array([0, 2, -100, 1])
    cases = [
        (lambda a, b: xg.losses.l1(a, b), [p, t], (0, 1)),
        (lambda a, b: xg.losses.huber(a, b, delta=0.5), [p, t], (0, 1)),
        (lambda a, b: xg.losses.smooth_l1(a, b, beta=0.5), [p, t], (0, 1)),
        (lambda a, b: xg.losses.binary_cross_entropy(a, b), [probs, targets], (0, 1)),
        (lambda a, b: xg.losses.kl_div(a, b, reduction="batchmean"), [lp, targets], (0, 1)),
        (lambda a, b: xg.losses.nll(a, b, reduction="none"), [lp, labels], (0,)),
    ]
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    for fn, arrays, diff in cases:
        for got, want in zip(_run(fn, arrays, diff, backend), _run(fn, arrays, diff)):
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=rtol)


@pytest.mark.parametrize("call, exc, message", [
    (lambda p, t: xg.losses.l1(p, t, reduction="avg"), ValueError, "reduction must be one of"),
    (lambda p, t: xg.losses.l1(p, t[:1]), ValueError, "target has shape"),
    (lambda p, t: xg.losses.huber(p, t, delta=0.0), ValueError, "huber: delta must be"),
    (lambda p, t: xg.losses.huber(p, t, delta="1"), TypeError, "huber: delta must be a real"),
    (lambda p, t: xg.losses.smooth_l1(p, t, beta=-1.0), ValueError, "smooth_l1: beta must be"),
    (lambda p, t: xg.losses.smooth_l1(p, t, reduction="max"), ValueError, "reduction"),
    (lambda p, t: xg.losses.binary_cross_entropy(p * 3.0, t), ValueError,
     r"probs must be in \[0, 1\]"),
    (lambda p, t: xg.losses.binary_cross_entropy(p, xg.astype(t, xg.float32)), TypeError,
     "targets has dtype float32"),
    (lambda p, t: xg.losses.kl_div(p, t, reduction="batch"), ValueError,
     "reduction must be one of .*batchmean"),
    (lambda p, t: xg.losses.kl_div(p, t, log_target=1), TypeError,
     "log_target must be True or False"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1])), ValueError, "labels must have shape"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1, 3])), IndexError,
     "label 3 is out of range for 3 classes"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1, -1])), IndexError, "label -1"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0.0, 1.0, 2.0])), TypeError,
     "labels must be integer class indices"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1, 2]), weight=xg.ones(2)), ValueError,
     r"weight must have shape \(3,\)"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1, 2]), weight=xg.ones(3)), TypeError,
     "weight has dtype float32 but log_probs has dtype float64"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1, 2]), weight="heavy"), TypeError,
     "weight must be a floating-point tensor"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1, 2]), ignore_index=1.0), TypeError,
     "ignore_index must be an int"),
    (lambda p, t: xg.losses.nll(p, xg.asarray([0, 1, 2]), reduction="batchmean"), ValueError,
     "reduction must be one of"),
    (lambda p, t: xg.losses.softmax_cross_entropy(p, t * 0.0 + 1 / 3, ignore_index=1),
     ValueError, r"ignore_index \(1\) picks integer labels .* these labels are probabilities"),
])
def test_bad_arguments_name_the_argument(call, exc, message):
    p = xg.asarray(np.full((3, 3), 0.5))
    with pytest.raises(exc, match=message):
        call(p, xg.asarray(np.full((3, 3), 0.25)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight_shape", [(4, 3), (3,), (4, 1), ()], ids=str)
def test_binary_cross_entropy_weight_as_pytorch(reduction, weight_shape):
    """``weight`` rescales each entry's loss (broadcast to the input), as in
    ``torch.nn.functional.binary_cross_entropy``; "mean" divides by the number of entries."""
    import torch

    rng = np.random.default_rng(11)
    p0 = rng.uniform(0.05, 0.95, (4, 3))
    t0 = rng.uniform(0, 1, (4, 3))
    w0 = rng.uniform(0.1, 2.0, weight_shape)
    p = xg.asarray(p0)
    with xg.GradientTape() as tape:
        tape.watch(p)
        loss = xg.losses.binary_cross_entropy(p, xg.asarray(t0), weight=xg.asarray(w0),
                                              reduction=reduction)
        total = xg.sum(loss)
    pt = torch.tensor(p0, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy(pt, torch.tensor(t0),
                                                        weight=torch.tensor(w0),
                                                        reduction=reduction)
    expected.sum().backward()
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(total, p).numpy(), pt.grad.numpy(), rtol=1e-12)


def test_binary_cross_entropy_weight_that_does_not_broadcast_is_named():
    p = xg.asarray(np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="weight"):
        xg.losses.binary_cross_entropy(p, p, weight=xg.asarray(np.ones(4)))
    with pytest.raises(TypeError, match="weight"):
        xg.losses.binary_cross_entropy(p, p, weight="heavy")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight, weight", [((3,), None), (None, (4, 3)), ((3,), (4, 1)),
                                                ((), ())], ids=str)
def test_sigmoid_cross_entropy_pos_weight_and_weight_as_pytorch(reduction, pos_weight, weight):
    """``pos_weight`` (the positive term's weight, broadcast over the classes) and ``weight``,
    as ``binary_cross_entropy_with_logits`` (TensorFlow: ``weighted_cross_entropy_with_logits``)."""
    import torch

    rng = np.random.default_rng(12)
    x0 = rng.normal(0, 3, (4, 3))
    x0[0, 0], x0[1, 1] = 40.0, -40.0          # far out: the stable form must hold
    t0 = rng.uniform(0, 1, (4, 3))
    pw0 = None if pos_weight is None else rng.uniform(0.5, 4.0, pos_weight)
    w0 = None if weight is None else rng.uniform(0.1, 2.0, weight)
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.sigmoid_cross_entropy_with_logits(
            x, xg.asarray(t0), reduction=reduction,
            pos_weight=None if pw0 is None else xg.asarray(pw0),
            weight=None if w0 is None else xg.asarray(w0))
        total = xg.sum(loss)
    xt = torch.tensor(x0, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(t0), reduction=reduction,
        pos_weight=None if pw0 is None else torch.tensor(pw0),
        weight=None if w0 is None else torch.tensor(w0))
    expected.sum().backward()
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), xt.grad.numpy(), rtol=1e-12,
                               atol=1e-15)


def test_sigmoid_cross_entropy_pos_weight_that_does_not_broadcast_is_named():
    x = xg.asarray(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="pos_weight"):
        xg.losses.sigmoid_cross_entropy_with_logits(x, x, pos_weight=xg.asarray(np.ones(4)))
    with pytest.raises(ValueError, match="weight"):
        xg.losses.sigmoid_cross_entropy_with_logits(x, x, weight=xg.asarray(np.ones((2, 3))))


_CE_OPTIONS = {
    "weight": dict(weight=True),
    "ignore_index": dict(ignore_index=-100),
    "label_smoothing": dict(label_smoothing=0.1),
    "weight+ignore_index": dict(weight=True, ignore_index=-100),
    "all": dict(weight=True, ignore_index=-100, label_smoothing=0.2),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", list(_CE_OPTIONS))
def test_softmax_cross_entropy_options_as_pytorch(options, reduction):
    """``weight`` (per class), ``ignore_index`` and ``label_smoothing`` of integer labels, as
    ``torch.nn.functional.cross_entropy``."""
    import torch

    opts = dict(_CE_OPTIONS[options])
    rng = np.random.default_rng(13)
    x0 = rng.normal(0, 2, (6, 4))
    y0 = rng.integers(0, 4, 6)
    if "ignore_index" in opts:
        y0[[1, 4]] = -100
    w0 = rng.uniform(0.2, 3.0, 4) if opts.pop("weight", False) else None
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.softmax_cross_entropy(
            x, xg.asarray(y0), reduction=reduction,
            weight=None if w0 is None else xg.asarray(w0), **opts)
        total = xg.sum(loss)
    xt = torch.tensor(x0, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(
        xt, torch.tensor(y0), reduction=reduction,
        weight=None if w0 is None else torch.tensor(w0), **opts)
    expected.sum().backward()
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), xt.grad.numpy(), rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight, smoothing", [(True, 0.0), (False, 0.15), (True, 0.3)])
def test_softmax_cross_entropy_options_with_probability_targets(weight, smoothing, reduction):
    import torch

    rng = np.random.default_rng(14)
    x0 = rng.normal(0, 2, (5, 3))
    p0 = rng.dirichlet(np.ones(3), 5)
    w0 = rng.uniform(0.2, 3.0, 3) if weight else None
    x = xg.asarray(x0)
    with xg.GradientTape() as tape:
        tape.watch(x)
        loss = xg.losses.softmax_cross_entropy(x, xg.asarray(p0), reduction=reduction,
                                               weight=None if w0 is None else xg.asarray(w0),
                                               label_smoothing=smoothing)
        total = xg.sum(loss)
    xt = torch.tensor(x0, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(
        xt, torch.tensor(p0), reduction=reduction, label_smoothing=smoothing,
        weight=None if w0 is None else torch.tensor(w0))
    expected.sum().backward()
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), xt.grad.numpy(), rtol=1e-12,
                               atol=1e-15)


def test_softmax_cross_entropy_option_errors_are_named():
    x = xg.asarray(np.zeros((3, 4)))
    with pytest.raises(IndexError, match="ignore_index=-100"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, -100, 2]))
    with pytest.raises(ValueError, match="label_smoothing"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 1, 2]), weight=xg.asarray(np.ones(3)))
    with pytest.raises(TypeError, match="ignore_index"):
        xg.losses.softmax_cross_entropy(x, xg.asarray([0, 1, 2]), ignore_index=1.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nll_second_order_stays_on_its_backend(backend, rng):
    """The Hessian of a cross-entropy with options (through ``nll``) on a backend other than
    the default one, against the plain cross-entropy's (the same function here)."""
    x = xg.asarray(rng.standard_normal((4, 3)), backend=backend)
    y = xg.asarray([0, 2, 1, 2], backend=backend)
    with_options = xg.hessian(lambda x: xg.losses.softmax_cross_entropy(
        x, y, weight=xg.ones(3, dtype=xg.float64, backend=backend)))(x)
    plain = xg.hessian(lambda x: xg.losses.softmax_cross_entropy(x, y))(x)
    np.testing.assert_allclose(with_options.numpy(), plain.numpy(), rtol=1e-12, atol=1e-15)
