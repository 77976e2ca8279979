"""The gradients ``DistributedGradientTape.gradient`` returned (already reduced over the ranks),
and what the plain optimizer applying them was set to: the ranks' optimizers must take the same
step with them (``DistributedOptimizer`` checks its own; the tape sees no optimizer), which the
tape's next ``gradient`` call compares with the sources, in the same collective (a collective
of its own in ``apply_gradients`` would meet another one where a rank's update failed and
``xpgrad train`` has the ranks raise together).

>>> import xpgrad as xg
>>> reduced_by_tape(xg.asarray([1.0])), reduced_by_tape(None)
(False, False)
"""
from __future__ import annotations

import weakref

from ..optim.apply_checks import APPLY_CHECK
from .agreement import ADVICE

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


#: the settings of the optimizer that last applied gradients of this process's tapes, as they
#: were for that update (empty: none since the last ``gradient`` call)
_LAST_STEP = []


def mark_reduced(gradients, world=None) -> None:
    """Mark ``gradients`` (None ones skipped) as reduced over ``world``'s ranks; on several
    ranks, an optimizer applying them then notes its settings (``last_step``).

    >>> import xpgrad as xg
    >>> g = xg.asarray([1.0]); mark_reduced([g, None]); reduced_by_tape(g)
    True
    """
    for g in gradients:
        if g is not None:
            _REDUCED[id(g)] = g
    if world is not None and world.size > 1:
        APPLY_CHECK[0] = _note_tape_step


def last_step() -> list:
    """The settings the optimizer applying the tapes' last gradients had (one line each,
    for ``check_same``), forgotten once read: the next gradient call compares them.

    >>> last_step()
    []
    """
    taken = [f"the optimizer applying the last gradients: {line}" for line in _LAST_STEP]
    _LAST_STEP.clear()
    return taken


SETTINGS_ADVICE = (
    f"{ADVICE}, with the same op; and each rank's optimizer must take the same step: the same "
    f"learning rate (a scheduler stepped with each rank's own metric? reduce the metric first, "
    f"dist.allreduce) and step count (rank 0 resumed alone? "
    f"dist.broadcast_optimizer_state(opt, model) after loading)")


def settings(optimizer):
    """What the ranks' optimizers must agree on for the same reduced gradients to make the same
    update: the learning rate of the next update and the number of updates so far.

    >>> import xpgrad as xg
    >>> settings(xg.optim.SGD(0.5))
    ['learning rate 0.5', 'iterations 0']
    """
    return [f"learning rate {getattr(optimizer, 'learning_rate', None)!r}",
            f"iterations {getattr(optimizer, 'iterations', None)!r}"]


def _note_tape_step(optimizer, grads):
    """``APPLY_CHECK``: where ``grads`` came from a DistributedGradientTape (its gradients are
    all marked: the first tells), note ``optimizer``'s settings for this update."""
    if grads and reduced_by_tape(grads[0]):
        _LAST_STEP[:] = settings(optimizer)
