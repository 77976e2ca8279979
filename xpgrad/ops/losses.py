"""Losses (``xg.losses``): each a primitive with a generic forward and vjp written against ``xp``.

Every loss takes ``reduction="mean" | "sum" | "none"``. The generic rules (``loss_rules.py``)
are the reference; a backend may register a fused kernel under the same primitive name that
computes the loss and its gradient in one go (see ``backends/numpy/loss_kernels.py``).
Second-order gradients always run these generic rules. The argument checks the losses share are
``loss_checks.py``'s. ``xpgrad.losses`` re-exports the public functions.

>>> import xpgrad as xg
>>> logits = xg.asarray([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
>>> round(xg.losses.softmax_cross_entropy(logits, xg.asarray([0, 1])).item(), 4)
0.1324
"""
from __future__ import annotations

from ..creation import named_asarray
from ..optim._checks import hyperparameter
from ..primitive import apply
from ..tensor import Tensor
from .casting import astype
from .loss_checks import (REDUCTIONS, _check_labels, _check_reduction, _float_input,
                          _target_like, as_tensor_or_refuse, refuse_class_axis_keywords)  # noqa: F401 (re-exported)
from .loss_rules import _huber, _l1, _mse, _sigmoid_ce, _sigmoid_mse, _softmax_ce
from .shape import reshape


def _elementwise(prim, x, t, reduction, xname, tname, complex_ok=False):
    _check_reduction(reduction, prim.name)
    x = _float_input(x, f"{prim.name}: {xname}", complex_ok)
    t = _target_like(t, x, f"{prim.name}: {tname}", xname)
    return apply(prim, x, t, reduction=reduction)


def mse(pred, target, *, reduction="mean"):
    """Squared error ``(pred - target)**2``, averaged (default), summed or per entry.

    >>> import xpgrad as xg
    >>> xg.losses.mse(xg.asarray([1.0, 3.0]), xg.asarray([0.0, 0.0])).item()
    5.0
    """
    return _elementwise(_mse, pred, target, reduction, "pred", "target")


def sigmoid_mse(logits, target, *, reduction="mean"):
    """Squared error of ``sigmoid(logits)`` against ``target`` (one fused op).

    >>> import xpgrad as xg
    >>> xg.losses.sigmoid_mse(xg.asarray([0.0]), xg.asarray([1.0])).item()
    0.25
    """
    return _elementwise(_sigmoid_mse, logits, target, reduction, "logits", "target")


def sigmoid_cross_entropy_with_logits(logits, targets=None, *, reduction="mean",
                                      pos_weight=None, weight=None, **tensorflow):
    """Binary cross-entropy on logits, stable for any |logits|:
    ``max(x, 0) - x * t + log1p(exp(-|x|))``; targets are probabilities in [0, 1].
    ``pos_weight`` weighs the positive term (``-pw * t * log sigmoid(x)``) and ``weight`` each
    entry's loss, both broadcast to ``logits``, as PyTorch's
    ``binary_cross_entropy_with_logits`` (without them, one fused kernel).
    TensorFlow's ``tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x)`` is
    ``(x, t, reduction="none")``: the logits come first, and the losses are averaged unless
    told otherwise (its ``labels=`` keyword is a TypeError saying so).

    >>> import xpgrad as xg
    >>> loss = xg.losses.sigmoid_cross_entropy_with_logits(xg.asarray([0.0]), xg.asarray([1.0]))
    >>> round(loss.item(), 4)
    0.6931
    """
    if tensorflow:
        _refuse_tensorflow_keywords(tensorflow)
    if targets is None:     # a default only so that TensorFlow's labels= gets its hint
        raise TypeError("sigmoid_cross_entropy_with_logits() missing 1 required positional "
                        "argument: 'targets'")
    if pos_weight is None and weight is None:
        return _elementwise(_sigmoid_ce, logits, targets, reduction, "logits", "targets")
    from .cross_entropy_options import weighted_sigmoid_cross_entropy

    _check_reduction(reduction, "sigmoid_cross_entropy_with_logits")
    x = _float_input(logits, "sigmoid_cross_entropy_with_logits: logits")
    t = _target_like(targets, x, "sigmoid_cross_entropy_with_logits: targets", "logits")
    return weighted_sigmoid_cross_entropy(x, t, pos_weight, weight, reduction)


def _refuse_tensorflow_keywords(unexpected):
    """Python's TypeError for an unexpected keyword of ``sigmoid_cross_entropy_with_logits``,
    with the way to write TensorFlow's call (``labels=``) where that is the keyword."""
    key = next(iter(unexpected))
    message = f"sigmoid_cross_entropy_with_logits() got an unexpected keyword argument {key!r}"
    if key == "labels":
        message += ("; TensorFlow's tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x) "
                    "is xg.losses.sigmoid_cross_entropy_with_logits(x, t, reduction='none') "
                    "(logits first; xpgrad averages the losses unless reduction='none')")
    raise TypeError(message)


