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
    from ..data import batches

    total_loss, correct = 0.0, 0
    for idx in batches(len(x), batch_size):
        logits = model(xg.asarray(x[idx], backend=backend))
        labels = xg.asarray(y[idx], backend=backend)
        total_loss += float(xg.losses.softmax_cross_entropy(logits, labels, reduction="sum"))
        correct += int((np.argmax(logits.numpy(), axis=1) == y[idx]).sum())
    return total_loss / len(x), correct / len(x)
