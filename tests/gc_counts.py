"""The measure of the reference-cycle tests: how many objects only Python's cyclic collector
frees after calls run with it off (a cycle made per call shows up as a count above zero)."""
import collections
import contextlib
import gc


class GarbageCount(int):
    """A count of collected objects whose repr also names their most common types, so that a
    failing assertion says what leaked."""

    def __new__(cls, count, types=()):
        self = super().__new__(cls, count)
        self.types = collections.Counter(types).most_common(8)
        return self

    def __repr__(self):
        return f"{int(self)} {self.types}" if self else "0"


@contextlib.contextmanager
def only_new_objects():
    """Within the block a collection finds only the garbage the block makes. In a process with
    nothing frozen, every object alive before (and any garbage already there) is frozen out of
    the collector's sight (``gc.freeze``), so a collection walks what the block made, not the
    whole process (millions of objects late in a suite's worker: ~1-2 s per full collection);
    frozen objects count as references from outside. Where something is frozen already (the
    test suite freezes what collecting it built: ``tests/collection_gc.py``) freezing more
    could not be undone alone (``gc.unfreeze`` thaws everything), so the garbage already there
    is collected first instead, walking what is not frozen: what the tests made since.

    >>> import gc
    >>> with only_new_objects():
    ...     a = []; a.append(a); del a
    ...     gc.collect()
    1
    """
    if gc.get_freeze_count():
        gc.collect()
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _one_trial(fn, repeat):
    gc.disable()
    try:
        with only_new_objects():
            for _ in range(repeat):
                fn()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                count = gc.collect()
                types = [type(o).__name__ for o in gc.garbage]
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
        return GarbageCount(count, types)
    finally:
        gc.enable()


def cyclic_garbage(fn, repeat=5, warmups=1, trials=2):
    """Objects the cyclic GC frees after ``repeat`` calls of ``fn``, made after ``warmups``
    calls (first-call caches are not garbage) and a collection: the least over ``trials``
    rounds, since a cycle made per call shows up in every round while garbage from elsewhere
    in the process (another test's thread, a one-time cache) does not. A round that counts 0
    is the least there can be, so the rounds stop there: each round collects twice, and late in
    a suite's worker a collection walks every object the earlier tests left (~0.5 s each).

    >>> calls = []
    >>> cyclic_garbage(lambda: calls.append(1), repeat=3, warmups=1, trials=2), len(calls)
    (0, 4)
    """
    for _ in range(warmups):
        fn()
    least = _one_trial(fn, repeat)
    for _ in range(trials - 1):
        if not least:
            break
        least = min(least, _one_trial(fn, repeat), key=int)    # the first of equal counts
    return least
