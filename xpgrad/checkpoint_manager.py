"""``CheckpointManager``: numbered checkpoints in one directory, the last ``max_to_keep`` kept,
as TensorFlow's ``tf.train.CheckpointManager``.

Each ``save()`` writes ``<directory>/<checkpoint_name>-<n>.npz`` with ``save_checkpoint``
(atomically and durably), then removes the oldest beyond ``max_to_keep``: a crash between the
two leaves one checkpoint too many, never one too few. The directory is the record: each
save, ``checkpoints`` and ``restore`` look at the files there named
``<checkpoint_name>-<n>.npz`` (``n`` without leading zeros; other files, and folders so named,
are left alone), so a resumed run, or a second manager on the same directory, numbers past
the latest there instead of overwriting it, and rotates what it finds. ``restore()`` loads
the latest into the model (and optimizer) and returns its path, or None when there is none yet
(TensorFlow's ``restore_or_initialize``).

>>> import os, tempfile, xpgrad as xg
>>> model = xg.nn.MLP([2, 3, 1], rng=0)
>>> manager = xg.CheckpointManager(tempfile.mkdtemp(), model, max_to_keep=2)
>>> [os.path.basename(manager.save()) for _ in range(3)]
['ckpt-1.npz', 'ckpt-2.npz', 'ckpt-3.npz']
>>> [os.path.basename(path) for path in manager.checkpoints]
['ckpt-2.npz', 'ckpt-3.npz']
>>> manager.restore() == manager.latest_checkpoint
True
"""
from __future__ import annotations

import numbers
import os
import re

from .checkpoint import (CheckpointError, _check_optimizer, _fspath, _named, load_checkpoint,
                         save_checkpoint)


class CheckpointManager:
    """Keep the last ``max_to_keep`` checkpoints of ``model`` (a Module, a dict ``{name:
    Variable}`` or a list of named Variables) and ``optimizer`` (one, a list, or None) in
    ``directory``, created on the first save; ``max_to_keep=None`` keeps them all (module
    docstring; example there)."""

    def __init__(self, directory, model, optimizer=None, max_to_keep=5,
                 checkpoint_name="ckpt"):
        if isinstance(directory, (str, bytes)) and not directory:
            raise CheckpointError("CheckpointManager: directory is empty; give the folder to "
                                  "keep the checkpoints in ('.' for this one)")
        self.directory = _fspath(directory, "directory")
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise CheckpointError(f"CheckpointManager: directory {self.directory!r} is a file, "
                                  "not a directory")
        if max_to_keep is not None and (isinstance(max_to_keep, bool) or not isinstance(
                max_to_keep, numbers.Integral) or max_to_keep < 1):
            raise ValueError(f"CheckpointManager: max_to_keep must be a positive int or None "
                             f"(keep every checkpoint), got {max_to_keep!r}")
        if not isinstance(checkpoint_name, str) or not checkpoint_name or os.sep in \
                checkpoint_name or (os.altsep and os.altsep in checkpoint_name):
            raise ValueError(f"CheckpointManager: checkpoint_name must be a non-empty file name "
                             f"prefix without a path separator, got {checkpoint_name!r}")
        _named(model)                      # a bad model or optimizer is named now, not at save
        _check_optimizer(optimizer)
        self.model, self.optimizer = model, optimizer
        self.max_to_keep = None if max_to_keep is None else int(max_to_keep)
        self.checkpoint_name = checkpoint_name
        self._pattern = re.compile(re.escape(checkpoint_name) + r"-(0|[1-9][0-9]*)\.npz")

    def _found(self, files_only=True) -> dict:
        """``{n: path}`` of the checkpoint files in the directory now, by their names, oldest
        first; with ``files_only=False`` anything so named (a number to save past)."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return {}
        found = {}
        for name in names:
            match = self._pattern.fullmatch(name)
            path = os.path.join(self.directory, name)
            if match and (not files_only or os.path.isfile(path)):
                found[int(match.group(1))] = path
        return dict(sorted(found.items()))

    @property
    def checkpoints(self) -> list:
        """The paths of the kept checkpoints, oldest first."""
        return list(self._found().values())

    @property
    def latest_checkpoint(self):
        """The path of the newest checkpoint, or None."""
        return next(reversed(self._found().values()), None)

    def save(self, checkpoint_number=None, metadata=None, *, extra=None) -> str:
        """Save a checkpoint numbered one past the latest (or ``checkpoint_number``, as
        TensorFlow's; a number at or below the latest is refused, as it would break the
        order), remove the oldest beyond ``max_to_keep``, and return its path. ``metadata``
        and ``extra`` as ``save_checkpoint``'s."""
        latest = next(reversed(self._found(files_only=False)), 0)
        if checkpoint_number is None:
            number = latest + 1
        elif isinstance(checkpoint_number, bool) or not isinstance(checkpoint_number,
                                                                   numbers.Integral):
            raise TypeError(f"CheckpointManager.save: checkpoint_number must be an int, got "
                            f"{type(checkpoint_number).__name__} {checkpoint_number!r}")
        elif checkpoint_number <= latest:
            raise ValueError(f"CheckpointManager.save: checkpoint_number {checkpoint_number} "
                             f"is not past the latest checkpoint's, {latest}")
        else:
            number = int(checkpoint_number)
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, f"{self.checkpoint_name}-{number}.npz")
        save_checkpoint(path, self.model, self.optimizer, metadata, extra=extra)
        if self.max_to_keep is not None:
            for old in list(self._found().values())[:-self.max_to_keep]:
                try:
                    os.remove(old)
                except FileNotFoundError:
                    pass                   # removed by someone else: the aim either way
        return path

    def restore(self):
        """Load the latest checkpoint into the model (and optimizer) and return its path, or
        return None, changing nothing, when there is none."""
        path = self.latest_checkpoint
        if path is not None:
            load_checkpoint(path, self.model, self.optimizer)
        return path
