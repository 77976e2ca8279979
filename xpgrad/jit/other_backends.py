"""Tripwires for the other backends while a trace runs: their ``xp`` and ``kernels`` replaced
by ``_OtherXp`` / ``_OtherKernels``, whose first use in the tracing thread raises
``OtherBackend`` (the function computes there, not on the traced backend); other threads' eager
calls, and the steps a program replays whole, get the real ones.

>>> import numpy as np
>>> import xpgrad as xg
>>> be = xg.get_backend("numpy")
>>> _OtherXp(np, be, be).float32 is np.float32       # no trace in this thread: the real one
True
"""
from __future__ import annotations

from .errors import OtherBackend, user_line
from .trace_state import _tracing


class _OtherXp:
    """Another backend's ``xp`` while this thread traces: its first use raises
    ``OtherBackend`` (the function computes there, not on the traced backend); other threads'
    eager calls, and the steps replayed whole, get the real namespace."""

    def __init__(self, real, backend, traced):
        self._real, self._backend, self._traced = real, backend, traced

    def __getattr__(self, name):
        if not _tracing() or name.startswith("__"):
            return getattr(self._real, name)
        raise OtherBackend(self._backend, self._traced, user_line())


class _OtherKernels(_OtherXp):
    """Another backend's ``kernels`` table while this thread traces (see ``_OtherXp``)."""

    def __bool__(self):
        return _tracing() or bool(self._real)

    def get(self, name, default=None):
        if not _tracing():
            return self._real.get(name, default) if self._real else default
        raise OtherBackend(self._backend, self._traced, user_line())
