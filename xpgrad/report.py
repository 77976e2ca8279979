"""What a training run writes: TensorBoard event files and a PNG of the learning curves.

tensorboardX and matplotlib are optional (the ``train`` extra); they are imported when first
used, with an error that names the install command.

>>> import tempfile
>>> from xpgrad.report import plot_history
>>> h = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "test_loss": [1.1, 0.7],
...      "train_accuracy": [0.6, 0.8], "test_accuracy": [0.55, 0.75]}
>>> plot_history(h, tempfile.mkdtemp() + "/curves.png").endswith("curves.png")
True
"""
from __future__ import annotations

import importlib
import os

import numpy as np

INSTALL_HINT = 'pip install -e ".[train]"'


def require(module: str, purpose: str):
    """Import ``module`` or raise ImportError saying what needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{purpose} needs the {module.split('.')[0]!r} package: "
                          f"{INSTALL_HINT}") from None


def image_grid(images, image_shape, columns=8) -> np.ndarray:
    """Tile flat images ``(n, h*w)`` into one ``(rows*h, columns*w)`` array in [0, 1].

    >>> image_grid(np.ones((3, 4)), (2, 2), columns=2).shape
    (4, 4)
    """
    h, w = image_shape
    images = np.asarray(images, dtype=np.float32).reshape(-1, h, w)
    lo, hi = float(images.min()), float(images.max())
    images = (images - lo) / (hi - lo) if hi > lo else np.zeros_like(images)
    n = len(images)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w), np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    return grid


class RunWriter:
    """TensorBoard writer for one run: scalars per step/epoch, a grid of sample inputs.

    ``RunWriter(None)`` writes nothing (for runs without a log directory).
    """

    def __init__(self, logdir):
        self.logdir = logdir
        self._writer = None
        if logdir is not None:
            tbx = require("tensorboardX", "writing TensorBoard event files")
            os.makedirs(logdir, exist_ok=True)
            self._writer = tbx.SummaryWriter(logdir)

    def scalars(self, values: dict, step: int) -> None:
        if self._writer is not None:
            for tag, value in values.items():
                self._writer.add_scalar(tag, float(value), step)

    def images(self, tag, images, image_shape, step=0) -> None:
        if self._writer is not None:
            grid = image_grid(images, image_shape)
            self._writer.add_image(tag, grid[None], step, dataformats="CHW")

    def text(self, tag, text, step=0) -> None:
        if self._writer is not None:
            self._writer.add_text(tag, text, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def plot_history(history, path, title=None) -> str:
    """Save loss and accuracy per epoch (train and test) side by side as a PNG; returns ``path``.

    ``history`` is a mapping with ``epoch`` and any of ``train_loss``, ``test_loss``,
    ``train_accuracy``, ``test_accuracy`` (lists of equal length).
    """
    matplotlib = require("matplotlib", "plotting the learning curves")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    h = history if isinstance(history, dict) else history.as_dict()
    epochs = h["epoch"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        for split, style in (("train", "-o"), ("test", "--s")):
            values = h.get(f"{split}_{key}")
            if values:
                ax.plot(epochs, values, style, markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_yscale("log")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_curves(curves: dict, path, xlabel="step", ylabel="loss", logy=True, title=None) -> str:
    """Save several named curves ``{label: values}`` on one axis as a PNG; returns ``path``."""
    matplotlib = require("matplotlib", "plotting")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), values, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
