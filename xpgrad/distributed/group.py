"""The process group: who we are (``rank``, ``size``, ``local_rank``), how the job was launched,
and the collectives every other part of ``xpgrad.distributed`` is built on.

A job started by ``mpiexec``/``mpirun`` (Open MPI, MPICH, Intel MPI) or ``srun`` is recognised
from the launcher's environment variables; ``init()`` then joins MPI through mpi4py. Anywhere
else ``init()`` gives a world of one process, in which every collective is the identity, so the
same script runs unchanged on a laptop.

An uncaught exception on one rank would leave the others blocked in their next collective
forever; ``init()`` therefore installs a ``sys.excepthook`` that prints the error with its rank
and calls ``MPI_Abort``, which ends every rank of the job within seconds. A rank whose script
*ends* early (it ran fewer steps than the others) tells the others as it exits; a rank then
waiting for it in a collective raises ``DistributedError`` naming it, as Horovod does, instead
of waiting forever. The worlds themselves (``SingleWorld``, ``MPIWorld``) are ``worlds.py``'s.

>>> w = SingleWorld()
>>> w.rank, w.size, w.local_rank
(0, 1, 0)
>>> launcher_size({"OMPI_COMM_WORLD_SIZE": "4"}), launcher_size({})
(4, 1)
"""
from __future__ import annotations

import os
import sys
import traceback

from .._args import flag
from .stalls import stall_settings
from .worlds import DistributedError, MPIWorld, SingleWorld, refuse_trace  # noqa: F401

#: environment variables through which launchers announce the number of processes
SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE",   # Open MPI's mpiexec
                  "PMI_SIZE",               # MPICH / Intel MPI (Hydra)
                  "PMIX_SIZE",              # PMIx launchers
                  "MV2_COMM_WORLD_SIZE",    # MVAPICH
                  "SLURM_NTASKS")           # srun (step size)


#: environment variables through which launchers tell each process its rank
RANK_VARIABLES = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK",
                  "SLURM_PROCID")


def _announced(environ, names, slurm_name):
    """The first of ``names`` set to a number in ``environ`` (default ``os.environ``), or None;
    Slurm's own variable counts only inside a task of srun."""
    environ = os.environ if environ is None else environ
    for name in names:
        value = environ.get(name)
        if value and value.isdigit():
            if name == slurm_name and "SLURM_STEP_ID" not in environ:
                continue        # inside an allocation (sbatch), not a task of srun
            return int(value)
    return None


def launcher_size(environ=None) -> int:
    """The number of processes a launcher (mpiexec, srun) started, from its environment; 1 if
    none did."""
    size = _announced(environ, SIZE_VARIABLES, "SLURM_NTASKS")
    return 1 if size is None else size


def launcher_rank(environ=None) -> int:
    """This process's rank as the launcher (mpiexec, srun) announced it, before MPI is
    initialised; 0 if no launcher did.

    >>> launcher_rank({"OMPI_COMM_WORLD_RANK": "3"}), launcher_rank({})
    (3, 0)
    """
    rank = _announced(environ, RANK_VARIABLES, "SLURM_PROCID")
    return 0 if rank is None else rank


_WORLD = None


