"""``EarlyStopping``: Keras 3's ``EarlyStopping`` callback for a script's own loop, stepped
once an epoch with the monitored value, as ``ReduceLROnPlateau`` is.

>>> import xpgrad as xg
>>> early = xg.optim.EarlyStopping(patience=2)
>>> [early.step(loss) for loss in (1.0, 0.8, 0.9, 0.85)]
[False, False, False, True]
>>> early.best, early.best_epoch, early.stopped_epoch
(0.8, 1, 3)
"""
from __future__ import annotations

import math

import numpy as np

from ..keyword_checks import CheckedKeywords
from ._checks import (CheckedSettings, check_state_keys, non_negative, non_negative_int,
                      monitored_value, real_number)
from .plateau import _choice

_MODES = ("min", "max", "auto")
#: Keras' ``mode="auto"``: the metrics that should rise (after a ``val_`` prefix), losses fall
_RISING = ("accuracy", "acc", "auc", "precision", "recall", "f1_score", "top_k_accuracy")


def _auto_mode(monitor: str) -> str:
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("loss") or name.endswith("error"):
        return "min"
    if name in _RISING or name.endswith("accuracy"):
        return "max"
    raise ValueError(f"EarlyStopping: cannot tell whether monitor={monitor!r} should fall or "
                     "rise (Keras' mode='auto' knows losses and accuracies): pass mode='max' "
                     "to keep the highest value, or mode='min' the lowest")


def _baseline(name, value):
    return None if value is None else real_number(name, value)


def _min_delta(name, value):
    return abs(non_negative(name, abs(real_number(name, value))))


def _model(model):
    from ..nn import Module

    if model is not None and not isinstance(model, Module):
        raise TypeError(f"EarlyStopping: model must be an xg.nn.Module (whose weights "
                        f"restore_best_weights keeps), got {type(model).__name__}")
    return model