def softmax_cross_entropy(logits, labels, *, reduction="mean", weight=None, ignore_index=None,
                          label_smoothing=0.0, **unexpected):
    """Cross-entropy of ``softmax(logits)`` (class axis last) against ``labels``.

    ``labels`` are integer class indices of shape ``logits.shape[:-1]`` or probabilities of
    ``logits``' shape and dtype. ``reduction="mean"`` averages over rows (all leading axes),
    ``"none"`` returns one loss per row. Stable for logits of any magnitude. ``weight`` (one
    per class), ``ignore_index`` (rows with that label cost nothing; None: every label must
    be a class; with probabilities one >= 0 is a ValueError, PyTorch's rule) and
    ``label_smoothing`` are PyTorch's ``cross_entropy`` options; without them
    the loss and its gradient are one fused pass, and so they are with ``label_smoothing`` (and
    ``ignore_index``) on integer labels without ``weight``. As in PyTorch, ``weight`` gets no
    gradient with integer labels (it does with probabilities).

    >>> import xpgrad as xg
    >>> loss = xg.losses.softmax_cross_entropy(xg.asarray([[0.0, 0.0]]), xg.asarray([1]))
    >>> round(loss.item(), 4)     # log 2
    0.6931
    """
    if unexpected:
        refuse_class_axis_keywords("softmax_cross_entropy", "logits", unexpected)
    _check_reduction(reduction, "softmax_cross_entropy")
    logits = _float_input(logits, "softmax_cross_entropy: logits")
    shape = logits._data.shape
    if len(shape) < 1 or shape[-1] < 1:
        raise ValueError(f"softmax_cross_entropy: logits need a non-empty class axis (last), "
                         f"got shape {logits.shape}")
    if not isinstance(labels, Tensor):
        try:
            labels = named_asarray(labels, "it", backend=logits.backend)
        except (TypeError, ValueError) as e:
            raise TypeError(f"softmax_cross_entropy: labels must be integer class indices or "
                            f"floating-point "
                            f"probabilities, got {type(labels).__name__} {labels!r:.60}: "
                            f"{e}") from None
        if labels.dtype.is_floating and labels.dtype != logits.dtype \
                and labels.shape != logits.shape[:-1]:    # class indices keep theirs: refused
            labels = astype(labels, logits.dtype)
    n_classes = shape[-1]
    if weight is not None or ignore_index is not None or label_smoothing != 0:
        from .cross_entropy_options import check_options, cross_entropy

        smoothing = check_options(ignore_index, label_smoothing)
        if ignore_index is None or labels.dtype.kind not in "iu" \
                or labels.shape != logits.shape[:-1]:     # (a shape error names logits)
            labels = _check_labels(labels, logits, n_classes, "softmax_cross_entropy")
        return cross_entropy(logits, labels, weight=weight, ignore_index=ignore_index,
                             label_smoothing=smoothing, reduction=reduction)
    labels = _check_labels(labels, logits, n_classes, "softmax_cross_entropy")
    if len(shape) != 2:
        lead = logits.shape[:-1]
        logits = reshape(logits, (-1, n_classes))
        labels = reshape(labels, (-1,) if labels.dtype.kind in "iu" else (-1, n_classes))
    out = apply(_softmax_ce, logits, labels, reduction=reduction)
    if reduction == "none" and len(shape) != 2:
        out = reshape(out, lead)
    return out


def l1(pred, target, *, reduction="mean"):
    """Absolute error ``|pred - target|`` (mean absolute error by default); its gradient is
    ``sign(pred - target)`` (0 where they are equal, as PyTorch's ``l1_loss``). Complex
    ``pred`` and ``target`` are taken too (the loss is real; PyTorch's ``l1_loss`` does).

    >>> import xpgrad as xg
    >>> xg.losses.l1(xg.asarray([1.0, -3.0]), xg.asarray([0.0, 0.0])).item()
    2.0
    """
    return _elementwise(_l1, pred, target, reduction, "pred", "target", complex_ok=True)


def huber(pred, target, *, delta=1.0, reduction="mean"):
    """Huber loss, as PyTorch's ``huber_loss``: ``0.5 d**2`` where ``|d| < delta``, else
    ``delta * (|d| - delta / 2)``, for ``d = pred - target``; ``delta`` must be > 0. The numpy
    and numba backends compute it and its gradient in one fused pass.

    >>> import xpgrad as xg
    >>> xg.losses.huber(xg.asarray([0.5, 3.0]), xg.asarray([0.0, 0.0]), reduction="none").tolist()
    [0.125, 2.5]
    """
    delta = hyperparameter("huber: delta", delta, low=0.0, low_open=True)
    _check_reduction(reduction, "huber")
    pred = _float_input(pred, "huber: pred")
    target = _target_like(target, pred, "huber: target", "pred")
    return apply(_huber, pred, target, reduction=reduction, delta=delta, scale=1.0)


def smooth_l1(pred, target, *, beta=1.0, reduction="mean"):
    """Smooth L1 loss, as PyTorch's ``smooth_l1_loss``: ``0.5 d**2 / beta`` where
    ``|d| < beta``, else ``|d| - beta / 2`` (``huber`` with ``delta=beta``, divided by
    ``beta``); ``beta=0`` is ``l1``; ``beta`` must be >= 0.

    >>> import xpgrad as xg
    >>> xg.losses.smooth_l1(xg.asarray([0.5, 3.0]), xg.asarray([0.0, 0.0]),
    ...                     reduction="none").tolist()
    [0.125, 2.5]
    """
    beta = hyperparameter("smooth_l1: beta", beta, low=0.0)
    if beta == 0.0:
        return l1(pred, target, reduction=reduction)
    _check_reduction(reduction, "smooth_l1")
    pred = _float_input(pred, "smooth_l1: pred")
    target = _target_like(target, pred, "smooth_l1: target", "pred")
    return apply(_huber, pred, target, reduction=reduction, delta=beta, scale=1.0 / beta)


__all__ = ["mse", "sigmoid_mse", "softmax_cross_entropy", "sigmoid_cross_entropy_with_logits",
           "l1", "huber", "smooth_l1"]
