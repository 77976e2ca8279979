"""Keras' ``validation_split``, ``EarlyStopping`` and ``ReduceLROnPlateau`` for a training run
(``--validation-split``, ``--monitor``, ``--early-stopping``, ``--min-delta``,
``--restore-best``, ``--lr-schedule plateau`` with ``--lr-gamma`` and ``--lr-patience``).

The validation set is a stratified part of the training set (``split``, the split that makes
the digits' test set, seeded by ``--seed``); the test set is never looked at. One value is
monitored, once per complete epoch: ``val_loss`` (the default, as Keras'), ``val_accuracy``,
or the epoch's training ``loss`` or ``accuracy`` when asked for by name -- never silently: a
``val_`` value without ``--validation-split`` is a ConfigError. ``Monitor`` steps early stopping
(``xg.optim.EarlyStopping``, Keras 3's rule: stop once ``patience`` epochs in a row have not
improved on the best by more than ``min_delta``; with ``restore_best``, the best epoch's
weights are put back when the run ends) and PyTorch's ``ReduceLROnPlateau`` (``xg.optim.ReduceLROnPlateau``: mode
``min`` for a loss, ``max`` for an accuracy, PyTorch's threshold 1e-4 relative). Its state
travels in the checkpoint, so a resumed run takes the decisions of the uninterrupted one.

>>> from xpgrad.training import TrainConfig
>>> m = Monitor(TrainConfig(validation_split=0.1, early_stopping=2), opt=None, model=None)
>>> [m.epoch_end({"val_loss": v}, e) for e, v in enumerate([1.0, 0.8, 0.9, 0.85], 1)]
[False, False, False, True]
>>> m.best_epoch, m.stopped_epoch
(2, 4)
"""
from __future__ import annotations

import math

import numpy as np

from . import ConfigError

#: what may be monitored, and whether it should fall ("min") or rise ("max")
MONITORS = {"val_loss": "min", "val_accuracy": "max", "loss": "min", "accuracy": "max"}
DEFAULT_PATIENCE = 10           # --lr-patience: PyTorch's and Keras' ReduceLROnPlateau default


def _flag(name):
    return f"{name} (--{name.replace('_', '-')})"


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer,
                                                               np.floating))


def check_monitor(cfg) -> None:
    """ConfigError naming the flag for a validation, early-stopping or plateau setting of
    ``cfg`` that is invalid or that the run cannot monitor."""
    vs = cfg.validation_split
    if vs is not None and (not _is_number(vs) or not 0 < vs < 1):
        raise ConfigError(f"{_flag('validation_split')} must be a fraction of the training set "
                          f"strictly between 0 and 1, got {vs!r}")
    for name, low in (("early_stopping", 1), ("lr_patience", 0)):
        value = getattr(cfg, name)
        if value is not None and (isinstance(value, bool) or not isinstance(
                value, (int, np.integer)) or value < low):
            raise ConfigError(f"{_flag(name)} must be an integer >= {low}, got {value!r}")
    if not _is_number(cfg.min_delta) or not (math.isfinite(cfg.min_delta)
                                             and cfg.min_delta >= 0):
        raise ConfigError(f"{_flag('min_delta')} must be a finite number >= 0, got "
                          f"{cfg.min_delta!r}")
    if not isinstance(cfg.monitor, str) or cfg.monitor not in MONITORS:
        raise ConfigError(f"unknown {_flag('monitor')} {cfg.monitor!r}; choose one of "
                          f"{', '.join(MONITORS)}")
    if cfg.early_stopping is None:
        for name, given in (("restore_best", cfg.restore_best), ("min_delta", cfg.min_delta)):
            if given:
                raise ConfigError(f"{_flag(name)} applies to early stopping: give "
                                  f"--early-stopping PATIENCE too")
    watchers = [w for w, on in (("--early-stopping", cfg.early_stopping is not None),
                                ("--lr-schedule plateau", cfg.lr_schedule == "plateau")) if on]
    if watchers and cfg.monitor.startswith("val_") and vs is None:
        raise ConfigError(f"{' and '.join(watchers)} monitor{'s' if len(watchers) == 1 else ''}"
                          f" {cfg.monitor} (--monitor), which needs validation data: "
                          f"give --validation-split FRACTION (Keras' validation_split), or "
                          f"--monitor loss to watch the training loss (the test set is never "
                          f"monitored)")


