"""Two more of PyTorch's margin losses: ``multilabel_margin`` (``F.multilabel_margin_loss``, a
primitive of its own, ``multilabel_margin.py``, fused on the NumPy backend) and
``triplet_margin_with_distance`` (``F.triplet_margin_with_distance_loss``, composed of
primitives: its gradients are those of the parts); ``xpgrad.losses`` re-exports them.

>>> import xpgrad as xg
>>> x = xg.asarray([[0.1, 0.2, 0.4, 0.8]], dtype=xg.float64)
>>> round(xg.losses.multilabel_margin(x, xg.asarray([[3, 0, -1, 1]])).item(), 4)  # PyTorch's
0.85
"""
from __future__ import annotations

from .._args import flag
from ..optim._checks import hyperparameter
from ..primitive import apply
from ..tensor import Tensor
from .elementwise import minimum
from .likelihood_losses import reduce_loss
from .loss_checks import _check_reduction, _float_input, as_tensor_or_refuse
from .margin_losses import _hinge
from .multilabel_margin import multilabel_margin as _multilabel_margin
from .shape import reshape


def _multilabel_targets(y, x, owner):
    """``y``: integer class indices of ``x``'s shape, each row's list ended by its first -1."""
    n_classes = x.shape[-1]
    y = as_tensor_or_refuse(y, f"{owner}: y must be integer class indices (each row's list "
                            "ended by -1)", backend=x.backend)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{owner}: y must be integer class indices, got dtype {y.dtype}")
    if y.shape != x.shape:
        raise ValueError(f"{owner}: y must have x's shape {x.shape} (class indices, each row's "
                         f"list ended by -1), got {y.shape}")
    if y.size:
        lo, hi = y.backend.check_index_range(y._data)
        if lo < -1 or hi >= n_classes:
            bad = lo if lo < -1 else hi
            raise IndexError(f"{owner}: label {bad} in y is out of range for {n_classes} "
                             f"classes (labels must be in [0, {n_classes - 1}], or -1 to end "
                             "a row's list)")
    return y


def multilabel_margin(x, y, *, reduction="mean"):
    """PyTorch's ``multilabel_margin_loss`` (multi-label hinge): for scores ``x`` of shape
    (N, C) or (C,), ``y`` of that shape lists each sample's target classes, up to its first -1
    (the rest of the row is ignored); per sample,
    ``sum over targets j and non-targets i of max(0, 1 - (x[j] - x[i])) / C``. The hinge's
    gradient at exactly 0 is 0, as in PyTorch's kernel.

    >>> import xpgrad as xg
    >>> x = xg.asarray([0.1, 0.2, 0.4, 0.8], dtype=xg.float64)
    >>> round(xg.losses.multilabel_margin(x, xg.asarray([3, 0, -1, 1])).item(), 4)
    0.85
    """
    owner = "multilabel_margin"
    _check_reduction(reduction, "multilabel_margin")
    x = _float_input(x, f"{owner}: x")
    if x.ndim not in (1, 2) or x.shape[-1] < 1:
        raise ValueError(f"{owner}: x must have shape (N, C) or (C,) with C >= 1, got "
                         f"{x.shape}")
    y = _multilabel_targets(y, x, owner)
    x2, y2 = (x, y) if x.ndim == 2 else (reshape(x, (1, x.shape[0])), reshape(y, (1, x.shape[0])))
    per_or_total = apply(_multilabel_margin, x2, y2, reduction=reduction)
    if x.ndim == 1 and reduction == "none":
        return reshape(per_or_total, ())
    return per_or_total


def _distance(distance_function, a, b, owner):
    d = distance_function(a, b)
    if not isinstance(d, Tensor) or not d.dtype.is_floating:
        got = f"a {d.dtype} tensor" if isinstance(d, Tensor) else type(d).__name__
        raise TypeError(f"{owner}: distance_function must return a floating-point tensor, got "
                        f"{got}")
    return d


def triplet_margin_with_distance(anchor, positive, negative, *, distance_function=None,
                                 margin=1.0, swap=False, reduction="mean"):
    """PyTorch's ``triplet_margin_with_distance_loss``:
    ``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with ``d`` the callable
    ``distance_function`` of two tensors (None: ``xg.nn.pairwise_distance``, the Euclidean
    distance along the last axis); ``swap=True`` takes ``min(d(a, n), d(p, n))`` for the
    negative distance. ``margin`` must be > 0 and the three inputs must have one number of
    axes, as PyTorch's.

    >>> import xpgrad as xg
    >>> a, pos, neg = xg.asarray([[0.0, 0.0]]), xg.asarray([[0.0, 1.0]]), xg.asarray([[3.0, 0.0]])
    >>> l1 = lambda u, v: xg.sum(xg.abs(u - v), axis=-1)
    >>> xg.losses.triplet_margin_with_distance(a, pos, neg, distance_function=l1,
    ...                                        margin=2.5).item()
    0.5
    """
    from ..nn.distances import pairwise_distance

    owner = "triplet_margin_with_distance"
    if distance_function is not None and not callable(distance_function):
        raise TypeError(f"{owner}: distance_function must be a callable of two tensors or "
                        f"None, got {type(distance_function).__name__}")
    margin = hyperparameter(f"{owner}: margin", margin, low=0.0, low_open=True)
    swap = flag(swap, "swap", owner)
    _check_reduction(reduction, "triplet_margin_with_distance")
    anchor = _float_input(anchor, f"{owner}: anchor")
    positive = _float_input(positive, f"{owner}: positive")
    negative = _float_input(negative, f"{owner}: negative")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ValueError(f"{owner}: anchor, positive and negative must have one number of axes, "
                         f"got {anchor.ndim}, {positive.ndim} and {negative.ndim}")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos = _distance(distance, anchor, positive, owner)
    d_neg = _distance(distance, anchor, negative, owner)
    if swap:
        d_neg = minimum(d_neg, _distance(distance, positive, negative, owner))
    return reduce_loss(_hinge(margin + d_pos - d_neg), reduction)


__all__ = ["multilabel_margin", "triplet_margin_with_distance"]
