"""The argument checks the losses share: the reduction (``REDUCTIONS``), a floating-point input
(``_float_input``), a target like the input (``_target_like``), integer class labels or
probabilities (``_check_labels``), ``as_tensor_or_refuse``, whose TypeError says what was
expected, ``float_like`` (a floating tensor of another's dtype), and the errors of a dtype or
shape that differs from another tensor's (``dtype_mismatch``, ``shape_mismatch``).

>>> import xpgrad as xg
>>> _float_input([1, 2], "pred")
Traceback (most recent call last):
TypeError: pred must be a floating-point tensor, got dtype int64
"""
from __future__ import annotations

from .._args import refuse_keywords
from ..conversion import named_asarray
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


#: Keras' weights, and where a classification loss has them
_KERAS_WEIGHTS = {
    "sample_weight": "weigh each row with reduction='none': xg.sum(loss * sample_weight) / "
                     "xg.sum(sample_weight) (Keras' sum_over_batch_size divides by the rows "
                     "instead: xg.mean(loss * sample_weight))",
    "class_weight": "weight= takes one weight per class, as an array (PyTorch's): the mean "
                    "weighted by each row's class weight (Keras' fit(class_weight=) divides by "
                    "the rows instead)",
}


def refuse_class_axis_keywords(owner, first, unexpected):
    """Python's TypeError for ``owner(..., key=value)`` with a keyword it does not take, saying,
    for PyTorch's ``dim=`` (or ``axis=``), that the class axis is the last of ``first``, and for
    Keras' ``sample_weight=`` and ``class_weight=`` how to weigh rows and classes."""
    key = next((k for k in ("dim", "axis") if k in unexpected), None)
    weights = next((k for k in _KERAS_WEIGHTS if k in unexpected), None)
    if weights is not None:
        raise TypeError(f"{owner}() got an unexpected keyword argument {weights!r}; "
                        f"{_KERAS_WEIGHTS[weights]}")
    if key is None:
        refuse_keywords(owner, unexpected)
    raise TypeError(f"{owner}() got an unexpected keyword argument {key!r}; the class axis is "
                    f"the last one of {first} here (PyTorch's is axis 1): move it with "
                    f"xg.moveaxis({first}, 1, -1)")


def _check_reduction(reduction, who):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{who}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _float_input(x, what, complex_ok=False):
    if x.__class__ is Tensor and getattr(x._data.dtype, "kind", None) == "f":
        return x                # a plain float Tensor: the usual case (no dtype object made)
    if not isinstance(x, Tensor):
        try:
            x = named_asarray(x, what)          # what is no array: "mse: pred is None, ..."
        except ValueError as e:
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
        return named_asarray(value, "it", **asarray_options)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{expected}, got {type(value).__name__} {value!r:.60}: {e}") from None


def float_like(value, x, what, xname, expected=None):
    """``value`` as a floating-point tensor of ``x``'s dtype (a number, list or array is read in
    that dtype, on ``x``'s backend); ``expected`` ends the TypeError for what is no array
    (default: ``like <xname>``).

    >>> import xpgrad as xg
    >>> float_like(xg.asarray([1.0], dtype=xg.float64), xg.ones(1), "f: w", "x")
    Traceback (most recent call last):
    TypeError: f: w has dtype float64 but x has dtype float32; cast one with xg.astype so they match
    """
    value = as_tensor_or_refuse(value, f"{what} must be a floating-point tensor "
                                       f"{expected or 'like ' + xname}",
                                dtype=x.dtype, backend=x.backend)
    value = _float_input(value, what)
    if value.dtype != x.dtype:
        raise dtype_mismatch(value, x, what, xname)
    return value


def dtype_mismatch(t, x, what, xname) -> TypeError:
    """The TypeError for ``t`` (named ``what``), whose dtype is not ``x``'s (named ``xname``).

    >>> import xpgrad as xg
    >>> str(dtype_mismatch(xg.ones(1, dtype=xg.float64), xg.ones(1), "target", "input"))
    'target has dtype float64 but input has dtype float32; cast one with xg.astype so they match'
    """
    return TypeError(f"{what} has dtype {t.dtype} but {xname} has dtype {x.dtype}; cast one "
                     f"with xg.astype so they match")


