"""Losses of probabilities and log-probabilities, as PyTorch defines them: ``nll`` (integer
labels under log-probabilities), ``binary_cross_entropy`` (on probabilities, logs clamped at
-100) and ``kl_div``. Each is a primitive with generic rules written against ``xp``; the shared
pieces and checks are ``losses.py``'s. ``xpgrad.losses`` re-exports the public functions.

>>> import xpgrad as xg
>>> lp = xg.nn.log_softmax(xg.asarray([[0.0, 0.0]]))
>>> round(xg.losses.nll(lp, xg.asarray([1])).item(), 4)
0.6931
"""
from __future__ import annotations

import numbers

from ..primitive import Primitive, apply
from ..tensor import Tensor
from .loss_checks import (REDUCTIONS, _check_reduction, _class_axis_hint, _float_input,
                          _target_like, as_tensor_or_refuse, dtype_mismatch,
                          refuse_class_axis_keywords)
from .loss_rules import _reduce, _scale, _size
from . import reductions
from .gathering import _along_forward
from .shape import reshape


# -- negative log-likelihood of integer labels ---------------------------------------------------
def _nll_parts(xp, labels, weight, ignore_index):
    """Each row's label (0 where ignored), whether it is kept, and its class weight (0 where
    ignored): gathers of N entries, not one-hot rows of N x C."""
    kept = labels != ignore_index
    safe = xp.where(kept, labels, xp.zeros_like(labels))
    return safe, kept, xp.where(kept, xp.take(weight, safe, axis=0), 0.0)


def _weighted_mean(xp, total, weight_sum):
    """``total / weight_sum``, NaN where no row counts (0 / 0, as PyTorch), without a warning."""
    empty = weight_sum == 0
    return xp.where(empty, float("nan"), total / xp.where(empty, 1.0, weight_sum))


def _nll_forward(xp, log_probs, labels, weight, reduction, ignore_index):
    safe, kept, row_weight = _nll_parts(xp, labels, weight, ignore_index)
    picked = _along_forward(xp, log_probs, safe[:, None], 1, None)[:, 0]   # each row's label
    per = -row_weight * xp.where(kept, picked, 0.0)
    if reduction == "mean":
        return _weighted_mean(xp, xp.sum(per), xp.sum(row_weight))
    return _reduce(xp, per, reduction)


def _nll_dlogp(xp, g, ans, log_probs, labels, weight, reduction, ignore_index):
    safe, kept, row_weight = _nll_parts(xp, labels, weight, ignore_index)
    if reduction == "mean":
        g = _weighted_mean(xp, g, xp.sum(row_weight))
    # only the kept rows' label entries get a gradient (PyTorch's rule): when no row is kept
    # the mean is NaN but its gradient 0, not NaN * 0
    values = xp.where(kept, -g * row_weight, 0.0)
    return _at_labels(xp, log_probs, safe, values[:, None])


_nll = Primitive("nll", _nll_forward, _nll_dlogp, None, None)


# the common case, as its own primitive: no class weights and every row kept (no label is
# ignore_index), so no weight vector, masks or weighted mean
def _nll_kept_forward(xp, log_probs, labels, reduction):
    # (the rule below writes through the same index pair)
    return _reduce(xp, -log_probs[xp.arange(log_probs.shape[0]), labels], reduction)


def _nll_kept_dlogp(xp, g, ans, log_probs, labels, reduction):
    values = -_scale(g, reduction, log_probs.shape[0])
    return _at_labels(xp, log_probs, labels, values[:, None] if reduction == "none" else values)


def _at_labels(xp, log_probs, labels, values):
    """An array like ``log_probs`` (N, C) of ``values`` (broadcast to (N, 1)) at each row's
    label, zeros elsewhere: a comparison with the columns, not a scatter, as the array API's
    setitem takes no integer arrays (the NumPy backend's kernels scatter) and a tape records
    it (a higher order)."""
    if isinstance(log_probs, Tensor):
        from ..creation import arange

        columns = arange(log_probs.shape[1], dtype=labels.dtype, backend=log_probs.backend)
    else:
        columns = xp.arange(log_probs.shape[1], dtype=labels.dtype)
    return xp.where(columns[None, :] == labels[:, None], values, 0.0)


