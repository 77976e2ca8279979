"""Data-parallel training across processes: MPI (mpi4py) for host arrays, NCCL (or host-staged
MPI) for CuPy arrays. Launch a script with ``mpiexec -n 4 python train.py`` (or ``srun``); without
a launcher everything here works as a world of one process. See docs/distributed.md.

>>> import xpgrad as xg
>>> xg.distributed.init()
SingleWorld()
>>> xg.distributed.rank(), xg.distributed.size(), xg.distributed.local_rank()
(0, 1, 0)
>>> float(xg.distributed.allreduce(xg.asarray(3.0)))
3.0
"""
from __future__ import annotations

from ..tensor import Tensor, _wrap
from .broadcast import broadcast_optimizer_state, broadcast_variables
from .buckets import DEFAULT_BUCKET_BYTES
from .engines import engine_for
from .gradient_tape import DistributedGradientTape, check_op
from .optimizer import DistributedOptimizer
from .group import DistributedError, abort_on_failure, init, launcher_size, world

__all__ = ["DEFAULT_BUCKET_BYTES", "DistributedError", "DistributedGradientTape",
           "DistributedOptimizer", "abort_on_failure", "allreduce", "barrier",
           "broadcast_optimizer_state", "broadcast_variables", "init", "launcher_size",
           "local_rank", "rank", "size", "world"]


def rank() -> int:
    """This process's rank (0 to ``size() - 1``).

    >>> import xpgrad as xg
    >>> xg.distributed.rank()
    0
    """
    return world().rank


def size() -> int:
    """The number of processes in the job.

    >>> import xpgrad as xg
    >>> xg.distributed.size()
    1
    """
    return world().size


def local_rank() -> int:
    """This process's rank among the job's processes on its machine (picks its GPU).

    >>> import xpgrad as xg
    >>> xg.distributed.local_rank()
    0
    """
    return world().local_rank


def barrier() -> None:
    """Wait until every rank has reached this call. A rank making another call of this module
    meanwhile (``allreduce``, ``broadcast_variables``, a gradient) is named in a
    DistributedError on every rank, as for ranks passing different tensors.

    >>> import xpgrad as xg
    >>> xg.distributed.barrier()
    """
    w = world()
    if w.size > 1:      # the check's allgather completes once every rank has joined: a barrier
        from .agreement import check_same

        check_same(w, "collective call", ["barrier()"], "every rank must make the same calls "
                   "of xpgrad.distributed, in the same order", waits_in="barrier()")


def allreduce(tensor, op="mean"):
    """``tensor`` reduced over all ranks ("mean" or "sum"), as a new Tensor (not recorded on a
    tape). Every rank must pass the same shape and dtype. The result's dtype is that of
    ``xg.sum`` / ``xg.mean`` over a stack of the ranks' tensors: a "sum" of bools or small
    integers is int64, a "mean" of integers the default float dtype.

    >>> import xpgrad as xg
    >>> xg.distributed.allreduce(xg.asarray([1.0, 2.0]), op="sum").tolist()   # one process
    [1.0, 2.0]
    >>> xg.distributed.allreduce(xg.asarray([1, 2])).dtype
    xpgrad.float32
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be an xg Tensor, got {type(tensor).__name__}: wrap it "
                        f"with xg.asarray (dtype=xg.float64 keeps a Python float's precision)")
    check_op(op)
    from .. import ops

    w = world()
    xp = tensor._backend.xp
    # the dtype a reduction over the ranks' axis gives (numpy/torch promotion rules)
    probe = (ops.sum if op == "sum" else ops.mean)(_wrap(xp.zeros((1,), dtype=tensor._data.dtype),
                                                         tensor._backend))
    buf = xp.reshape(xp.asarray(tensor._data, dtype=probe._data.dtype, copy=True), (-1,))
    if w.size > 1:
        from .agreement import check_same

        check_same(w, "allreduce argument", [f"shape {tuple(tensor.shape)} {tensor.dtype}"])
        engine_for(w, buf).allreduce_(buf, "sum")
        if op == "mean":
            buf /= w.size
    return _wrap(xp.reshape(buf, tuple(tensor._data.shape)), tensor._backend)
