"""SyncBatchNorm: BatchNorm1d whose training-mode statistics are those of the global batch of a
data-parallel job (PyTorch's ``nn.SyncBatchNorm``).

>>> import xpgrad as xg
>>> model = xg.nn.Sequential(xg.nn.Linear(3, 4, rng=0), xg.nn.BatchNorm1d(4))
>>> model = xg.nn.SyncBatchNorm.convert_sync_batchnorm(model)
>>> type(model.layers[1]).__name__
'SyncBatchNorm'
"""
from __future__ import annotations

from .. import dtypes as _dt
from .._args import flag
from ..ops.sync_batch_norm import sync_normalize
from .module import Module
from .module_containers import ModuleDict, ModuleList
from .normalization import BatchNorm1d, _BatchNorm


class SyncBatchNorm(BatchNorm1d):
    """``SyncBatchNorm(num_features)``: ``BatchNorm1d`` (same arguments, same state; any (N,
    C, ...) input, BatchNorm2d's and BatchNorm3d's too, as PyTorch's) whose training mode, on
    several ranks (``mpiexec``, ``xg.distributed``), normalizes with the mean and biased
    variance of the GLOBAL batch -- every rank's rows together, uneven shares
    weighted by their sizes -- and moves the running statistics towards its mean and unbiased
    variance, identically on every rank. Its gradients are those of ``BatchNorm1d`` on the
    concatenated batch: with ``DistributedGradientTape`` (``op="mean"`` weighted by each rank's
    ``weight``, or ``op="sum"``), ``DistributedOptimizer.minimize(..., weight=)`` or its
    ``apply_gradients`` with equal weights (uneven ones raise ValueError there) they equal the
    single-process gradients of the global batch. Two collectives per training call: one
    allreduce of every rank's (count, mean, M2) forward, one of two per-channel sums backward
    (and, on a layer's first training call, a check that every rank holds it with the same
    channels and dtype).

    ``process_group``: the ranks that share statistics -- a process group of
    ``xg.distributed`` (``xg.distributed.world()``, the default, read at each call) or an
    mpi4py communicator (``comm.Split(...)``: a subset of the ranks). On one process, in
    evaluation mode, and without running statistics in evaluation mode (each rank's own batch,
    as PyTorch's) it is ``BatchNorm1d`` exactly, with no communication.

    Every rank of the group must call it in the same order, on every training step, even with
    an empty share of the batch (and must walk its backward pass: a rank with an empty share
    passes its loss with ``weight=0``; ``DistributedGradientTape`` then walks it all the same).
    ``xg.function`` cannot record it on several ranks (``TraceError``: a replay would skip the
    collectives); neither can a second-order gradient go through it (as PyTorch's).

    >>> import xpgrad as xg
    >>> bn = xg.nn.SyncBatchNorm(1, momentum=0.5, dtype=xg.float64)   # one process: BatchNorm1d
    >>> [round(v[0], 3) for v in bn(xg.asarray([[1.0], [3.0]], dtype=xg.float64)).tolist()]
    [-1.0, 1.0]
    >>> bn.running_mean.tolist(), bn.running_var.tolist()
    ([1.0], [1.5])
    """

    _ndims, _layout = (), "an (N, C, ...)"       # PyTorch's: any input from 2 axes

    def __init__(self, num_features, *, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, dtype=_dt.float32,
                 backend=None, name="batch_norm"):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine,
                         track_running_stats=track_running_stats, dtype=dtype,
                         backend=backend, name=name)
        self._group = _process_group(process_group, type(self).__name__)
        self._agreed = None

    @property
    def process_group(self):
        """The process group given at construction (None: ``xg.distributed.world()``)."""
        return self._group

    def forward(self, x):
        who = type(self).__name__
        training = flag(self.training, "training", who)
        if not training:
            return super().forward(x)
        from ..distributed.group import world

        group = self._group if self._group is not None else world()
        if group.size == 1:
            return super().forward(x)
        x = self._input(x)
        self._agree(group)
        tracking = self.track_running_stats
        stats = (self.running_mean, self.running_var) if tracking else (None, None)

        def count_batch():
            return self._count_batch(x.dtype) if tracking else 0.0

        return sync_normalize(x, *stats, self.weight, self.bias, None, self.eps, group, who,
                              count_batch)

    def _agree(self, group):
        """On this layer's first training call in ``group``: DistributedError on every rank
        unless all hold it with the same channels and dtype (their statistics buffers would
        differ in size, which the allreduce cannot see). One small collective, once."""
        if getattr(self, "_agreed", None) is group:
            return
        from ..distributed.agreement import check_same

        check_same(group, "SyncBatchNorm layer", [f"{self.name}: num_features="
                                                  f"{self.num_features} {self._dtype}"],
                   "every rank must build the same model and call its SyncBatchNorm layers "
                   "in the same order", call="SyncBatchNorm's forward pass")
        self._agreed = group

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """PyTorch's: ``module`` with every ``BatchNorm1d``, ``BatchNorm2d`` and
        ``BatchNorm3d`` in its tree (itself included, in attributes, lists, tuples and dicts,
        at any depth) replaced by a ``SyncBatchNorm`` holding the same Variables (weights,
        running statistics, ``num_batches_tracked``: an optimizer built on them keeps
        working), name, settings and mode; a layer held twice
        becomes one SyncBatchNorm held twice. Returns the converted module (``module`` itself
        unless it is a batch norm); SyncBatchNorms already there keep their group.

        >>> import xpgrad as xg
        >>> bn = xg.nn.BatchNorm1d(2)
        >>> sync = xg.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
        >>> type(sync).__name__, sync.weight is bn.weight
        ('SyncBatchNorm', True)
        """
        if not isinstance(module, Module):
            raise TypeError(f"convert_sync_batchnorm: module must be an xg.nn.Module, got "
                            f"{type(module).__name__}")
        group = _process_group(process_group, "convert_sync_batchnorm")
        return _convert(module, cls, group, {})

    def _extra_repr(self):
        group = "" if self._group is None else f", process_group={self._group!r}"
        return super()._extra_repr() + group


