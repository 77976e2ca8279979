"""``ReduceLROnPlateau``: lower an optimizer's learning rate when a metric stops improving,
PyTorch's ``torch.optim.lr_scheduler.ReduceLROnPlateau`` step for step.

>>> import xpgrad as xg
>>> opt = xg.optim.SGD(0.1)
>>> plateau = xg.optim.ReduceLROnPlateau(opt, factor=0.5, patience=1)
>>> for loss in (1.0, 0.9, 0.95, 0.97, 0.96):
...     plateau.step(loss)
>>> round(opt.learning_rate, 6), plateau.best, plateau.num_bad_epochs
(0.05, 0.9, 1)
"""
from __future__ import annotations

import math

from ..keyword_checks import CheckedKeywords
from ._checks import (CheckedSettings, check_state_keys, hyperparameter, non_negative,
                      monitored_value, non_negative_int, real_number)

_MODES = ("min", "max")
_THRESHOLD_MODES = ("rel", "abs")


def _choice(options):
    def check(name, value):
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got "
                             f"{value!r}")
        return value
    return check


def _factor(name, value):
    return hyperparameter(name, value, low=0.0, high=1.0, high_open=True)


def _optimizer(optimizer):
    """The Optimizer whose learning rate is set (a DistributedOptimizer's wrapped one)."""
    from .optimizer import plain_optimizer

    optimizer = plain_optimizer(optimizer, "ReduceLROnPlateau takes an xg.optim Optimizer")
    _constant_rate(optimizer)
    return optimizer


def _constant_rate(optimizer) -> float:
    from .state import constant_rate

    rate = constant_rate(optimizer)
    if rate is None:
        raise ValueError(f"ReduceLROnPlateau sets the optimizer's learning rate, but "
                         f"{type(optimizer).__name__}'s learning rate is a schedule "
                         f"({optimizer._schedule!r}), which would ignore it: give the optimizer "
                         "a float learning rate")
    return rate


def _encode(x: float):
    """JSON has no infinity: ``best`` before any metric is ``"inf"`` (``"-inf"`` for max)."""
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _decode_best(value) -> float:
    if value in ("inf", "-inf"):
        return float(value)
    x = real_number("best", value)
    if math.isnan(x):
        raise ValueError("best must be a number or 'inf'/'-inf', got nan")
    return x


