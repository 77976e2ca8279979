"""What ``xpgrad train`` does differently on several ranks (``DataParallel``): each global batch
split into contiguous shares, one per rank; the step's metrics and stop requests summed over
ranks; gradients averaged over the global batch; rank 0's weights and optimizer state
broadcast at the start (so a resumed run continues from rank 0's checkpoint).

>>> import numpy as np
>>> from xpgrad.distributed.group import SingleWorld
>>> [share(np.arange(5), 2, r).tolist() for r in range(2)]
[[0, 1, 2], [3, 4]]
>>> data_parallel(SingleWorld()) is None
True
"""
from __future__ import annotations

import numpy as np

from .broadcast import broadcast_optimizer_state, broadcast_variables
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

    def start(self, model, optimizer):
        """Every rank takes rank 0's weights and optimizer state."""
        broadcast_variables(model, world=self.world)
        broadcast_optimizer_state(optimizer, model, world=self.world)

    def share(self, idx):
        return share(idx, self.world.size, self.world.rank)

    def metrics(self, loss_value, n_local, correct, signum):
        """(mean loss over the global batch, correct predictions in it, the stop signal any
        rank received or None), summed over ranks."""
        buf = np.array([loss_value * n_local if n_local else 0.0, n_local, correct,
                        signum or 0], dtype=np.float64)
        self.world.allreduce_(buf[:3], "sum")
        self.world.allreduce_(buf[3:], "max")
        return float(buf[0] / buf[1]), int(buf[2]), (int(buf[3]) or None)

    def gradient(self, tape, loss, variables, n_local):
        """The gradients averaged over the global batch (``n_local`` examples here)."""
        return DistributedGradientTape(tape, world=self.world).gradient(
            loss, variables, weight=n_local)
