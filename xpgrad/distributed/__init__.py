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
from .gradient_tape import DistributedGradientTape
from .join import join
from .optimizer import DistributedOptimizer
from .group import DistributedError, abort_on_failure, init, launcher_size, world

__all__ = ["DEFAULT_BUCKET_BYTES", "DistributedError", "DistributedGradientTape",
           "DistributedOptimizer", "abort_on_failure", "allreduce", "barrier",
           "broadcast_optimizer_state", "broadcast_variables", "init", "join", "launcher_size",
           "local_rank", "rank", "share", "size", "world"]


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

        from .join import NOTHING

        check_same(w, "collective call", [], call="barrier()", shadow=(NOTHING,))


def share(batch, *, rank=None, size=None):
    """This rank's contiguous share of ``batch`` (an index array, a NumPy array or Tensor, a
    list: anything with ``len`` and slices), split as ``xpgrad train`` splits each global
    batch: the first ``len(batch) % size`` ranks get one row more, and a rank may get none
    (it then passes ``weight=0``). Every rank drawing the same global batches (the same
    ``xg.data.batches`` seed) and taking its share follows the single-process run -- PyTorch's
    ``DistributedSampler`` instead deals whole epochs out and pads them with repeated
    samples. ``rank`` and ``size`` default to this process's.

    >>> import numpy as np, xpgrad as xg
    >>> for idx in xg.data.batches(7, 5, rng=np.random.default_rng(0)):   # global batches
    ...     print([xg.distributed.share(idx, rank=r, size=3).tolist() for r in range(3)])
    [[2, 4], [3, 6], [5]]
    [[0], [1], []]
    >>> xg.distributed.share(np.arange(3)).tolist()                       # one process
    [0, 1, 2]
    """
    from .training import share as share_of

    size = world().size if size is None else size
    rank = world().rank if rank is None else rank
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a number of ranks >= 1, got {size!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < size:
        raise ValueError(f"rank must be in [0, {size - 1}], got {rank!r}")
    if not hasattr(batch, "__len__") or not hasattr(batch, "__getitem__"):
        raise TypeError(f"batch must have a length and slices (an index array, a NumPy "
                        f"array, a Tensor, a list), got {type(batch).__name__}")
    return share_of(batch, size, rank)


def allreduce(tensor, op="mean"):
    """``tensor`` reduced over all ranks ("mean", "sum", "max" or "min", as Horovod's
    ``Average``, ``Sum``, ``Max``, ``Min``), as a new Tensor (not recorded on a tape). Every
    rank must pass the same shape, dtype and op (inside ``dist.join()`` blocks, the ranks that
    have left theirs add nothing, and a "mean" divides as their ``divide_by_initial_world_size``
    says: by every rank, by default, else by those still making the call). The result's dtype
    is that of ``xg.sum`` / ``xg.mean`` / ``xg.max`` / ``xg.min`` over a stack of the ranks'
    tensors: a "sum" of bools or small integers is int64, a "mean" of integers the default
    float dtype, "max" and "min" keep the dtype (complex numbers have none: TypeError).

    >>> import xpgrad as xg
    >>> xg.distributed.allreduce(xg.asarray([1.0, 2.0]), op="sum").tolist()   # one process
    [1.0, 2.0]
    >>> xg.distributed.allreduce(xg.asarray([1, 2])).dtype
    xpgrad.float32
    >>> xg.distributed.allreduce(xg.asarray([True]), op="max").tolist()   # any rank's True
    [True]
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be an xg Tensor, got {type(tensor).__name__}: wrap it "
                        f"with xg.asarray (dtype=xg.float64 keeps a Python float's precision)")
    if op not in ("mean", "sum", "max", "min"):
        raise ValueError(f"op must be 'mean', 'sum', 'max' or 'min', got {op!r}")
    from .. import ops

    w = world()
    xp = tensor._backend.xp
    dtype = tensor._data.dtype
    if op in ("max", "min"):
        if dtype.kind == "c":
            raise TypeError(f"allreduce(op={op!r}): complex numbers have no order, got "
                            f"{tensor.dtype}")
        # MPI has no MAX/MIN of booleans: reduced as bytes
        carrier = xp.uint8 if dtype.kind == "b" else dtype
    else:   # the dtype a reduction over the ranks' axis gives (numpy/torch promotion rules)
        dtype = carrier = (ops.sum if op == "sum" else ops.mean)(
            _wrap(xp.zeros((1,), dtype=dtype), tensor._backend))._data.dtype
    buf = xp.reshape(xp.asarray(tensor._data, dtype=carrier, copy=True), (-1,))
    if w.size > 1:
        from .agreement import check_same
        from .join import allreduce_shadow, mean_divisor

        mpi_op = "sum" if op == "mean" else op
        calling = check_same(w, "allreduce argument",
                             [f"shape {tuple(tensor.shape)} {tensor.dtype}", f"op={op!r}"],
                             call="allreduce()",
                             shadow=allreduce_shadow(buf, mpi_op, tensor._backend.name))
        engine_for(w, buf).allreduce_(buf, mpi_op)
        if op == "mean":        # over every rank, or those left in their dist.join() blocks
            buf /= w.size if calling == w.size else mean_divisor(calling, w.size)
    return _wrap(xp.reshape(xp.asarray(buf, dtype=dtype), tuple(tensor._data.shape)),
                 tensor._backend)


_DDP = ("there is no model wrapper: dist.broadcast_variables(model) once (DDP's constructor "
        "does it), then each step dist.DistributedGradientTape(tape).gradient(loss, "
        "model.trainable_variables, weight=len(mine)) averages the gradients (or wrap the "
        "optimizer: dist.DistributedOptimizer(opt))")
#: torch.distributed's names a user porting PyTorch's DDP tutorial types, and xpgrad's way
_PYTORCH_NAMES = {
    "init_process_group": "dist.init() (MPI under mpiexec or srun; no backend, address or "
                          "port to give)",
    "destroy_process_group": "nothing to call: MPI is finalized when the process exits",
    "is_initialized": "dist.init() may be called again (it returns the same world); "
                      "dist.size() > 1 says whether other ranks take part",
    "get_rank": "dist.rank()", "get_world_size": "dist.size()",
    "all_reduce": "dist.allreduce(t, op='sum') returns a new tensor (torch's all_reduce sums "
                  "in place; xpgrad's default op is 'mean')",
    "DistributedDataParallel": _DDP, "DDP": _DDP,
    "DistributedSampler": "every rank draws the same global batches, for idx in "
                          "xg.data.batches(len(x), batch_size, rng) with one seed, and takes "
                          "its share, mine = dist.share(idx): the run follows the "
                          "single-process one (DistributedSampler deals out the epoch instead)",
}


def __getattr__(name):
    from .._args import no_module_attribute

    raise no_module_attribute(__name__, name, _PYTORCH_NAMES.get(name))
