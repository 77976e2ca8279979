"""Losses (``xg.losses``): each a primitive with a generic forward and vjp written against ``xp``.

Every loss takes ``reduction="mean" | "sum" | "none"``. The generic rules here are the reference;
a backend may register a fused kernel under the same primitive name that computes the loss and
its gradient in one go (see ``backends/numpy/kernels.py``). Second-order gradients always run
these generic rules. ``xpgrad.losses`` re-exports the public functions.

>>> import xpgrad as xg
>>> logits = xg.asarray([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
>>> round(xg.losses.softmax_cross_entropy(logits, xg.asarray([0, 1])).item(), 4)
0.1324
"""
from __future__ import annotations

from math import prod

from ..creation import asarray
from ..optim._checks import hyperparameter
from ..primitive import Primitive, apply
from ..tensor import Tensor
from . import formulas
from ._define import is_floating
from .casting import astype
from .shape import reshape

REDUCTIONS = ("mean", "sum", "none")


# -- shared pieces of the generic rules --------------------------------------------------------
def _reduce(xp, per, reduction):
    if reduction == "mean":
        # no entries: NaN, as PyTorch's mean, without NumPy's "Mean of empty slice" warning
        return xp.mean(per) if _size(per) else xp.sum(per) * float("nan")
    if reduction == "sum":
        return xp.sum(per)
    return per


def _scale(g, reduction, n):
    """The output gradient spread over ``n`` entries: mean divides by ``n``.

    An empty batch has an empty gradient, so any finite factor serves there.
    """
    return g * (1.0 / max(n, 1)) if reduction == "mean" else g


def _is_int(xp, a):
    return not is_floating(xp, a.dtype)


def _onehot(xp, labels, logits):
    """One-hot rows of ``labels`` with ``logits``' dtype, on ``logits``' backend."""
    cols = xp.cumulative_sum(xp.ones_like(logits), axis=1) - 1.0   # 0..C-1 per row, any device
    return xp.astype(xp.astype(labels, logits.dtype)[:, None] == cols, logits.dtype)


def _targets(xp, labels, logits):
    return _onehot(xp, labels, logits) if _is_int(xp, labels) else labels


# -- softmax cross-entropy ---------------------------------------------------------------------
def _sce_forward(xp, logits, labels, reduction):
    log_probs = formulas.log_softmax(xp, logits, 1)
    t = _targets(xp, labels, logits)
    # 0 * log(0) counts as 0, so a masked class (logit -inf) with no target weight costs nothing
    per = -xp.sum(t * xp.where(t == 0, 0.0, log_probs), axis=1)
    return _reduce(xp, per, reduction)


def _sce_dlogits(xp, g, ans, logits, labels, reduction):
    t = _targets(xp, labels, logits)
    probs = formulas.softmax(xp, logits, 1)
    # d/dx of -sum(t * log_softmax(x)) is softmax(x) * sum(t) - t (sum(t) = 1 for a distribution)
    d = probs * xp.sum(t, axis=1, keepdims=True) - t
    if reduction == "none":
        return g[:, None] * d
    return _scale(g, reduction, logits.shape[0]) * d


def _sce_dlabels(xp, g, ans, logits, labels, reduction):
    if _is_int(xp, labels):
        return None
    log_probs = formulas.log_softmax(xp, logits, 1)
    if reduction == "none":
        return -g[:, None] * log_probs
    return -_scale(g, reduction, logits.shape[0]) * log_probs


_softmax_ce = Primitive("softmax_cross_entropy", _sce_forward, _sce_dlogits, _sce_dlabels)


# -- sigmoid cross-entropy with logits ---------------------------------------------------------
def _bce_forward(xp, x, t, reduction):
    return _reduce(xp, formulas.sigmoid_ce(xp, x, t), reduction)


_sigmoid_ce = Primitive(
    "sigmoid_cross_entropy_with_logits", _bce_forward,
    lambda xp, g, ans, x, t, reduction: _scale(g, reduction, _size(x)) * (formulas.sigmoid(xp, x) - t),
    lambda xp, g, ans, x, t, reduction: -_scale(g, reduction, _size(x)) * x)


# -- squared errors ----------------------------------------------------------------------------
def _size(x):
    return prod(x.shape)


def _mse_forward(xp, p, t, reduction):
    d = p - t
    return _reduce(xp, d * d, reduction)


def _mse_dpred(xp, g, ans, p, t, reduction):
    return (2.0 * _scale(g, reduction, _size(p))) * (p - t)


