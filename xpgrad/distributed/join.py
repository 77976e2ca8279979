"""``join()``: training on inputs of uneven length (PyTorch's ``Join`` / ``DDP.join()``,
Horovod's ``hvd.join()``). A rank that leaves the ``with`` block (it ran out of batches) keeps
taking part in the other ranks' gradient reductions and ``allreduce`` calls, contributing
nothing, until every rank has left; then every rank takes the weights and optimizer state of
the last rank to leave. A mean then divides by every rank, the joined ones counted as in their
largest step (``divide_by_initial_world_size=True``, the default of PyTorch's ``DDP.join`` and
what Horovod's average does), or by the ranks that still had data (``False``).

The joined rank learns what to take part in from the first collective of each call, the
check of the ranks' layouts (``agreement.check_same``): it sends ``JOINED`` there instead of
its layout's hash, and the calling ranks then tell it what follows (``shadow``: the gradient
buckets to add zeros to, the ``allreduce`` buffer to add its op's identity to, or nothing for
a barrier). A call a joined rank cannot take part in (``broadcast_variables``, ...) raises a
DistributedError on every rank.

>>> import xpgrad as xg
>>> w = xg.Variable([1.0], name="w")
>>> with xg.distributed.join(w) as joined:     # one process: nothing to wait for
...     pass
>>> joined.last_rank, joined.steps
(0, [0])
"""
from __future__ import annotations

import numpy as np

#: what a rank that has joined sends in place of its layout's hash (8 bytes of blake2b give
#: this one value with odds of 2**-64 per call)
JOINED = -0x4A4F494E45440000

#: the calls a joined rank can take part in, and what their callers pass as ``shadow``
BUCKETS, NOTHING, ALLREDUCE = "gradient buckets", "nothing", "allreduce buffer"

#: gradient reductions this process has made since its ``join()`` block began (for the
#: choice of the last rank, and the messages)
_STEPS = [0]
#: whether this process is inside a ``join()`` block (entered, not yet left)
_INSIDE = [False]
#: the largest ``weight`` of this process's gradient reductions in its block (None: none yet)
_WEIGHT = [None]
#: the block's ``divide_by_initial_world_size``
_DIVIDE = [True]


def note_step() -> None:
    """Count one gradient reduction of this rank (called by ``check_same`` for calls whose
    shadow is the gradient buckets)."""
    _STEPS[0] += 1


def note_weight(weight: float) -> None:
    """Remember the ``weight`` of one of this rank's gradient reductions: once joined, it
    counts in the others' means as its largest one (``divide_by_initial_world_size``)."""
    if _WEIGHT[0] is None or weight > _WEIGHT[0]:
        _WEIGHT[0] = weight


def joined_weight(callers: float = 1.0) -> float:
    """What this rank, having left its block, adds to the weight of the others' gradient
    means: its largest weight in the block with ``divide_by_initial_world_size``, else 0; if
    it made no reduction in the block, ``callers`` (the calling ranks' largest weight in this
    call), so that it counts as one rank, as in PyTorch's division by the world size.

    >>> type(joined_weight(4.0))     # 4.0 where this process made no reduction in a block
    <class 'float'>
    """
    if not _DIVIDE[0]:
        return 0.0
    return float(callers) if _WEIGHT[0] is None else float(_WEIGHT[0])


def mean_divisor(calling: int, size: int) -> int:
    """How many ranks an ``allreduce(op="mean")`` divides by, ``calling`` of ``size`` ranks
    making it while the others have left their ``join()`` blocks: all of them with
    ``divide_by_initial_world_size`` (the default), else the calling ones.

    >>> mean_divisor(2, 2)
    2
    """
    return size if _DIVIDE[0] else calling


