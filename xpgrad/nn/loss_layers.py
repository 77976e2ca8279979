"""``torch.nn``'s loss classes: a Module holding the options, whose call is the function of
``xg.losses`` (the margin and embedding ones are in ``margin_loss_layers.py``). Constructors
take PyTorch's arguments and defaults, without its deprecated ``size_average`` and
``reduce`` (``reduction=`` says it), and check them when the loss is built; ``name=`` is
keyword-only. ``CrossEntropyLoss`` and ``NLLLoss`` read PyTorch's layout, classes on axis 1
of an input with more than two axes; the functions take them last.

>>> import xpgrad as xg
>>> criterion = xg.nn.MSELoss(reduction="sum")
>>> criterion(xg.asarray([1.0, 3.0]), xg.asarray([0.0, 0.0])).item()
10.0
"""
from __future__ import annotations

import numbers

from .. import dtypes as _dt
from .._args import flag
from ..creation import asarray
from ..optim._checks import hyperparameter
from ..ops.cross_entropy_options import check_options
from ..ops.ctc_args import ctc
from ..ops.likelihood_losses import gaussian_nll, poisson_nll
from ..ops.losses import (REDUCTIONS, huber, l1, mse, sigmoid_cross_entropy_with_logits,
                          smooth_l1, softmax_cross_entropy)
from ..ops.probability_losses import (KL_REDUCTIONS, _labels_all_kept, binary_cross_entropy,
                                      kl_div, nll)
from ..ops.shape import moveaxis
from ..ops import astype
from ..tensor import Tensor, Variable
from .module import Module


class Loss(Module):
    """Base of the loss classes: checks and keeps ``reduction`` (one of ``reductions``)."""

    def __init__(self, reduction="mean", name=None, reductions=REDUCTIONS):
        super().__init__(name)
        if not isinstance(reduction, str) or reduction not in reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {reductions}, "
                             f"got {reduction!r}")
        self.reduction = reduction

    def _number(self, name, value, **bounds) -> float:
        return hyperparameter(name, value, owner=type(self).__name__, **bounds)

    def _flag(self, name, value) -> bool:
        return flag(value, name, type(self).__name__)

    def _weight(self, name, value, per_class=False):
        """``value`` (None, or real numbers: a tensor, array or list) as a buffer, PyTorch's
        ``register_buffer(name, value)``: a non-trainable Variable (the given one, if a
        Variable) in ``state_dict``, or None, which is not registered. A list or array is kept
        in float64 (or its own floating dtype) and read in the input's dtype and backend when
        called (``_read``); a tensor is read as it is. Checked here: its type, and one axis
        for ``per_class`` weights."""
        if value is None:
            return None
        tensor = self._checked_weight(name, value, per_class)
        if isinstance(value, Variable):
            return value
        if not isinstance(value, Tensor):
            self._read_like_input = (*getattr(self, "_read_like_input", ()), name)
            if tensor.dtype.kind != "f":
                tensor = astype(tensor, _dt.float64)
            elif tensor.dtype.itemsize < 8 and not hasattr(value, "dtype"):
                tensor = asarray(value, dtype=_dt.float64)        # a list: every digit kept
        return Variable(tensor, name=f"{self.name}/{name}", trainable=False)

    def _read(self, name, input):
        """The buffer ``name`` as the loss function takes it: one given as a list or array in
        ``input``'s dtype and on its backend (as the function reads a list), else itself."""
        weight = getattr(self, name)
        if weight is None or name not in getattr(self, "_read_like_input", ()):
            return weight
        if not isinstance(input, Tensor):
            return weight.numpy()                 # the function reads it as it reads input
        if weight.backend is not input.backend:
            weight = weight.to(input.backend)
        return weight if weight.dtype == input.dtype else astype(weight, input.dtype)

    def _checked_weight(self, name, value, per_class):
        owner = type(self).__name__
        expected = "one per class" if per_class else "broadcast to the input"
        try:
            tensor = value if isinstance(value, Tensor) else asarray(value)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{owner}: {name} must be a tensor of real numbers ({expected}), "
                            f"got {type(value).__name__} {value!r:.60}: {e}") from None
        if tensor.dtype.kind not in "iuf":
            raise TypeError(f"{owner}: {name} must be real numbers ({expected}), got dtype "
                            f"{tensor.dtype}")
        if per_class and tensor.ndim != 1:
            raise ValueError(f"{owner}: {name} must be one-dimensional (one per class), got "
                             f"shape {tensor.shape}")
        return tensor


class L1Loss(Loss):
    """``xg.losses.l1``: ``|input - target|``.

    >>> import xpgrad as xg
    >>> xg.nn.L1Loss()(xg.asarray([1.0, -3.0]), xg.asarray([0.0, 0.0])).item()
    2.0
    """

    def __init__(self, *, reduction="mean", name=None):
        super().__init__(reduction, name)

    def forward(self, input, target):
        return l1(input, target, reduction=self.reduction)


