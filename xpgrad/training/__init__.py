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
in progress, then saves the checkpoint, the history (and curves) and returns with
``result.interrupted`` set. A checkpoint carries the run's configuration and position (epoch and
examples done), so ``resume_config(path)`` continues it with no repeated settings and the same
data order.

>>> from xpgrad.training import TrainConfig, train
>>> result = train(TrainConfig(epochs=1, hidden=(32,), logdir=None, progress=False), echo=None)
>>> 0.0 <= result.test_accuracy <= 1.0
True
"""
from __future__ import annotations

# the package's errors come first: its modules import them from here


class ConfigError(ValueError):
    """A training setting or output path is invalid (found before any training)."""


class TrainingError(RuntimeError):
    """The run cannot go on: the loss or the weights became NaN or infinite."""


from .config import FLAGS, IDENTITY, TrainConfig, resume_config  # noqa: E402
from .results import History, TrainResult, evaluate, metric  # noqa: E402
from .plan import Plan, check_logdir, prepare  # noqa: E402
from .loop import train  # noqa: E402

__all__ = ["ConfigError", "FLAGS", "History", "IDENTITY", "Plan", "TrainConfig", "TrainResult",
           "TrainingError", "check_logdir", "evaluate", "metric", "prepare", "resume_config",
           "train"]
