"""The settings of a training run (``TrainConfig``, one field per ``xpgrad train`` flag), their
checks (``ConfigError`` naming the flag), and the configuration that continues a saved run
(``resume_config``).

>>> from xpgrad.training import TrainConfig
>>> cfg = TrainConfig(hidden=[16]).resolved()
>>> cfg.hidden, cfg.learning_rate > 0
((16,), True)
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

import numpy as np

from .. import backend as _backend
from ..data import DATASETS, IDX_DATASETS
from ..models import MODELS, OPTIMIZERS
from ..threads import DEFAULT_THREADS, check_threads
from . import ConfigError
from .monitor import check_monitor
from .schedule import check_schedule


#: settings that define what a checkpoint holds: a resumed run must not change them
IDENTITY = ("model", "hidden", "dataset", "optimizer", "seed", "validation_split")
#: the command-line flag of each setting (for messages)
FLAGS = {f: "--" + f.replace("_", "-") for f in (
    "backend", "model", "optimizer", "epochs", "batch_size", "learning_rate", "seed", "hidden",
    "dataset", "data_dir", "logdir", "checkpoint", "max_steps", "checkpoint_every", "resume",
    "threads", "compile", "curves", "overwrite", "lr_schedule", "warmup_steps", "lr_gamma",
    "lr_step_size", "weight_decay", "clip_norm", "validation_split", "monitor", "early_stopping",
    "min_delta", "restore_best", "lr_patience")}


def _name(field_name):
    return f"{field_name} ({FLAGS[field_name]})" if field_name in FLAGS else field_name


@contextmanager
def named_errors(field_name, errors):
    """``errors`` raised inside re-raised, of the same class, starting with the setting whose
    path they come from (``checkpoint (--checkpoint): ...``): the path alone does not say
    which flag to change.

    >>> with named_errors("resume", ValueError):
    ...     raise ValueError("'x.npz' is not a checkpoint")
    Traceback (most recent call last):
    ValueError: resume (--resume): 'x.npz' is not a checkpoint
    """
    try:
        yield
    except errors as e:
        raise type(e)(f"{_name(field_name)}: {e}") from e


def _integer(field_name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{_name(field_name)} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ConfigError(f"{_name(field_name)} must be an integer >= {low}, got {value}")
    return int(value)


@dataclass
class TrainConfig:
    """Everything a run depends on (the CLI flags, one field each).

    ``epochs`` and ``max_steps`` count in this call: a resumed run trains ``epochs`` more (see
    ``resume_config`` for finishing an interrupted run). ``resume`` is a checkpoint to continue
    from; ``checkpoint`` (default: ``resume``) is where the run saves, at the end, every
    ``checkpoint_every`` steps and on an interrupt; an existing ``checkpoint`` is resumed too.
    ``lr_schedule`` and its parameters, ``weight_decay`` and ``clip_norm`` shape each update
    (see ``training/schedule.py``); ``schedule_steps`` and ``steps_per_epoch`` are the
    schedule's length, filled in when the run starts and kept by its resumptions.
    ``validation_split``, ``monitor``, ``early_stopping``, ``min_delta``, ``restore_best`` and
    ``lr_patience`` (with ``lr_schedule="plateau"``) are Keras' ``validation_split``,
    ``EarlyStopping`` and ``ReduceLROnPlateau`` (see ``training/monitor.py``).
    """

    backend: str = "numpy"
    model: str = "mlp"
    optimizer: str = "adam"
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float | None = None      # None: the optimizer's default (models.OPTIMIZERS)
    seed: int = 0
    hidden: tuple | None = None             # None: the model's default
    dataset: str = "digits"
    data_dir: str | None = None
    logdir: str | None = None               # None: write no event files or plots
    checkpoint: str | None = None
    max_steps: int | None = None
    progress: bool = True                   # tqdm bar per epoch (and per download)
    checkpoint_every: int | None = None     # steps between checkpoints (None: at the end only)
    resume: str | None = None               # a checkpoint to continue from
    threads: int = DEFAULT_THREADS          # BLAS and Numba threads (xpgrad.threads.limit)
    compile: bool = False                   # each step's forward+backward as an xg.function
    curves: bool = False                    # draw curves.png under logdir (needs matplotlib)
    overwrite: bool = False                 # replace another run's logs found in logdir
    lr_schedule: str = "constant"           # see training/schedule.py (SCHEDULES)
    warmup_steps: int = 0                   # linear warm-up from 0 to learning_rate
    lr_gamma: float | None = None           # step, exponential: the factor (None: 0.1)
    lr_step_size: int | None = None         # step: epochs between decays (None: a third)
    weight_decay: float | None = None       # None: the optimizer's default
    clip_norm: float | None = None          # global-norm clipping of the (averaged) gradients
    validation_split: float | None = None   # fraction of the training set held out (stratified)
    monitor: str = "val_loss"               # what early_stopping and plateau watch
    early_stopping: int | None = None       # patience: epochs without improvement, then stop
    min_delta: float = 0.0                  # the least change that counts as an improvement
    restore_best: bool = False              # keep the best epoch's weights at the end
    lr_patience: int | None = None          # plateau: bad epochs before a decay (None: 10)
    # the schedule's length, fixed when the run starts (epochs * steps_per_epoch) and kept by
    # its resumptions; not flags: None until a run fills them in (training/schedule.py)
    schedule_steps: int | None = None
    steps_per_epoch: int | None = None

    def resolved(self) -> "TrainConfig":
        """A copy with defaults filled in and every setting checked (ConfigError naming it)."""
        for flag in ("compile", "curves", "overwrite", "restore_best"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{_name(flag)} must be True or False, "
                                  f"got {getattr(self, flag)!r}")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of "
                              f"{', '.join(MODELS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of "
                              f"{', '.join(OPTIMIZERS)}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose one of "
                              f"{', '.join(DATASETS)}")
        for name in ("epochs", "batch_size"):
            _integer(name, getattr(self, name), 1)
        for name in ("max_steps", "checkpoint_every"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        _integer("seed", self.seed, 0)
        if self.seed >= 2**32:           # the split's RandomState takes seeds below 2**32
            raise ConfigError(f"{_name('seed')} must be an integer in [0, 2**32 - 1], got "
                              f"{self.seed}")
        try:
            check_threads(self.threads, _name("threads"))
        except (TypeError, ValueError) as e:
            raise ConfigError(str(e)) from None
        if self.data_dir is not None and self.dataset not in IDX_DATASETS:
            raise ConfigError(f"{_name('data_dir')} is only read with --dataset "
                              f"{' or '.join(IDX_DATASETS)} (the dataset is {self.dataset!r})")
        lr = self.learning_rate
        if lr is None:
            lr = OPTIMIZERS[self.optimizer].default_learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
            raise ConfigError(f"{_name('learning_rate')} must be a number, got {lr!r}")
        if not (math.isfinite(lr) and lr > 0):
            raise ConfigError(f"{_name('learning_rate')} must be a finite number > 0, "
                              f"got {lr}")
        weight_decay = _weight_decay(self.optimizer, float(lr), self.weight_decay)
        for name in ("lr_gamma", "clip_norm"):
            _positive_number(name, getattr(self, name))
        _integer("warmup_steps", self.warmup_steps, 0)
        for name in ("lr_step_size", "schedule_steps", "steps_per_epoch"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        check_schedule(self)
        check_monitor(self)
        hidden = MODELS[self.model].default_hidden if self.hidden is None else self.hidden
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise ConfigError(f"{_name('hidden')} must be a list of layer sizes, got "
                              f"{hidden!r}")
        hidden = tuple(_integer("hidden", h, 1) for h in hidden)
        if not hidden:
            raise ConfigError(f"{_name('hidden')} needs at least one layer size")
        checkpoint = self.checkpoint or self.resume
        if self.checkpoint_every is not None and not checkpoint:
            raise ConfigError(f"{_name('checkpoint_every')} needs a checkpoint path "
                              f"({FLAGS['checkpoint']} PATH)")
        _backend.get_backend(self.backend)   # UnknownBackendError / BackendUnavailableError
        return TrainConfig(**{**asdict(self), "learning_rate": float(lr), "hidden": hidden,
                              "checkpoint": checkpoint, "weight_decay": weight_decay})


def _number(field_name, value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{_name(field_name)} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{_name(field_name)} must be {what}, got {value}")
    return float(value)


def _positive_number(field_name, value):
    if value is not None and _number(field_name, value, "a finite number > 0") <= 0:
        raise ConfigError(f"{_name(field_name)} must be a finite number > 0, got {value}")


def _weight_decay(optimizer, learning_rate, value):
    """``value`` checked (a finite number >= 0), or the optimizer's default where None (None
    for a registered optimizer without a ``weight_decay`` argument, which refuses a value)."""
    import inspect

    if value is not None and _number("weight_decay", value, "a finite number >= 0") < 0:
        raise ConfigError(f"{_name('weight_decay')} must be a finite number >= 0, got {value}")
    opt = OPTIMIZERS[optimizer].build(learning_rate)
    try:
        takes = "weight_decay" in inspect.signature(type(opt)).parameters
    except (TypeError, ValueError):
        takes = False
    if not takes:
        if value is not None:
            raise ConfigError(f"{_name('weight_decay')} {value:g}: the optimizer {optimizer!r} "
                              f"({type(opt).__name__}) takes no weight_decay argument; drop "
                              f"the flag or choose another --optimizer")
        return None
    return float(opt.weight_decay if value is None else value)


def resume_config(path, overrides=None, *, finish=True) -> TrainConfig:
    """The configuration to continue the run saved in checkpoint ``path``: its own settings,
    with ``overrides`` (settings given again) on top. Settings that define the model
    (``IDENTITY``) must not differ from the checkpoint's (CheckpointError says which). With
    ``finish`` and no ``epochs`` override, ``epochs`` is what remains of the saved run (its
    interrupted epoch counts as one); a finished run raises CheckpointError.

    >>> import os, tempfile
    >>> from xpgrad.training import train
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> _ = train(TrainConfig(epochs=3, hidden=(8,), max_steps=2, checkpoint=path,
    ...                       progress=False), echo=None)
    >>> cfg = resume_config(path)          # the rest of the 3 epochs, the same settings
    >>> cfg.epochs, cfg.hidden, cfg.checkpoint == path
    (3, (8,), True)
    """
    from ..checkpoint import CheckpointError

    overrides = dict(overrides or {})
    meta = run_metadata(path)
    saved = meta.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path!r} holds no training configuration (it was not written "
                              f"by xpgrad train); give the flags of its run instead of "
                              f"{FLAGS['resume']}")
    # where this run writes is its own business: never the saved run's paths (the file may
    # have been moved or copied since); --max-steps was a budget of the saved call, like
    # --epochs, not a setting of the run (inherited, it would stop every resumption again)
    known = {f.name for f in fields(TrainConfig)} - {"checkpoint", "resume", "logdir",
                                                     "progress", "threads", "curves",
                                                     "max_steps", "overwrite"}
    base = {k: v for k, v in saved.items() if k in known}
    if base.get("hidden") is not None:
        base["hidden"] = tuple(base["hidden"])
    conflicts = []
    for key in IDENTITY:
        if key in overrides and overrides[key] is not None:
            mine = tuple(overrides[key]) if key == "hidden" else overrides[key]
            if mine != base.get(key):
                conflicts.append(f"{_name(key)} is {_show(mine)} but the checkpoint was "
                                 f"trained with {_show(base.get(key))}")
    if conflicts:
        raise CheckpointError(f"cannot resume from {path!r}: " + "; ".join(conflicts)
                              + " (drop these settings to continue the saved run)")
    if finish and overrides.get("epochs") is None:
        done, target = meta.get("epochs_done"), meta.get("target_epochs")
        if isinstance(done, int) and isinstance(target, int):
            if target - done < 1:
                raise CheckpointError(_finished(path, meta, saved, done, target))
            overrides["epochs"] = target - done
    config = {**base, **{k: v for k, v in overrides.items() if v is not None}}
    config["resume"] = os.fspath(path)
    config.setdefault("checkpoint", os.fspath(path))
    return TrainConfig(**config)


#: the position an `xpgrad train` checkpoint's metadata records: (what it must be, its check)
_POSITION = {
    "epochs_done": ("an integer >= 0", lambda v: _whole(v) and v >= 0),
    "examples_in_epoch": ("an integer >= 0", lambda v: _whole(v) and v >= 0),
    "target_epochs": ("an integer >= 1", lambda v: _whole(v) and v >= 1),
    "steps": ("an integer >= 0", lambda v: _whole(v) and v >= 0),
    "run_id": ("a string", lambda v: isinstance(v, str)),
    "monitor": ("a dict", lambda v: isinstance(v, dict)),
    "epoch_sums": ("[loss sum, correct, examples] of the epoch's part done",
                   lambda v: isinstance(v, list) and len(v) == 3
                   and isinstance(v[0], (int, float)) and not isinstance(v[0], bool)
                   and math.isfinite(v[0]) and all(_whole(n) and n >= 0 for n in v[1:])),
}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def run_metadata(path) -> dict:
    """The metadata of the checkpoint at ``path``, its run position checked: a damaged entry
    is a CheckpointError naming the file and the entry, not a default silently taken."""
    from ..checkpoint import CheckpointError, checkpoint_metadata

    meta = checkpoint_metadata(path)
    for key, (what, fits) in _POSITION.items():
        if key in meta and not fits(meta[key]):
            raise CheckpointError(f"{os.fspath(path)!r} is damaged: its metadata's {key!r} is "
                                  f"{meta[key]!r:.60}, not {what}")
    return meta


def _finished(path, meta, saved, done, target) -> str:
    """What --resume of a finished run says: what ended it (its last epoch, or early
    stopping, and whose weights that kept) and how to train further."""
    more = f"give {FLAGS['epochs']} N to train N more"
    state = meta.get("monitor")
    stopped = state.get("stopped_epoch") if isinstance(state, dict) else None
    if stopped is None:
        return f"{path!r} is of a finished run ({done} of {target} epochs); {more}"
    patience = saved.get("early_stopping")
    why = f"{state.get('monitor')} had not improved for {patience} " \
          f"epoch{'s' if patience != 1 else ''}"
    if saved.get("restore_best") and state.get("best_epoch") is not None \
            and not state.get("best_lost"):
        why += f"; it kept the weights of epoch {state['best_epoch']}, the best"
    return f"{path!r} is of a run that early stopping ended after epoch {stopped} ({why}); " \
           f"{more}, with early stopping starting afresh"


def _show(value):
    return ",".join(map(str, value)) if isinstance(value, tuple) else repr(value)
