"""Which gradients ``xg.optim.clip_global_norm`` returned (a registry of its own, importable by
``xg.function``'s programs, which mark their replays' results as the traced ones were).

>>> import xpgrad as xg
>>> clipped, _ = xg.optim.clip_global_norm([xg.asarray([3.0])], 1.0)
>>> clipped_by_global_norm(clipped[0]), clipped_by_global_norm(xg.asarray([3.0]))
(True, False)
"""
from __future__ import annotations

import weakref

#: the gradients ``clip_global_norm`` returned, by id, while they live: ``DistributedOptimizer``
#: on several ranks warns of them (clipped by one rank's norm, before the reduction)
_CLIPPED = weakref.WeakValueDictionary()


def clipped_by_global_norm(gradient) -> bool:
    """Whether ``gradient`` is one ``clip_global_norm`` returned.

    >>> clipped_by_global_norm(None)
    False
    """
    return gradient is not None and _CLIPPED.get(id(gradient)) is gradient


def mark_clipped(gradient) -> None:
    """Mark ``gradient`` as one ``clip_global_norm`` returned (also: an ``xg.function``
    replay's result whose traced tensor was one).

    >>> import xpgrad as xg
    >>> g = xg.asarray([1.0]); mark_clipped(g); clipped_by_global_norm(g)
    True
    """
    _CLIPPED[id(gradient)] = gradient