class MSELoss(Loss):
    """``xg.losses.mse``: ``(input - target)**2``.

    >>> import xpgrad as xg
    >>> xg.nn.MSELoss()(xg.asarray([1.0, 3.0]), xg.asarray([0.0, 0.0])).item()
    5.0
    """

    def __init__(self, *, reduction="mean", name=None):
        super().__init__(reduction, name)

    def forward(self, input, target):
        return mse(input, target, reduction=self.reduction)


class HuberLoss(Loss):
    """``xg.losses.huber``: quadratic below ``delta`` (> 0), linear above.

    >>> import xpgrad as xg
    >>> xg.nn.HuberLoss(delta=1.0)(xg.asarray([3.0]), xg.asarray([0.0])).item()
    2.5
    """

    def __init__(self, reduction="mean", delta=1.0, *, name=None):
        super().__init__(reduction, name)
        self.delta = self._number("delta", delta, low=0.0, low_open=True)

    def forward(self, input, target):
        return huber(input, target, delta=self.delta, reduction=self.reduction)


class SmoothL1Loss(Loss):
    """``xg.losses.smooth_l1``: ``huber`` with ``delta=beta`` divided by ``beta`` (>= 0; 0
    is ``l1``).

    >>> import xpgrad as xg
    >>> xg.nn.SmoothL1Loss(beta=2.0)(xg.asarray([1.0]), xg.asarray([0.0])).item()
    0.25
    """

    def __init__(self, *, reduction="mean", beta=1.0, name=None):
        super().__init__(reduction, name)
        self.beta = self._number("beta", beta, low=0.0)

    def forward(self, input, target):
        return smooth_l1(input, target, beta=self.beta, reduction=self.reduction)


def _classes_last(x):
    """PyTorch's (N, C, d1, ...) as the functions' (N, d1, ..., C); fewer axes unchanged."""
    return moveaxis(x, 1, -1) if isinstance(x, Tensor) and x.ndim > 2 else x


class CrossEntropyLoss(Loss):
    """``xg.losses.softmax_cross_entropy`` in PyTorch's layout: logits (N, C), (C,) or
    (N, C, d1, ...) (classes on axis 1), integer labels (N,), () or (N, d1, ...), or
    probabilities of the logits' shape. Labels equal to ``ignore_index`` (PyTorch's -100 by
    default) cost nothing; with probabilities an ``ignore_index >= 0`` is a ValueError, as
    PyTorch's RuntimeError (a negative one, the default, names no class and is let pass).
    Without ``weight`` and with no label ignored, loss and gradient are the function's one
    fused pass.

    >>> import xpgrad as xg
    >>> loss = xg.nn.CrossEntropyLoss()(xg.asarray([[0.0, 0.0], [9.0, 0.0]]),
    ...                                 xg.asarray([1, -100]))
    >>> round(loss.item(), 4)       # log 2: the second row is ignored
    0.6931
    """

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean",
                 label_smoothing=0.0, name=None):
        super().__init__(reduction, name)
        try:
            self.label_smoothing = check_options(ignore_index, label_smoothing)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{type(self).__name__}: {e}") from None
        self.ignore_index = ignore_index
        self.weight = self._weight("weight", weight, per_class=True)

    def forward(self, input, target):
        logits = _classes_last(input)
        if not isinstance(target, Tensor):
            target = asarray(target, backend=getattr(logits, "backend", None))
        ignore_index = self.ignore_index
        if target.dtype.kind not in "iu":       # probabilities: the function refuses >= 0
            target = _classes_last(target)
            if ignore_index is not None and ignore_index < 0:
                ignore_index = None             # names no class: the fused path
        elif ignore_index is not None and isinstance(logits, Tensor) and logits.ndim >= 1 \
                and target.shape == logits.shape[:-1] \
                and _labels_all_kept(target, logits.shape[-1], ignore_index,
                                     "CrossEntropyLoss"):
            ignore_index = None                 # no label is ignored: the fused path
        return softmax_cross_entropy(logits, target, reduction=self.reduction,
                                     weight=self._read("weight", logits),
                                     ignore_index=ignore_index,
                                     label_smoothing=self.label_smoothing)


