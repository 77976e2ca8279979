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

from ..primitive import Primitive, apply
from . import formulas, reductions
from .activations import log_softmax
from .loss_checks import float_like
from .loss_rules import _onehot, _reduce
from .probability_losses import _check_nll_labels, _class_weight, _weighted_mean, nll
from .shape import broadcast_shapes, reshape


def check_options(ignore_index, label_smoothing):
    """``label_smoothing`` as a float in [0, 1]; ``ignore_index`` None or an int."""
    if ignore_index is not None and (isinstance(ignore_index, bool)
                                     or not isinstance(ignore_index, numbers.Integral)):
        raise TypeError(f"ignore_index must be an int or None, got {ignore_index!r}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    return float(label_smoothing)


# -- label smoothing of integer labels without class weights: one fused primitive ---------------
# Each kept row's target is (1 - eps) onehot(label) + eps / C, so its loss is (1 - eps) times
# the plain cross-entropy plus eps times the mean over classes of -log_softmax, and its
# gradient softmax - target; rows labelled ignore_index cost nothing and "mean" divides by
# the rows kept (NaN, with a zero gradient, when none is: PyTorch's cross_entropy).
def _smoothed_parts(xp, logits, labels, smoothing, ignore_index):
    """The rows kept (a boolean vector) and the smoothed targets (zero rows where ignored)."""
    kept = labels != ignore_index
    safe = xp.where(kept, labels, xp.zeros_like(labels))
    target = (1.0 - smoothing) * _onehot(xp, safe, logits) + smoothing / logits.shape[1]
    return kept, xp.where(kept[:, None], target, 0.0)


def _smoothed_forward(xp, logits, labels, reduction, smoothing, ignore_index):
    kept, target = _smoothed_parts(xp, logits, labels, smoothing, ignore_index)
    per = -xp.sum(target * formulas.log_softmax(xp, logits, 1), axis=1)
    per = xp.where(kept, per, 0.0)                  # (an ignored row of -inf logits: not NaN)
    if reduction == "mean":
        return _weighted_mean(xp, xp.sum(per), xp.sum(xp.astype(kept, logits.dtype)))
    return _reduce(xp, per, reduction)


def _smoothed_dlogits(xp, g, ans, logits, labels, reduction, smoothing, ignore_index):
    kept, target = _smoothed_parts(xp, logits, labels, smoothing, ignore_index)
    # an ignored row's gradient is 0 times its softmax: NaN where it has none (no finite
    # logit, a NaN), as PyTorch's (whose unsmoothed loss, nll's, does the same here)
    d = formulas.softmax(xp, logits, 1) * xp.astype(kept, logits.dtype)[:, None] - target
    if reduction == "none":
        return g[:, None] * d
    if reduction == "mean":          # no row kept: a zero gradient (d is zero), not NaN
        count = xp.sum(xp.astype(kept, logits.dtype))
        g = g / xp.where(count == 0, 1.0, count)
    return g * d


_smoothed = Primitive("smoothed_softmax_cross_entropy", _smoothed_forward, _smoothed_dlogits,
                      None)


def smoothed_cross_entropy(logits, labels, ignore_index, smoothing, reduction):
    """``cross_entropy`` with ``label_smoothing`` > 0, integer ``labels`` and no class
    weights, as one primitive (backends fuse it: loss and gradient in one pass)."""
    n_classes = logits.shape[-1]
    if ignore_index is None:
        ignore_index = -1                      # checked labels are >= 0: no row matches
    else:
        labels = _check_nll_labels(labels, logits, int(ignore_index),
                                   "softmax_cross_entropy")[0]
    lead = logits.shape[:-1]
    if logits.ndim != 2:
        logits = reshape(logits, (-1, n_classes))
        labels = reshape(labels, (-1,))
    out = apply(_smoothed, logits, labels, reduction=reduction, smoothing=smoothing,
                ignore_index=int(ignore_index))
    if reduction == "none" and len(lead) != 1:
        out = reshape(out, lead)
    return out


def cross_entropy(logits, labels, *, weight, ignore_index, label_smoothing, reduction):
    """The loss with options; ``labels`` are checked integer indices (``ignore_index`` rows
    excepted) or probabilities of ``logits``' shape."""
    if labels.dtype.kind not in "iu" and ignore_index is not None:
        # PyTorch's rule: a negative index (its default -100 among them) names no class, so
        # probabilities pass; a class index is refused
        if ignore_index >= 0:
            raise ValueError(f"ignore_index ({ignore_index}) picks integer labels to leave out, "
                             f"but these labels are probabilities (dtype {labels.dtype}); give "
                             f"a zero row instead, or leave ignore_index out")
        ignore_index = None
    if label_smoothing and weight is None and labels.dtype.kind in "iu":
        return smoothed_cross_entropy(logits, labels, ignore_index, label_smoothing, reduction)
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
    # selected, not times kept: an ignored row of -inf logits costs 0, not NaN (PyTorch's)
    smooth = where(labels == ignored, 0.0, -reductions.sum(log_probs * class_weight, axis=-1))
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
    weight = float_like(weight, x, what, xname, "(or numbers)")
    try:
        shape = broadcast_shapes(weight.shape, x.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"{what} of shape {weight.shape} does not broadcast to {xname}'s "
                         f"shape {x.shape}")
    return weight
