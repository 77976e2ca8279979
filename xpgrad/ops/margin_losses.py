"""PyTorch's margin and embedding losses: ``margin_ranking``, ``hinge_embedding``,
``soft_margin``, ``multilabel_soft_margin``, ``multi_margin``, ``triplet_margin`` and
``cosine_embedding`` (``torch.nn.functional``'s ``*_loss``; ``multilabel_margin`` and
``triplet_margin_with_distance`` are in ``margin_losses_more.py``), composed of primitives so
their gradients are those of the parts, except ``multi_margin``: a primitive of its own
(``multi_margin.py``), fused on the backends; ``xpgrad.losses`` re-exports them.

A hinge ``max(0, z)`` passes the gradient at ``z = 0`` where PyTorch's ``clamp_min`` does
(``where(z >= 0, z, 0)``); ``multi_margin``'s kernel in PyTorch counts only ``z > 0``, and so
does it here. Labels ``y`` may be integers or floats (read in the inputs' dtype).

>>> import xpgrad as xg
>>> xg.losses.margin_ranking(xg.asarray([1.0, 0.0]), xg.asarray([0.0, 1.0]),
...                          xg.asarray([1.0, 1.0]), margin=0.5, reduction="none").tolist()
[0.0, 1.5]
"""
from __future__ import annotations

import numbers
import struct

from .._args import flag
from ..optim._checks import hyperparameter, real_number
from ..primitive import apply
from . import reductions
from .activations import softplus
from .cross_entropy_options import entry_weight
from .elementwise import minimum, sqrt
from .likelihood_losses import reduce_loss, values_like
from .loss_checks import (_check_reduction, _float_input, as_tensor_or_refuse, dtype_mismatch,
                          float_like, shape_mismatch)
from .loss_rules import _sigmoid_ce
from .multi_margin import multi_margin as _multi_margin
from .multi_margin import weighted_multi_margin as _weighted_multi_margin
from .selection import where
from .shape import reshape


#: PyTorch's cosine_embedding_loss adds 1e-12 to each squared norm, a float32 constant
#: (9.99999996e-13) also in float64: the same number here, so zero vectors match to rounding
_EPSILON = struct.unpack("f", struct.pack("f", 1e-12))[0]


def _hinge(z):
    """``max(z, 0)`` with PyTorch's ``clamp_min`` gradient (1 at ``z = 0``)."""
    return where(z >= 0, z, 0.0)


def _same(x, other, what, xname, owner):
    """``x`` a floating tensor of ``other``'s dtype and shape."""
    x = float_like(x, other, f"{owner}: {what}", xname)
    if x.shape != other.shape:
        raise shape_mismatch(x, other, f"{owner}: {what}", xname)
    return x


def margin_ranking(x1, x2, y, *, margin=0.0, reduction="mean"):
    """``max(0, -y (x1 - x2) + margin)``, as PyTorch's ``margin_ranking_loss``: ``y = 1``
    asks for ``x1`` ranked above ``x2`` by ``margin``, ``y = -1`` the reverse. ``x1``,
    ``x2`` and ``y`` have one shape.

    >>> import xpgrad as xg
    >>> loss = xg.losses.margin_ranking(xg.asarray([0.2]), xg.asarray([0.0]), xg.asarray([1]),
    ...                                 margin=1.0)
    >>> round(loss.item(), 4)
    0.8
    """
    owner = "margin_ranking"
    margin = hyperparameter(f"{owner}: margin", margin)
    _check_reduction(reduction, "margin_ranking")
    x1 = _float_input(x1, f"{owner}: x1")
    x2 = _same(x2, x1, "x2", "x1", owner)
    y = values_like(y, x1, "y", "x1", owner)
    return reduce_loss(_hinge(margin - y * (x1 - x2)), reduction)


def hinge_embedding(x, y, *, margin=1.0, reduction="mean"):
    """PyTorch's ``hinge_embedding_loss``: ``x`` where ``y = 1``, ``max(0, margin - x)`` where
    ``y = -1`` (``x`` is a distance; for other values of ``y`` both terms count, as there).

    >>> import xpgrad as xg
    >>> xg.losses.hinge_embedding(xg.asarray([0.3, 0.3]), xg.asarray([1, -1]),
    ...                           reduction="none").tolist()
    [0.30000001192092896, 0.699999988079071]
    """
    owner = "hinge_embedding"
    margin = hyperparameter(f"{owner}: margin", margin)
    _check_reduction(reduction, "hinge_embedding")
    x = _float_input(x, f"{owner}: x")
    y = values_like(y, x, "y", "x", owner)
    per = where(y != 1, _hinge(margin - x), 0.0) + where(y != -1, x, 0.0)
    return reduce_loss(per, reduction)


