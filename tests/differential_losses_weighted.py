"""Cases of ``tests/test_differential_fuzz_more.py`` from ``xg.losses`` that
``differential_losses.py`` does not draw: class weights (binary_cross_entropy, multi_margin,
multilabel_soft_margin), softmax cross-entropy's ``ignore_index``, gaussian_nll with a
broadcast variance, the margin losses (multi_margin's p, multilabel_margin, hinge_embedding,
triplet_margin with swap), each reduction, against ``torch.nn.functional``. See
``differential_cases.py`` for ``Case``.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import xpgrad as xg
from differential_cases import Case, _rng, _t
from differential_losses import REDUCTIONS, _like

TF = torch.nn.functional


def _weight_pair(weight):
    """(ours, theirs): ``weight`` (None or an array) as each library's argument."""
    return ((lambda a: None if weight is None else _like(weight, a[0])),
            None if weight is None else _t(weight))


@st.composite
def weighted_losses(draw):
    rng = _rng(draw)
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    reduction = draw(st.sampled_from(REDUCTIONS))
    x = rng.normal(size=(n, c)) * 2
    which = draw(st.sampled_from(["bce", "multi_margin", "multilabel_soft_margin",
                                  "sce_ignore", "gaussian_nll"]))
    if which == "bce":
        p, q = rng.uniform(0.05, 0.95, size=(n, c)), rng.random((n, c))
        weight = rng.random(draw(st.sampled_from([(c,), (n, c), (1, c)]))) + 0.5
        return Case(f"binary_cross_entropy(weight {weight.shape}, {reduction})",
                    lambda a: xg.losses.binary_cross_entropy(
                        a[0], a[1], weight=_like(weight, a[0]), reduction=reduction),
                    lambda t: TF.binary_cross_entropy(t[0], t[1], weight=_t(weight),
                                                      reduction=reduction), [p, q])
    weight = rng.random(c) + 0.5 if draw(st.booleans()) else None
    ours_weight, theirs_weight = _weight_pair(weight)
    if which == "multi_margin":
        p, margin = draw(st.sampled_from([1, 2])), draw(st.sampled_from([0.5, 1.0]))
        labels = rng.integers(0, c, size=n)
        return Case(f"multi_margin(p={p}, margin={margin}, weight={weight is not None}, "
                    f"{reduction})",
                    lambda a: xg.losses.multi_margin(a[0], xg.asarray(labels), p=p,
                                                     margin=margin, weight=ours_weight(a),
                                                     reduction=reduction),
                    lambda t: TF.multi_margin_loss(t[0], _t(labels), p=p, margin=margin,
                                                   weight=theirs_weight, reduction=reduction),
                    [x])
    if which == "multilabel_soft_margin":
        y = (rng.random((n, c)) < 0.5).astype(float)
        return Case(f"multilabel_soft_margin(weight={weight is not None}, {reduction})",
                    lambda a: xg.losses.multilabel_soft_margin(
                        a[0], _like(y, a[0]), weight=ours_weight(a), reduction=reduction),
                    lambda t: TF.multilabel_soft_margin_loss(t[0], _t(y), weight=theirs_weight,
                                                             reduction=reduction), [x])
    if which == "sce_ignore":
        ignore = draw(st.sampled_from([0, c - 1, -100]))
        labels = rng.integers(0, c, size=n)
        labels[0] = 0 if ignore == -100 else (ignore + 1) % c   # one row counted, for "mean"
        return Case(f"softmax_cross_entropy(ignore_index={ignore}, weight="
                    f"{weight is not None}, {reduction})",
                    lambda a: xg.losses.softmax_cross_entropy(
                        a[0], xg.asarray(labels), ignore_index=ignore, weight=ours_weight(a),
                        reduction=reduction),
                    lambda t: TF.cross_entropy(t[0], _t(labels), ignore_index=ignore,
                                               weight=theirs_weight, reduction=reduction), [x])
    full = draw(st.booleans())
    var = rng.uniform(0.2, 2.0, size=draw(st.sampled_from([(n, c), (n, 1), (n,)])))
    target = rng.normal(size=(n, c))
    return Case(f"gaussian_nll(var {var.shape}, full={full}, {reduction})",
                lambda a: xg.losses.gaussian_nll(a[0], a[1], a[2], full=full,
                                                 reduction=reduction),
                lambda t: TF.gaussian_nll_loss(t[0], t[1], t[2], full=full,
                                               reduction=reduction), [x, target, var])


@st.composite
def margin_losses(draw):
    rng = _rng(draw)
    n, d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    reduction = draw(st.sampled_from(REDUCTIONS))
    which = draw(st.sampled_from(["multilabel_margin", "hinge_embedding", "triplet_margin"]))
    if which == "multilabel_margin":
        x = rng.normal(size=(n, d))
        y = -np.ones((n, d), dtype=np.int64)
        for row in y:
            k = rng.integers(0, d + 1)
            row[:k] = rng.permutation(d)[:k]
        return Case(f"multilabel_margin({y.tolist()}, {reduction})",
                    lambda a: xg.losses.multilabel_margin(a[0], xg.asarray(y),
                                                          reduction=reduction),
                    lambda t: TF.multilabel_margin_loss(t[0], _t(y), reduction=reduction), [x])
    if which == "hinge_embedding":
        margin = draw(st.sampled_from([0.5, 1.0, 2.0]))
        x = rng.uniform(0.0, 3.0, size=(n, d))
        y = np.where(rng.random((n, d)) < 0.5, -1.0, 1.0)
        return Case(f"hinge_embedding(margin={margin}, {reduction})",
                    lambda a: xg.losses.hinge_embedding(a[0], _like(y, a[0]), margin=margin,
                                                        reduction=reduction),
                    lambda t: TF.hinge_embedding_loss(t[0], _t(y), margin=margin,
                                                      reduction=reduction), [x])
    margin, p = draw(st.sampled_from([0.5, 1.0, 3.0])), draw(st.sampled_from([1, 2, 3]))
    swap = draw(st.booleans())
    anchor, positive, negative = (rng.normal(size=(n, d)) for _ in range(3))
    return Case(f"triplet_margin(margin={margin}, p={p}, swap={swap}, {reduction})",
                lambda a: xg.losses.triplet_margin(a[0], a[1], a[2], margin=margin, p=p,
                                                   swap=swap, reduction=reduction),
                lambda t: TF.triplet_margin_loss(t[0], t[1], t[2], margin=margin, p=p,
                                                 swap=swap, reduction=reduction),
                [anchor, positive, negative])
