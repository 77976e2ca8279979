"""``torch.nn``'s margin and embedding loss classes, calling the functions of
``xg.losses`` (``xpgrad/ops/margin_losses.py``); constructors as in ``loss_layers.py``.

>>> import xpgrad as xg
>>> criterion = xg.nn.MarginRankingLoss(margin=0.5, reduction="none")
>>> criterion(xg.asarray([1.0, 0.0]), xg.asarray([0.0, 1.0]), xg.asarray([1, 1])).tolist()
[0.0, 1.5]
"""
from __future__ import annotations

import numbers

from ..ops.margin_losses import (cosine_embedding, hinge_embedding, margin_ranking,
                                 multi_margin, multilabel_soft_margin, soft_margin,
                                 triplet_margin)
from ..ops.margin_losses_more import multilabel_margin, triplet_margin_with_distance
from ..optim._checks import real_number
from .distances import _order
from .loss_layers import Loss


class MarginRankingLoss(Loss):
    """``xg.losses.margin_ranking(x1, x2, y)``: ``max(0, -y (x1 - x2) + margin)``.

    >>> import xpgrad as xg
    >>> loss = xg.nn.MarginRankingLoss(1.0)(xg.asarray([0.2]), xg.asarray([0.0]),
    ...                                     xg.asarray([1]))
    >>> round(loss.item(), 4)
    0.8
    """

    def __init__(self, margin=0.0, *, reduction="mean", name=None):
        super().__init__(reduction, name)
        self.margin = self._number("margin", margin)

    def forward(self, input1, input2, target):
        return margin_ranking(input1, input2, target, margin=self.margin,
                              reduction=self.reduction)