_mse = Primitive("mse", _mse_forward, _mse_dpred,
                 lambda xp, g, ans, p, t, reduction: -_mse_dpred(xp, g, ans, p, t, reduction))


def _smse_forward(xp, x, t, reduction):
    d = formulas.sigmoid(xp, x) - t
    return _reduce(xp, d * d, reduction)


def _smse_dlogits(xp, g, ans, x, t, reduction):
    s = formulas.sigmoid(xp, x)
    return (2.0 * _scale(g, reduction, _size(x))) * (s - t) * s * (1.0 - s)


def _smse_dtarget(xp, g, ans, x, t, reduction):
    return (-2.0 * _scale(g, reduction, _size(x))) * (formulas.sigmoid(xp, x) - t)


_sigmoid_mse = Primitive("sigmoid_mse", _smse_forward, _smse_dlogits, _smse_dtarget)


# -- absolute and Huber errors -------------------------------------------------------------------
def _l1_forward(xp, p, t, reduction):
    return _reduce(xp, xp.abs(p - t), reduction)


def _l1_dpred(xp, g, ans, p, t, reduction):
    return _scale(g, reduction, _size(p)) * xp.sign(p - t)


_l1 = Primitive("l1", _l1_forward, _l1_dpred,
                lambda xp, g, ans, p, t, reduction: -_l1_dpred(xp, g, ans, p, t, reduction))


# scale * (0.5 d**2 where |d| < delta, else delta (|d| - delta / 2)), d = pred - target; with
# scale = 1 / delta it is smooth_l1 with beta = delta. The square reads d clipped to [-delta,
# delta], so the unused branch cannot overflow.
def _huber_forward(xp, p, t, reduction, delta, scale):
    d = p - t
    dc = xp.clip(d, -delta, delta)
    ad = xp.abs(d)
    per = xp.where(ad < delta, (0.5 * scale) * dc * dc, (scale * delta) * (ad - 0.5 * delta))
    return _reduce(xp, per, reduction)


def _huber_dpred(xp, g, ans, p, t, reduction, delta, scale):
    return (scale * _scale(g, reduction, _size(p))) * xp.clip(p - t, -delta, delta)


_huber = Primitive(
    "huber", _huber_forward, _huber_dpred,
    lambda xp, g, ans, p, t, reduction, delta, scale:
        -_huber_dpred(xp, g, ans, p, t, reduction, delta, scale))


# -- validation and the public functions -------------------------------------------------------
def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _float_input(x, what, complex_ok=False):
    if not isinstance(x, Tensor):
        try:
            x = asarray(x)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{what} must be a floating-point tensor (or array-like of "
                            f"numbers), got {type(x).__name__} {x!r:.60}: {e}") from None
    if not (x.dtype.is_floating or (complex_ok and x.dtype.is_complex)):
        why = " (this loss is defined for real numbers)" if x.dtype.is_complex else ""
        raise TypeError(f"{what} must be a floating-point tensor, got dtype {x.dtype}{why}")
    return x


def as_tensor_or_refuse(value, expected, **asarray_options):
    """``value`` if a Tensor, else ``asarray(value, **asarray_options)``; what asarray cannot
    take is a TypeError saying ``"<expected>, got <type> <value>: <why>"``."""
    if isinstance(value, Tensor):
        return value
    try:
        return asarray(value, **asarray_options)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{expected}, got {type(value).__name__} {value!r:.60}: {e}") from None


def _target_like(t, x, what, xname):
    """``t`` as a tensor matching ``x`` (same shape; floating, same dtype)."""
    t = as_tensor_or_refuse(t, f"{what} must be a floating-point tensor like {xname}",
                            dtype=x.dtype, backend=x.backend)
    if not (t.dtype.is_floating or t.dtype.is_complex):   # complex only like a complex x
        raise TypeError(f"{what} must be floating-point like {xname} ({x.dtype}), got "
                        f"dtype {t.dtype}")
    if t.dtype != x.dtype:
        raise TypeError(f"{what} has dtype {t.dtype} but {xname} has dtype {x.dtype}; cast "
                        f"one with xg.astype so they match")
    if t.shape != x.shape:
        raise ValueError(f"{what} has shape {t.shape} but {xname} has shape {x.shape}; "
                         "they must match")
    return t


def _elementwise(prim, x, t, reduction, xname, tname, complex_ok=False):
    _check_reduction(reduction)
    x = _float_input(x, xname, complex_ok)
    t = _target_like(t, x, tname, xname)
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


