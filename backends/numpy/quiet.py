"""NumPy's floating-point warnings of some kinds silenced around a kernel's passes, as
``np.errstate(over="ignore")`` does, at a quarter of its cost: NumPy 2's ``errstate`` makes
its state object anew on each entry (about 2 us, a tenth of a 128x256 float32 sigmoid); here
the state for each (current state, kinds) is made once and set directly in NumPy's context
variable, so that it holds in this thread and context only, as ``errstate``'s does. Where
NumPy keeps no such variable (1.x), ``np.errstate`` itself.

>>> import numpy as np
>>> token = silence(("over",))
>>> try:
...     print(np.exp(np.float32(100.0)))
... finally:
...     restore(token)
inf
"""
from __future__ import annotations

import numpy as np

try:                                            # NumPy 2
    from numpy._core._ufunc_config import _extobj_contextvar as _STATE
    from numpy._core.umath import _make_extobj
    _make_extobj(over="ignore")
except (ImportError, TypeError):                # NumPy 1.x: np.errstate
    _STATE = None

#: the kinds a kernel whose exponential may overflow (to the inf its formula expects) silences
OVER = ("over",)
#: the kinds a kernel that takes inf - inf (a NaN, as its formula expects) silences
INVALID = ("invalid",)
#: the states made, by (the state they were made in, the kinds they silence)
_MADE: dict = {}
#: the most states kept (each ``np.errstate`` a caller enters makes a new current state)
_MADE_MAX = 64


def silence(kinds):
    """Silence NumPy's floating-point warnings of ``kinds`` (a tuple of "over", "invalid",
    "divide", "under") in this context, the others as they are; returns the token that
    ``restore`` takes (call it in a ``finally``)."""
    if _STATE is None:
        state = np.errstate(**dict.fromkeys(kinds, "ignore"))
        state.__enter__()
        return state
    current = _STATE.get()
    made = _MADE.get((current, kinds))
    if made is None:
        if len(_MADE) >= _MADE_MAX:
            _MADE.clear()
        made = _MADE[current, kinds] = _make_extobj(**dict.fromkeys(kinds, "ignore"))
    return _STATE.set(made)


def restore(token):
    """The floating-point error state before the ``silence`` that returned ``token``."""
    if _STATE is None:
        token.__exit__(None, None, None)
    else:
        _STATE.reset(token)


__all__ = ["INVALID", "OVER", "restore", "silence"]