def _process_group(group, who):
    """``group`` as a process group (``rank``, ``size``, ``allreduce_``): None stays None (the
    world at each call); an mpi4py communicator is wrapped."""
    if group is None or all(hasattr(group, a) for a in ("rank", "size", "allreduce_")):
        return group
    if all(hasattr(group, a) for a in ("Get_rank", "Get_size", "Allreduce")):
        from ..distributed.group import MPIWorld

        return MPIWorld(group)
    raise TypeError(f"{who}: process_group must be None (every rank), a process group of "
                    f"xg.distributed (xg.distributed.world()) or an mpi4py communicator, got "
                    f"{type(group).__name__}")


def _convert_items(container, cls, group, done):
    """``_convert`` each item of a list, dict, ModuleList or ModuleDict, in place."""
    items = container.items() if isinstance(container, (dict, ModuleDict)) \
        else enumerate(container)
    for k, item in list(items):
        converted = _convert(item, cls, group, done)
        if converted is not item:
            container[k] = converted


def _convert(value, cls, group, done):
    """``value`` with BatchNorm1d/2d/3d layers replaced (``done``: what each object, by id,
    became)."""
    key = id(value)
    if key in done:
        return done[key]
    if isinstance(value, _BatchNorm) and not isinstance(value, SyncBatchNorm):
        new = object.__new__(cls)
        new.__dict__.update(value.__dict__)
        new._group, new._agreed = group, None
        done[key] = new
        return new
    if isinstance(value, Module):
        done[key] = value
        for name, item in list(vars(value).items()):
            if not name.startswith("_"):
                converted = _convert(item, cls, group, done)
                if converted is not item:
                    setattr(value, name, converted)
        if isinstance(value, (ModuleList, ModuleDict)):        # items kept out of vars()
            _convert_items(value, cls, group, done)
        return value
    if isinstance(value, (list, dict)):
        done[key] = value
        _convert_items(value, cls, group, done)
        return value
    if isinstance(value, tuple):
        items = [_convert(item, cls, group, done) for item in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        new = type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        done[key] = new
        return new
    return value


__all__ = ["SyncBatchNorm"]
