"""What ``xpgrad train`` does differently on several ranks (``DataParallel``): each global batch
split into contiguous shares, one per rank; the step's metrics and stop requests summed over
ranks; the test set evaluated in shares; gradients averaged over the global batch; rank 0's
weights and optimizer state broadcast at the start (so a resumed run continues from rank 0's
checkpoint).

>>> import numpy as np
>>> from xpgrad.distributed.group import SingleWorld
>>> [share(np.arange(5), 2, r).tolist() for r in range(2)]
[[0, 1, 2], [3, 4]]
>>> data_parallel(SingleWorld()) is None
True
"""
from __future__ import annotations

import signal

import numpy as np

from ..tensor import _wrap
from .broadcast import broadcast_optimizer_state, broadcast_variables
from .buckets import Reduction, plan_for
from .gradient_tape import DistributedGradientTape
from .group import current


def share(idx, size, rank):
    """Rank ``rank``'s contiguous share of the batch ``idx``: the first ``len(idx) % size``
    ranks get one example more (a rank may get none)."""
    n = len(idx)
    counts = [n // size + (r < n % size) for r in range(size)]
    start = sum(counts[:rank])
    return idx[start:start + counts[rank]]


def data_parallel(world=None):
    """A DataParallel for ``world`` (default: the one ``init()`` made), None on one process."""
    world = current() if world is None else world
    return DataParallel(world) if world.size > 1 else None


class DataParallel:
    def __init__(self, world):
        self.world = world
        self.root = world.rank == 0

    def start(self, plan):
        """Every rank takes rank 0's weights, optimizer state and position in the run (rank 0
        alone read the checkpoint, see ``training.prepare``), and its own random state (its
        modules' generators, the run's global seed) as the checkpoint saved it for that rank;
        rank 0's where it saved none for as many ranks."""
        from ..checkpoint_generators import random_state, restoring

        broadcast_variables(plan.model, world=self.world)
        broadcast_optimizer_state(plan.opt, plan.model, world=self.world)
        ranks = self.world.bcast_object(plan.ranks_random if self.root else None)
        if not ranks or len(ranks) != self.world.size:
            ranks = [self.world.bcast_object(random_state(plan.model))] * self.world.size
        mine = ranks[self.world.rank]
        restoring(plan.model, mine["generators"], mine["random"], "sent by rank 0")()
        from ..training.schedule import PLANNED, build_schedule

        mine = {k: getattr(plan.cfg, k) for k in PLANNED}
        plan.start_epoch, plan.skip, plan.skip_sums, planned = self.world.bcast_object(
            (plan.start_epoch, plan.skip, plan.skip_sums, mine))
        if planned != mine:     # a checkpoint without its schedule's length: from rank 0's
            for k, v in planned.items():        # position (the others had none)
                setattr(plan.cfg, k, v)
            plan.opt.learning_rate = build_schedule(plan.cfg)

    def share(self, idx):
        return share(idx, self.world.size, self.world.rank)

    def metrics(self, loss_value, n_local, correct, signum, failed=False):
        """(mean loss over the global batch, correct predictions in it, the stop signal any
        rank received or None: SIGTERM before SIGINT, whether any rank ``failed``), summed
        over ranks in one reduction."""
        buf = np.array([loss_value * n_local if n_local else 0.0, n_local, correct,
                        signum == signal.SIGINT, signum == signal.SIGTERM, bool(failed)],
                       dtype=np.float64)
        self.world.allreduce_(buf, "sum")
        stop = signal.SIGTERM if buf[4] else (signal.SIGINT if buf[3] else None)
        loss = float(buf[0] / buf[1]) if buf[1] else float("nan")     # every rank failed
        return loss, int(buf[2]), stop, bool(buf[5])

    def evaluate(self, model, x, y, backend, run):
        """``results.evaluate`` on this rank's share of ``x``, ``y``, summed over ranks: (mean
        loss, accuracy) over all of them, and whether any rank failed. ``run`` runs the local
        evaluation (the loop's ``_Held``: it returns None and keeps the error in ``run.error``
        if it fails, and skips it if an error is held from before); a failed rank joins the
        reduction with a flag."""
        from ..training import results

        mine = self.share(np.arange(len(y)))
        buf = np.zeros(3)
        if len(mine):
            got = run(results.evaluate, model, x[mine], y[mine], backend)
            if got is not None:
                buf[:2] = got[0] * len(mine), got[1] * len(mine)
        buf[2] = run.error is not None
        self.world.allreduce_(buf, "sum")
        return float(buf[0] / len(y)), float(buf[1] / len(y)), bool(buf[2])

    def reduce(self, grads, variables, n_local):
        """Local gradients (of the mean loss over ``n_local`` examples; None where there is
        none) averaged over the global batch, as ``gradient`` does, for gradients computed
        elsewhere (``xpgrad train --compile``: by a replayed xg.function)."""
        plan = plan_for(variables)
        reduction = Reduction(plan, self.world, variables[0]._backend.xp, float(n_local))
        out = reduction.finish([None if g is None or not n_local else g._data for g in grads])
        return [None if g is None else _wrap(g, v._backend) for g, v in zip(out, variables)]

    def gradient(self, tape, loss, variables, n_local):
        """The gradients averaged over the global batch (``n_local`` examples here)."""
        return DistributedGradientTape(tape, world=self.world).gradient(
            loss, variables, weight=n_local)
