"""The lock that keeps a trace from running while anything else of ``xg.function`` does.

A trace instruments process-wide state for its length (the backend's namespace and kernel table,
every Variable's array): a replay or an eager call of a traced
function in another thread would read a Variable's stand-in instead of its array, or record its
own operations into the trace. Replays and eager calls therefore hold this lock *shared* (any
number at once); a trace holds it *alone*, waiting for the running calls to end, and calls that
start while a trace waits or runs wait for it (so a stream of replays cannot starve a trace).

A thread that already holds the lock -- a traced function called inside another's eager call or
replay -- does not take it again; if such a call must trace, it can only when no other thread
shares the lock (``try_alone``), else it runs eagerly and traces on a later call.

>>> lock = TraceLock()
>>> lock.acquire_shared(); lock.mine.held, lock.try_alone(), lock.mine.held
('shared', True, 'alone')
>>> lock.end_alone(); lock.release_shared(); lock.mine.held is None
True
"""
from __future__ import annotations

import contextlib
import threading


class _Mine(threading.local):
    #: how this thread holds the lock: None, "shared" or "alone"
    held = None


class TraceLock:
    """Shared by replays and eager calls, held alone by a trace (module docstring)."""

    def __init__(self):
        self._mutex = threading.Lock()     # taken directly where nobody waits (every replay)
        self._cond = threading.Condition(self._mutex)
        self._sharing = 0          # threads holding it shared
        self._alone = False        # a thread holds it alone
        self._waiting = 0          # threads waiting to hold it alone
        self.mine = _Mine()

    def acquire_shared(self):
        """Hold the lock shared (this thread must not hold it yet)."""
        mutex = self._mutex       # (acquire/release: half the cost of a with block, per replay)
        mutex.acquire()
        free = not (self._alone or self._waiting)
        if free:
            self._sharing += 1
        mutex.release()
        if not free:
            with self._cond:
                while self._alone or self._waiting:
                    self._cond.wait()
                self._sharing += 1
        self.mine.held = "shared"

    def release_shared(self):
        self.mine.held = None
        mutex = self._mutex
        mutex.acquire()
        self._sharing -= 1
        wake = not self._sharing and self._waiting
        mutex.release()
        if wake:
            with self._cond:
                self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self):
        """Hold the lock alone for the ``with`` block (this thread must not hold it yet)."""
        with self._cond:
            self._waiting += 1
            try:
                while self._alone or self._sharing:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._alone = True
        self.mine.held = "alone"
        try:
            yield
        finally:
            self.mine.held = None
            with self._cond:
                self._alone = False
                self._cond.notify_all()

    def try_alone(self) -> bool:
        """This thread holds the lock shared: hold it alone instead if no other thread shares
        it (True; ``end_alone()`` goes back to shared), else change nothing (False)."""
        with self._cond:
            if self._alone or self._sharing != 1:
                return False
            self._alone = True
        self.mine.held = "alone"
        return True

    def end_alone(self):
        """Back to holding it shared, after ``try_alone()``."""
        with self._cond:
            self._alone = False
            self._cond.notify_all()
        self.mine.held = "shared"


#: the lock of every ``xg.function`` in the process
TRACE_LOCK = TraceLock()
