"""The cross-entropies' PyTorch options, composed from primitives: ``softmax_cross_entropy``'s
``weight`` (per class), ``ignore_index`` and ``label_smoothing`` (from ``log_softmax`` and
``nll``, as ``torch.nn.functional.cross_entropy``), and ``sigmoid_cross_entropy_with_logits``'s
``pos_weight`` and ``weight`` (as ``binary_cross_entropy_with_logits``). Without options each
loss is one fused primitive (``losses.py``); this is the path for the calls that give some.

>>> import xpgrad as xg
>>> x = xg.asarray([[0.0, 0.0], [3.0, 0.0]])
>>> round(xg.losses.softmax_cross_entropy(x, xg.asarray([1, -100]), ignore_index=-100).item(), 4)
0.6931
"""
from __future__ import annotations

import numbers

from . import reductions
from .activations import log_softmax
from .losses import _float_input, as_tensor_or_refuse
from .probability_losses import _class_weight, nll
from .shape import broadcast_shapes


def check_options(ignore_index, label_smoothing):
    """``label_smoothing`` as a float in [0, 1]; ``ignore_index`` None or an int."""
    if ignore_index is not None and (isinstance(ignore_index, bool)
                                     or not isinstance(ignore_index, numbers.Integral)):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    return float(label_smoothing)


def cross_entropy(logits, labels, *, weight, ignore_index, label_smoothing, reduction):
    """The loss with options; ``labels`` are checked integer indices (``ignore_index`` rows
    excepted) or probabilities of ``logits``' shape."""
    if labels.dtype.kind not in "iu" and ignore_index is not None:
        raise ValueError(f"ignore_index ({ignore_index}) picks integer labels to leave out, but "
                         f"these labels are probabilities (dtype {labels.dtype}); give a zero "
                         f"row instead, or leave ignore_index out")
    log_probs = log_softmax(logits, axis=-1)
    if labels.dtype.kind in "iu":
        return _of_indices(log_probs, labels, weight, ignore_index, label_smoothing, reduction)
    return _of_probabilities(log_probs, labels, weight, label_smoothing, reduction)


def _of_indices(log_probs, labels, weight, ignore_index, smoothing, reduction):
    from ..tape import stop_gradient
    from .casting import astype
    from .indexing import take
    from .selection import where
    from .shape import reshape

    ignored = -1 if ignore_index is None else int(ignore_index)   # (labels are >= 0 if None)
    loss = nll(log_probs, labels, weight=weight, ignore_index=ignored, reduction=reduction)
    if not smoothing:
        return loss
    # nll does not differentiate the class weights (nor does PyTorch's nll_loss): neither may
    # this term, else a watched weight would get a part of its gradient
    class_weight = stop_gradient(_class_weight(weight, log_probs))
    kept = astype(labels != ignored, log_probs.dtype)
    smooth = -reductions.sum(log_probs * class_weight, axis=-1) * kept
    if reduction == "mean":
        if weight is None:
            count = reductions.sum(kept)
        else:          # take reads 1-D indices: labels of any shape (e.g. (N, d1)) go flat
            flat = reshape(where(labels == ignored, 0, labels), (-1,))
            count = reductions.sum(take(class_weight, flat) * reshape(kept, (-1,)))
        # no row kept: nll's term makes the loss NaN; 0 here keeps its gradient 0 (PyTorch's)
        smooth = reductions.sum(smooth) / where(count == 0, 1.0, count)
    elif reduction == "sum":
        smooth = reductions.sum(smooth)
    return (1.0 - smoothing) * loss + (smoothing / log_probs.shape[-1]) * smooth


def _of_probabilities(log_probs, targets, weight, smoothing, reduction):
    if smoothing:
        targets = targets * (1.0 - smoothing) + smoothing / log_probs.shape[-1]
    weighted = log_probs * targets
    if weight is not None:
        weighted = weighted * _class_weight(weight, log_probs)
    per = -reductions.sum(weighted, axis=-1)
    if reduction == "none":
        return per
    return reductions.mean(per) if reduction == "mean" else reductions.sum(per)


def weighted_sigmoid_cross_entropy(x, t, pos_weight, weight, reduction):
    """``-(pw t log s(x) + (1 - t) log(1 - s(x)))``, times ``weight``; ``x``, ``t`` checked
    logits and targets.

    Written as ``(1 - t) softplus(x) + pw t softplus(-x)``: the values of PyTorch's
    ``(1 - t) x + lw softplus(-x)`` (``lw = 1 + (pw - 1) t``; ``softplus(x) = x +
    softplus(-x)``), but each term's gradient, ``(1 - t) s(x)`` and ``-pw t s(-x)``, comes
    from softplus' rule without cancellation, where PyTorch's form differentiates to ``(1 - t)
    - lw s(-x)``: 0 for a negative class below x = -17 in float32 (-37 in float64), its second
    derivative 0 too. The second softplus makes it 1.4 times as slow as that form (1M
    float32 entries, forward and backward). Infinite logits give PyTorch's values (NaN where a
    zero weight meets an infinite softplus), not the fused loss' limits.

    >>> import xpgrad as xg
    >>> x = xg.asarray([-20.0, 0.0])
    >>> g = xg.grad(lambda x: weighted_sigmoid_cross_entropy(x, xg.zeros(2), 3.0, None, "sum"))
    >>> [f"{v:.4g}" for v in g(x).tolist()]       # sigmoid(x), also far left
    ['2.061e-09', '0.5']
    """
    from .activations import softplus

    pw = None if pos_weight is None else entry_weight(pos_weight, x, "pos_weight", "logits")
    w = None if weight is None else entry_weight(weight, x, "weight", "logits")
    per = (1.0 - t) * softplus(x) + (t if pw is None else pw * t) * softplus(-x)
    if w is not None:
        per = per * w
    if reduction == "none":
        return per
    return reductions.mean(per) if reduction == "mean" else reductions.sum(per)


def entry_weight(weight, x, what, xname):
    """``weight`` as a floating tensor of ``x``'s dtype that broadcasts to ``x``'s shape; a
    number, list or array (not a Tensor) is read in ``x``'s dtype and backend, as the class
    weights of ``softmax_cross_entropy`` are."""
    weight = as_tensor_or_refuse(weight, f"{what} must be a floating-point tensor (or numbers)",
                                 dtype=x.dtype, backend=x.backend)
    weight = _float_input(weight, what)
    if weight.dtype != x.dtype:
        raise TypeError(f"{what} has dtype {weight.dtype} but {xname} has dtype {x.dtype}; "
                        "cast one with xg.astype so they match")
    try:
        shape = broadcast_shapes(weight.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"{what} of shape {weight.shape} does not broadcast to {xname}'s "
                         f"shape {x.shape}")
    return weight
