"""Cases of ``tests/test_differential_fuzz.py`` from ``xg.nn`` and ``xg.losses``: the
activations that take an axis (softmax, log_softmax, glu) and the losses PyTorch has with the
same meaning, every reduction, differentiated in each float argument PyTorch differentiates.
See ``differential_cases.py`` for ``Case``.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpgrad as xg
from differential_cases import LARGE, NONEMPTY, Case, _rng, _t


def _like(constant, x):
    """``constant`` as a Tensor of ``x``'s dtype (the losses refuse mixed float dtypes)."""
    return xg.asarray(constant, dtype=x.dtype)

TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def axis_activations(draw):
    shape = draw(st.one_of(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
                           LARGE))
    ndim = len(shape)
    axis = draw(st.integers(-ndim, ndim - 1))
    x = _rng(draw).normal(size=shape) * 4
    name = draw(st.sampled_from(["softmax", "log_softmax", "glu"]))
    if name == "glu":
        shape = list(shape)
        shape[axis] = 2 * draw(st.integers(1, 2))
        x = _rng(draw).normal(size=shape)
    return Case(f"{name}(axis={axis})", lambda a: getattr(xg.nn, name)(a[0], axis=axis),
                lambda t: getattr(TF, name)(t[0], dim=axis), [x])


@st.composite
def pointwise_losses(draw):
    """Losses of two same-shaped arrays, both differentiated."""
    rng = _rng(draw)
    shape = draw(NONEMPTY)
    reduction = draw(st.sampled_from(REDUCTIONS))
    p, q = rng.normal(size=shape) * 2, rng.normal(size=shape) * 2
    name = draw(st.sampled_from(["mse", "l1", "huber", "smooth_l1", "sigmoid_ce", "bce",
                                 "kl_div", "poisson_nll", "soft_margin"]))
    if name in ("mse", "l1"):
        theirs = TF.mse_loss if name == "mse" else TF.l1_loss
        return Case(f"{name}({reduction})",
                    lambda a: getattr(xg.losses, name)(a[0], a[1], reduction=reduction),
                    lambda t: theirs(t[0], t[1], reduction=reduction), [p, q])
    if name in ("huber", "smooth_l1"):
        k = draw(st.sampled_from([0.5, 1.0, 2.0]))
        option = "delta" if name == "huber" else "beta"
        theirs = TF.huber_loss if name == "huber" else TF.smooth_l1_loss
        return Case(f"{name}({option}={k}, {reduction})",
                    lambda a: getattr(xg.losses, name)(a[0], a[1], reduction=reduction,
                                                       **{option: k}),
                    lambda t: theirs(t[0], t[1], reduction=reduction, **{option: k}), [p, q])
    if name == "sigmoid_ce":
        q = rng.random(shape)
        weight = rng.random(shape[-1:]) + 0.5 if draw(st.booleans()) else None
        pos_weight = rng.random(shape[-1:]) + 0.5 if draw(st.booleans()) else None
        return Case(f"sigmoid_cross_entropy_with_logits({reduction}, weight={weight is not None}"
                    f", pos_weight={pos_weight is not None})",
                    lambda a: xg.losses.sigmoid_cross_entropy_with_logits(
                        a[0], a[1], reduction=reduction,
                        weight=None if weight is None else _like(weight, a[0]),
                        pos_weight=None if pos_weight is None else _like(pos_weight, a[0])),
                    lambda t: TF.binary_cross_entropy_with_logits(
                        t[0], t[1], reduction=reduction,
                        weight=None if weight is None else _t(weight),
                        pos_weight=None if pos_weight is None else _t(pos_weight)), [p, q])
    if name == "bce":
        p, q = rng.uniform(0.05, 0.95, size=shape), rng.random(shape)
        return Case(f"binary_cross_entropy({reduction})",
                    lambda a: xg.losses.binary_cross_entropy(a[0], a[1], reduction=reduction),
                    lambda t: TF.binary_cross_entropy(t[0], t[1], reduction=reduction), [p, q])
    if name == "kl_div":
        log_target = draw(st.booleans())
        reduction = draw(st.sampled_from(xg.losses.KL_REDUCTIONS))
        q = q if log_target else rng.uniform(0.05, 1.0, size=shape)
        return Case(f"kl_div({reduction}, log_target={log_target})",
                    lambda a: xg.losses.kl_div(a[0], a[1], reduction=reduction,
                                               log_target=log_target),
                    lambda t: TF.kl_div(t[0], t[1], reduction=reduction, log_target=log_target),
                    [p, q])
    if name == "poisson_nll":
        log_input, full = draw(st.booleans()), draw(st.booleans())
        p = p if log_input else rng.uniform(0.1, 3, size=shape)
        q = rng.uniform(0.0, 4.0, size=shape)
        return Case(f"poisson_nll({reduction}, log_input={log_input}, full={full})",
                    lambda a: xg.losses.poisson_nll(a[0], a[1], log_input=log_input, full=full,
                                                    reduction=reduction),
                    lambda t: TF.poisson_nll_loss(t[0], t[1], log_input=log_input, full=full,
                                                  reduction=reduction), [p, q])
    y = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return Case(f"soft_margin({reduction})",
                lambda a: xg.losses.soft_margin(a[0], _like(y, a[0]), reduction=reduction),
                lambda t: TF.soft_margin_loss(t[0], _t(y), reduction=reduction), [p])