class NLLLoss(Loss):
    """``xg.losses.nll`` in PyTorch's layout: log-probabilities (N, C), (C,) or
    (N, C, d1, ...) (classes on axis 1), integer labels (N,), () or (N, d1, ...).

    >>> import xpgrad as xg
    >>> log_probs = xg.nn.log_softmax(xg.asarray([[0.0, 0.0]]))
    >>> round(xg.nn.NLLLoss()(log_probs, xg.asarray([0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", name=None):
        super().__init__(reduction, name)
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
            raise TypeError(f"{type(self).__name__}: ignore_index must be an int, got "
                            f"{ignore_index!r}")
        self.ignore_index = int(ignore_index)
        self.weight = self._weight("weight", weight, per_class=True)

    def forward(self, input, target):
        log_probs = _classes_last(input)
        return nll(log_probs, target, weight=self._read("weight", log_probs),
                   ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(Loss):
    """``xg.losses.binary_cross_entropy`` of probabilities, ``weight`` broadcast to them.

    >>> import xpgrad as xg
    >>> round(xg.nn.BCELoss()(xg.asarray([0.5]), xg.asarray([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, *, reduction="mean", name=None):
        super().__init__(reduction, name)
        self.weight = self._weight("weight", weight)

    def forward(self, input, target):
        return binary_cross_entropy(input, target, weight=self._read("weight", input),
                                    reduction=self.reduction)


class BCEWithLogitsLoss(Loss):
    """``xg.losses.sigmoid_cross_entropy_with_logits``, ``weight`` and ``pos_weight``
    broadcast to the logits.

    >>> import xpgrad as xg
    >>> round(xg.nn.BCEWithLogitsLoss()(xg.asarray([0.0]), xg.asarray([1.0])).item(), 4)
    0.6931
    """

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None, name=None):
        super().__init__(reduction, name)
        self.weight = self._weight("weight", weight)
        self.pos_weight = self._weight("pos_weight", pos_weight)

    def forward(self, input, target):
        return sigmoid_cross_entropy_with_logits(
            input, target, reduction=self.reduction, pos_weight=self._read("pos_weight", input),
            weight=self._read("weight", input))


class KLDivLoss(Loss):
    """``xg.losses.kl_div(input, target)``: ``input`` holds log-probabilities;
    ``reduction="batchmean"`` gives the divergence per sample.

    >>> import xpgrad as xg
    >>> p = xg.asarray([[0.5, 0.5]])
    >>> xg.nn.KLDivLoss(reduction="batchmean")(xg.log(p), p).item()
    0.0
    """

    def __init__(self, *, reduction="mean", log_target=False, name=None):
        super().__init__(reduction, name, KL_REDUCTIONS)
        self.log_target = self._flag("log_target", log_target)

    def forward(self, input, target):
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CTCLoss(Loss):
    """``xg.losses.ctc(log_probs, targets, input_lengths, target_lengths)``, log-probabilities
    time first, (T, N, C), as PyTorch's.

    >>> import xpgrad as xg
    >>> log_probs = xg.nn.log_softmax(xg.zeros((3, 1, 2)), axis=-1)
    >>> loss = xg.nn.CTCLoss(reduction="sum")(log_probs, xg.asarray([[1]]), [3], [1])
    >>> round(loss.item(), 4)        # -log(6 / 8): 6 of the 8 paths read "1"
    0.2877
    """

    def __init__(self, blank=0, reduction="mean", zero_infinity=False, *, name=None):
        super().__init__(reduction, name)
        if isinstance(blank, bool) or not isinstance(blank, numbers.Integral) or blank < 0:
            raise ValueError(f"{type(self).__name__}: blank must be a class index (an int "
                             f">= 0), got {blank!r}")
        self.blank = int(blank)
        self.zero_infinity = self._flag("zero_infinity", zero_infinity)

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return ctc(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                   reduction=self.reduction, zero_infinity=self.zero_infinity)


class GaussianNLLLoss(Loss):
    """``xg.losses.gaussian_nll(input, target, var)``, the variance clamped at ``eps``.

    >>> import xpgrad as xg
    >>> loss = xg.nn.GaussianNLLLoss()(xg.asarray([1.0]), xg.asarray([3.0]), xg.asarray([4.0]))
    >>> round(loss.item(), 4)                   # 0.5 (log 4 + 4 / 4)
    1.1931
    """

    def __init__(self, *, full=False, eps=1e-6, reduction="mean", name=None):
        super().__init__(reduction, name)
        self.full = self._flag("full", full)
        self.eps = self._number("eps", eps, low=0.0)

    def forward(self, input, target, var):
        return gaussian_nll(input, target, var, full=self.full, eps=self.eps,
                            reduction=self.reduction)


class PoissonNLLLoss(Loss):
    """``xg.losses.poisson_nll(input, target)``: ``input`` is the log-rate
    (``log_input=True``) or the rate.

    >>> import xpgrad as xg
    >>> loss = xg.nn.PoissonNLLLoss(log_input=False)(xg.asarray([2.0]), xg.asarray([3.0]))
    >>> round(loss.item(), 4)                   # 2 - 3 log(2)
    -0.0794
    """

    def __init__(self, log_input=True, full=False, *, eps=1e-8, reduction="mean", name=None):
        super().__init__(reduction, name)
        self.log_input = self._flag("log_input", log_input)
        self.full = self._flag("full", full)
        self.eps = self._number("eps", eps)

    def forward(self, input, target):
        return poisson_nll(input, target, log_input=self.log_input, full=self.full,
                           eps=self.eps, reduction=self.reduction)


__all__ = ["L1Loss", "MSELoss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "CTCLoss", "GaussianNLLLoss",
           "PoissonNLLLoss"]
