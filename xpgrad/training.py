"""The training loop behind ``xpgrad train``: a classifier, minibatches, evaluation, history.

Data order comes from a NumPy generator seeded with ``seed`` and weights from
``xg.random.default_rng(seed, backend=...)``, so two backends that share a generator (numpy and
numba) see identical batches and initial weights, and their loss curves can be compared.

>>> from xpgrad.training import TrainConfig, train
>>> result = train(TrainConfig(epochs=1, hidden=(32,), logdir=None, progress=False), echo=None)
>>> 0.0 <= result.test_accuracy <= 1.0
True
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import backend as _backend
from .data import batches, load_dataset, normalized
from .models import MODELS, OPTIMIZERS


@dataclass
class TrainConfig:
    """Everything a run depends on (the CLI flags, one field each)."""

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
    progress: bool = True                   # tqdm bar per epoch

    def resolved(self) -> "TrainConfig":
        """A copy with defaults filled in and names checked (clear errors for bad values)."""
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        lr = self.learning_rate
        if lr is None:
            lr = OPTIMIZERS[self.optimizer].default_learning_rate
        if not lr > 0:
            raise ValueError(f"learning_rate must be > 0, got {lr}")
        hidden = MODELS[self.model].default_hidden if self.hidden is None else self.hidden
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden sizes must be >= 1, got {list(hidden)}")
        _backend.get_backend(self.backend)   # UnknownBackendError / BackendUnavailableError
        return TrainConfig(**{**asdict(self), "learning_rate": float(lr),
                              "hidden": tuple(int(h) for h in hidden)})


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


def evaluate(model, x, y, backend, batch_size=512):
    """Mean softmax cross-entropy and accuracy of ``model`` on NumPy arrays ``x``, ``y``."""
    import xpgrad as xg

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
    return tqdm(iterable, total=total, desc=desc, leave=False, unit="batch", dynamic_ncols=True)


def train(config: TrainConfig, echo=print) -> TrainResult:
    """Train ``config.model`` on ``config.dataset``; returns history, model and test accuracy.

    ``echo`` receives one line per epoch and a summary (None: silent). Writes TensorBoard event
    files, ``curves.png`` and ``history.json`` under ``config.logdir`` when it is set, and the
    checkpoint at the end when ``config.checkpoint`` is set (resuming from it if it exists).
    """
    import xpgrad as xg
    from .report import RunWriter, plot_history

    cfg = config.resolved()
    say = echo or (lambda *a, **k: None)
    be = xg.get_backend(cfg.backend)
    raw = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed)
    ds = normalized(raw)
    model = MODELS[cfg.model].build(ds, list(cfg.hidden), xg.random.default_rng(cfg.seed,
                                                                               backend=be), be)
    opt = OPTIMIZERS[cfg.optimizer].build(cfg.learning_rate)
    variables = model.trainable_variables

    steps_per_epoch = -(-len(ds.x_train) // cfg.batch_size)
    start_epoch = 0
    if cfg.checkpoint and os.path.exists(cfg.checkpoint):
        from .checkpoint import load_checkpoint

        load_checkpoint(cfg.checkpoint, model, opt)
        # the checkpoint holds the optimizer's step count; whole epochs done follow from it
        start_epoch = -(-opt.iterations // steps_per_epoch)
        say(f"resumed from {cfg.checkpoint}: {opt.iterations} steps done "
            f"(epoch {start_epoch})")

    writer = RunWriter(cfg.logdir)
    writer.text("config", "\n".join(f"    {k}: {v}" for k, v in asdict(cfg).items()))
    writer.images("inputs/train_samples", raw.x_train[:64], ds.image_shape)
    say(f"{ds!r}; model {cfg.model} {[ds.n_features, *cfg.hidden, ds.n_classes]}; "
        f"{cfg.optimizer} lr={cfg.learning_rate:g}; backend {be.name}")

    history = History()
    order_rng = np.random.default_rng(cfg.seed)
    for _ in range(start_epoch):                 # resume: keep the data order a fresh run had
        order_rng.permutation(len(ds.x_train))
    x_train = xg.asarray(ds.x_train, backend=be)
    y_train = xg.asarray(ds.y_train, backend=be)
    steps, t_start = 0, time.perf_counter()
    for epoch in range(start_epoch + 1, start_epoch + cfg.epochs + 1):
        t_epoch = time.perf_counter()
        idx_batches = batches(len(ds.x_train), cfg.batch_size, order_rng)
        loss_sum, correct, seen = 0.0, 0, 0
        bar = _progress(idx_batches, len(idx_batches), f"epoch {epoch}/{start_epoch + cfg.epochs}",
                        cfg.progress)
        for idx in bar:
            idx_t = xg.asarray(idx, backend=be)
            xb, yb = x_train[idx_t], y_train[idx_t]
            with xg.GradientTape() as tape:
                logits = model(xb)
                loss = xg.losses.softmax_cross_entropy(logits, yb)
            grads = tape.gradient(loss, variables)
            opt.apply_gradients(zip(grads, variables))
            loss_value = float(loss)
            history.step_loss.append(loss_value)
            loss_sum += loss_value * len(idx)
            correct += int((np.argmax(logits.numpy(), axis=1) == ds.y_train[idx]).sum())
            seen += len(idx)
            steps += 1
            if cfg.progress:
                bar.set_postfix(loss=f"{loss_value:.4f}")
            if cfg.max_steps is not None and steps >= cfg.max_steps:
                break
        test_loss, test_acc = evaluate(model, ds.x_test, ds.y_test, be)
        lr = opt.learning_rate
        row = dict(epoch=epoch, train_loss=loss_sum / seen, train_accuracy=correct / seen,
                   test_loss=test_loss, test_accuracy=test_acc, learning_rate=lr,
                   seconds=time.perf_counter() - t_epoch)
        for key, value in row.items():
            getattr(history, key).append(value)
        writer.scalars({"loss/train": row["train_loss"], "loss/test": test_loss,
                        "accuracy/train": row["train_accuracy"], "accuracy/test": test_acc,
                        "learning_rate": lr}, epoch)
        say(f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  acc {row['train_accuracy']:6.2%}"
            f"  test loss {test_loss:.4f}  test acc {test_acc:6.2%}  ({row['seconds']:.2f} s)")
        if cfg.max_steps is not None and steps >= cfg.max_steps:
            break
    seconds = time.perf_counter() - t_start
    writer.close()

    files = {}
    if cfg.logdir:
        files["events"] = cfg.logdir
        files["curves"] = plot_history(history, os.path.join(cfg.logdir, "curves.png"),
                                       title=f"{cfg.model} on {ds.name} ({be.name}, "
                                             f"{cfg.optimizer})")
        files["history"] = os.path.join(cfg.logdir, "history.json")
        with open(files["history"], "w") as f:
            json.dump({"config": asdict(cfg), **history.as_dict()}, f, indent=1)
    if cfg.checkpoint:
        from .checkpoint import save_checkpoint

        save_checkpoint(cfg.checkpoint, model, opt)
        files["checkpoint"] = cfg.checkpoint

    test_acc = history.test_accuracy[-1] if history.test_accuracy else float("nan")
    say(f"held-out accuracy {test_acc:.2%} on {len(ds.x_test)} {ds.name} test images "
        f"after {steps} steps in {seconds:.1f} s")
    for what, path in files.items():
        say(f"wrote {what}: {path}")
    return TrainResult(cfg, history, model, opt, test_acc, seconds, steps, start_epoch, files)
