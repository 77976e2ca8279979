"""The gradients ``DistributedGradientTape.gradient`` returned (already reduced over the ranks),
and the check the plain optimizer applying them makes: the ranks' optimizers must take the same
step with them (``DistributedOptimizer`` checks its own; the tape sees no optimizer).

>>> import xpgrad as xg
>>> reduced_by_tape(xg.asarray([1.0])), reduced_by_tape(None)
(False, False)
"""
from __future__ import annotations

import functools
import weakref

from ..optim.apply_checks import APPLY_CHECK
from .agreement import ADVICE, check_same

#: the gradients ``DistributedGradientTape.gradient`` returned, by id, while they live: already
#: reduced over ranks, so ``DistributedOptimizer`` refuses them (it would reduce them again)
_REDUCED = weakref.WeakValueDictionary()


def reduced_by_tape(gradient) -> bool:
    """Whether ``gradient`` is one a ``DistributedGradientTape`` returned (reduced over ranks).

    >>> mark_reduced([None])
    >>> reduced_by_tape(None)
    False
    """
    return gradient is not None and _REDUCED.get(id(gradient)) is gradient


def mark_reduced(gradients, world=None) -> None:
    """Mark ``gradients`` (None ones skipped) as reduced over ``world``'s ranks; on several
    ranks, an optimizer applying them then checks that every rank's takes the same step."""
    for g in gradients:
        if g is not None:
            _REDUCED[id(g)] = g
    if world is not None and world.size > 1:
        APPLY_CHECK[0] = functools.partial(_check_tape_step, world)


SETTINGS_ADVICE = (
    f"{ADVICE}, with the same op; and each rank's optimizer must take the same step: the same "
    f"learning rate (a scheduler stepped with each rank's own metric? reduce the metric first, "
    f"dist.allreduce) and step count (rank 0 resumed alone? "
    f"dist.broadcast_optimizer_state(opt, model) after loading)")


def settings(optimizer):
    """What the ranks' optimizers must agree on for the same reduced gradients to make the same
    update: the learning rate of the next update and the number of updates so far."""
    return [f"learning rate {getattr(optimizer, 'learning_rate', None)!r}",
            f"iterations {getattr(optimizer, 'iterations', None)!r}"]


def _check_tape_step(world, optimizer, grads):
    """``APPLY_CHECK``: DistributedError on every rank, before any update, unless the ranks'
    optimizers agree on ``settings`` where ``grads`` came from a DistributedGradientTape (its
    gradients are all marked: the first tells)."""
    if grads and reduced_by_tape(grads[0]):
        check_same(world, "learning rate or step count in the optimizer applying "
                   "DistributedGradientTape's gradients",
                   settings(optimizer), SETTINGS_ADVICE)
