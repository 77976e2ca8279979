"""The training loop behind ``xpgrad train``: a classifier, minibatches, evaluation, history.

Data order comes from a NumPy generator seeded with ``seed`` and weights from
``xg.random.default_rng(seed, backend=...)``, so two backends that share a generator (numpy and
numba) see identical batches and initial weights, and their loss curves can be compared.

A run is checked before it trains (``prepare``): the configuration, the output paths (the
checkpoint's directory must take files, ``logdir`` must be a directory that can be made), the
optional packages it will need, the data set and, when resuming, the checkpoint -- so a bad flag
never costs a finished run. While it trains, it stops on a NaN or infinite loss
(``TrainingError``) before applying that update, never saves non-finite weights, saves every
``checkpoint_every`` steps, and (with ``handle_signals``) on SIGINT or SIGTERM finishes the step
in progress, then saves the checkpoint, the history and the curves and returns with
``result.interrupted`` set. A checkpoint carries the run's configuration and position (epoch and
examples done), so ``resume_config(path)`` continues it with no repeated settings and the same
data order.

>>> from xpgrad.training import TrainConfig, train
>>> result = train(TrainConfig(epochs=1, hidden=(32,), logdir=None, progress=False), echo=None)
>>> 0.0 <= result.test_accuracy <= 1.0
True
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from . import backend as _backend
from .data import DATASETS, IDX_DATASETS, load_dataset, normalized
from .models import MODELS, OPTIMIZERS
from .threads import DEFAULT_THREADS, check_threads

#: settings that define what a checkpoint holds: a resumed run must not change them
IDENTITY = ("model", "hidden", "dataset", "optimizer", "seed")
#: the command-line flag of each setting (for messages)
FLAGS = {f: "--" + f.replace("_", "-") for f in (
    "backend", "model", "optimizer", "epochs", "batch_size", "learning_rate", "seed", "hidden",
    "dataset", "data_dir", "logdir", "checkpoint", "max_steps", "checkpoint_every", "resume",
    "threads")}


class ConfigError(ValueError):
    """A training setting or output path is invalid (found before any training)."""


class TrainingError(RuntimeError):
    """The run cannot go on: the loss or the weights became NaN or infinite."""


def _name(field_name):
    return f"{field_name} ({FLAGS[field_name]})" if field_name in FLAGS else field_name


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

    def resolved(self) -> "TrainConfig":
        """A copy with defaults filled in and every setting checked (ConfigError naming it)."""
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
                              "checkpoint": checkpoint})


def resume_config(path, overrides=None, *, finish=True) -> TrainConfig:
    """The configuration to continue the run saved in checkpoint ``path``: its own settings,
    with ``overrides`` (settings given again) on top. Settings that define the model
    (``IDENTITY``) must not differ from the checkpoint's (CheckpointError says which). With
    ``finish`` and no ``epochs`` override, ``epochs`` is what remains of the saved run (its
    interrupted epoch counts as one); a finished run raises CheckpointError.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> _ = train(TrainConfig(epochs=3, hidden=(8,), max_steps=2, checkpoint=path,
    ...                       progress=False), echo=None)
    >>> cfg = resume_config(path)          # the rest of the 3 epochs, the same settings
    >>> cfg.epochs, cfg.hidden, cfg.checkpoint == path
    (3, (8,), True)
    """
    from .checkpoint import CheckpointError, checkpoint_metadata

    overrides = dict(overrides or {})
    meta = checkpoint_metadata(path)
    saved = meta.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path!r} holds no training configuration (it was not written "
                              f"by xpgrad train); give the flags of its run instead of "
                              f"{FLAGS['resume']}")
    # where this run writes is its own business: never the saved run's paths (the file may
    # have been moved or copied since)
    known = {f.name for f in fields(TrainConfig)} - {"checkpoint", "resume", "logdir",
                                                     "progress", "threads"}
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
                raise CheckpointError(f"{path!r} is of a finished run ({done} of {target} "
                                      f"epochs); give {FLAGS['epochs']} N to train N more")
            overrides["epochs"] = target - done
    config = {**base, **{k: v for k, v in overrides.items() if v is not None}}
    config["resume"] = os.fspath(path)
    config.setdefault("checkpoint", os.fspath(path))
    return TrainConfig(**config)



def _show(value):
    return ",".join(map(str, value)) if isinstance(value, tuple) else repr(value)


@dataclass
class History:
    """Per-epoch metrics (lists of equal length) and the loss of every step."""

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    learning_rate: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    config: TrainConfig
    history: History
    model: object
    optimizer: object
    test_accuracy: float
    seconds: float
    steps: int
    resumed_from: int = 0                   # epochs already done when a checkpoint was loaded
    files: dict = field(default_factory=dict)
    interrupted: str | None = None          # the signal's name when SIGINT/SIGTERM stopped it


def metric(value) -> float:
    """A metric as a Python float printed at its own precision: a float32 (or float16) value
    becomes the shortest decimal that identifies it, not its float64 expansion.

    >>> import numpy as np
    >>> metric(np.float32(0.1)), metric(np.float64(0.1)), metric(2)
    (0.1, 0.1, 2.0)
    """
    if hasattr(value, "numpy") and not isinstance(value, np.generic):
        value = value.numpy()
    a = np.asarray(value)
    if a.dtype in (np.float32, np.float16):
        return float(str(a[()]))
    return float(a)


def evaluate(model, x, y, backend, batch_size=512):
    """Mean softmax cross-entropy and accuracy of ``model`` on NumPy arrays ``x``, ``y``."""
    import xpgrad as xg
    from .data import batches

    total_loss, correct = 0.0, 0
    for idx in batches(len(x), batch_size):
        logits = model(xg.asarray(x[idx], backend=backend))
        labels = xg.asarray(y[idx], backend=backend)
        total_loss += float(xg.losses.softmax_cross_entropy(logits, labels, reduction="sum"))
        correct += int((np.argmax(logits.numpy(), axis=1) == y[idx]).sum())
    return total_loss / len(x), correct / len(x)


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from .report import require

    tqdm = require("tqdm", "the progress bar").tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True,
                file=sys.stderr)


# -- before training: everything a user can get wrong ------------------------------------------
def check_logdir(logdir) -> str:
    """Make ``logdir`` (and its parents) if needed and check it takes files; ConfigError
    naming it otherwise.

    >>> import os, tempfile
    >>> d = check_logdir(os.path.join(tempfile.mkdtemp(), "runs", "a"))
    >>> os.path.isdir(d)
    True
    """
    logdir = os.fspath(logdir)
    if os.path.exists(logdir) and not os.path.isdir(logdir):
        raise ConfigError(f"{_name('logdir')} {logdir!r} is a file, not a directory")
    try:
        os.makedirs(logdir, exist_ok=True)
        probe = os.path.join(logdir, f".xpgrad-probe-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"{_name('logdir')} {logdir!r} cannot be used: "
                          f"{e.strerror or e}") from None
    return logdir


@dataclass
class Plan:
    cfg: TrainConfig
    raw: object
    ds: object
    model: object
    opt: object
    be: object
    start_epoch: int = 0        # whole epochs done before this call
    skip: int = 0               # examples of epoch start_epoch + 1 done before this call

    def fit(self, echo=print, handle_signals=False) -> "TrainResult":
        """Train as planned (see ``train``)."""
        from .threads import limit

        with limit(self.cfg.threads):
            return _fit(self, echo, handle_signals)


def prepare(config: TrainConfig, echo=None) -> Plan:
    """Check everything and build the run: settings, output paths, optional packages, data
    (MNIST and Fashion-MNIST are downloaded on first use; ``echo`` gets a line per file),
    model, optimizer and (when resuming) the checkpoint's state. Raises ConfigError,
    CheckpointError, DataError (DownloadError), UnknownBackendError, BackendUnavailableError
    or ImportError. Nothing is imported for the logs here: matplotlib only at the end of the
    run, for ``curves.png``.

    >>> try:
    ...     prepare(TrainConfig(checkpoint="/no/such/dir/c.npz", progress=False))
    ... except ValueError as e:
    ...     print(type(e).__name__, str(e).split(":")[0])
    CheckpointError cannot save a checkpoint to '/no/such/dir/c.npz'
    """
    import xpgrad as xg
    from .checkpoint import check_writable, checkpoint_metadata, load_checkpoint
    from .report import require

    cfg = config.resolved()
    if cfg.checkpoint:
        check_writable(cfg.checkpoint)
    if cfg.logdir:
        if os.path.exists(cfg.logdir) and not os.path.isdir(cfg.logdir):
            raise ConfigError(f"{_name('logdir')} {cfg.logdir!r} is a file, not a directory")
        require("matplotlib", "plotting the learning curves", load=False)
    if cfg.progress:
        require("tqdm", "the progress bar", load=False)
    source = cfg.resume or (cfg.checkpoint if cfg.checkpoint and os.path.exists(cfg.checkpoint)
                            else None)
    meta = {}
    if source:
        meta = checkpoint_metadata(source)
        saved = meta.get("config")
        if isinstance(saved, dict):
            resume_config(source, {k: getattr(cfg, k) for k in IDENTITY}, finish=False)
    be = xg.get_backend(cfg.backend)
    cached = getattr(be, "kernels_cached", None)
    if echo is not None and cached is not None and not cached(("float32",)):
        echo(f"the {be.name} backend compiles its kernels on first use, which takes a while "
             f"once per machine; `xpgrad warmup --backend {be.name}` compiles them all ahead of "
             f"time, in parallel")
    raw = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed, progress=cfg.progress,
                       echo=echo)
    ds = normalized(raw)
    model = MODELS[cfg.model].build(ds, list(cfg.hidden),
                                    xg.random.default_rng(cfg.seed, backend=be), be)
    opt = OPTIMIZERS[cfg.optimizer].build(cfg.learning_rate)
    plan = Plan(cfg, raw, ds, model, opt, be)
    if source:
        load_checkpoint(source, model, opt)
        if isinstance(meta.get("epochs_done"), int):
            plan.start_epoch = meta["epochs_done"]
            plan.skip = min(int(meta.get("examples_in_epoch") or 0), len(ds.x_train))
        else:   # a checkpoint without position: whole epochs follow from the step count
            steps_per_epoch = -(-len(ds.x_train) // cfg.batch_size)
            plan.start_epoch = -(-opt.iterations // steps_per_epoch)
    if cfg.logdir:                  # last: nothing is made when another check fails
        check_logdir(cfg.logdir)
    return plan


# -- signals -----------------------------------------------------------------------------------
class _Stopper:
    """Turns SIGINT/SIGTERM into a request to stop after the current step (main thread only);
    a second SIGINT raises KeyboardInterrupt at once."""

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n))

    def __init__(self, enabled):
        self.signum = None
        self._previous = {}
        if enabled and threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    @property
    def name(self):
        return None if self.signum is None else signal.Signals(self.signum).name

    def restore(self):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


# -- the loop ----------------------------------------------------------------------------------
def _json_safe(value):
    """NaN and infinities as None, tuples as lists: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _write_json(path, data) -> None:
    """Write JSON atomically (a temporary file renamed onto ``path``)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(_json_safe(data), f, indent=1, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save(plan, epoch, done_in_epoch, n_train, target_epochs) -> None:
    """Save the checkpoint with the run's position (``done_in_epoch`` examples of ``epoch``
    done), refusing non-finite weights."""
    from .checkpoint import save_checkpoint

    for name, var in plan.model.named_variables().items():
        if not np.isfinite(var.numpy()).all():
            raise TrainingError(f"variable {name!r} holds NaN or infinite values after step "
                                f"{plan.opt.iterations}; the checkpoint {plan.cfg.checkpoint!r}"
                                f" was not overwritten (lower {FLAGS['learning_rate']})")
    complete = done_in_epoch >= n_train
    meta = {"config": _json_safe(asdict(plan.cfg)),
            "epochs_done": epoch if complete else epoch - 1,
            "examples_in_epoch": 0 if complete else done_in_epoch, "target_epochs": target_epochs,
            "steps": plan.opt.iterations}
    save_checkpoint(plan.cfg.checkpoint, plan.model, plan.opt, metadata=meta)


def train(config: TrainConfig, echo=print, *, handle_signals=False) -> TrainResult:
    """Train ``config.model`` on ``config.dataset``; returns history, model and test accuracy.

    ``echo`` receives one line per epoch and a summary (None: silent). Writes TensorBoard event
    files (a ``loss/train_step`` scalar per step, the other scalars per epoch), ``curves.png``
    and ``history.json`` under ``config.logdir`` when it is set, and the checkpoint (resuming
    from it if it exists). BLAS and Numba use ``config.threads`` threads while it trains. Everything is checked first (``prepare``).
    With ``handle_signals`` (main thread), SIGINT/SIGTERM stop the run after the current step,
    with everything saved, and ``result.interrupted`` names the signal.
    """
    return prepare(config, echo).fit(echo, handle_signals)


def _fit(plan: Plan, echo, handle_signals) -> TrainResult:
    import xpgrad as xg
    from .report import RunWriter, plot_history

    cfg, ds, raw, model, opt, be = plan.cfg, plan.ds, plan.raw, plan.model, plan.opt, plan.be
    say = echo or (lambda *a, **k: None)
    variables = model.trainable_variables
    start_epoch, skip = plan.start_epoch, plan.skip
    target = start_epoch + cfg.epochs
    if start_epoch or skip or opt.iterations:
        where = f" (epoch {start_epoch + 1}, {skip} examples in)" if skip else ""
        say(f"resumed from {cfg.resume or cfg.checkpoint}: {opt.iterations} steps done "
            f"(epoch {start_epoch}){where}")

    writer = RunWriter(cfg.logdir)
    writer.text("config", "\n".join(f"    {k}: {v}" for k, v in asdict(cfg).items()))
    writer.images("inputs/train_samples", raw.x_train[:64], ds.image_shape)
    say(f"{ds!r}; model {cfg.model} {[ds.n_features, *cfg.hidden, ds.n_classes]}; "
        f"{cfg.optimizer} lr={cfg.learning_rate:g}; backend {be.name}")

    history = History()
    n_train = len(ds.x_train)
    order_rng = np.random.default_rng(cfg.seed)
    for _ in range(start_epoch):                 # resume: keep the data order a fresh run had
        order_rng.permutation(n_train)
    x_train = xg.asarray(ds.x_train, backend=be)
    y_train = xg.asarray(ds.y_train, backend=be)
    steps, t_start = 0, time.perf_counter()
    stopper = _Stopper(handle_signals)
    epoch, done_in_epoch = start_epoch, 0
    try:
        for epoch in range(start_epoch + 1, target + 1):
            t_epoch = time.perf_counter()
            order = order_rng.permutation(n_train)
            first = skip if epoch == start_epoch + 1 else 0
            idx_batches = [order[i:i + cfg.batch_size]
                           for i in range(first, n_train, cfg.batch_size)]
            loss_sum, correct, seen, done_in_epoch = 0.0, 0, 0, first
            bar = _progress(idx_batches, len(idx_batches), f"epoch {epoch}/{target}",
                            cfg.progress)
            for idx in bar:
                idx_t = xg.asarray(idx, backend=be)
                xb, yb = x_train[idx_t], y_train[idx_t]
                # overflow shows as a non-finite loss, reported below: no warnings per step
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    with xg.GradientTape() as tape:
                        logits = model(xb)
                        loss = xg.losses.softmax_cross_entropy(logits, yb)
                loss_value = metric(loss)
                if not math.isfinite(loss_value):
                    history.step_loss.append(loss_value)
                    raise TrainingError(
                        f"the training loss became {loss_value} at step {opt.iterations + 1} "
                        f"(epoch {epoch}); stopped before applying that update. Lower "
                        f"{FLAGS['learning_rate']} (now {cfg.learning_rate:g})"
                        + (f"; the checkpoint {cfg.checkpoint!r} holds the last saved step"
                           if cfg.checkpoint and os.path.exists(cfg.checkpoint) else ""))
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    grads = tape.gradient(loss, variables)
                    opt.apply_gradients(zip(grads, variables))
                history.step_loss.append(loss_value)
                writer.scalars({"loss/train_step": loss_value}, opt.iterations)
                loss_sum += loss_value * len(idx)
                correct += int((np.argmax(logits.numpy(), axis=1) == ds.y_train[idx]).sum())
                seen += len(idx)
                done_in_epoch += len(idx)
                steps += 1
                if cfg.progress:
                    bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
                if cfg.checkpoint_every and opt.iterations % cfg.checkpoint_every == 0:
                    _save(plan, epoch, done_in_epoch, n_train, target)
                if stopper.signum is not None or (cfg.max_steps is not None
                                                  and steps >= cfg.max_steps):
                    break
            if seen:
                test_loss, test_acc = evaluate(model, ds.x_test, ds.y_test, be)
                lr = opt.learning_rate
                row = dict(epoch=epoch, train_loss=loss_sum / seen,
                           train_accuracy=correct / seen, test_loss=test_loss,
                           test_accuracy=test_acc, learning_rate=lr,
                           seconds=time.perf_counter() - t_epoch)
                for key, value in row.items():
                    getattr(history, key).append(value)
                writer.scalars({"loss/train": row["train_loss"], "loss/test": test_loss,
                                "accuracy/train": row["train_accuracy"],
                                "accuracy/test": test_acc, "learning_rate": lr}, epoch)
                writer.flush()
                partial = "" if done_in_epoch >= n_train else \
                    f"  (partial: {done_in_epoch}/{n_train} examples)"
                say(f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  "
                    f"acc {row['train_accuracy']:6.2%}  test loss {test_loss:.4f}  "
                    f"test acc {test_acc:6.2%}  ({row['seconds']:.2f} s){partial}")
            if stopper.signum is not None or (cfg.max_steps is not None
                                              and steps >= cfg.max_steps):
                break
    except TrainingError:
        _write_logs(plan, history, writer, plot_history, None)
        raise
    finally:
        stopper.restore()
    seconds = time.perf_counter() - t_start

    if cfg.checkpoint:              # the most valuable file first
        try:
            _save(plan, epoch, done_in_epoch, n_train, target)
        except TrainingError:
            _write_logs(plan, history, writer, plot_history, stopper.name)
            raise
    files = _write_logs(plan, history, writer, plot_history, stopper.name)
    if cfg.checkpoint:
        files["checkpoint"] = cfg.checkpoint

    test_acc = history.test_accuracy[-1] if history.test_accuracy else float("nan")
    if stopper.name:
        say(f"interrupted by {stopper.name} at step {opt.iterations} (epoch {epoch}); "
            + (f"resume with: xpgrad train --resume {cfg.checkpoint}" if cfg.checkpoint
               else "no --checkpoint was given, so the weights were not saved"))
    say(f"held-out accuracy {test_acc:.2%} on {len(ds.x_test)} {ds.name} test images "
        f"after {steps} steps in {seconds:.1f} s")
    for what, path in files.items():
        say(f"wrote {what}: {path}")
    return TrainResult(cfg, history, model, opt, test_acc, seconds, steps, start_epoch, files,
                       stopper.name)


def _write_logs(plan, history, writer, plot_history, interrupted) -> dict:
    """Close the event files, write ``history.json`` and ``curves.png``; return their paths."""
    cfg, ds, be = plan.cfg, plan.ds, plan.be
    writer.close()
    if not cfg.logdir:
        return {}
    history_path = os.path.join(cfg.logdir, "history.json")
    _write_json(history_path, {"config": asdict(cfg), **history.as_dict(),
                               "interrupted": interrupted, "steps_done": plan.opt.iterations})
    files = {"events": cfg.logdir}
    if history.epoch:
        files["curves"] = plot_history(history, os.path.join(cfg.logdir, "curves.png"),
                                       title=f"{cfg.model} on {ds.name} ({be.name}, "
                                             f"{cfg.optimizer})")
    files["history"] = history_path
    return files
