"""SIGINT/SIGTERM turned into a clean stop of ``train``: ``_Stopper`` records the signal, and the
loop stops after the current step, with everything saved.

>>> stopper = _Stopper(enabled=False)
>>> stopper.name is None
True
>>> stopper.restore()
"""
from __future__ import annotations

import signal
import threading


class _Stopper:
    """Turns SIGINT/SIGTERM into a request to stop after the current step (main thread only);
    a second SIGINT raises KeyboardInterrupt at once."""

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM") if hasattr(signal, n))

    def __init__(self, enabled):
        self.signum = None
        self._previous = {}
        if enabled and threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    @property
    def name(self):
        return None if self.signum is None else signal.Signals(self.signum).name

    def restore(self):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}