_nll_kept = Primitive("nll_all_kept", _nll_kept_forward, _nll_kept_dlogp, None)


# -- binary cross-entropy on probabilities -------------------------------------------------------
def _clamped_logs(xp, p):
    """``max(log(p), -100)`` and ``max(log(1 - p), -100)`` (PyTorch's clamp), warning-free at
    p = 0 and 1; NaN stays NaN."""
    log_p = xp.where(p == 0, -100.0, xp.maximum(xp.log(xp.where(p == 0, 1.0, p)), -100.0))
    log_q = xp.where(p == 1, -100.0,
                     xp.maximum(xp.log1p(-xp.where(p == 1, 0.0, p)), -100.0))
    return log_p, log_q


def _probs_bce_forward(xp, p, t, reduction):
    log_p, log_q = _clamped_logs(xp, p)
    return _reduce(xp, -(t * log_p + (1.0 - t) * log_q), reduction)


def _probs_bce_dprobs(xp, g, ans, p, t, reduction):
    # PyTorch's rule: (p - t) / max(p (1 - p), 1e-12), finite at p = 0 and 1
    return _scale(g, reduction, _size(p)) * (p - t) / xp.maximum(p * (1.0 - p), 1e-12)


def _probs_bce_dtarget(xp, g, ans, p, t, reduction):
    log_p, log_q = _clamped_logs(xp, p)
    return _scale(g, reduction, _size(p)) * (log_q - log_p)


_probs_bce = Primitive("binary_cross_entropy", _probs_bce_forward, _probs_bce_dprobs,
                       _probs_bce_dtarget)


# -- Kullback-Leibler divergence -----------------------------------------------------------------
def _kl_reduce(xp, per, reduction):
    if reduction == "batchmean":
        batch = per.shape[0] if per.ndim else 1
        return xp.sum(per) / batch if batch else xp.sum(per) * float("nan")   # 0 / 0 as PyTorch
    return _reduce(xp, per, reduction)


def _kl_scale(g, reduction, x):
    if reduction == "batchmean":
        return g * (1.0 / max(x.shape[0] if x.ndim else 1, 1))
    return _scale(g, reduction, _size(x))


def _kl_forward(xp, x, t, reduction, log_target):
    if log_target:
        per = xp.exp(t) * (t - x)
    else:
        # t (log t - x), 0 where t = 0 (0 log 0 = 0, whatever x), NaN where t < 0 (as xlogy)
        positive = xp.where(t > 0, t, 1.0)
        kept = xp.where(t > 0, x, 0.0)                 # no 0 * inf where t = 0, x = -inf
        per = xp.where(t == 0, 0.0,
                       xp.where(t > 0, t * (xp.log(positive) - kept), float("nan")))
    return _kl_reduce(xp, per, reduction)


def _kl_dinput(xp, g, ans, x, t, reduction, log_target):
    return -_kl_scale(g, reduction, x) * (xp.exp(t) if log_target else t)


def _kl_dtarget(xp, g, ans, x, t, reduction, log_target):
    scale = _kl_scale(g, reduction, x)
    if log_target:
        return scale * xp.exp(t) * (t - x + 1.0)
    positive = xp.where(t > 0, t, 1.0)
    return scale * xp.where(t > 0, xp.log(positive) + 1.0 - x, 0.0)


_kl_div = Primitive("kl_div", _kl_forward, _kl_dinput, _kl_dtarget)


