"""Python's cyclic collector and the objects collecting the suite builds.

Collecting the suite imports every test module and builds ~30,000 items: some 900,000 objects
that live until the run ends. Each collection of the oldest generation walked all of those:
while collecting, 27 such collections, 5.1 s of CPU in every process that collects (each xdist
worker); while the tests ran, 97 more, 31.6 s of a single-process run's 124.9 s, for no
garbage. So what is alive as a module's collection starts is frozen out of the collector's
sight (``gc.freeze``: a list splice, no walk), and once collection is done (its garbage
collected first) everything alive is frozen for the rest of the run: the tests' collections
walk only what the tests made. Frozen objects are not in ``gc.get_objects()``: a test that
scans it sees what was made since collection, a leak test the objects it makes. The run's end
unfreezes them, after pytest's own cleanups (``conftest.pytest_configure``): its five full
collections at the end of every process (looking for unraisable exceptions of the tests'
objects) walked the ~1,000,000 objects thawed at session finish, 4.6 s of CPU per process in
a collect-only run; they now walk what the tests made. xpgrad itself never freezes anything
(``tests/test_gc_counts.py``).
"""
import gc


def collecting_starts():
    """Freeze what is alive now: the collector no longer walks it while collection goes on.

    >>> collecting_starts(); gc.get_freeze_count() > 0
    True
    >>> run_done(); gc.get_freeze_count()
    0
    """
    gc.freeze()


def collecting_done():
    """Free the garbage made since the last freeze, then freeze what is alive for the run.

    >>> collecting_done(); gc.get_freeze_count() > 0
    True
    >>> run_done()
    """
    gc.collect()
    gc.freeze()


def run_done():
    """Give the collector back every object frozen for the run."""
    gc.unfreeze()
