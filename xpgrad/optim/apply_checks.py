"""A check every ``Optimizer.apply_gradients`` makes before its first update, set by a part of
xpgrad the optimizer does not import (``xpgrad.distributed``: the ranks' optimizers must agree
on the step that gradients from ``DistributedGradientTape`` take). ``APPLY_CHECK[0]`` is None
(no check) or ``check(optimizer, grads)``, which raises to refuse the update.

>>> len(APPLY_CHECK), APPLY_CHECK[0] is None or callable(APPLY_CHECK[0])
(1, True)
"""
from __future__ import annotations

APPLY_CHECK = [None]