class ReduceLROnPlateau(CheckedSettings, CheckedKeywords):
    """Multiply ``optimizer.learning_rate`` by ``factor`` once the metric passed to ``step``
    has not improved for more than ``patience`` calls; PyTorch's rule and defaults:

    - a metric is an improvement when it beats ``best`` by ``threshold``: in mode ``"min"``,
      ``metric < best * (1 - threshold)`` (``threshold_mode="rel"``) or ``metric < best -
      threshold`` (``"abs"``); in mode ``"max"``, ``metric > best * (1 + threshold)`` or
      ``metric > best + threshold``. A NaN metric is never one (a bad epoch, as in PyTorch);
    - after ``patience + 1`` bad calls in a row the rate becomes ``max(rate * factor,
      min_lr)`` (left as it is when that lowers it by ``eps`` or less), and ``cooldown`` calls
      follow in which bad calls are not counted.

    ``step(metric)`` takes a float, a NumPy scalar or a 0-d Tensor (a validation loss, once
    per epoch). The optimizer's learning rate must be a number (ValueError for a schedule,
    which would override it); the lowered rate is the optimizer's, so its ``state_dict`` and
    checkpoints keep it. A ``DistributedOptimizer``'s wrapped optimizer is the one lowered.
    After ``xg.distributed.init()`` on several ranks, ``step`` averages the ranks' metrics
    first (Horovod's ``MetricAverageCallback``; one small collective, so every rank steps it
    at the same point): each rank may pass its own shard's loss and all lower their rates
    together.
    Arguments are checked as PyTorch's and more: ``factor`` in [0, 1),
    ``patience`` and ``cooldown`` integers >= 0, ``threshold``, ``min_lr`` and ``eps`` >= 0,
    ``mode`` and ``threshold_mode`` one of theirs, else ValueError naming the argument (also
    when set later, ``plateau.patience = 3``).

    ``state_dict()`` is JSON-serializable (``best`` before any finite metric is ``"inf"`` or
    ``"-inf"``), so it travels in a checkpoint's ``metadata``; ``load_state_dict`` restores
    the counters and the settings, as PyTorch's does:

    >>> import os, tempfile, xpgrad as xg
    >>> w = xg.Variable([1.0], name="w")
    >>> opt = xg.optim.Adam(0.01)
    >>> plateau = xg.optim.ReduceLROnPlateau(opt, patience=0)
    >>> plateau.step(1.0); plateau.step(2.0)
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> xg.save_checkpoint(path, [w], opt, metadata={"plateau": plateau.state_dict()})
    >>> opt2 = xg.optim.Adam(0.01)
    >>> xg.load_checkpoint(path, [w], opt2)
    >>> plateau2 = xg.optim.ReduceLROnPlateau(opt2, patience=0)
    >>> plateau2.load_state_dict(xg.checkpoint_metadata(path)["plateau"])
    >>> opt2.learning_rate, plateau2.best, plateau2.last_epoch
    (0.001, 1.0, 2)
    """

    _CHECKS = {"mode": _choice(_MODES), "threshold_mode": _choice(_THRESHOLD_MODES),
               "factor": _factor, "patience": non_negative_int, "cooldown": non_negative_int,
               "threshold": non_negative, "min_lr": non_negative, "eps": non_negative}
    _COUNTERS = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.eps = eps
        self.optimizer = _optimizer(optimizer)
        self.last_epoch = 0
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    @property
    def in_cooldown(self) -> bool:
        """Whether bad calls are not being counted (after a reduction)."""
        return self.cooldown_counter > 0

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` improves on ``best`` by the threshold (see the class).

        >>> import xpgrad as xg
        >>> p = ReduceLROnPlateau(xg.optim.SGD(0.1), threshold=0.1)
        >>> p.is_better(0.95, 1.0), p.is_better(0.85, 1.0)
        (False, True)
        """
        if self.mode == "min":
            return metric < (best * (1.0 - self.threshold) if self.threshold_mode == "rel"
                             else best - self.threshold)
        return metric > (best * (self.threshold + 1.0) if self.threshold_mode == "rel"
                         else best + self.threshold)

    def step(self, metric) -> None:
        """Count one call (an epoch) with ``metric``; lower the rate after too many bad ones."""
        current = monitored_value("ReduceLROnPlateau.step", "metric", metric)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0          # bad calls in cooldown are not counted
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def _reduce(self) -> None:
        old = _constant_rate(self.optimizer)   # a schedule set since: refused here too
        new = max(old * self.factor, self.min_lr)
        if old - new > self.eps:
            self.optimizer.learning_rate = new

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The counters and the settings, JSON-serializable (plain floats, ints and str).

        >>> import xpgrad as xg
        >>> ReduceLROnPlateau(xg.optim.SGD(0.1)).state_dict()["best"]
        'inf'
        """
        return {"mode": self.mode, "threshold_mode": self.threshold_mode,
                "factor": self.factor, "patience": self.patience, "threshold": self.threshold,
                "cooldown": self.cooldown, "min_lr": self.min_lr, "eps": self.eps,
                "best": _encode(self.best), "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter, "last_epoch": self.last_epoch}

    def load_state_dict(self, state) -> None:
        """Restore ``state`` (as from ``state_dict``): counters and settings. Every key is
        checked first; a missing, unknown or bad value raises (ValueError/TypeError naming
        it) with nothing changed."""
        check_state_keys("ReduceLROnPlateau", state, self.state_dict())
        staged = {k: check(k, state[k]) for k, check in self._CHECKS.items()}
        staged["best"] = _decode_best(state["best"])
        for key in ("num_bad_epochs", "cooldown_counter", "last_epoch"):
            staged[key] = non_negative_int(key, state[key])
        for key, value in staged.items():
            object.__setattr__(self, key, value)

    def __repr__(self):
        return (f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor!r}, "
                f"patience={self.patience!r}, threshold={self.threshold!r}, "
                f"threshold_mode={self.threshold_mode!r}, cooldown={self.cooldown!r}, "
                f"min_lr={self.min_lr!r}, eps={self.eps!r})")


__all__ = ["ReduceLROnPlateau"]