def shape_mismatch(t, x, what, xname) -> ValueError:
    """The ValueError for ``t`` (named ``what``), whose shape is not ``x``'s (named ``xname``).

    >>> import xpgrad as xg
    >>> shape_mismatch(xg.ones(2), xg.ones(3), "target", "input")
    ValueError('target has shape (2,) but input has shape (3,); they must match')
    """
    return ValueError(f"{what} has shape {t.shape} but {xname} has shape {x.shape}; they must "
                      f"match")


def _target_like(t, x, what, xname):
    """``t`` as a tensor matching ``x`` (same shape; floating, same dtype)."""
    if t.__class__ is Tensor and t._data.dtype == x._data.dtype \
            and t._data.shape == x._data.shape:
        return t            # the usual call: x's dtype (checked floating) and shape (1 -> 0.2 us)
    t = as_tensor_or_refuse(t, f"{what} must be a floating-point tensor like {xname}",
                            dtype=x.dtype, backend=x.backend)
    if not (t.dtype.is_floating or t.dtype.is_complex):   # complex only like a complex x
        raise TypeError(f"{what} must be floating-point like {xname} ({x.dtype}), got "
                        f"dtype {t.dtype}")
    if t.dtype != x.dtype:
        raise dtype_mismatch(t, x, what, xname)
    if t.shape != x.shape:
        raise shape_mismatch(t, x, what, xname)
    return t


def _class_axis_hint(labels_shape, shape, name):
    """A hint when integer labels fit ``shape`` with PyTorch's class axis (1) taken out."""
    if len(shape) >= 3 and tuple(labels_shape) == (shape[0], *shape[2:]):
        return (f"; the class axis is the last one here (PyTorch's is axis 1): move it with "
                f"xg.moveaxis({name}, 1, -1)")
    return ""


_INTEGER_KINDS = frozenset("iu")


def _check_labels(labels, logits, n_classes, who):
    """``labels`` checked against ``logits``: integer class indices of its leading shape, in
    range, or probabilities of its shape; errors start with ``who``, the loss."""
    lead = tuple(logits._data.shape[:-1])     # raw arrays, not properties: this runs every step
    raw = labels._data
    if getattr(raw.dtype, "kind", None) in _INTEGER_KINDS or labels.dtype.kind in "iu":
        # signed or unsigned (MNIST's labels are uint8)
        if tuple(raw.shape) != lead:
            raise ValueError(
                f"{who}: integer labels must have shape {lead} (logits' shape without the class "
                f"axis), got {labels.shape}"
                + _class_axis_hint(labels.shape, logits.shape, "logits"))
        if raw.size:
            lo, hi = labels._backend.check_index_range(raw)
            if lo < 0 or hi >= n_classes:
                bad = lo if lo < 0 else hi
                skip = (f"; to skip rows labelled {bad}, pass ignore_index={bad} (PyTorch's "
                        f"default is -100)") if bad < 0 else ""
                raise IndexError(f"{who}: label {bad} is out of range for {n_classes} "
                                 f"classes (labels must be in [0, {n_classes - 1}]){skip}")
        return labels
    if labels.dtype.is_floating:
        if labels.shape == lead and logits.ndim > 0 and lead != logits.shape:
            raise TypeError(
                f"{who}: labels of shape {labels.shape} look like class indices but have dtype "
                f"{labels.dtype}; pass integer labels (e.g. xg.astype(labels, xg.int64)) or "
                f"probabilities of shape {logits.shape}")
        return _target_like(labels, logits, "probability targets", "logits")
    raise TypeError(f"{who}: labels must be integer class indices or floating-point "
                    f"probabilities, got dtype {labels.dtype}")