def held_out(raw, cfg):
    """The run's training set, standardized by its own statistics, and its validation set
    ``(x_val, y_val)`` (standardized alike), a stratified ``cfg.validation_split`` of
    ``raw``'s training set seeded by ``cfg.seed`` (None without one); ``raw``'s test set as it
    was (standardized by the same statistics).

    >>> from xpgrad.data import load_digits
    >>> from xpgrad.training import TrainConfig
    >>> ds, (x_val, y_val) = held_out(load_digits(), TrainConfig(validation_split=0.25))
    >>> len(ds.x_train), len(x_val), len(ds.x_test)
    (1077, 360, 360)
    """
    from ..data.dataset import Dataset, normalized, standardize
    from ..data.stratified_split import split

    if cfg.validation_split is None:
        return normalized(raw), None
    try:
        x_train, x_val, y_train, y_val = split(raw.x_train, raw.y_train, cfg.validation_split,
                                               seed=cfg.seed)
    except ValueError as e:
        why = str(e).replace("test_fraction", "fraction").replace(" test ", " validation ")
        raise ConfigError(f"{_flag('validation_split')} {cfg.validation_split:g} of the "
                          f"{len(raw.y_train)} training examples: {why}") from None
    train = Dataset(raw.name, x_train, y_train, raw.x_test, raw.y_test, raw.image_shape,
                    raw.n_classes)
    mean, std = standardize(train)
    return normalized(train), ((x_val - mean) / std, y_val)


def _encode(x):
    return x if x is None or math.isfinite(x) else ("inf" if x > 0 else "-inf")


