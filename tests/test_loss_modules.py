"""xg.nn's loss classes against torch.nn's on the same inputs: values and gradients in
float64 for each reduction and option, finite differences through a module, PyTorch's
layout of CrossEntropyLoss / NLLLoss, and constructor arguments checked with their names."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg
from xpgrad.testing import check_grads

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def _normal(*shape):
    return RNG.normal(size=shape)


def _pm1(*shape):
    return np.where(RNG.uniform(size=shape) < 0.5, -1.0, 1.0)


def _cotangent(shape):
    return np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)


def _xpgrad_run(loss, arrays, diff, pre):
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        for i in diff:
            tape.watch(xs[i])
        inputs = [pre[0](x) if i == 0 and pre else x for i, x in enumerate(xs)]
        y = loss(*inputs)
        total = xg.sum(y * xg.asarray(_cotangent(y.shape), dtype=y.dtype))
    return [y.numpy()] + [g.numpy() for g in tape.gradient(total, [xs[i] for i in diff])]


def _torch_run(loss, arrays, diff, pre):
    ts = [torch.tensor(a, requires_grad=i in diff) for i, a in enumerate(arrays)]
    inputs = [pre[1](t) if i == 0 and pre else t for i, t in enumerate(ts)]
    y = loss(*inputs)
    total = (y * torch.tensor(_cotangent(tuple(y.shape)), dtype=y.dtype)).sum()
    grads = torch.autograd.grad(total, [ts[i] for i in diff])
    return [y.detach().numpy()] + [g.numpy() for g in grads]


def _log_softmax(axis):
    return (lambda x: xg.nn.log_softmax(x, axis=axis),
            lambda t: torch.log_softmax(t, dim=axis))


def _labels(shape, n_classes, ignored=None):
    labels = RNG.integers(0, n_classes, size=shape)
    if ignored is not None:
        labels.flat[::3] = ignored
    return labels


_CTC_LOGITS = _normal(6, 2, 4)
_BLOCK = _normal(2, 5, 3)              # PyTorch's (N, C, d1) layout

#: (id, class name, constructor options, inputs, differentiated inputs, what input 0 goes
#: through first in both libraries, the reductions)
CASES = [
    ("l1", "L1Loss", {}, [_normal(4, 3), _normal(4, 3)], (0, 1), None),
    ("mse", "MSELoss", {}, [_normal(4, 3), _normal(4, 3)], (0, 1), None),
    ("huber", "HuberLoss", {"delta": 0.7}, [_normal(4, 3), _normal(4, 3)], (0, 1), None),
    ("smooth_l1", "SmoothL1Loss", {"beta": 0.6}, [_normal(4, 3), _normal(4, 3)], (0, 1), None),
    ("smooth_l1_0", "SmoothL1Loss", {"beta": 0.0}, [_normal(4, 3), _normal(4, 3)], (0,), None),
    ("ce", "CrossEntropyLoss", {}, [_normal(4, 5), _labels(4, 5)], (0,), None),
    ("ce_unbatched", "CrossEntropyLoss", {}, [_normal(5), np.array(2)], (0,), None),
    ("ce_ignored", "CrossEntropyLoss", {}, [_normal(6, 5), _labels(6, 5, -100)], (0,), None),
    ("ce_options", "CrossEntropyLoss",
     {"weight": np.linspace(0.5, 2.0, 5), "ignore_index": 1, "label_smoothing": 0.2},
     [_normal(6, 5), _labels(6, 5)], (0,), None),
    ("ce_smoothing", "CrossEntropyLoss", {"label_smoothing": 0.1},
     [_normal(6, 5), _labels(6, 5, -100)], (0,), None),
    ("ce_layout", "CrossEntropyLoss", {"weight": np.linspace(0.5, 2.0, 5)},
     [_BLOCK, _labels((2, 3), 5)], (0,), None),
    ("ce_probabilities", "CrossEntropyLoss", {"label_smoothing": 0.1},
     [_BLOCK, np.moveaxis(np.exp(_normal(2, 3, 5)) / np.exp(_normal(2, 3, 5)).sum(-1,
                                                                                keepdims=True),
                          -1, 1)], (0, 1), None),
    ("nll", "NLLLoss", {"weight": np.linspace(0.5, 2.0, 5)},
     [_normal(6, 5), _labels(6, 5, -100)], (0,), _log_softmax(1)),
    ("nll_layout", "NLLLoss", {"ignore_index": 2}, [_BLOCK, _labels((2, 3), 5)], (0,),
     _log_softmax(1)),
    ("bce", "BCELoss", {"weight": np.linspace(0.5, 2.0, 3)},
     [RNG.uniform(0.05, 0.95, (4, 3)), RNG.uniform(size=(4, 3))], (0, 1), None),
    ("bce_logits", "BCEWithLogitsLoss",
     {"weight": np.linspace(0.5, 2.0, 3), "pos_weight": np.array([0.5, 1.0, 3.0])},
     [_normal(4, 3), RNG.uniform(size=(4, 3))], (0, 1), None),
    ("bce_logits_plain", "BCEWithLogitsLoss", {}, [_normal(4, 3), RNG.uniform(size=(4, 3))],
     (0, 1), None),
    ("kl", "KLDivLoss", {}, [_normal(4, 3), RNG.uniform(0.1, 1.0, (4, 3))], (0, 1),
     _log_softmax(-1)),
    ("kl_log_target", "KLDivLoss", {"log_target": True}, [_normal(4, 3), _normal(4, 3)],
     (0, 1), _log_softmax(-1)),
    ("ctc", "CTCLoss", {"blank": 0, "zero_infinity": False},
     [_CTC_LOGITS, np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2])], (0,),
     _log_softmax(-1)),
    ("gaussian", "GaussianNLLLoss", {"full": True, "eps": 1e-3},
     [_normal(4, 3), _normal(4, 3), RNG.uniform(0.1, 2.0, (4, 3))], (0, 1, 2), None),
    ("gaussian_row_var", "GaussianNLLLoss", {},
     [_normal(4, 3), _normal(4, 3), RNG.uniform(0.1, 2.0, (4, 1))], (0, 2), None),
    ("poisson", "PoissonNLLLoss", {}, [_normal(4, 3), RNG.integers(0, 6, (4, 3)) * 1.0],
     (0,), None),
    ("poisson_rate_full", "PoissonNLLLoss", {"log_input": False, "full": True, "eps": 1e-6},
     [RNG.uniform(0.5, 3.0, (4, 3)), RNG.integers(2, 6, (4, 3)) * 1.0], (0, 1), None),
    ("margin_ranking", "MarginRankingLoss", {"margin": 0.3},
     [_normal(7), _normal(7), _pm1(7)], (0, 1), None),
    ("hinge_embedding", "HingeEmbeddingLoss", {"margin": 1.5},
     [RNG.uniform(0.0, 3.0, 7), _pm1(7)], (0,), None),
    ("soft_margin", "SoftMarginLoss", {}, [_normal(4, 3), _pm1(4, 3)], (0,), None),
    ("multilabel_soft_margin", "MultiLabelSoftMarginLoss", {"weight": np.linspace(0.5, 2, 3)},
     [_normal(4, 3), (RNG.uniform(size=(4, 3)) < 0.5) * 1.0], (0,), None),
    ("multi_margin", "MultiMarginLoss", {}, [_normal(6, 5), _labels(6, 5)], (0,), None),
    ("multi_margin_p2", "MultiMarginLoss",
     {"p": 2, "margin": 0.7, "weight": np.linspace(0.5, 2.0, 5)},
     [_normal(6, 5), _labels(6, 5)], (0,), None),
    ("triplet", "TripletMarginLoss", {"margin": 2.0, "p": 3, "eps": 1e-4},
     [_normal(4, 3), _normal(4, 3), _normal(4, 3)], (0, 1, 2), None),
    ("triplet_swap", "TripletMarginLoss", {"margin": 2.0, "swap": True},
     [_normal(4, 3), _normal(4, 3), _normal(4, 3)], (0, 1, 2), None),
    ("cosine_embedding", "CosineEmbeddingLoss", {"margin": -0.2},
     [_normal(5, 3), _normal(5, 3), _pm1(5)], (0, 1), None),
    ("multilabel_margin", "MultiLabelMarginLoss", {},
     [_normal(4, 5), np.array([[3, 0, -1, 1, 2], [4, 4, 1, 0, 2], [-1, 2, 3, 0, 1],
                               [1, -1, 0, 0, 0]])], (0,), None),
    ("triplet_with_distance", "TripletMarginWithDistanceLoss", {"margin": 0.5, "swap": True},
     [_normal(4, 3), _normal(4, 3), _normal(4, 3)], (0, 1, 2), None),
]


def _reductions(name):
    return ["mean", "sum", "none"] + (["batchmean"] if name == "KLDivLoss" else [])


def _torch_options(options):
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")   # torch's KLDiv
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_loss_class_matches_torch(case):
    _, name, options, arrays, diff, pre = case
    for reduction in _reductions(name):
        ours = getattr(xg.nn, name)(**options, reduction=reduction)
        theirs = getattr(torch.nn, name)(**_torch_options(options), reduction=reduction)
        got = _xpgrad_run(ours, arrays, diff, pre)
        want = _torch_run(theirs, arrays, diff, pre)
        for what, a, b in zip(["value"] + [f"gradient of input {i}" for i in diff], got, want):
            assert a.shape == b.shape, (reduction, what)
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name} {reduction} {what}")


def test_every_torch_loss_with_a_function_here_has_its_class():
    with_functions = {"L1Loss", "MSELoss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss",
                      "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "CTCLoss",
                      "GaussianNLLLoss", "PoissonNLLLoss", "MarginRankingLoss",
                      "HingeEmbeddingLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss",
                      "MultiMarginLoss", "TripletMarginLoss", "CosineEmbeddingLoss",
                      "MultiLabelMarginLoss", "TripletMarginWithDistanceLoss"}
    assert with_functions <= {c[1] for c in CASES}
    for name in with_functions:
        assert issubclass(getattr(xg.nn, name), xg.nn.Module) and name in xg.nn.__all__
        assert getattr(torch.nn, name)


def test_torch_positional_arguments_mean_the_same():
    assert xg.nn.HuberLoss("sum", 0.5).delta == 0.5
    loss = xg.nn.MultiMarginLoss(2, 0.5, [1.0, 2.0, 3.0])
    assert (loss.p, loss.margin, loss.reduction) == (2, 0.5, "mean")
    triplet = xg.nn.TripletMarginLoss(0.5, 1, 0.0, True)
    assert (triplet.margin, triplet.p, triplet.eps, triplet.swap) == (0.5, 1, 0.0, True)
    ctc = xg.nn.CTCLoss(3, "sum", True)
    assert (ctc.blank, ctc.reduction, ctc.zero_infinity) == (3, "sum", True)


def test_finite_differences_through_a_module():
    x = xg.asarray(_normal(5, 4))
    labels = xg.asarray(_labels(5, 4))
    loss = xg.nn.MultiMarginLoss(p=2, margin=0.8, weight=np.linspace(1.0, 2.0, 4))
    check_grads(lambda v: loss(v, labels), (x,), rtol=1e-6, atol=1e-8)
    ce = xg.nn.CrossEntropyLoss(label_smoothing=0.1)
    block_labels = xg.asarray(_labels((5, 2), 4))
    check_grads(lambda v: ce(xg.moveaxis(v, 1, 2), block_labels),
                (xg.asarray(_normal(5, 2, 4)),), rtol=1e-6, atol=1e-8)


def test_cross_entropy_labels_as_a_list_and_all_ignored():
    logits = xg.asarray(_normal(2, 3))
    loss = xg.nn.CrossEntropyLoss()
    expected = torch.nn.CrossEntropyLoss()(torch.tensor(logits.numpy()), torch.tensor([2, 0]))
    np.testing.assert_allclose(loss(logits, [2, 0]).numpy(), expected.numpy(), rtol=1e-12)
    assert np.isnan(loss(logits, xg.asarray([-100, -100])).item())      # PyTorch's NaN too


@pytest.mark.parametrize("make, exc, match", [
    (lambda: xg.nn.MSELoss(reduction="avg"), ValueError, r"MSELoss: reduction must be one of"),
    (lambda: xg.nn.MSELoss(reduction="batchmean"), ValueError, r"MSELoss: reduction"),
    (lambda: xg.nn.L1Loss(size_average=False), TypeError, r"'size_average'.*reduction="),
    (lambda: xg.nn.BCELoss(reduce=False), TypeError, r"'reduce'.*reduction="),
    (lambda: xg.nn.HuberLoss(delta=0.0), ValueError, r"HuberLoss: delta must be"),
    (lambda: xg.nn.SmoothL1Loss(beta=-1.0), ValueError, r"SmoothL1Loss: beta must be"),
    (lambda: xg.nn.CrossEntropyLoss(label_smoothing=1.5), ValueError,
     r"CrossEntropyLoss: label_smoothing"),
    (lambda: xg.nn.CrossEntropyLoss(ignore_index=1.5), TypeError,
     r"CrossEntropyLoss: ignore_index"),
    (lambda: xg.nn.CrossEntropyLoss(weight=[[1.0, 2.0]]), ValueError,
     r"CrossEntropyLoss: weight must be one-dimensional"),
    (lambda: xg.nn.NLLLoss(weight="heavy"), TypeError, r"NLLLoss: weight must be"),
    (lambda: xg.nn.NLLLoss(ignore_index=None), TypeError, r"NLLLoss: ignore_index"),
    (lambda: xg.nn.BCEWithLogitsLoss(pos_weight=[True, False]), TypeError,
     r"BCEWithLogitsLoss: pos_weight must be real numbers"),
    (lambda: xg.nn.KLDivLoss(log_target="yes"), TypeError, r"KLDivLoss: log_target"),
    (lambda: xg.nn.CTCLoss(blank=-1), ValueError, r"CTCLoss: blank"),
    (lambda: xg.nn.CTCLoss(zero_infinity=1), TypeError, r"CTCLoss: zero_infinity"),
    (lambda: xg.nn.GaussianNLLLoss(eps=-1.0), ValueError, r"GaussianNLLLoss: eps"),
    (lambda: xg.nn.GaussianNLLLoss(full="no"), TypeError, r"GaussianNLLLoss: full"),
    (lambda: xg.nn.PoissonNLLLoss(log_input=0), TypeError, r"PoissonNLLLoss: log_input"),
    (lambda: xg.nn.PoissonNLLLoss(eps=float("nan")), ValueError, r"PoissonNLLLoss: eps"),
    (lambda: xg.nn.MarginRankingLoss(margin="wide"), TypeError, r"MarginRankingLoss: margin"),
    (lambda: xg.nn.HingeEmbeddingLoss(margin=float("inf")), ValueError,
     r"HingeEmbeddingLoss: margin"),
    (lambda: xg.nn.MultiLabelSoftMarginLoss(weight=object()), TypeError,
     r"MultiLabelSoftMarginLoss: weight"),
    (lambda: xg.nn.MultiMarginLoss(p=3), ValueError, r"MultiMarginLoss: p must be 1 or 2"),
    (lambda: xg.nn.MultiMarginLoss(weight=[[1.0]]), ValueError, r"MultiMarginLoss: weight"),
    (lambda: xg.nn.TripletMarginLoss(margin=0.0), ValueError, r"TripletMarginLoss: margin"),
    (lambda: xg.nn.TripletMarginLoss(p="two"), TypeError, r"TripletMarginLoss: p"),
    (lambda: xg.nn.TripletMarginLoss(swap=1), TypeError, r"TripletMarginLoss: swap"),
    (lambda: xg.nn.CosineEmbeddingLoss(margin=None), TypeError, r"CosineEmbeddingLoss: margin"),
])
def test_constructor_arguments_are_checked_by_name(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_bad_inputs_raise_naming_them():
    with pytest.raises(ValueError, match="labels must have shape"):
        xg.nn.CrossEntropyLoss()(xg.asarray(_BLOCK), xg.asarray(_labels((2, 5), 5)))
    with pytest.raises(IndexError, match="label 5 is out of range"):
        xg.nn.CrossEntropyLoss()(xg.asarray(_normal(2, 5)), xg.asarray([0, 5]))
    with pytest.raises(TypeError, match="weight has dtype float32 but x has dtype float64"):
        xg.nn.MultiMarginLoss(weight=xg.ones(5))(xg.asarray(_normal(2, 5)), xg.asarray([0, 1]))


@pytest.mark.parametrize("ignore_index", [-100, -1, -7, 0, 1, 3])
def test_cross_entropy_ignore_index_with_probabilities_follows_torch(ignore_index):
    """torch refuses an ignore_index >= 0 with probability targets (RuntimeError) and lets a
    negative one pass: the module and the function refuse the same ones, naming ignore_index,
    and give torch's loss and gradient for the others."""
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(0).normal(size=(3, 4))
    probs = np.random.default_rng(1).dirichlet(np.ones(4), size=3)
    module = xg.nn.CrossEntropyLoss(ignore_index=ignore_index)
    function = lambda x, t: xg.losses.softmax_cross_entropy(x, t, ignore_index=ignore_index)
    tx = torch.tensor(logits, requires_grad=True)
    try:
        want = torch.nn.CrossEntropyLoss(ignore_index=ignore_index)(tx, torch.tensor(probs))
        tgrad, = torch.autograd.grad(want, tx)
    except RuntimeError:
        want = None
    for loss in (module, function):
        x = xg.Variable(logits)
        if want is None:
            with pytest.raises(ValueError, match=rf"ignore_index \({ignore_index}\) picks "
                                                 r"integer labels .* probabilities"):
                loss(x, xg.asarray(probs))
            continue
        with xg.GradientTape() as tape:
            got = loss(x, xg.asarray(probs))
        np.testing.assert_allclose(float(got), want.item(), rtol=1e-12)
        np.testing.assert_allclose(tape.gradient(got, [x])[0].numpy(), tgrad.numpy(),
                                   rtol=1e-10)
    assert (want is None) == (ignore_index >= 0)