def soft_margin(x, y, *, reduction="mean"):
    """``log(1 + exp(-y x))``, as PyTorch's ``soft_margin_loss`` (two-class logistic loss,
    ``y`` = 1 or -1), computed as ``softplus(-y x)``: finite for any ``|x|`` (PyTorch's
    ``log1p(exp(..))`` overflows to inf past ``-y x`` of about 710 in float64).

    >>> import xpgrad as xg
    >>> round(xg.losses.soft_margin(xg.asarray([0.0]), xg.asarray([1])).item(), 4)   # log 2
    0.6931
    """
    owner = "soft_margin"
    _check_reduction(reduction, "soft_margin")
    x = _float_input(x, f"{owner}: x")
    y = values_like(y, x, "y", "x", owner)
    return reduce_loss(softplus(-(y * x)), reduction)


def multilabel_soft_margin(x, y, *, weight=None, reduction="mean"):
    """PyTorch's ``multilabel_soft_margin_loss``: for ``x`` of shape (N, C) or (C,) (class
    axis last) and targets ``y`` in [0, 1] of that shape, the binary cross-entropy of
    ``sigmoid(x)`` per class, times ``weight`` (broadcast to ``x``) when given, averaged over
    the C classes: one loss per sample (``reduction="none"``), then averaged or summed.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[0.0, 0.0]])
    >>> round(xg.losses.multilabel_soft_margin(x, xg.asarray([[1, 0]])).item(), 4)
    0.6931
    """
    owner = "multilabel_soft_margin"
    _check_reduction(reduction, "multilabel_soft_margin")
    x = _float_input(x, f"{owner}: x")
    if x.ndim < 1:
        raise ValueError(f"{owner}: x needs a class axis (last), got a 0-d tensor")
    y = values_like(y, x, "y", "x", owner)
    per = apply(_sigmoid_ce, x, y, reduction="none")
    if weight is not None:
        per = per * entry_weight(weight, x, f"{owner}: weight", "x")
    return reduce_loss(reductions.mean(per, axis=-1), reduction)


def _class_labels(y, x, owner):
    lead = x.shape[:-1]
    n_classes = x.shape[-1]
    y = as_tensor_or_refuse(y, f"{owner}: y must be integer class indices",
                            backend=x.backend)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{owner}: y must be integer class indices, got dtype {y.dtype}")
    if y.shape != lead:
        raise ValueError(f"{owner}: y must have shape {lead} (x's shape without the class "
                         f"axis, last), got {y.shape}")
    if y.size:
        lo, hi = y.backend.check_index_range(y._data)
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{owner}: label {bad} in y is out of range for {n_classes} "
                             f"classes (labels must be in [0, {n_classes - 1}])")
    return y


def multi_margin(x, y, *, p=1, margin=1.0, weight=None, reduction="mean"):
    """PyTorch's ``multi_margin_loss`` (multi-class hinge): for scores ``x`` (N, C) or (C,)
    and integer labels ``y`` (N,) or (), per sample
    ``sum over i != y of weight[y] * max(0, margin - x[y] + x[i])**p / C``, with ``p`` 1 or
    2 and ``weight`` one per class.

    >>> import xpgrad as xg
    >>> x = xg.asarray([[0.1, 0.2, 0.4, 0.8]], dtype=xg.float64)
    >>> round(xg.losses.multi_margin(x, xg.asarray([3])).item(), 4)    # PyTorch's example
    0.325
    """
    owner = "multi_margin"
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or p not in (1, 2):
        raise ValueError(f"{owner}: p must be 1 or 2, got {p!r}")
    margin = hyperparameter(f"{owner}: margin", margin)
    _check_reduction(reduction, "multi_margin")
    x = _float_input(x, f"{owner}: x")
    if x.ndim not in (1, 2) or x.shape[-1] < 1:
        raise ValueError(f"{owner}: x must have shape (N, C) or (C,) with C >= 1, got "
                         f"{x.shape}")
    y = _class_labels(y, x, owner)
    n_classes = x.shape[-1]
    if weight is not None:
        weight = _float_input(as_tensor_or_refuse(
            weight, f"{owner}: weight must be a floating-point tensor (one per class)",
            dtype=x.dtype, backend=x.backend), f"{owner}: weight")
        if weight.shape != (n_classes,):
            raise ValueError(f"{owner}: weight must have shape ({n_classes},) (one per "
                             f"class), got {weight.shape}")
        if weight.dtype != x.dtype:
            raise dtype_mismatch(weight, x, f"{owner}: weight", "x")
    x2 = x if x.ndim == 2 else reshape(x, (1, n_classes))
    y1 = y if y.ndim == 1 else reshape(y, (1,))
    options = {"reduction": reduction, "p": int(p), "margin": margin}
    if weight is None:
        out = apply(_multi_margin, x2, y1, **options)
    else:
        out = apply(_weighted_multi_margin, x2, y1, weight, **options)
    return reshape(out, ()) if reduction == "none" and y.ndim == 0 else out


