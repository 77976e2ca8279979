"""The measure of the reference-cycle tests: how many objects only Python's cyclic collector
frees after calls run with it off (a cycle made per call shows up as a count above zero)."""
import collections
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


def _one_trial(fn, repeat):
    # Every object alive before the calls (and any garbage already there) is frozen, out of
    # the collector's sight: the collection after the calls walks only the objects they made.
    # A cycle among those is found as before; a full collection walks the whole process
    # instead (millions of objects late in a suite's worker: seconds per test).
    assert gc.get_freeze_count() == 0, "gc_counts needs a process with nothing frozen"
    gc.disable()
    gc.freeze()
    try:
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
        gc.unfreeze()
        gc.enable()


def cyclic_garbage(fn, repeat=5, warmups=1, trials=2):
    """Objects the cyclic GC frees after ``repeat`` calls of ``fn``, made after ``warmups``
    calls (first-call caches are not garbage) and a collection: the least over ``trials``
    rounds, since a cycle made per call shows up in every round while garbage from elsewhere
    in the process (another test's thread, a one-time cache) does not."""
    for _ in range(warmups):
        fn()
    return min((_one_trial(fn, repeat) for _ in range(trials)), key=int)
