"""Python's cyclic collector while pytest collects the suite.

Collecting the suite imports every test module and builds ~30,000 items: some 900,000 objects
that live until the run ends. Each collection of the oldest generation walked all of those
made so far: 27 such collections, 5.1 s of CPU in every process that collects (each xdist
worker), for no garbage. While collecting, what is alive as a module's collection starts is
frozen out of the collector's sight (``gc.freeze``: a list splice, no walk), so each
collection walks only what was made since; once collection is done everything is unfrozen
and the tests run with the collector seeing every object, as before (``gc.get_objects``
included). Garbage cycles made during collection are freed by the first full collection of
the run instead.
"""
import gc


def collecting_starts():
    """Freeze what is alive now: the collector no longer walks it while collection goes on.

    >>> collecting_starts(); gc.get_freeze_count() > 0
    True
    >>> collecting_done(); gc.get_freeze_count()
    0
    """
    gc.freeze()


def collecting_done():
    """Give the collector back every object frozen while collecting."""
    gc.unfreeze()