def triplet_margin(anchor, positive, negative, *, margin=1.0, p=2, eps=1e-6, swap=False,
                   reduction="mean"):
    """PyTorch's ``triplet_margin_loss``: ``max(0, margin + d(a, p) - d(a, n))`` with
    ``d = pairwise_distance(., ., p, eps)`` along the last axis of (N, D) or (D,) inputs;
    ``swap=True`` takes ``min(d(a, n), d(p, n))`` for the negative distance. ``margin`` must
    be > 0, as PyTorch's.

    >>> import xpgrad as xg
    >>> a, pos, neg = xg.asarray([[0.0, 0.0]]), xg.asarray([[0.0, 1.0]]), xg.asarray([[3.0, 0.0]])
    >>> round(xg.losses.triplet_margin(a, pos, neg, eps=0.0, margin=2.5).item(), 4)
    0.5
    """
    from ..nn.distances import _order, pairwise_distance

    owner = "triplet_margin"
    margin = hyperparameter(f"{owner}: margin", margin, low=0.0, low_open=True)
    p = _order(p, owner)
    eps = real_number(f"{owner}: eps", eps)
    swap = flag(swap, "swap", owner)
    _check_reduction(reduction, "triplet_margin")
    anchor = _float_input(anchor, f"{owner}: anchor")
    if anchor.ndim not in (1, 2):
        raise ValueError(f"{owner}: anchor must have shape (N, D) or (D,), got {anchor.shape}")
    positive = _same(positive, anchor, "positive", "anchor", owner)
    negative = _same(negative, anchor, "negative", "anchor", owner)
    d_pos = pairwise_distance(anchor, positive, p=p, eps=eps)
    d_neg = pairwise_distance(anchor, negative, p=p, eps=eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p=p, eps=eps))
    return reduce_loss(_hinge(margin + d_pos - d_neg), reduction)


def cosine_embedding(x1, x2, y, *, margin=0.0, reduction="mean"):
    """PyTorch's ``cosine_embedding_loss``: with ``cos`` the cosine similarity of ``x1`` and
    ``x2`` along the last axis ((N, D) inputs with labels ``y`` (N,), or (D,) with a 0-d
    ``y``), ``1 - cos`` where ``y = 1`` and ``max(0, cos - margin)`` where ``y = -1``. As
    PyTorch, each squared norm gets 1e-12 added, so a zero vector has finite gradients.

    >>> import xpgrad as xg
    >>> a = xg.asarray([[1.0, 0.0], [1.0, 0.0]])
    >>> b = xg.asarray([[0.0, 1.0], [1.0, 1.0]])
    >>> [round(v, 4) for v in xg.losses.cosine_embedding(a, b, xg.asarray([1, -1]),
    ...                                                    reduction="none").tolist()]
    [1.0, 0.7071]
    """
    owner = "cosine_embedding"
    margin = hyperparameter(f"{owner}: margin", margin)
    _check_reduction(reduction, "cosine_embedding")
    x1 = _float_input(x1, f"{owner}: x1")
    if x1.ndim not in (1, 2):
        raise ValueError(f"{owner}: x1 must have shape (N, D) or (D,), got {x1.shape}")
    x2 = _same(x2, x1, "x2", "x1", owner)
    y = values_like(y, x1, "y", "x1", owner, shape=x1.shape[:-1])
    dot = reductions.sum(x1 * x2, axis=-1)
    sq1 = reductions.sum(x1 * x1, axis=-1) + _EPSILON
    sq2 = reductions.sum(x2 * x2, axis=-1) + _EPSILON
    cos = dot / sqrt(sq1 * sq2)
    per = where(y == 1, 1.0 - cos, 0.0) + where(y == -1, _hinge(cos - margin), 0.0)
    return reduce_loss(per, reduction)


__all__ = ["margin_ranking", "hinge_embedding", "soft_margin", "multilabel_soft_margin",
           "multi_margin", "triplet_margin", "cosine_embedding"]