def _check_nll_labels(labels, log_probs, ignore_index, who):
    lead = log_probs.shape[:-1]
    n_classes = log_probs.shape[-1]
    labels = as_tensor_or_refuse(labels, f"{who}: labels must be integer class indices",
                                 backend=log_probs.backend)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{who}: labels must be integer class indices, got dtype "
                        f"{labels.dtype}")
    if labels.shape != lead:
        raise ValueError(f"{who}: labels must have shape {lead} (log_probs' shape without the class "
                         f"axis, last), got {labels.shape}"
                         + _class_axis_hint(labels.shape, log_probs.shape, "log_probs"))
    return labels, _labels_all_kept(labels, n_classes, ignore_index, who)


def _labels_all_kept(labels, n_classes, ignore_index, who):
    """Whether every label is a class and none is ``ignore_index`` (one range check, the
    common case); else IndexError at a label that is neither a class nor ``ignore_index``."""
    if labels.size:
        lo, hi = labels.backend.index_range(labels._data)
        if 0 <= lo and hi < n_classes:
            return not lo <= ignore_index <= hi
        xp = labels.backend.xp
        kept = xp.where(labels._data == ignore_index, 0, labels._data)
        lo, hi = labels.backend.check_index_range(kept)
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{who}: label {bad} is out of range for {n_classes} classes "
                             f"(labels must be in [0, {n_classes - 1}] or ignore_index "
                             f"{ignore_index})")
        return False
    return True


def _class_weight(weight, log_probs):
    n_classes = log_probs.shape[-1]
    if weight is None:
        from ..creation import ones

        return ones((n_classes,), dtype=log_probs.dtype, backend=log_probs.backend)
    # a list or NumPy array is read in log_probs' dtype
    weight = as_tensor_or_refuse(weight, "weight must be a floating-point tensor (one per class)",
                                 dtype=log_probs.dtype, backend=log_probs.backend)
    weight = _float_input(weight, "weight")
    if weight.shape != (n_classes,):
        raise ValueError(f"weight must have shape ({n_classes},) (one per class), got "
                         f"{weight.shape}")
    if weight.dtype != log_probs.dtype:
        raise dtype_mismatch(weight, log_probs, "weight", "log_probs")
    return weight


