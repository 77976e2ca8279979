"""The cross-entropies' PyTorch options used as a PyTorch user would: every combination of
``weight``, ``ignore_index`` and ``label_smoothing`` on logits of any rank (class axis last
here, axis 1 in PyTorch), batches whose every label is ignored, and loss weights given as
Python numbers or lists; values and gradients against PyTorch in float64 on every host
backend."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import xpgrad as xg
from conftest import backend_report

torch = pytest.importorskip("torch")
F = torch.nn.functional

BACKENDS = [b for b in ("numpy", "numba") if b in backend_report()]
CLASS_WEIGHT = [0.2, 1.0, 3.0]


def _ours(x, labels, backend, **options):
    """The loss and the gradient of sum(loss * ramp) w.r.t. the logits ``x``."""
    logits = xg.asarray(x, backend=backend)
    if options.get("weight") is not None:
        options["weight"] = xg.asarray(options["weight"], dtype=xg.float64, backend=backend)
    with xg.GradientTape() as tape:
        tape.watch(logits)
        loss = xg.losses.softmax_cross_entropy(
            logits, xg.asarray(np.asarray(labels), backend=backend), **options)
        ramp = np.arange(1.0, loss.size + 1).reshape(loss.shape)
        total = xg.sum(loss * xg.asarray(ramp, backend=backend))
    return loss.numpy(), tape.gradient(total, logits).numpy()


def _torch(x, labels, **options):
    logits = torch.tensor(x, requires_grad=True)
    moved = logits if logits.ndim < 3 else logits.movedim(-1, 1)    # PyTorch: classes on axis 1
    if options.get("weight") is not None:
        options["weight"] = torch.tensor(options["weight"], dtype=torch.float64)
    if options.get("ignore_index") is None:
        options["ignore_index"] = -100
    loss = F.cross_entropy(moved, torch.tensor(np.asarray(labels)), **options)
    ramp = torch.arange(1.0, loss.numel() + 1, dtype=torch.float64).reshape(loss.shape)
    (loss * ramp).sum().backward()
    return loss.detach().numpy(), logits.grad.numpy()


CASES = {                      # logits' shape, integer labels (-100: ignored)
    "rows": ((4, 3), [0, 2, -100, 1]),
    "one row": ((1, 3), [2]),
    "3-D": ((2, 2, 3), [[0, -100], [2, 1]]),
    "1-D": ((3,), 1),
    "all ignored": ((3, 3), [-100, -100, -100]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CASES))
def test_cross_entropy_options_match_pytorch(backend, case):
    """All of weight, ignore_index, label_smoothing and the reductions together; labels of
    rank 0 to 2. (label_smoothing with weight and "mean" on labels that are not 1-D raised
    "take needs 1-D indices"; a batch whose labels were all ignored had a NaN gradient where
    PyTorch's is 0.)"""
    shape, labels = CASES[case]
    x = np.random.default_rng(len(case)).normal(size=shape)
    for weight, smoothing, reduction in itertools.product(
            [None, CLASS_WEIGHT], [0.0, 0.3], ["mean", "sum", "none"]):
        options = dict(weight=weight, ignore_index=-100, label_smoothing=smoothing,
                       reduction=reduction)
        got = _ours(x, labels, backend, **options)
        want = _torch(x, labels, **options)
        for what, a, b in zip(("loss", "gradient"), got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15,
                                       err_msg=f"{what} with {options}")


def test_label_smoothing_with_weight_on_sequence_logits():
    """The reproducer: (batch, time, classes) logits, (batch, time) labels."""
    x = np.random.default_rng(0).normal(size=(2, 5, 4))
    labels = np.array([[0, 1, 2, 3, -100], [3, 3, 2, -100, -100]])
    options = dict(weight=[1.0, 2.0, 0.5, 1.5], ignore_index=-100, label_smoothing=0.1)
    got = _ours(x, labels, "numpy", **options)
    want = _torch(x, labels, **options)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-15)


def test_nll_of_all_ignored_rows_has_zero_gradient():
    """``nll``'s mean over no kept row is NaN (as PyTorch's) but sends back 0, not NaN."""
    log_probs = xg.nn.log_softmax(xg.asarray(np.random.default_rng(1).normal(size=(2, 3))))
    with xg.GradientTape() as tape:
        tape.watch(log_probs)
        loss = xg.losses.nll(log_probs, xg.asarray([-100, -100]))
    assert np.isnan(loss.item())
    assert tape.gradient(loss, log_probs).tolist() == [[0.0] * 3] * 2