def identity_of(op: str, dtype) -> np.ndarray:
    """The value a joined rank adds to an ``allreduce`` of ``op`` over ``dtype`` (NumPy's):
    one that leaves the calling ranks' result as it is.

    >>> identity_of("max", np.float32), identity_of("min", np.uint8), identity_of("sum", int)
    (array(-inf, dtype=float32), array(255, dtype=uint8), array(0))
    """
    dtype = np.dtype(dtype)
    if op in ("sum", "mean"):
        return np.zeros((), dtype)
    if dtype.kind == "f":
        return np.asarray(-np.inf if op == "max" else np.inf, dtype=dtype)
    info = np.iinfo(dtype)
    return np.asarray(info.min if op == "max" else info.max, dtype=dtype)


class join:
    """``with dist.join(model, optimizer):`` around a rank's training loop over batches of its
    own: a rank that has left the block takes part in the others' gradient reductions and
    ``allreduce`` calls with nothing, until every rank has left; every rank then takes
    ``variables`` (a Module, Variables) and ``optimizer``'s state from the rank that left last
    (``last_rank``; ``steps``: each rank's gradient reductions inside the block). Without
    ``variables`` nothing is broadcast (the ranks that left early keep their own weights).
    ``divide_by_initial_world_size`` (PyTorch's ``DDP.join`` argument, True by default there
    and here): a mean divides by every rank, a joined one counted with the largest ``weight``
    of its reductions in the block (the calling ranks' largest if it made none; 1 by
    default: the mean over all ranks, as DDP and Horovod divide); False: by the ranks that
    still had data (their weights only).

    >>> import xpgrad as xg
    >>> lin = xg.nn.Linear(2, 1, rng=0)
    >>> opt = xg.optim.SGD(0.1)
    >>> with xg.distributed.join(lin, opt):
    ...     for step in range(3):
    ...         with xg.GradientTape() as tape:
    ...             loss = xg.sum(lin(xg.ones((4, 2))))
    ...         grads = xg.distributed.DistributedGradientTape(tape).gradient(
    ...             loss, lin.trainable_variables)
    ...         _ = opt.apply_gradients(zip(grads, lin.trainable_variables))
    >>> opt.iterations
    3
    """

    def __init__(self, variables=None, optimizer=None, *, divide_by_initial_world_size=True,
                 world=None):
        if not isinstance(divide_by_initial_world_size, bool):
            raise TypeError(f"join: divide_by_initial_world_size must be True or False, got "
                            f"{divide_by_initial_world_size!r}")
        if optimizer is not None and variables is None:
            raise ValueError("join: optimizer needs variables (the model whose optimizer "
                             "state is broadcast): join(model, optimizer)")
        if optimizer is not None and not hasattr(optimizer, "state_dict"):
            raise TypeError(f"join: optimizer must be an xg.optim optimizer, got "
                            f"{type(optimizer).__name__}")
        self.variables, self.optimizer, self._world = variables, optimizer, world
        self.divide_by_initial_world_size = divide_by_initial_world_size
        self.last_rank, self.steps = None, None

    def __enter__(self):
        if _INSIDE[0]:
            raise RuntimeError("join: already inside a dist.join() block; use one per loop")
        _INSIDE[0], _STEPS[0], _WEIGHT[0] = True, 0, None
        _DIVIDE[0] = self.divide_by_initial_world_size
        return self

    def __exit__(self, kind, error, trace):
        _INSIDE[0] = False
        if kind is not None:        # the rank failed: init()'s hook ends the job
            return False
        from .broadcast import broadcast_optimizer_state, broadcast_variables
        from .group import world as current_world
        from .optimizer import DistributedOptimizer
        from .tape_gradients import last_step

        w = self._world if self._world is not None else current_world()
        if w.size > 1:
            _take_part_until_all_joined(w)
        every = w.allgather((_STEPS[0], _DIVIDE[0])) if w.size > 1 else [(_STEPS[0], _DIVIDE[0])]
        self.steps = [steps for steps, _ in every]
        rules = [rule for _, rule in every]
        if len(set(rules)) > 1:         # the same list on every rank: all raise
            from .worlds import DistributedError

            raise DistributedError(
                f"the ranks' dist.join() blocks divide their means differently "
                f"(divide_by_initial_world_size: {rules}, by rank): pass the same "
                f"divide_by_initial_world_size on every rank")
        self.last_rank = int(np.argmax(self.steps))       # the first of those with the most
        if self.variables is not None:
            broadcast_variables(self.variables, root=self.last_rank, world=w)
        if self.optimizer is not None:
            opt = self.optimizer
            opt = opt.optimizer if isinstance(opt, DistributedOptimizer) else opt
            broadcast_optimizer_state(opt, self.variables, root=self.last_rank, world=w)
        last_step()     # the settings this rank's last update noted: not the others' any more
        return False