def nll(log_probs, labels, *, weight=None, ignore_index=-100, reduction="mean", **unexpected):
    """Negative log-likelihood of integer ``labels`` under ``log_probs`` (class axis last,
    e.g. ``log_softmax``'s output), as PyTorch's ``nll_loss``: ``-weight[y] * log_probs[y]``
    per row; rows whose label is ``ignore_index`` cost nothing, and ``"mean"`` divides by the
    sum of the kept rows' weights (NaN if no row is kept, as PyTorch). ``weight`` (one per
    class) is not differentiated.

    >>> import xpgrad as xg
    >>> lp = xg.nn.log_softmax(xg.asarray([[0.0, 0.0], [5.0, 0.0]]))
    >>> round(xg.losses.nll(lp, xg.asarray([1, -100])).item(), 4)
    0.6931
    """
    if unexpected:
        refuse_class_axis_keywords("nll", "log_probs", unexpected)
    _check_reduction(reduction, "nll")
    log_probs = _float_input(log_probs, "nll: log_probs")
    if log_probs.ndim < 1 or log_probs.shape[-1] < 1:
        raise ValueError(f"log_probs need a non-empty class axis (last), got shape "
                         f"{log_probs.shape}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"ignore_index must be an int, got {ignore_index!r}")
    labels, all_kept = _check_nll_labels(labels, log_probs, int(ignore_index), "nll")
    lead = log_probs.shape[:-1]
    n_classes = log_probs.shape[-1]
    if log_probs.ndim != 2:
        log_probs = reshape(log_probs, (-1, n_classes))
        labels = reshape(labels, (-1,))
    if weight is None and all_kept:
        out = apply(_nll_kept, log_probs, labels, reduction=reduction)
    else:
        out = apply(_nll, log_probs, labels, _class_weight(weight, log_probs),
                    reduction=reduction, ignore_index=int(ignore_index))
    if reduction == "none" and len(lead) != 1:
        out = reshape(out, lead)
    return out


#: what binary_cross_entropy's arguments hold, for the message when one leaves [0, 1]
_UNIT_INTERVAL_HINTS = {
    "probs": "probabilities, e.g. sigmoid's output; for logits use "
             "sigmoid_cross_entropy_with_logits",
    "targets": "the probability of the positive class, 0 or 1 for hard labels"}


def _check_unit_interval(a, name):
    """ValueError unless every entry of ``a`` lies in [0, 1]; NaN fails too (as PyTorch's
    ``all elements of input should be between 0 and 1``)."""
    if a.size:
        lo, hi = a.backend.value_range(a._data, accepted=(0.0, 1.0))
        if not (0.0 <= lo and hi <= 1.0):           # written so that NaN fails it
            bad = lo if not 0.0 <= lo else hi
            raise ValueError(f"binary_cross_entropy: {name} must be in [0, 1] "
                             f"({_UNIT_INTERVAL_HINTS[name]}), got {bad}")


def binary_cross_entropy(probs, targets, *, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities, as PyTorch's ``binary_cross_entropy``:
    ``-(t log p + (1 - t) log(1 - p))`` with each log clamped at -100, so p = 0 or 1 gives a
    finite loss; ``weight`` (broadcast to ``probs``) rescales each entry's loss before the
    reduction. ``probs`` and ``targets`` must lie in [0, 1] (ValueError otherwise, NaN
    included, as PyTorch); on logits, ``sigmoid_cross_entropy_with_logits`` is more accurate.

    >>> import xpgrad as xg
    >>> loss = xg.losses.binary_cross_entropy(xg.asarray([0.5, 0.0]), xg.asarray([1.0, 1.0]),
    ...                                       reduction="none")
    >>> [round(v, 4) for v in loss.tolist()]
    [0.6931, 100.0]
    """
    _check_reduction(reduction, "binary_cross_entropy")
    probs = _float_input(probs, "binary_cross_entropy: probs")
    targets = _target_like(targets, probs, "binary_cross_entropy: targets", "probs")
    _check_unit_interval(probs, "probs")
    _check_unit_interval(targets, "targets")
    if weight is None:
        return apply(_probs_bce, probs, targets, reduction=reduction)
    from .cross_entropy_options import entry_weight

    weight = entry_weight(weight, probs, "weight", "probs")
    per = apply(_probs_bce, probs, targets, reduction="none") * weight
    if reduction == "none":
        return per
    return reductions.mean(per) if reduction == "mean" else reductions.sum(per)


KL_REDUCTIONS = REDUCTIONS + ("batchmean",)


def kl_div(input, target, *, reduction="mean", log_target=False):
    """Kullback-Leibler divergence, as PyTorch's ``kl_div``: ``input`` holds log-probabilities;
    per entry ``target * (log(target) - input)`` (0 where target is 0), or with
    ``log_target=True`` ``exp(target) * (target - input)``. ``reduction="batchmean"`` divides
    the sum by the batch size (the first axis), the true KL divergence per sample; ``"mean"``
    averages over every entry, as PyTorch's default.

    >>> import xpgrad as xg
    >>> p = xg.asarray([[0.5, 0.5]])
    >>> xg.losses.kl_div(xg.log(p), p, reduction="batchmean").item()
    0.0
    """
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"kl_div: reduction must be one of {KL_REDUCTIONS}, got "
                         f"{reduction!r}")
    if log_target is not True and log_target is not False:
        raise TypeError(f"kl_div: log_target must be True or False, got {log_target!r}")
    input = _float_input(input, "kl_div: input")
    target = _target_like(target, input, "kl_div: target", "input")
    return apply(_kl_div, input, target, reduction=reduction, log_target=log_target)


__all__ = ["nll", "binary_cross_entropy", "kl_div", "KL_REDUCTIONS"]
