"""Two more of PyTorch's margin losses, composed of primitives (their gradients are those of
the parts): ``multilabel_margin`` (``F.multilabel_margin_loss``) and
``triplet_margin_with_distance`` (``F.triplet_margin_with_distance_loss``);
``xpgrad.losses`` re-exports them.

>>> import xpgrad as xg
>>> x = xg.asarray([[0.1, 0.2, 0.4, 0.8]], dtype=xg.float64)
>>> round(xg.losses.multilabel_margin(x, xg.asarray([[3, 0, -1, 1]])).item(), 4)  # PyTorch's
0.85
"""
from __future__ import annotations

from .._args import flag
from ..optim._checks import hyperparameter
from ..tensor import Tensor
from . import reductions
from .casting import astype
from .elementwise import logical_and, logical_not, minimum
from .indexing import one_hot, take_along_axis
from .likelihood_losses import reduce_loss
from .loss_checks import _check_reduction, _float_input, as_tensor_or_refuse
from .margin_losses import _hinge
from .selection import where
from .shape import expand_dims, reshape


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
    _check_reduction(reduction)
    x = _float_input(x, f"{owner}: x")
    if x.ndim not in (1, 2) or x.shape[-1] < 1:
        raise ValueError(f"{owner}: x must have shape (N, C) or (C,) with C >= 1, got "
                         f"{x.shape}")
    y = _multilabel_targets(y, x, owner)
    n_classes = x.shape[-1]
    x2, y2 = (x, y) if x.ndim == 2 else (reshape(x, (1, n_classes)), reshape(y, (1, n_classes)))
    # a row's list: the entries before its first -1
    listed = reductions.cumulative_sum(astype(y2 == -1, "int32"), axis=-1) == 0
    longest = _longest_list(listed)
    if longest < n_classes:             # the (N, K, C) terms below: K up to the longest list
        listed, y2 = listed[:, :longest], y2[:, :longest]
    labels = where(listed, y2, 0)
    is_target = reductions.max(one_hot(labels, n_classes, dtype=x.dtype)
                               * astype(expand_dims(listed, axis=-1), x.dtype), axis=1) > 0
    scores = take_along_axis(x2, labels, axis=-1)                       # (N, K)
    z = 1.0 - expand_dims(scores, axis=-1) + expand_dims(x2, axis=1)    # (N, K, C)
    counted = logical_and(expand_dims(listed, axis=-1),
                          expand_dims(logical_not(is_target), axis=1))
    per = reductions.sum(where(logical_and(counted, z > 0), z, 0.0), axis=(1, 2)) / n_classes
    if x.ndim == 1 and reduction == "none":
        per = reshape(per, ())
    return reduce_loss(per, reduction)


def _longest_list(listed):
    """The most classes a row lists (at least 1): no row lists anything past it, so the terms
    of the positions past it are zeros (float32, 256 rows of 32 classes listing up to 7:
    forward 0.96 ms over every position, 0.38 up to the longest list). Under
    ``xg.function``'s trace every position (a count read there would hold the program to it,
    any other running eagerly)."""
    from ..jit.capture import THREAD

    width = listed.shape[-1]
    if THREAD.tracer is not None or listed.size == 0:
        return width
    be = listed._backend
    counts = be.xp.sum(be.xp.astype(listed._data, be.xp.int32), axis=-1)
    return max(1, be.index_range(counts)[1])


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
    _check_reduction(reduction)
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