class Monitor:
    """The run's early stopping and plateau schedule (each optional), stepped by
    ``epoch_end`` once per complete epoch with the epoch's row (``val_loss``, ...); the training
    metrics it monitors are summed over whole epochs by ``add`` (an epoch split by a resumption
    included)."""

    def __init__(self, cfg, opt, model):
        self.key, self.model = cfg.monitor, model
        self.mode = MONITORS[cfg.monitor]
        self.patience, self.min_delta = cfg.early_stopping, float(cfg.min_delta)
        self.restore_best = cfg.restore_best
        self.plateau = None
        if cfg.lr_schedule == "plateau":
            from ..optim import ReduceLROnPlateau

            self.plateau = ReduceLROnPlateau(opt, mode=self.mode, factor=cfg.lr_gamma,
                                             patience=cfg.lr_patience)
        self.early = None
        if self.patience is not None:
            from ..optim import EarlyStopping

            self.early = EarlyStopping(model if self.restore_best else None, monitor=self.key,
                                       mode=self.mode, min_delta=self.min_delta,
                                       patience=self.patience,
                                       restore_best_weights=self.restore_best)
        self.sums = [0.0, 0, 0]     # this epoch's training loss sum, hits and examples

    @property
    def early_stopping(self) -> bool:
        return self.early is not None

    # -- EarlyStopping's counters, in the run's epochs (from 1; None: not yet) -----------------
    @property
    def best(self) -> float:
        if self.early is None or self.early.best is None:
            return math.inf if self.mode == "min" else -math.inf
        return self.early.best

    @property
    def wait(self) -> int:
        return 0 if self.early is None else self.early.wait

    @property
    def best_epoch(self) -> int | None:
        return None if self.early is None or self.early.best is None else self.early.best_epoch

    @property
    def stopped_epoch(self) -> int | None:
        return (self.early.stopped_epoch or None) if self.early is not None else None

    @property
    def best_weights(self) -> dict | None:
        return None if self.early is None else self.early.best_weights

    @property
    def best_lost(self) -> bool:
        """Resumed with --restore-best new: the best epoch's weights were not kept (held as
        an empty dict, which EarlyStopping restores nothing from and does not replace with
        the current weights, as it would None, until an epoch improves)."""
        return self.restore_best and self.best_weights == {}

    def add(self, loss_sum, hits, n) -> None:
        """Count a step's ``n`` examples (their summed loss and correct predictions)."""
        self.sums = [self.sums[0] + loss_sum, self.sums[1] + hits, self.sums[2] + n]

    def value(self, row) -> float:
        if self.key == "loss":
            return self.sums[0] / self.sums[2]
        if self.key == "accuracy":
            return self.sums[1] / self.sums[2]
        return row[self.key]

    def epoch_end(self, row, epoch) -> bool:
        """Step the plateau schedule and early stopping (``xg.optim.EarlyStopping``, Keras'
        rule) with epoch ``epoch``'s value; whether the run stops here."""
        value = self.value(row)
        self.sums = [0.0, 0, 0]
        if self.plateau is not None:
            self.plateau.step(value)
        if self.early is None:
            return False
        self.early.epoch = epoch        # its counters in the run's epochs, a resumed one's too
        return self.early.step(value)

    def restore(self) -> bool:
        """Put the best epoch's weights back (``restore_best``); whether it did."""
        return self.early is not None and self.early.restore()

    # -- state: in the checkpoint's metadata (the weights as its extra arrays) -----------------
    def state_dict(self) -> dict:
        state = {"monitor": self.key, "best": _encode(self.best), "wait": self.wait,
                 "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
                 "sums": list(self.sums)}
        if self.best_lost:
            state["best_lost"] = True
        if self.plateau is not None:
            state["plateau"] = self.plateau.state_dict()
            state["learning_rate"] = self.plateau.optimizer.learning_rate
        return state

    def weights(self) -> dict:
        """The best weights as checkpoint extra arrays (``best/<name>``)."""
        return {} if self.early is None else self.early.best_weights_extra()

    def load(self, state, extra, *, rate_given=False) -> None:
        """Continue from a checkpoint's ``state`` and ``extra`` arrays. A run that stopped
        early and is trained further starts its early stopping afresh (Keras' ``fit`` called
        again); a monitor changed since starts afresh; ``rate_given``: a new
        --learning-rate replaces the plateau's lowered one."""
        if not isinstance(state, dict) or state.get("monitor") != self.key:
            return
        if state.get("stopped_epoch") is None:
            self._set(state, {k[len("best/"):]: v for k, v in extra.items()
                              if k.startswith("best/")}, rate_given)
        elif self.plateau is not None and state.get("plateau"):
            self._set_plateau(state, rate_given)
        self.sums = list(state.get("sums") or self.sums)

    def _set(self, state, weights, rate_given=False) -> None:
        self.sums = list(state["sums"])
        if self.early is not None:
            self._set_early(state, weights or None)
        if self.plateau is not None and state.get("plateau"):
            self._set_plateau(state, rate_given)

    def _set_early(self, state, weights) -> None:
        early, best_epoch = self.early, state["best_epoch"]
        early.best = None if best_epoch is None else float(state["best"])
        early.wait, early.best_epoch = state["wait"], best_epoch or 0
        early.stopped_epoch = state["stopped_epoch"] or 0
        early.best_weights = weights
        if self.restore_best and weights is None and best_epoch is not None:
            # the run resumed kept no best weights (it had no --restore-best): the weights
            # loaded are the best epoch's only at that epoch's end
            if state["wait"] == 0 and not any(self.sums):
                early.best_weights = early._snapshot()
            else:
                early.best_weights = {}         # best_lost

    def _set_plateau(self, state, rate_given) -> None:
        settings = {k: getattr(self.plateau, k) for k in ("mode", "factor", "patience")}
        self.plateau.load_state_dict(state["plateau"])
        for k, v in settings.items():           # this run's --lr-gamma and --lr-patience
            setattr(self.plateau, k, v)
        if not rate_given and state.get("learning_rate") is not None:
            self.plateau.optimizer.learning_rate = state["learning_rate"]

    def share(self, world) -> None:
        """Data-parallel: every rank takes rank 0's state (it alone read the checkpoint)."""
        state, weights = world.bcast_object((self.state_dict(), self.best_weights))
        self._set(state, weights)

    def summary(self, last_epoch, target) -> str | None:
        """The line that says where early stopping stopped and whose weights are kept."""
        if not self.early_stopping:
            return None
        if self.stopped_epoch is not None:
            how = (f"stopped after epoch {self.stopped_epoch} of {target} ({self.key} did not "
                   f"improve by more than {self.min_delta:g} for {self.patience} "
                   f"epoch{'s' if self.patience != 1 else ''})")
        else:
            how = f"did not stop ({last_epoch} of {target} epoch{'s' if target != 1 else ''})"
        if self.best_epoch is None:
            return f"early stopping: {how}; no epoch improved on {self.key}"
        best = f"{self.key} {self.best:.4f}"
        if self.restore_best and self.best_lost:
            return f"early stopping: {how}; kept the weights of epoch {last_epoch}, the last " \
                   f"(the best was epoch {self.best_epoch}, {best}, whose weights were not " \
                   f"kept: the run was resumed with --restore-best after it)"
        if self.best_epoch == last_epoch:
            return f"early stopping: {how}; kept the weights of epoch {last_epoch}, the last " \
                   f"and the best ({best})"
        if self.restore_best:
            return f"early stopping: {how}; restored the weights of epoch {self.best_epoch} " \
                   f"({best}, the best)"
        return f"early stopping: {how}; kept the weights of epoch {last_epoch}, the last " \
               f"(the best was epoch {self.best_epoch}, {best}; --restore-best keeps those)"

    def record(self) -> dict:
        """What ``history.json`` says of early stopping."""
        return {"monitor": self.key, "patience": self.patience, "min_delta": self.min_delta,
                "stopped_epoch": self.stopped_epoch, "best_epoch": self.best_epoch,
                "best": _encode(self.best), "restore_best": self.restore_best}
