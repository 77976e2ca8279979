"""What a training run writes: TensorBoard event files and a PNG of the learning curves.

Event files are written by ``xpgrad.events`` (no tensorboardX, no protobuf, no PyTorch).
matplotlib, for the PNG, is optional (the ``viz`` extra; ``xpgrad train --curves`` or
``xpgrad plot RUN_DIR``): it is imported when the plot is drawn, and ``available`` tells
beforehand whether it is installed; a missing package gives an error that names the install
command.

>>> import tempfile
>>> from xpgrad.report import plot_history
>>> h = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "test_loss": [1.1, 0.7],
...      "train_accuracy": [0.6, 0.8], "test_accuracy": [0.55, 0.75]}
>>> plot_history(h, tempfile.mkdtemp() + "/curves.png").endswith("curves.png")
True
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import numpy as np

INSTALL_HINT = 'pip install -e ".[{extra}]"'
#: the extra that installs each optional package the library imports
EXTRAS = {"matplotlib": "viz", "tqdm": "train"}


def available(module: str) -> bool:
    """Whether ``module`` can be imported, found without importing it.

    >>> available("json"), available("no_such_module_here")
    (True, False)
    """
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, purpose: str, *, load=True):
    """Import ``module`` (with ``load`` False: only check that it is there) or raise
    ImportError saying what needs it and how to install it (the extra in ``EXTRAS``, else
    ``train``).

    >>> require("json", "testing").__name__
    'json'
    """
    top = module.split(".")[0]
    hint = INSTALL_HINT.format(extra=EXTRAS.get(top, "train"))
    if not load:
        if available(top) and available(module):
            return None
    else:
        try:
            return importlib.import_module(module)
        except ImportError as e:
            if available(top):                  # there, but its import fails
                raise ImportError(f"{purpose} needs the {top!r} package, which is installed "
                                  f"but does not import ({e}); reinstall it: {hint}") from None
    raise ImportError(f"{purpose} needs the {top!r} package: {hint}") from None


def image_grid(images, image_shape, columns=8, padding=1, pad_value=0.5) -> np.ndarray:
    """Tile flat images ``(n, h*w)`` into one array in [0, 1], ``columns`` per row, with
    ``padding`` pixels of ``pad_value`` around and between them (mid-grey by default: neither
    a digit's background nor its ink, so neighbours never merge), as torchvision's
    ``make_grid`` lays them out.

    >>> image_grid(np.ones((3, 4)), (2, 2), columns=2).shape     # 2 rows, 2 columns of 2x2
    (7, 7)
    >>> image_grid(np.ones((3, 4)), (2, 2), columns=2, padding=0).shape
    (4, 4)
    """
    h, w = image_shape
    images = np.asarray(images, dtype=np.float32).reshape(-1, h, w)
    lo, hi = float(images.min()), float(images.max())
    images = (images - lo) / (hi - lo) if hi > lo else np.zeros_like(images)
    n = len(images)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    p = int(padding)
    if p < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    grid = np.full((rows * (h + p) + p, columns * (w + p) + p), pad_value, np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        top, left = p + r * (h + p), p + c * (w + p)
        grid[top:top + h, left:left + w] = img
    return grid


class RunWriter:
    """TensorBoard writer for one run: scalars per step/epoch, a grid of sample inputs, text.

    ``RunWriter(None)`` writes nothing (for runs without a log directory).
    """

    def __init__(self, logdir):
        self.logdir = logdir
        self._writer = None
        if logdir is not None:
            from .events import EventWriter

            self._writer = EventWriter(logdir)

    def scalars(self, values: dict, step: int) -> None:
        if self._writer is not None:
            for tag, value in values.items():
                self._writer.add_scalar(tag, value, step)

    def images(self, tag, images, image_shape, step=0) -> None:
        if self._writer is not None:
            grid = image_grid(images, image_shape)
            self._writer.add_image(tag, np.round(grid * 255.0).astype(np.uint8), step)

    def text(self, tag, text, step=0) -> None:
        if self._writer is not None:
            self._writer.add_text(tag, text, step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _figure(figsize):
    """A matplotlib Figure drawn by the Agg canvas, without pyplot (quicker to import, and
    no global figure state)."""
    require("matplotlib", "plotting the learning curves")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def run_title(config) -> str | None:
    """The title of a run's ``curves.png`` from its configuration, the ``config`` mapping its
    ``history.json`` holds; None when that is not a mapping.

    >>> run_title({"model": "mlp", "dataset": "digits", "backend": "numpy", "optimizer": "adam"})
    'mlp on digits (numpy, adam)'
    """
    if not isinstance(config, dict):
        return None
    return (f"{config.get('model')} on {config.get('dataset')} ({config.get('backend')}, "
            f"{config.get('optimizer')})")


def plot_history(history, path, title=None) -> str:
    """Save loss and accuracy per epoch (train and test) side by side as a PNG; returns ``path``.

    ``history`` is a mapping with ``epoch`` and any of ``train_loss``, ``val_loss``,
    ``test_loss``, ``train_accuracy``, ``val_accuracy``, ``test_accuracy`` (lists of equal
    length; a validation list of None is left out).
    """
    fig = _figure((10, 4))
    from matplotlib.ticker import FormatStrFormatter, MaxNLocator, NullFormatter

    h = history if isinstance(history, dict) else history.as_dict()
    epochs = h["epoch"]
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        for split, style in (("train", "-o"), ("val", ":^"), ("test", "--s")):
            values = h.get(f"{split}_{key}")
            if values and any(v is not None for v in values):   # val: None without one
                ax.plot(epochs, values, style, markersize=3, label=split)
        ax.set_xlabel("epoch")
        if len(epochs) <= 10:           # few epochs: a tick each (no 0.945 ... 1.05 for one)
            ax.set_xticks(epochs)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_loss.set_yscale("log")
    # plain numbers (1.8, not 1.8x10^0, whose width hid the axis label); the minor ticks
    # labelled only within about a decade, where there may be no major one
    ax_loss.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
    low, high = ax_loss.get_ylim()
    if high < 12 * low:
        ax_loss.yaxis.set_minor_formatter(FormatStrFormatter("%.3g"))
    else:
        ax_loss.yaxis.set_minor_formatter(NullFormatter())
    if title:
        fig.suptitle(title)
    # fixed margins: tight_layout would measure every label first (a third of the drawing time)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.9 if title else 0.95,
                        wspace=0.22)
    return _save(fig, path)


def plot_curves(curves: dict, path, xlabel="step", ylabel="loss", logy=True, title=None) -> str:
    """Save several named curves ``{label: values}`` on one axis as a PNG; returns ``path``."""
    fig = _figure((6, 4))
    ax = fig.subplots()
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
    return _save(fig, path)


def _save(fig, path) -> str:
    """Write ``fig`` to ``path`` (its directory made; ``.png`` added without an extension, as
    savefig does) and return the file written."""
    if not os.path.splitext(path)[1]:
        path = f"{path}.png"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
