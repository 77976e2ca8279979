"""What a training run gives back: its per-epoch ``History``, the ``TrainResult``, and the
measures it reports (``metric``, ``evaluate``).

>>> History(epoch=[1], test_accuracy=[0.5]).as_dict()["test_accuracy"]
[0.5]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .config import TrainConfig


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
    train_examples: list = field(default_factory=list)     # examples trained in each row
    val_loss: list = field(default_factory=list)           # None: no validation set
    val_accuracy: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


#: the rows of a history that train_examples weighs when one epoch is split over two runs
_WEIGHED = ("train_loss", "train_accuracy")
#: rows a history written before them lacks (filled with None when a run extends it)
_LATER = ("val_loss", "val_accuracy")


def _read_history(logdir):
    """The parsed ``history.json`` under ``logdir``; None when absent, unreadable or not a
    mapping."""
    import json
    import os

    try:
        with open(os.path.join(logdir, "history.json")) as f:
            earlier = json.load(f)
    except (OSError, ValueError):
        return None
    return earlier if isinstance(earlier, dict) else None


def logs_found(logdir) -> list:
    """The files of a run's logs already in ``logdir``: ``history.json`` and the TensorBoard
    event files, by name (empty where there are none).

    >>> logs_found("/no/such/dir")
    []
    """
    import os

    try:
        names = sorted(os.listdir(logdir))
    except OSError:
        return []
    return [n for n in names if n == "history.json" or n.startswith("events.out.tfevents.")]


def history_run_id(logdir):
    """The ``run_id`` recorded in ``logdir``'s ``history.json`` (None where it records none, as
    those written before runs had one)."""
    earlier = _read_history(logdir)
    return None if earlier is None else earlier.get("run_id")


def earlier_history(logdir, steps_before, config, run_id=None) -> dict | None:
    """The ``history.json`` under ``logdir`` of the run a resumed one continues: written by the
    run ``run_id`` when it stopped at step ``steps_before``, with the same model settings as
    ``config``. None for anything else (no file, another run's, one older than
    ``train_examples``).

    >>> earlier_history("/no/such/dir", 10, TrainConfig()) is None
    True
    """
    from .config import IDENTITY

    if not steps_before:
        return None
    earlier = _read_history(logdir)
    saved = None if earlier is None else earlier.get("config")
    if not isinstance(saved, dict) or earlier.get("steps_done") != steps_before:
        return None
    if earlier.get("run_id") != run_id:
        return None
    mine = asdict(config)
    if mine.get("hidden") is not None:
        mine["hidden"] = list(mine["hidden"])
    if any(saved.get(key) != mine.get(key) for key in IDENTITY):
        return None
    if isinstance(earlier.get("epoch"), list):
        for key in _LATER:
            earlier.setdefault(key, [None] * len(earlier["epoch"]))
    if not all(isinstance(earlier.get(f), list) for f in History.__dataclass_fields__):
        return None
    return earlier


def continue_history(earlier: dict, now: dict, *, counts_earlier=False) -> dict:
    """``now`` (``History.as_dict()`` of a resumed run) after the rows of ``earlier``; an epoch
    split over the two runs (interrupted mid-epoch) becomes one row, its training metrics
    weighed by the examples each part trained, its test metrics those at its end. With
    ``counts_earlier`` (the checkpoint held the sums of the earlier part) ``now``'s row of that
    epoch already counts both parts: it is taken as it is, with both parts' seconds.

    >>> a = dict(History([1, 2], [1.0, 0.5], [0.5, 0.6], [1.0, 0.8], [0.4, 0.5], [0.1, 0.1],
    ...                  [1.0, 1.0], [9.0] * 4, [100, 25], [None] * 2, [None] * 2).as_dict())
    >>> b = History([2, 3], [0.3, 0.2], [0.8, 0.9], [0.7, 0.6], [0.7, 0.8], [0.1, 0.1],
    ...             [3.0, 1.0], [8.0] * 8, [75, 100], [None] * 2, [None] * 2).as_dict()
    >>> h = continue_history(a, b)
    >>> h["epoch"], h["train_loss"], h["train_examples"], h["test_accuracy"], len(h["step_loss"])
    ([1, 2, 3], [1.0, 0.35, 0.2], [100, 100, 100], [0.4, 0.7, 0.8], 12)
    >>> b["train_loss"][0], b["train_examples"][0] = 0.35, 100      # as counted by the run
    >>> h = continue_history(a, b, counts_earlier=True)
    >>> h["train_loss"], h["train_examples"], h["seconds"]
    ([1.0, 0.35, 0.2], [100, 100, 100], [1.0, 4.0, 1.0])
    """
    merged = {key: list(earlier[key]) + list(values) for key, values in now.items()}
    split = len(earlier["epoch"])          # the first row of ``now``
    if split and now["epoch"] and earlier["epoch"][-1] == now["epoch"][0]:
        if not counts_earlier:
            before, after = merged["train_examples"][split - 1], merged["train_examples"][split]
            for key in _WEIGHED:
                merged[key][split] = (merged[key][split - 1] * before
                                      + merged[key][split] * after) / (before + after)
            merged["train_examples"][split] = before + after
        merged["seconds"][split] += merged["seconds"][split - 1]
        for values in merged.values():
            if values is not merged["step_loss"]:
                del values[split - 1]
    return merged


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
    stopped_epoch: int | None = None        # the epoch early stopping stopped after
    best_epoch: int | None = None           # early stopping: the best epoch (its weights kept
                                            # with restore_best)


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
    """Mean softmax cross-entropy and accuracy of ``model`` on NumPy arrays ``x``, ``y``, in
    inference mode (its dropout off, so the run's generators draw nothing: a run split by a
    checkpoint, evaluated at the split, draws what the uninterrupted one does); each module's
    mode is put back after."""
    import xpgrad as xg
    from ..data import batches

    modules = [m for _, m in model.named_modules()] if hasattr(model, "named_modules") else []
    modes = [m.training for m in modules]
    for m in modules:
        m.training = False
    total_loss, correct = 0.0, 0
    try:
        for idx in batches(len(x), batch_size):
            logits = model(xg.asarray(x[idx], backend=backend))
            labels = xg.asarray(y[idx], backend=backend)
            total_loss += float(xg.losses.softmax_cross_entropy(logits, labels,
                                                                reduction="sum"))
            correct += int((np.argmax(logits.numpy(), axis=1) == y[idx]).sum())
    finally:
        for m, mode in zip(modules, modes):
            m.training = mode
    return total_loss / len(x), correct / len(x)
