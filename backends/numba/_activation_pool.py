"""The buffers of gate activations a recurrent scan's forward saves for its vjp
(``_scans.py``), kept in a small pool for the next forward of the same shape.

>>> import numpy as np
>>> saved = _Activations.take((2, 3, 4), np.float32)
>>> saved.acts.shape
(2, 3, 4)
"""
from __future__ import annotations

import weakref

import numpy as np

from ..numpy.memory import aligned_empty


class _Activations:
    """The gate activations a forward saves, in a buffer that goes back to a small pool when
    the tape lets go of it, for the next forward of the same shape: a fresh buffer of this size
    costs a page fault per 4 KiB on its first write (measured: ~1000 faults, a tenth of an
    LSTM step of 64-128, batch 64, 50 steps). The pool keeps at most ``KEEP`` buffers of each
    of the last ``SHAPES`` shapes. A buffer leaves the pool by one ``list.pop``, which is
    atomic, so two threads never get the same one."""

    __slots__ = ("acts", "__weakref__")
    KEEP = 2
    SHAPES = 4
    _free: dict = {}        # (shape, dtype) -> [buffer, ...]

    def __init__(self, acts):
        self.acts = acts

    @classmethod
    def take(cls, shape, dtype):
        key = (shape, np.dtype(dtype))
        try:
            buf = cls._free.get(key, []).pop()
        except IndexError:
            buf = aligned_empty(shape, dtype)     # a step's rows: a product's operand
        saved = cls(buf)
        weakref.finalize(saved, cls._give_back, key, buf)
        return saved

    @classmethod
    def _give_back(cls, key, buf):
        free = cls._free.setdefault(key, [])
        free.append(buf)
        if len(free) > cls.KEEP:
            free.pop(0)
        try:
            while len(cls._free) > cls.SHAPES:                 # forget the oldest shapes
                cls._free.pop(next(iter(cls._free)), None)
        except (RuntimeError, StopIteration):                   # another thread changed it
            pass