def sigmoid_cross_entropy_with_logits(logits, targets, *, reduction="mean", pos_weight=None,
                                      weight=None):
    """Binary cross-entropy on logits, stable for any |logits|:
    ``max(x, 0) - x * t + log1p(exp(-|x|))``; targets are probabilities in [0, 1].
    ``pos_weight`` weighs the positive term (``-pw * t * log sigmoid(x)``) and ``weight`` each
    entry's loss, both broadcast to ``logits``, as PyTorch's
    ``binary_cross_entropy_with_logits`` (without them, one fused kernel).

    >>> import xpgrad as xg
    >>> loss = xg.losses.sigmoid_cross_entropy_with_logits(xg.asarray([0.0]), xg.asarray([1.0]))
    >>> round(loss.item(), 4)
    0.6931
    """
    if pos_weight is None and weight is None:
        return _elementwise(_sigmoid_ce, logits, targets, reduction, "logits", "targets")
    from .cross_entropy_options import weighted_sigmoid_cross_entropy

    _check_reduction(reduction)
    x = _float_input(logits, "logits")
    t = _target_like(targets, x, "targets", "logits")
    return weighted_sigmoid_cross_entropy(x, t, pos_weight, weight, reduction)


def _class_axis_hint(labels_shape, shape, name):
    """A hint when integer labels fit ``shape`` with PyTorch's class axis (1) taken out."""
    if len(shape) >= 3 and tuple(labels_shape) == (shape[0], *shape[2:]):
        return (f"; the class axis is the last one here (PyTorch's is axis 1): move it with "
                f"xg.moveaxis({name}, 1, -1)")
    return ""


def _check_labels(labels, logits, n_classes):
    lead = tuple(logits._data.shape[:-1])     # raw arrays, not properties: this runs every step
    if labels.dtype.kind in "iu":          # signed or unsigned (MNIST's labels are uint8)
        raw = labels._data
        if tuple(raw.shape) != lead:
            raise ValueError(
                f"integer labels must have shape {lead} (logits' shape without the class "
                f"axis), got {labels.shape}"
                + _class_axis_hint(labels.shape, logits.shape, "logits"))
        if raw.size:
            lo, hi = labels._backend.check_index_range(raw)
            if lo < 0 or hi >= n_classes:
                bad = lo if lo < 0 else hi
                skip = (f"; to skip rows labelled {bad}, pass ignore_index={bad} (PyTorch's "
                        f"default is -100)") if bad < 0 else ""
                raise IndexError(f"label {bad} is out of range for {n_classes} classes "
                                 f"(labels must be in [0, {n_classes - 1}]){skip}")
        return labels
    if labels.dtype.is_floating:
        if labels.shape == lead and logits.ndim > 0 and lead != logits.shape:
            raise TypeError(
                f"labels of shape {labels.shape} look like class indices but have dtype "
                f"{labels.dtype}; pass integer labels (e.g. xg.astype(labels, xg.int64)) or "
                f"probabilities of shape {logits.shape}")
        return _target_like(labels, logits, "probability targets", "logits")
    raise TypeError(f"labels must be integer class indices or floating-point probabilities, "
                    f"got dtype {labels.dtype}")


def softmax_cross_entropy(logits, labels, *, reduction="mean", weight=None, ignore_index=None,
                          label_smoothing=0.0):
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
    _check_reduction(reduction)
    logits = _float_input(logits, "logits")
    shape = logits._data.shape
    if len(shape) < 1 or shape[-1] < 1:
        raise ValueError(f"logits need a non-empty class axis (last), got shape {logits.shape}")
    if not isinstance(labels, Tensor):
        try:
            labels = asarray(labels, backend=logits.backend)
        except (TypeError, ValueError) as e:
            raise TypeError(f"labels must be integer class indices or floating-point "
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
            labels = _check_labels(labels, logits, n_classes)
        return cross_entropy(logits, labels, weight=weight, ignore_index=ignore_index,
                             label_smoothing=smoothing, reduction=reduction)
    labels = _check_labels(labels, logits, n_classes)
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
    _check_reduction(reduction)
    pred = _float_input(pred, "pred")
    target = _target_like(target, pred, "target", "pred")
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
    _check_reduction(reduction)
    pred = _float_input(pred, "pred")
    target = _target_like(target, pred, "target", "pred")
    return apply(_huber, pred, target, reduction=reduction, delta=beta, scale=1.0 / beta)


__all__ = ["mse", "sigmoid_mse", "softmax_cross_entropy", "sigmoid_cross_entropy_with_logits",
           "l1", "huber", "smooth_l1"]
