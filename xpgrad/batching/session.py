"""Entering and leaving one ``vmap`` level on a backend.

For the call, the backend's ``xp`` becomes the level's batching namespace and its kernel table
is emptied (kernels compute on whole arrays of one example's shape; the generic rules, written
against ``xp``, batch), as ``xg.function`` swaps them for its trace. ``index_range`` and
``value_range`` (bounds checks: every example's values must pass) read the whole batch, and
random draws follow ``randomness``. Everything is put back on the way out, also when the
function raises. One thread at a time enters: another thread's vmap waits, and so does an
``xg.function`` trace (which instruments the backend too: a vmap holds the trace lock shared,
as an eager call of a traced function does); another thread's eager work in the meantime runs
unbatched, on the generic rules.

>>> import xpgrad as xg
>>> be = xg.get_backend("numpy")
>>> with batching(be, 4, "error") as level:
...     type(be.xp).__name__, be.kernels
('BatchingNamespace', {})
>>> be.xp.__name__
'xpgrad.backends.numpy.namespace'
"""
from __future__ import annotations

import contextlib
import threading

from .batched import BatchedArray
from .namespace import Level

_LOCK = threading.RLock()
_ABSENT = object()
RANDOMNESS = ("error", "different", "same")


class _Depth(threading.local):
    depth = 0
    session = None      # the innermost ``batching`` entered in this thread


_DEPTH = _Depth()


def raw(a):
    """The backend array under every level of batching of ``a``."""
    while a.__class__ is BatchedArray:
        a = a._data
    return a


class batching:      # noqa: N801 (used as a function: ``with batching(...) as level``)
    """Run the block as one ``vmap`` level of ``size`` examples on backend ``be``."""

    def __init__(self, be, size, randomness, fallbacks=None, level=None):
        self._be = be
        self._size = size
        self._randomness = randomness
        self._fallbacks = fallbacks
        self._level = level         # a level entered before, entered again (``reentrant``)
        self._previous = None       # the backend's own attributes (and the draw) put back
        self._shared_trace_lock = False
        self._entered = None        # the level entered: no longer live once left
        self._outer = None          # the session entered before this one (``_DEPTH.session``)

    def __enter__(self):
        lock = _TRACE_LOCK or _late_imports()
        if lock.mine.held is None:      # (the trace lock first: a trace may vmap)
            lock.acquire_shared()
            self._shared_trace_lock = True
        _LOCK.acquire()
        be = self._be
        _DEPTH.depth += 1
        try:
            level = self._level or Level(self._size, be.xp, _DEPTH.depth, self._fallbacks)
            level.live = True     # (a gradient's walk enters a level whose call returned)
            self._entered = level
            get = vars(be).get      # (spelled out: a level is entered on every vmap call)
            self._previous = ((get("xp", _ABSENT), get("kernels", _ABSENT),
                               get("index_range", _ABSENT), get("check_index_range", _ABSENT),
                               get("value_range", _ABSENT)),
                              vars(_GENERATOR).get("_draw", _ABSENT))
            checks = (_whole_batch(be.index_range), _whole_batch(be.check_index_range),
                      _whole_batch(be.value_range))
            be.xp = level.namespace
            be.kernels = {}
            be.index_range, be.check_index_range, be.value_range = checks
            _GENERATOR._draw = _random_draw(level, self._randomness)
            self._outer, _DEPTH.session = _DEPTH.session, self
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return level

    def __exit__(self, *exc):
        _DEPTH.depth -= 1
        if _DEPTH.session is self:
            _DEPTH.session, self._outer = self._outer, None
        if self._entered is not None:
            self._entered.live = False
        try:
            if self._previous is not None:
                own, draw = self._previous
                be = self._be
                for name, value in zip(_PATCHED, own):
                    if value is _ABSENT:
                        delattr(be, name)
                    else:
                        setattr(be, name, value)
                if draw is _ABSENT:
                    del _GENERATOR._draw
                else:
                    _GENERATOR._draw = draw
        finally:
            _LOCK.release()
            if self._shared_trace_lock:
                _TRACE_LOCK.release_shared()
        return False


#: the backend's attributes a level sets (its own ones put back after, class ones uncovered)
_PATCHED = ("xp", "kernels", "index_range", "check_index_range", "value_range")
#: imported on first use (the jit package and xpgrad.random import much; an import statement in
#: a function costs microseconds per vmap call)
_TRACE_LOCK = _GENERATOR = None


@contextlib.contextmanager
def outside_vmap():
    """The block run with the backend's own namespace and kernels, as outside the one ``vmap``
    level this thread is in (none: as it is): a computation every example shares, on
    unbatched arrays, inside a rule that runs in the level. Nested levels are refused.

    >>> import xpgrad as xg
    >>> be = xg.get_backend("numpy")
    >>> with batching(be, 4, "error"):
    ...     with outside_vmap():
    ...         be.xp.__name__
    'xpgrad.backends.numpy.namespace'
    """
    session, depth = _DEPTH.session, _DEPTH.depth
    if session is None or depth == 0:
        yield
        return
    if depth > 1:
        raise NotImplementedError("outside_vmap: inside nested xg.vmap levels")
    be, own = session._be, session._previous[0]
    now = {name: vars(be).get(name, _ABSENT) for name in _PATCHED}
    try:
        for name, value in zip(_PATCHED, own):
            if value is _ABSENT:
                delattr(be, name)
            else:
                setattr(be, name, value)
        _DEPTH.depth, _DEPTH.session = 0, None
        yield
    finally:
        _DEPTH.depth, _DEPTH.session = depth, session
        for name, value in now.items():
            if value is _ABSENT:
                vars(be).pop(name, None)
            else:
                setattr(be, name, value)


def _late_imports():
    """The trace lock (returned) and ``xpgrad.random.Generator``, kept in this module."""
    global _TRACE_LOCK, _GENERATOR
    from ..jit.lock import TRACE_LOCK
    from ..random import Generator

    _TRACE_LOCK, _GENERATOR = TRACE_LOCK, Generator
    return TRACE_LOCK


def reentrant(level) -> bool:
    """Whether ``batching(..., level=level)`` may enter ``level`` again here: in its thread, at
    its depth (its batched values then mean what they meant)."""
    return level.thread == threading.get_ident() and level.depth == _DEPTH.depth + 1


def _whole_batch(real):
    def checked(a, *args, **kwargs):
        return real(raw(a), *args, **kwargs)
    return checked


_RANDOM_ERROR = (
    "a random draw inside xg.vmap with randomness='error' (the default, as torch.func.vmap's): "
    "pass randomness='different' for independent draws per example, or 'same' for one draw "
    "shared by every example, or draw outside the vmapped function")


def _random_draw(level, randomness):
    """``Generator._draw`` inside ``level``: per ``randomness``."""
    previous = _GENERATOR._draw

    def draw(gen, sample):
        if level.thread != threading.get_ident():
            return previous(gen, sample)
        if randomness == "error":
            raise RuntimeError(_RANDOM_ERROR)
        if randomness == "same":
            return previous(gen, sample)
        inner = level.inner
        return level.wrap(inner.stack([inner.asarray(previous(gen, sample))
                                       for _ in range(level.size)]))

    return draw
