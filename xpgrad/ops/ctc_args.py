"""``xg.losses.ctc``: PyTorch's ``ctc_loss`` -- its arguments checked and brought to one form
(batched, padded int64 targets) for the primitive in ``ctc.py``.

>>> import xpgrad as xg
>>> lp = xg.log(xg.full((2, 1, 2), 0.5, dtype=xg.float64))    # T=2, N=1, C=2
>>> round(xg.losses.ctc(lp, xg.asarray([[1]]), [2], [1]).item(), 4)   # -log(3/4)
0.2877
"""
from __future__ import annotations

import numbers

from ..backend import MixedBackendError
from ..dtypes import int64
from ..primitive import apply
from ..tensor import Tensor
from .casting import astype
from .ctc import ctc_primitive
from .indexing import take
from .loss_checks import _check_reduction, _float_input, as_tensor_or_refuse
from .reductions import cumulative_sum
from .selection import where
from .shape import reshape


def _int_param(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"ctc: {name} must be an int, got {value!r}")
    return int(value)


def _integers(value, name, expected, be):
    """``value`` as a tensor; an empty Python sequence (``[]``: an empty batch, or no labels
    at all) as int64, not asarray's default float32, as PyTorch takes it."""
    t = as_tensor_or_refuse(value, expected, backend=be)
    if t.backend is not be:
        raise MixedBackendError(f"ctc: {name} is on backend {t.backend.name!r} and log_probs "
                                f"on {be.name!r}: move it with {name}.to({be.name!r}) (or pass "
                                f"a list or NumPy array)")
    if t.size == 0 and not isinstance(value, Tensor) and t.dtype.kind == "f" and \
            not hasattr(value, "dtype"):
        t = astype(t, int64)
    return t


def _lengths(value, name, n, batched, be):
    """``value`` as an int64 tensor of shape ``(n,)``."""
    t = _integers(value, name, f"ctc: {name} must be integers, one per sample", be)
    if t.dtype.kind not in "iu":
        raise TypeError(f"ctc: {name} must be integers, got dtype {t.dtype}")
    want = (n,) if batched else ((), (1,))
    if (t.shape != want) if batched else (t.shape not in want):
        raise ValueError(f"ctc: {name} must have shape {want if batched else '()'} (one per "
                         f"sample{'' if batched else ', unbatched log_probs (T, C)'}), got "
                         f"{t.shape}")
    return astype(reshape(t, (n,)), int64)


def _check_range(t, name, lo_ok, hi_ok, why):
    """``t``'s largest value, checked in ``[lo_ok, hi_ok]`` (ValueError naming ``name``); a
    bounds check under xg.function, whose guard widens: a caller that takes the value as a
    shape guards it itself (``_padded``'s ``value_range``)."""
    if t.size:
        lo, hi = t.backend.check_index_range(t._data)
        if lo < lo_ok:
            raise ValueError(f"ctc: {name} must be >= {lo_ok}, got {lo}")
        if hi > hi_ok:
            raise ValueError(f"ctc: {name} must be at most {hi_ok} ({why}), got {hi}")
        return hi
    return 0


def _padded(targets, target_lengths, n, be):
    """Concatenated 1-D targets as ``(N, max target length)``, padded with label 0."""
    from ..creation import arange

    s = _check_range(target_lengths, "target_lengths", 0, targets.shape[0],
                     "the length of the concatenated targets")
    ends = cumulative_sum(target_lengths)
    _check_range(ends, "sum(target_lengths)", 0, targets.shape[0],
                 "the length of the concatenated targets")
    if target_lengths.size:
        # the program xg.function traces has this width: a replay with longer targets runs
        # eagerly (a guard), one with shorter targets reads the padding as padding
        be.value_range(target_lengths._data, accepted=(0.0, float(s)))
    offsets = ends - target_lengths
    col = reshape(arange(s, backend=be), (1, s))
    kept = col < reshape(target_lengths, (n, 1))
    idx = where(kept, reshape(offsets, (n, 1)) + col, 0)
    if targets.shape[0] == 0:
        return astype(idx, int64)                    # all padding: nothing to read
    return reshape(take(targets, reshape(idx, (-1,)), axis=0), (n, s))


def _check_labels(targets, target_lengths, blank, n_classes, be):
    """Every label within its target length in [0, C) and not the blank."""
    from ..creation import arange

    if not targets.size:
        return
    n, s = targets.shape
    kept = reshape(arange(s, backend=be), (1, s)) < reshape(target_lengths, (n, 1))
    marked = where(kept, where(targets == blank, -1, targets), 0)
    lo, hi = be.check_index_range(marked._data)
    if hi >= n_classes:
        raise ValueError(f"ctc: targets hold label {hi}, out of range for {n_classes} classes "
                         f"(labels must be in [0, {n_classes - 1}] and not the blank {blank})")
    if lo < 0:
        lo_label = be.check_index_range(where(kept, targets, 0)._data)[0]
        if lo_label < 0:
            raise ValueError(f"ctc: targets hold label {lo_label}, out of range (labels must "
                             f"be in [0, {n_classes - 1}] and not the blank {blank})")
        raise ValueError(f"ctc: targets hold the blank label {blank} within a target length; "
                         f"targets are labels other than the blank (blank={blank})")