def test_nll_zero_weight_rows_keep_pytorchs_nan_gradient():
    """Rows that are kept but weigh 0 in total: 0 / 0, NaN loss and gradient, as PyTorch."""
    x = np.random.default_rng(2).normal(size=(2, 3))
    got = _ours(x, [0, 0], "numpy", weight=[0.0, 1.0, 1.0])
    want = _torch(x, [0, 0], weight=[0.0, 1.0, 1.0])
    assert np.isnan(got[0]) and np.isnan(want[0])
    np.testing.assert_array_equal(np.isnan(got[1]), np.isnan(want[1]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_entry_weights_given_as_numbers_take_the_logits_dtype_and_backend(backend):
    """pos_weight=2.0 or weight=[...] with float64 logits was refused ("pos_weight has dtype
    float32 but logits has dtype float64") although the caller gave no dtype, and a list was
    put on the numpy backend whatever the logits' backend."""
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=(2, 3)) * 3, rng.uniform(size=(2, 3))
    logits, targets = xg.asarray(x, backend=backend), xg.asarray(t, backend=backend)
    tx, tt = torch.tensor(x), torch.tensor(t)
    for pos_weight, weight in [(2.0, None), ([1.0, 2.0, 0.5], None), (None, [1.0, 2.0, 3.0]),
                               (2, 0.5)]:
        got = xg.losses.sigmoid_cross_entropy_with_logits(logits, targets,
                                                          pos_weight=pos_weight, weight=weight)
        want = F.binary_cross_entropy_with_logits(
            tx, tt, pos_weight=None if pos_weight is None else torch.tensor(pos_weight, dtype=torch.float64),
            weight=None if weight is None else torch.tensor(weight, dtype=torch.float64))
        assert got.dtype == xg.float64
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
    p = xg.sigmoid(logits)
    got = xg.losses.binary_cross_entropy(p, targets, weight=[1.0, 2.0, 3.0], reduction="sum")
    want = F.binary_cross_entropy(torch.sigmoid(tx), tt, weight=torch.tensor([1.0, 2.0, 3.0]),
                                  reduction="sum")
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)


def test_entry_weight_errors_name_the_argument():
    logits = xg.asarray(np.zeros((2, 3)))
    targets = xg.asarray(np.full((2, 3), 0.5))
    sce = xg.losses.sigmoid_cross_entropy_with_logits
    with pytest.raises(TypeError, match="pos_weight has dtype float32"):
        sce(logits, targets, pos_weight=xg.ones(3))          # a Tensor keeps its dtype
    with pytest.raises(TypeError, match="pos_weight must be a floating-point tensor"):
        sce(logits, targets, pos_weight="heavy")
    with pytest.raises(ValueError, match="weight of shape \\(2,\\) does not broadcast"):
        sce(logits, targets, weight=[1.0, 2.0])
    with pytest.raises(TypeError, match="weight must be a floating-point tensor"):
        sce(logits, targets, weight=xg.asarray([1, 2, 3]))


def test_class_weight_gradient_is_none_with_labels_and_exact_with_probabilities():
    """With integer labels and label_smoothing, a watched class weight got the smoothing
    term's part of its gradient only ([0.19, 0.28, 0.27] where finite differences give
    [1.18, 1.62, 2.37]); nll's part is not differentiated, as in PyTorch (which refuses), so
    neither is the whole. With probabilities the loss is composed in PyTorch too and the
    weight's gradient is PyTorch's."""
    rng = np.random.default_rng(4)
    x0 = rng.normal(size=(3, 3))
    probs = rng.dirichlet(np.ones(3), size=3)
    weight = xg.asarray(np.array([0.5, 1.0, 2.0]))
    for smoothing in (0.0, 0.2):
        with xg.GradientTape() as tape:
            tape.watch(weight)
            loss = xg.losses.softmax_cross_entropy(xg.asarray(x0), xg.asarray([0, 1, 2]),
                                                   weight=weight, label_smoothing=smoothing)
        assert tape.gradient(loss, weight) is None
    with xg.GradientTape() as tape:
        tape.watch(weight)
        loss = xg.losses.softmax_cross_entropy(xg.asarray(x0), xg.asarray(probs),
                                               weight=weight, label_smoothing=0.1)
    t_weight = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    F.cross_entropy(torch.tensor(x0), torch.tensor(probs), weight=t_weight,
                    label_smoothing=0.1).backward()
    np.testing.assert_allclose(tape.gradient(loss, weight).numpy(), t_weight.grad.numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("options", [{}, {"ignore_index": -100}, {"label_smoothing": 0.1}])
def test_pytorch_layout_logits_get_the_moveaxis_hint(options):
    """(N, C, L) logits with (N, L) labels, PyTorch's layout, said only "labels must have
    shape (N, C)" (with ignore_index, about "log_probs", which the caller never passed)."""
    logits = xg.ones((2, 3, 5))
    with pytest.raises(ValueError, match=r"logits' shape .*got \(2, 5\); the class axis is the "
                                         r"last one here \(PyTorch's is axis 1\): move it with "
                                         r"xg.moveaxis\(logits, 1, -1\)"):
        xg.losses.softmax_cross_entropy(logits, xg.zeros((2, 5), dtype=xg.int64), **options)
    with pytest.raises(ValueError, match=r"xg.moveaxis\(log_probs, 1, -1\)"):
        xg.losses.nll(logits, xg.zeros((2, 5), dtype=xg.int64))
