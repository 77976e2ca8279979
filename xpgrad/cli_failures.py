"""How the ``xpgrad`` command fails: one line ``xpgrad: error: ...`` on stderr and an exit
status (2: the user's input; 1: the run), and, under an MPI launcher, once for the whole job
with every rank exiting together (``fail_together``, ``AgreedExit``) rather than one rank
aborting the others.

>>> _preparation_status(ValueError("--epochs"))
2
"""
from __future__ import annotations

import sys


class AgreedExit(SystemExit):
    """Data-parallel: every rank exits with this status together (an error they all reached at
    the same step), so none needs to abort the job, which could kill rank 0 while it still
    writes its logs or its message."""


def fail(message, status=2):
    """Print ``xpgrad: error: message`` as one line on stderr and exit with ``status`` (2: the
    user's input is wrong; 1: the run failed).

    >>> try:
    ...     fail("no such file", 2)        # prints "xpgrad: error: no such file" on stderr
    ... except SystemExit as e:
    ...     print(e.code)
    2
    """
    from .distributed.group import launcher_size, world_started

    if isinstance(message, OSError) and message.strerror and message.filename is not None:
        message = f"{message.strerror}: {message.filename!r}"      # without "[Errno 2]"
    line = " ".join(str(message).split())          # one line, whatever the message holds
    if launcher_size() > 1 and not world_started():
        raise Unreported(line, status)             # main reports it once for all the ranks
    sys.stderr.write(f"xpgrad: error: {line}\n")
    sys.stderr.flush()
    raise SystemExit(status)


class Unreported(SystemExit):
    """``fail`` under a launcher before MPI is up: every rank meets the error alike (the same
    command line), and ``main`` has it printed once (``_report_once``)."""

    def __init__(self, message, status):
        super().__init__(status)
        self.message = message


class UsageError(ValueError):
    """An `xpgrad train` command line another rank could not use (see ``_report_once``)."""


def _report_once(error, argv):
    """Report a failure met before MPI started (``Unreported``) once for the job and exit.

    For ``xpgrad train`` the ranks start MPI and agree on the error (``raise_together``, the
    collective a rank without it meets first in ``cmd_train``): rank 0 prints it, every rank
    exits with its status, and none is killed by the launcher while rank 0 still writes.
    Otherwise (another command, or MPI cannot start) the launcher's rank 0 prints it."""
    from .distributed import agreement, group

    if argv[:1] == ["train"]:
        try:
            world = group.init(gpu=False)
        except Exception:                 # the very error being reported, e.g. no mpi4py
            world = None
        if world is not None and world.size > 1:
            try:
                agreement.raise_together(world, UsageError(error.message),
                                         "the reading of the command line")
            except Exception as agreed:
                fail_together(world, agreed, _preparation_status(agreed) or 1)
    if group.launcher_rank() == 0:
        sys.stderr.write(f"xpgrad: error: {error.message}\n")
        sys.stderr.flush()
    raise SystemExit(error.code)


def fail_together(world, message, status):
    """``fail`` on every rank of ``world`` at once (an error every rank raised at the same
    point): rank 0 alone prints ``message``, prefixed with the rank the error arose on (its
    ``failed_rank``) if another, and every rank exits with ``status`` (AgreedExit, so that none
    aborts the job)."""
    if world.size == 1:
        fail(message, status)
    where = getattr(message, "failed_rank", 0)
    if world.rank == 0:
        try:
            fail(f"[rank {where}] {message}" if where else message, status)
        except SystemExit:
            pass
    raise AgreedExit(status)


def _preparation_status(error):
    """The exit status for ``error`` raised while a run is prepared: 2 for the user's input
    (settings, paths, files, data), 1 for what failed around it (a download, a missing
    package, MPI), None for a bug (its traceback is shown).

    >>> _preparation_status(ValueError("--epochs")), _preparation_status(ImportError("tqdm"))
    (2, 1)
    """
    from .backend import BackendUnavailableError, UnknownBackendError
    from .checkpoint import CheckpointError
    from .data import DataError, DownloadError
    from .distributed import DistributedError

    if isinstance(error, (DownloadError, ImportError, DistributedError)):
        return 1
    if isinstance(error, (CheckpointError, DataError, UnknownBackendError,
                          BackendUnavailableError, ValueError, TypeError, FileNotFoundError,
                          PermissionError, MemoryError)):
        return 2
    return None


def _fail_in_training(world, error, message):
    """Fail with status 1 for ``error``, met while training: on several ranks every rank has
    raised it (``failed_rank`` names where it arose) and rank 0 prints ``message`` once."""
    where = getattr(error, "failed_rank", None)
    if where is None:
        fail(message, 1)
    fail_together(world, f"[rank {where}] {message}" if where else message, 1)