def ctc(log_probs, targets, input_lengths, target_lengths, *, blank=0, reduction="mean",
        zero_infinity=False):
    """Connectionist temporal classification loss, as PyTorch's ``F.ctc_loss``.

    ``log_probs``: ``(T, N, C)`` log-probabilities, time first (``(T, C)``: one sample), e.g.
    ``xg.nn.log_softmax(logits, axis=-1)``; for batch-first ``(N, T, C)`` outputs pass
    ``xg.moveaxis(x, 1, 0)``. ``targets``: integer labels, padded ``(N, S)`` (entries past a
    sample's target length are ignored) or all samples' targets concatenated (1-D).
    ``input_lengths`` and ``target_lengths``: one int per sample (sequences or integer
    tensors), ``0 <= input_lengths <= T``, ``0 <= target_lengths <= S``. Labels must lie in
    ``[0, C)`` and differ from ``blank``.

    The loss of a sample is ``-log p(target | log_probs)`` summed over its alignments;
    ``"mean"`` divides each by its target length (at least 1) and averages over the batch,
    ``"sum"`` adds them up, ``"none"`` returns them. A target that no alignment fits (too
    long for its input) costs ``inf`` and its gradient is NaN, as PyTorch's;
    ``zero_infinity=True`` makes both 0. An empty batch (N=0; PyTorch's ``ctc_loss`` refuses
    it) answers as PyTorch's other losses and xpgrad's: "mean" NaN, "sum" 0, "none" empty,
    so a data-parallel rank with an empty share can compute its loss (and pass weight=0).

    The gradient is the true partial derivative with respect to ``log_probs`` (PyTorch's
    ``ctc_loss`` returns it plus ``exp(log_probs)``, assuming a ``log_softmax`` before it);
    through a ``log_softmax`` the gradients of the logits are the same.

    >>> import xpgrad as xg
    >>> logits = xg.random.default_rng(0).normal(size=(6, 2, 4))        # T=6, N=2, C=4
    >>> loss = xg.losses.ctc(xg.nn.log_softmax(logits, axis=-1), xg.asarray([[1, 2], [3, 3]]),
    ...                      input_lengths=[6, 5], target_lengths=[2, 2])
    >>> loss.shape, bool(loss.item() > 0)
    ((), True)
    """
    _check_reduction(reduction, "ctc")
    if zero_infinity is not True and zero_infinity is not False:
        raise TypeError(f"ctc: zero_infinity must be True or False, got {zero_infinity!r}")
    blank = _int_param(blank, "blank")
    log_probs = _float_input(log_probs, "ctc: log_probs")
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"ctc: log_probs must have shape (T, N, C) or (T, C) (time first, "
                         f"classes last), got {log_probs.shape}")
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = reshape(log_probs, (log_probs.shape[0], 1, log_probs.shape[1]))
    n_steps, n, n_classes = log_probs.shape
    if n_steps == 0 or n_classes == 0:
        raise ValueError(f"ctc: log_probs need at least one time step and one class, got "
                         f"shape {log_probs.shape}")
    if not 0 <= blank < n_classes:
        raise ValueError(f"ctc: blank must be in [0, {n_classes - 1}] (a class of log_probs), "
                         f"got {blank}")
    be = log_probs.backend
    targets = _integers(targets, "targets", "ctc: targets must be integer labels", be)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"ctc: targets must be integer labels, got dtype {targets.dtype}")
    input_lengths = _lengths(input_lengths, "input_lengths", n, batched, be)
    target_lengths = _lengths(target_lengths, "target_lengths", n, batched, be)
    _check_range(input_lengths, "input_lengths", 0, n_steps, f"log_probs has T={n_steps}")
    targets = astype(targets, int64)
    if batched and targets.ndim == 2:
        if targets.shape[0] != n:
            raise ValueError(f"ctc: padded targets must have shape (N, S) with N={n} (the "
                             f"batch of log_probs), got {targets.shape}")
        _check_range(target_lengths, "target_lengths", 0, targets.shape[1],
                     f"the padded targets have S={targets.shape[1]}")
    elif batched and targets.ndim == 1:
        targets = _padded(targets, target_lengths, n, be)
    elif not batched and targets.ndim == 1:
        _check_range(target_lengths, "target_lengths", 0, targets.shape[0],
                     f"the targets have S={targets.shape[0]}")
        targets = reshape(targets, (1, targets.shape[0]))
    else:
        raise ValueError(f"ctc: targets must be padded (N, S) or concatenated (sum of "
                         f"target_lengths,) for log_probs (T, N, C), or (S,) for (T, C); got "
                         f"{targets.shape} for log_probs {tuple(log_probs.shape)}")
    _check_labels(targets, target_lengths, blank, n_classes, be)
    out = apply(ctc_primitive, log_probs, targets, input_lengths, target_lengths, blank=blank,
                reduction=reduction, zero_infinity=zero_infinity)
    if not batched and reduction == "none":
        out = reshape(out, ())
    return out


__all__ = ["ctc"]