class EarlyStopping(CheckedSettings, CheckedKeywords):
    """Stop training once the monitored value has not improved for ``patience`` epochs:
    Keras 3's ``EarlyStopping(monitor, min_delta, patience, mode, baseline,
    restore_best_weights, start_from_epoch)``, its rule to the letter, for a loop written by
    hand (PyTorch Lightning's ``EarlyStopping`` callback's job too).

    ``stop = early.step(value)`` once an epoch (a float, NumPy scalar or 0-d Tensor: the
    validation loss) is Keras' ``on_epoch_end``: the first value is the best; a later one is
    an improvement when it beats the best by more than ``min_delta`` (falling in mode
    ``"min"``, rising in ``"max"``; ``"auto"`` reads ``monitor``'s name as Keras does:
    ``val_loss`` falls, ``val_accuracy`` rises; NaN improves on nothing, and a first NaN,
    the best, is improved on by nothing, as in Keras); ``wait`` counts the
    epochs since, and restarts at an improvement that also beats ``baseline`` (when given);
    ``step`` returns True (and sets ``stopped_epoch``) once ``wait`` reaches ``patience``, not
    at epoch 0. Epochs before ``start_from_epoch`` are not looked at. Epochs count from 0,
    one per ``step``. After ``xg.distributed.init()`` on several ranks, ``step`` averages the
    ranks' values first (Horovod's ``MetricAverageCallback``; one small collective, so every
    rank steps it at the same point): each rank may pass its own shard's validation loss and
    all stop at the same epoch.

    ``restore_best_weights=True`` needs the ``model``: each best epoch copies its weights (all
    its Variables, running statistics included, as Keras' ``get_weights``), and
    ``early.restore()`` after the loop puts them back, stopped early or not, as Keras 3's
    ``on_train_end`` (returns whether it did).

    For a checkpoint, ``state_dict()`` (JSON: the counters and settings) goes in ``metadata=``
    and ``best_weights_extra()`` (the kept weights, ``best/<name>``) in ``extra=``; then
    ``early.load_state_dict(metadata["early"], xg.checkpoint_extra(path))`` resumes the
    same decisions. Settings are checked as they are set (ValueError or TypeError naming the
    argument).

    >>> import xpgrad as xg
    >>> model = xg.nn.Linear(2, 1, rng=0)
    >>> early = xg.optim.EarlyStopping(model, monitor="val_loss", patience=1,
    ...                                restore_best_weights=True)
    >>> early.step(0.5), early.step(0.7)
    (False, True)
    >>> early.restore()
    True
    """

    _CHECKS = {"mode": _choice(_MODES), "min_delta": _min_delta, "patience": non_negative_int,
               "baseline": _baseline, "start_from_epoch": non_negative_int}
    _COUNTERS = ("wait", "best", "best_epoch", "stopped_epoch", "epoch")

    def __init__(self, model=None, *, monitor="val_loss", mode="auto", min_delta=0.0,
                 patience=0, baseline=None, restore_best_weights=False, start_from_epoch=0):
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a metric's name (str), got "
                            f"{type(monitor).__name__}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = min_delta
        self.patience = patience
        self.baseline = baseline
        self.start_from_epoch = start_from_epoch
        self.model = _model(model)
        if not isinstance(restore_best_weights, bool):
            raise TypeError(f"EarlyStopping: restore_best_weights must be True or False, got "
                            f"{restore_best_weights!r}")
        if restore_best_weights and model is None:
            raise ValueError("EarlyStopping: restore_best_weights=True needs the model whose "
                             "weights it keeps: EarlyStopping(model, restore_best_weights=True)")
        self.restore_best_weights = restore_best_weights
        self.wait, self.best, self.best_epoch, self.stopped_epoch, self.epoch = 0, None, 0, 0, 0
        self.best_weights = None

    def __setattr__(self, name, value):
        if name == "mode" and isinstance(value, str) and value == "auto":
            value = _auto_mode(self.monitor)      # as the constructor reads it, set later too
        super().__setattr__(name, value)

    def is_improvement(self, value: float, reference) -> bool:
        """Whether ``value`` beats ``reference`` (None: nothing yet) by more than min_delta."""
        if reference is None:
            return True
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def step(self, value) -> bool:
        """Count one epoch ending with ``value``; whether to stop training now."""
        current = monitored_value("EarlyStopping.step", "value", value)
        epoch = self.epoch
        self.epoch += 1
        if epoch < self.start_from_epoch:
            return False
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self._snapshot(), epoch
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot()
            if self.baseline is None or self.is_improvement(current, self.baseline):
                self.wait = 0
            return False
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            return True
        return False

    def _snapshot(self) -> dict:
        return {name: np.array(var.numpy(), copy=True)
                for name, var in self.model.named_variables().items()}

    def restore(self) -> bool:
        """Put the best epoch's weights back (``restore_best_weights``); whether it did."""
        if not (self.restore_best_weights and self.best_weights):
            return False
        for name, var in self.model.named_variables().items():
            var.assign(self.best_weights[name])
        return True

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The counters and settings, JSON-serializable (``best``: None before any epoch,
        ``"inf"`` / ``"-inf"`` / ``"nan"`` for those floats)."""
        best = self.best if self.best is None or math.isfinite(self.best) else str(self.best)
        return {"monitor": self.monitor, "mode": self.mode, "min_delta": self.min_delta,
                "patience": self.patience, "baseline": self.baseline,
                "restore_best_weights": self.restore_best_weights,
                "start_from_epoch": self.start_from_epoch, "wait": self.wait, "best": best,
                "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
                "epoch": self.epoch}

    def best_weights_extra(self) -> dict:
        """The kept weights as a checkpoint's ``extra=`` arrays, ``best/<name>``."""
        return {f"best/{name}": value for name, value in (self.best_weights or {}).items()}

    def load_state_dict(self, state, extra=None) -> None:
        """Continue from ``state`` (as from ``state_dict``) and, with restore_best_weights,
        a checkpoint's ``extra`` arrays (``xg.checkpoint_extra(path)``). Every key is checked
        first; a missing, unknown or bad one raises naming it, with nothing changed."""
        check_state_keys("EarlyStopping", state, self.state_dict())
        monitor = state["monitor"]
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping.load_state_dict: monitor must be a metric's name "
                            f"(str), got {type(monitor).__name__}")
        staged = {k: check(k, state[k]) for k, check in self._CHECKS.items()}
        if staged["mode"] == "auto":
            staged["mode"] = _auto_mode(monitor)
        for key in ("wait", "best_epoch", "stopped_epoch", "epoch"):
            staged[key] = non_negative_int(key, state[key])
        staged["best"] = None if state["best"] is None else real_number("best", float(
            state["best"]) if isinstance(state["best"], str) else state["best"])
        weights = {k[len("best/"):]: np.asarray(v) for k, v in (extra or {}).items()
                   if k.startswith("best/")}
        if self.restore_best_weights and staged["best"] is not None:
            names = set(self.model.named_variables())
            if set(weights) != names:
                raise ValueError(f"EarlyStopping.load_state_dict: extra must hold the best "
                                 f"weights best/<name> of {sorted(names)}, got "
                                 f"{sorted(weights)} (save extra=early.best_weights_extra())")
        object.__setattr__(self, "monitor", monitor)
        for key, value in staged.items():
            object.__setattr__(self, key, value)
        self.best_weights = weights or None

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, "
                f"min_delta={self.min_delta!r}, patience={self.patience!r}, "
                f"baseline={self.baseline!r}, restore_best_weights={self.restore_best_weights!r}, "
                f"start_from_epoch={self.start_from_epoch!r})")


__all__ = ["EarlyStopping"]
