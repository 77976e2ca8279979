"""The argument checks the losses share: the reduction (``REDUCTIONS``), a floating-point input
(``_float_input``), a target like the input (``_target_like``), integer class labels or
probabilities (``_check_labels``), and ``as_tensor_or_refuse``, whose TypeError says what was
expected.

>>> import xpgrad as xg
>>> _float_input([1, 2], "pred")
Traceback (most recent call last):
TypeError: pred must be a floating-point tensor, got dtype int64
"""
from __future__ import annotations

from ..creation import asarray
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


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
