"""The collectives of ``SyncBatchNorm``: per-channel moments of the batch spread over the ranks
(forward) and the two per-channel sums of its backward pass, each one in-place allreduce.

The forward combines each rank's (count, mean, M2) -- not the sums of ``x`` and ``x**2``, whose
difference loses every digit when a channel's mean is large against its spread. Each rank
writes its row of a (ranks, 2C + 1) float64 buffer of zeros; one allreduce (sum) of it gives
every rank every row bit for bit (adding zeros is exact), the gather of PyTorch's
``SyncBatchNorm`` through the one collective every engine has (MPI, NCCL, host-staged). Every
rank then combines the rows in the same order, ``M2 = sum M2_r + sum n_r (mean_r - mean)**2``
(Chan et al.'s parallel variance, each term >= 0), so the statistics are identical on every
rank.

The backward's sums are those of the rank's gradient of its own loss, scaled by its share of
the reduced gradient (``contribution``): ``DistributedGradientTape`` with ``op="mean"`` weighs
rank r's gradients by ``w_r / sum(w)``, so the objective whose gradient the ranks build is
``sum_r w_r L_r / sum(w)``, and the coupling through the shared statistics must use the same
weights (with equal weights, or outside such a tape, the plain sum, as PyTorch's).
``DistributedOptimizer.minimize`` sets the same scale; its ``apply_gradients`` checks, from
``take_backward_scales``, that the scales the backward passes used fit the ranks' weights.

>>> import numpy as np
>>> from .group import SingleWorld
>>> count, mean, var = global_moments(SingleWorld(), np.array([[1.0], [3.0]]), np)
>>> count, mean.tolist(), var.tolist()
(2, [2.0], [1.0])
"""
from __future__ import annotations

import contextlib
import threading

from .engines import engine_for

_STATE = threading.local()


@contextlib.contextmanager
def contribution(scale):
    """While the block runs (a backward walk), this rank's gradients enter the reduced
    gradient scaled by ``scale`` relative to the other ranks' (its ``weight`` for ``op="mean"``;
    1 for ``op="sum"``)."""
    saved = getattr(_STATE, "scale", None)
    _STATE.scale = float(scale)
    try:
        yield
    finally:
        _STATE.scale = saved


def current_contribution() -> float:
    """The scale ``contribution`` set, 1.0 outside it.

    >>> current_contribution()
    1.0
    """
    scale = getattr(_STATE, "scale", None)
    return 1.0 if scale is None else scale


def note_backward(scale) -> None:
    """Called by SyncBatchNorm's backward pass with the ``scale`` its sums used: until
    ``take_backward_scales``, a reduction of this thread's gradients can check that it weighs
    the ranks as those sums did."""
    walked = getattr(_STATE, "walked", None)
    if walked is None:
        walked = _STATE.walked = set()
    walked.add(scale)


def take_backward_scales() -> frozenset:
    """The scales SyncBatchNorm's backward passes used since the last call (empty if none
    ran), forgotten.

    >>> note_backward(1.0); sorted(take_backward_scales()), sorted(take_backward_scales())
    ([1.0], [])
    """
    walked = getattr(_STATE, "walked", None)
    _STATE.walked = None
    return frozenset(walked or ())


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def global_moments(world, x, xp):
    """``(count, mean, var)`` per channel (axis 1) of the batch whose rows ``x`` (a raw array)
    are this rank's share: ``count`` the global number of values per channel (a Python int),
    ``mean`` and the biased ``var`` (C,) float64 arrays on ``x``'s device, identical on every
    rank. One allreduce of (ranks, 2C + 1) numbers."""
    c = x.shape[1]
    n = (x.size // c) if c else 0
    rows = xp.zeros((world.size, 2 * c + 1), dtype=xp.float64)
    if n:
        axes = _axes(x.ndim)
        mean = xp.mean(x, axis=axes, keepdims=True)
        xc = x - mean
        rows[world.rank, 0] = n
        rows[world.rank, 1:c + 1] = xp.astype(xp.reshape(mean, (c,)), xp.float64)
        rows[world.rank, c + 1:] = xp.astype(xp.sum(xc * xc, axis=axes), xp.float64)
    flat = xp.reshape(rows, (-1,))
    if world.size > 1:
        _sum_across(world, flat, "SyncBatchNorm's batch statistics")
    counts = rows[:, :1]
    total = int(xp.sum(counts))
    if total == 0:
        return 0, None, None
    means, m2s = rows[:, 1:c + 1], rows[:, c + 1:]
    mean = xp.sum(counts * means, axis=0) / total
    apart = means - mean
    m2 = xp.sum(m2s, axis=0) + xp.sum(counts * apart * apart, axis=0)
    return total, mean, m2 / total


def _sum_across(world, buf, what):
    """``buf`` summed over the ranks, in place. A host buffer on MPI waits as ``world.wait``
    does: a rank that ends its script meanwhile (fewer batches than the others) is named
    instead of a hang."""
    engine = engine_for(world, buf)
    if engine is world and hasattr(world, "wait"):
        world.wait(world.comm.Iallreduce(world.MPI.IN_PLACE, buf, op=world.MPI.SUM), what)
    else:
        engine.allreduce_(buf, "sum")


def reduce_sums(world, arrays, xp):
    """The (C,) ``arrays`` summed over the ranks, as float64, in one allreduce."""
    buf = xp.concat([xp.astype(a, xp.float64) for a in arrays])
    if world.size > 1:
        _sum_across(world, buf, "SyncBatchNorm's gradient sums")
    c = arrays[0].shape[0]
    return [buf[i * c:(i + 1) * c] for i in range(len(arrays))]


__all__: list = []