@st.composite
def class_losses(draw):
    """Losses of a (batch, classes) array against labels: softmax cross-entropy (class ids or
    probabilities) and nll."""
    rng = _rng(draw)
    n, c = draw(st.sampled_from([(0, 3), (1, 1), (2, 3), (3, 4), (4, 2), (300, 17), (33, 300),
                                 (5000, 2)]))
    shape = (c,) if draw(st.booleans()) else (n, c)
    reduction = draw(st.sampled_from(REDUCTIONS if 0 not in shape else ["sum", "none"]))
    logits = rng.normal(size=shape) * 3
    weight = rng.random(c) + 0.5 if draw(st.booleans()) else None
    weight_theirs = None if weight is None else _t(weight)

    def weight_of(a):
        return None if weight is None else _like(weight, a[0])

    labels = rng.integers(0, c, size=shape[:-1])
    if draw(st.booleans()):         # nll
        ignore = draw(st.sampled_from([-100, 0]))
        if reduction == "mean" and np.all(labels == ignore):
            reduction = "sum"
        return Case(f"nll({reduction}, weight={weight is not None}, ignore_index={ignore})",
                    lambda a: xg.losses.nll(a[0], xg.asarray(labels), weight=weight_of(a),
                                            ignore_index=ignore, reduction=reduction),
                    lambda t: TF.nll_loss(t[0], _t(labels), weight=weight_theirs,
                                          ignore_index=ignore, reduction=reduction), [logits])
    smoothing = draw(st.sampled_from([0.0, 0.2]))
    if draw(st.booleans()):
        probs = rng.dirichlet(np.ones(c), size=shape[:-1])
        return Case(f"softmax_cross_entropy(probabilities, {reduction}, smoothing={smoothing}, "
                    f"weight={weight is not None})",
                    lambda a: xg.losses.softmax_cross_entropy(
                        a[0], a[1], reduction=reduction, weight=weight_of(a),
                        label_smoothing=smoothing),
                    lambda t: TF.cross_entropy(t[0], t[1], reduction=reduction,
                                               weight=weight_theirs, label_smoothing=smoothing),
                    [logits, probs])
    return Case(f"softmax_cross_entropy(classes, {reduction}, smoothing={smoothing}, "
                f"weight={weight is not None})",
                lambda a: xg.losses.softmax_cross_entropy(
                    a[0], xg.asarray(labels), reduction=reduction, weight=weight_of(a),
                    label_smoothing=smoothing),
                lambda t: TF.cross_entropy(t[0], _t(labels), reduction=reduction,
                                           weight=weight_theirs, label_smoothing=smoothing),
                [logits])


@st.composite
def pair_losses(draw):
    """Losses of two (batch, features) arrays and a +-1 label per row."""
    rng = _rng(draw)
    n, d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    reduction = draw(st.sampled_from(REDUCTIONS))
    margin = draw(st.sampled_from([0.0, 0.5]))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    if draw(st.booleans()):
        a, b = rng.normal(size=n), rng.normal(size=n)
        b = np.where(np.abs(a - b + margin * y) < 0.1, b + 0.5, b)   # off the hinge
        return Case(f"margin_ranking({reduction}, margin={margin})",
                    lambda x: xg.losses.margin_ranking(x[0], x[1], _like(y, x[0]), margin=margin,
                                                       reduction=reduction),
                    lambda t: TF.margin_ranking_loss(t[0], t[1], _t(y), margin=margin,
                                                     reduction=reduction), [a, b])
    a, b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    return Case(f"cosine_embedding({reduction}, margin={margin})",
                lambda x: xg.losses.cosine_embedding(x[0], x[1], _like(y, x[0]), margin=margin,
                                                     reduction=reduction),
                lambda t: TF.cosine_embedding_loss(t[0], t[1], _t(y), margin=margin,
                                                   reduction=reduction), [a, b])