def _take_part_until_all_joined(w) -> None:
    """The joined rank's loop: answer each call of the other ranks (see the module docstring)
    until every rank has joined."""
    from .agreement import _allgather_int64, joined_verdict

    waits_in = "dist.join() (this rank has joined; waiting for the others' last steps)"
    while True:
        every = _allgather_int64(w, JOINED, waits_in)
        if (every == JOINED).all():
            return
        gathered = w.allgather(None)
        shadow, message = joined_verdict(gathered, every)
        if message is not None:
            from .worlds import DistributedError

            raise DistributedError(message)
        if shadow[0] == BUCKETS:        # its weight then as the callers' largest, if it has none
            callers = max(g[1][-1] for g in gathered if g is not None)
            _add_zeros(w, *shadow[1:-1], callers)
        elif shadow[0] == ALLREDUCE:
            _add_identity(w, *shadow[1:])


def _add_zeros(w, layout, bucket_bytes, op, backend_name, callers) -> None:
    """Take part in a gradient reduction of ``layout`` with zero gradients, and the weight
    ``joined_weight(callers)`` in the mean."""
    from ..backend import get_backend
    from .agreement import raise_together
    from .buckets import Reduction, _cached_plan

    xp = get_backend(backend_name).xp
    reduction = Reduction(_cached_plan(layout, bucket_bytes), w, xp, joined_weight(callers),
                          op)
    reduction.finish(None)
    if reduction.failed:        # a calling rank's backward pass failed: raise it here too
        raise_together(w, None, "the backward pass")


def _add_identity(w, size, dtype, op, backend_name) -> None:
    """Take part in an ``allreduce`` of ``size`` elements of ``dtype`` (reduced with ``op``,
    MPI's) with its identity."""
    from ..backend import get_backend
    from .engines import engine_for

    xp = get_backend(backend_name).xp
    buf = xp.full((size,), identity_of(op, dtype).item(), dtype=dtype)
    engine_for(w, buf).allreduce_(buf, op)


def allreduce_shadow(buf, op, backend_name):
    """What a joined rank must take part in for an ``allreduce`` of the flat buffer ``buf``
    reduced with MPI's ``op`` ("sum" for a mean).

    >>> allreduce_shadow(np.zeros(3, np.float32), "sum", "numpy")
    ('allreduce buffer', 3, dtype('float32'), 'sum', 'numpy')
    """
    return (ALLREDUCE, int(buf.shape[0]), np.dtype(buf.dtype), op, backend_name)


def bucket_shadow(tensors, bucket_bytes, op, weight=1.0):
    """What a joined rank must take part in for the reduction of ``tensors``' gradients, this
    rank's ``weight`` last (a joined rank that made no reduction counts with the callers'
    largest).

    >>> import xpgrad as xg
    >>> bucket_shadow([xg.Variable([1.0, 2.0])], 64, "mean")
    ('gradient buckets', (((2,), dtype('float32')),), 64, 'mean', 'numpy', 1.0)
    """
    layout = tuple((tuple(t._data.shape), np.dtype(t._data.dtype)) for t in tensors)
    backend = tensors[0]._backend.name if tensors else "numpy"
    return (BUCKETS, layout, bucket_bytes, op, backend, float(weight))