def init(comm=None, *, abort_on_error=True, gpu=None, timeout=None):
    """Join the job's process group and return it (idempotent).

    Under a launcher (or with ``comm``, an mpi4py communicator) this initialises MPI through
    mpi4py; otherwise it returns a world of one. With ``abort_on_error`` an uncaught exception on
    any rank prints ``[rank r] Traceback ...`` and aborts the whole job (``MPI_Abort``), so the
    other ranks never wait for it. With ``gpu`` (default: when CuPy is already imported or
    XPGRAD_BACKEND is "cupy") each rank uses GPU ``local_rank % device count``: call ``init``
    before the first CuPy array is made. ``timeout`` (seconds, or a ``datetime.timedelta`` as
    torch's; default ``XPGRAD_DIST_TIMEOUT``, else none): a rank that has waited longer in a
    collective for the others raises DistributedError, which ends the job (PyTorch's
    ``init_process_group(timeout=)``); after ``XPGRAD_DIST_STALL_WARNING`` seconds (60) it
    notes on stderr that it waits, and where.

    >>> import xpgrad as xg
    >>> xg.distributed.init().size
    1
    """
    global _WORLD
    abort_on_error = flag(abort_on_error, "abort_on_error", "distributed.init")
    if gpu is not None:
        gpu = flag(gpu, "gpu", "distributed.init")
    stall = stall_settings(timeout)
    if _WORLD is not None and comm is None:
        if timeout is not None and hasattr(_WORLD, "stall"):
            _WORLD.stall = stall
        return _WORLD
    if comm is None and launcher_size() <= 1:
        _WORLD = SingleWorld()
        return _WORLD
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise ImportError(f"this process was started by an MPI launcher ({launcher_size()} "
                          f"processes) but mpi4py is not installed; pip install -e \".[mpi]\" "
                          f"(mpi4py and Open MPI from PyPI)") from None
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError) as e:   # RuntimeError: "cannot load MPI library"
        reason = " ".join(str(e).split())
        raise ImportError(f"mpi4py is installed but cannot load an MPI library ({reason}); "
                          f"pip install -e \".[mpi]\" (Open MPI from PyPI), or on a cluster "
                          f"load the site's MPI module (docs/distributed.md)") from None
    world_ = MPIWorld(comm)
    world_.stall = stall
    started = launcher_size()
    if comm is None and world_.size == 1 and started > 1:
        library = world_.MPI.Get_library_version().splitlines()[0].split(",")[0]
        raise DistributedError(
            f"the launcher started {started} processes, but MPI sees a world of one: mpi4py "
            f"uses {library}, while the launcher (mpiexec, srun) on PATH belongs to another MPI"
            f" (or lacks its PMI support), so every process would train alone; start the job "
            f"with the mpiexec of {library}, or build mpi4py against the launcher's MPI "
            f"(docs/distributed.md)")
    _WORLD = world_
    if abort_on_error and _WORLD.size > 1:
        _install_excepthook(_WORLD)
    if gpu or (gpu is None and ("cupy" in sys.modules
                                or os.environ.get("XPGRAD_BACKEND") == "cupy")):
        import cupy

        from .engines import select_device

        select_device(_WORLD.local_rank, cupy.cuda.runtime.getDeviceCount(),
                      lambda i: cupy.cuda.Device(i).use())
    return _WORLD


def world():
    """The current process group (``init()`` is called if it was not).

    >>> world().rank
    0
    """
    return _WORLD if _WORLD is not None else init()


def abort_on_failure(code) -> None:
    """End the whole job if this rank is exiting with a failure status ``code`` (a
    ``SystemExit`` code): other ranks would otherwise wait for it forever. A no-op on one
    process and for a status of 0 or None.

    >>> abort_on_failure(2)       # one process: nothing to end
    """
    w = current()
    if w.size > 1 and code not in (0, None):
        sys.stderr.write(f"[rank {w.rank}] xpgrad.distributed: exiting with status {code}; "
                         f"aborting all {w.size} ranks\n")
        sys.stderr.flush()
        w.abort(code if isinstance(code, int) else 1)


def print_traceback(error, rank, tb=None) -> None:
    """Print the traceback of ``error`` (``tb``, default its own) on stderr, each line prefixed
    with ``[rank r]``.

    >>> print_traceback(ValueError("bad"), 1)      # doctest: +SKIP
    [rank 1] ValueError: bad
    """
    tb = error.__traceback__ if tb is None else tb
    text = "".join(traceback.format_exception(type(error), error, tb))
    sys.stderr.write("".join(f"[rank {rank}] {line}\n" for line in text.splitlines()))
    sys.stderr.flush()


def _install_excepthook(w):
    previous = sys.excepthook

    def abort_job(kind, value, tb):
        print_traceback(value, w.rank, tb)
        sys.stderr.write(f"[rank {w.rank}] xpgrad.distributed: aborting all {w.size} ranks\n")
        sys.stderr.flush()
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
        w.abort(1)

    sys.excepthook = abort_job


def world_started() -> bool:
    """Whether ``init()`` has made this process's group (MPI is initialised under a launcher).

    >>> isinstance(world_started(), bool)
    True
    """
    return _WORLD is not None


def current():
    """The process group ``init()`` made, or a world of one if it was not called (this never
    starts MPI: code that merely runs under a launcher stays single-process until it asks).

    >>> current().size
    1
    """
    return _WORLD if _WORLD is not None else SingleWorld()