class HingeEmbeddingLoss(Loss):
    """``xg.losses.hinge_embedding(x, y)``: ``x`` where ``y = 1``, ``max(0, margin - x)``
    where ``y = -1``.

    >>> import xpgrad as xg
    >>> loss = xg.nn.HingeEmbeddingLoss(reduction="sum")(xg.asarray([0.25, 0.25]),
    ...                                                 xg.asarray([1, -1]))
    >>> loss.item()
    1.0
    """

    def __init__(self, margin=1.0, *, reduction="mean", name=None):
        super().__init__(reduction, name)
        self.margin = self._number("margin", margin)

    def forward(self, input, target):
        return hinge_embedding(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(Loss):
    """``xg.losses.soft_margin(x, y)``: ``log(1 + exp(-y x))``.

    >>> import xpgrad as xg
    >>> round(xg.nn.SoftMarginLoss()(xg.asarray([0.0]), xg.asarray([1])).item(), 4)
    0.6931
    """

    def __init__(self, *, reduction="mean", name=None):
        super().__init__(reduction, name)

    def forward(self, input, target):
        return soft_margin(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(Loss):
    """``xg.losses.multilabel_soft_margin(x, y)``: scores (N, C), targets in [0, 1] of
    their shape, ``weight`` broadcast to them.

    >>> import xpgrad as xg
    >>> loss = xg.nn.MultiLabelSoftMarginLoss()(xg.asarray([[0.0, 0.0]]), xg.asarray([[1, 0]]))
    >>> round(loss.item(), 4)
    0.6931
    """

    def __init__(self, weight=None, *, reduction="mean", name=None):
        super().__init__(reduction, name)
        self.weight = self._weight("weight", weight)

    def forward(self, input, target):
        return multilabel_soft_margin(input, target, weight=self._read("weight", input),
                                      reduction=self.reduction)


class MultiMarginLoss(Loss):
    """``xg.losses.multi_margin(x, y)``, the multi-class hinge: scores (N, C) or (C,),
    integer labels (N,) or (); ``p`` is 1 or 2, ``weight`` one per class.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[0.1, 0.2, 0.4, 0.8]], dtype=xg.float64)
    >>> round(xg.nn.MultiMarginLoss()(x, xg.asarray([3])).item(), 4)    # PyTorch's example
    0.325
    """

    def __init__(self, p=1, margin=1.0, weight=None, *, reduction="mean", name=None):
        super().__init__(reduction, name)
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or p not in (1, 2):
            raise ValueError(f"{type(self).__name__}: p must be 1 or 2, got {p!r}")
        self.p = int(p)
        self.margin = self._number("margin", margin)
        self.weight = self._weight("weight", weight, per_class=True)

    def forward(self, input, target):
        return multi_margin(input, target, p=self.p, margin=self.margin,
                            weight=self._read("weight", input), reduction=self.reduction)


class TripletMarginLoss(Loss):
    """``xg.losses.triplet_margin(anchor, positive, negative)``:
    ``max(0, margin + d(a, p) - d(a, n))`` with the ``p``-norm distance; ``margin`` > 0.

    >>> import xpgrad as xg
    >>> a, pos, neg = xg.asarray([[0.0, 0.0]]), xg.asarray([[0.0, 1.0]]), xg.asarray([[3.0, 0.0]])
    >>> round(xg.nn.TripletMarginLoss(margin=2.5, eps=0.0)(a, pos, neg).item(), 4)
    0.5
    """

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, *, reduction="mean",
                 name=None):
        super().__init__(reduction, name)
        owner = type(self).__name__
        self.margin = self._number("margin", margin, low=0.0, low_open=True)
        self.p = _order(p, owner)
        self.eps = real_number(f"{owner}: eps", eps)
        self.swap = self._flag("swap", swap)

    def forward(self, anchor, positive, negative):
        return triplet_margin(anchor, positive, negative, margin=self.margin, p=self.p,
                              eps=self.eps, swap=self.swap, reduction=self.reduction)


class MultiLabelMarginLoss(Loss):
    """``xg.losses.multilabel_margin(x, y)``, the multi-label hinge: scores (N, C) or (C,),
    ``y`` of their shape listing each sample's target classes up to its first -1.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[0.1, 0.2, 0.4, 0.8]], dtype=xg.float64)
    >>> round(xg.nn.MultiLabelMarginLoss()(x, xg.asarray([[3, 0, -1, 1]])).item(), 4)
    0.85
    """

    def __init__(self, *, reduction="mean", name=None):
        super().__init__(reduction, name)

    def forward(self, input, target):
        return multilabel_margin(input, target, reduction=self.reduction)


class TripletMarginWithDistanceLoss(Loss):
    """``xg.losses.triplet_margin_with_distance(anchor, positive, negative)``:
    ``max(0, margin + d(a, p) - d(a, n))`` with ``distance_function`` (a callable of two
    tensors; None: ``xg.nn.pairwise_distance``); ``margin`` > 0. Its arguments are
    keyword-only, as PyTorch's.

    >>> import xpgrad as xg
    >>> a, pos, neg = xg.asarray([[0.0, 0.0]]), xg.asarray([[0.0, 1.0]]), xg.asarray([[3.0, 0.0]])
    >>> l1 = lambda u, v: xg.sum(xg.abs(u - v), axis=-1)
    >>> xg.nn.TripletMarginWithDistanceLoss(distance_function=l1, margin=2.5)(a, pos, neg).item()
    0.5
    """

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean",
                 name=None):
        super().__init__(reduction, name)
        if distance_function is not None and not callable(distance_function):
            raise TypeError(f"{type(self).__name__}: distance_function must be a callable of "
                            f"two tensors or None, got {type(distance_function).__name__}")
        self.distance_function = distance_function
        self.margin = self._number("margin", margin, low=0.0, low_open=True)
        self.swap = self._flag("swap", swap)

    def forward(self, anchor, positive, negative):
        return triplet_margin_with_distance(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class CosineEmbeddingLoss(Loss):
    """``xg.losses.cosine_embedding(x1, x2, y)``: ``1 - cos`` where ``y = 1``,
    ``max(0, cos - margin)`` where ``y = -1``.

    >>> import xpgrad as xg
    >>> a, b = xg.asarray([[1.0, 0.0]]), xg.asarray([[0.0, 1.0]])
    >>> xg.nn.CosineEmbeddingLoss()(a, b, xg.asarray([1])).item()
    1.0
    """

    def __init__(self, margin=0.0, *, reduction="mean", name=None):
        super().__init__(reduction, name)
        self.margin = self._number("margin", margin)

    def forward(self, input1, input2, target):
        return cosine_embedding(input1, input2, target, margin=self.margin,
                                reduction=self.reduction)


__all__ = ["MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiMarginLoss", "TripletMarginLoss",
           "CosineEmbeddingLoss", "MultiLabelMarginLoss", "TripletMarginWithDistanceLoss"]
