"""The Numba kernel cache, compiled once before the suite's workers start.

On a cold cache (a clean clone, or any edit under ``backends/numba``) every xdist worker would
compile the kernels its tests meet, and several tests (the warmup tests, ``xpgrad bench``,
benchmark scripts) run ``warmup()``, each with a process per core: on two cores the workers
compiled the same kernels side by side, four compiling processes on two cores. The controller
of a whole-suite run with workers warms the cache once (``warmup()``'s own worker processes,
one per core) before they start; they then load every kernel, as on a second run of the
suite. Targeted runs (named files or tests) and one-process runs are left as they were. What
the warmup paths do from a cold cache stays tested on a cache of their own
(``test_numba_backend.py::test_second_process_compiles_nothing``,
``test_numba_compile_background.py``).
"""
import importlib.util
import time

import pytest


def whole_suite_with_workers(config):
    """Whether ``config`` is the controller of an xdist run of the suite's ``testpaths`` (no
    files or tests named), with one worker or more.

    >>> import types
    >>> whole_suite_with_workers(types.SimpleNamespace(workerinput={}))
    False
    """
    if hasattr(config, "workerinput"):
        return False
    return (config.args_source == pytest.Config.ArgsSource.TESTPATHS
            and bool(getattr(config.option, "tx", None))
            and config.getoption("dist", "no") != "no")


def warm_numba_cache():
    """Compile every Numba kernel (float32 and float64, serial and threaded) into the disk
    cache if it is cold; return the seconds taken, or None when it was warm or Numba is not
    installed."""
    if importlib.util.find_spec("numba") is None:
        return None
    from xpgrad.backends.numba import _cache

    if _cache.cache_is_warm():
        return None
    import xpgrad

    started = time.perf_counter()
    xpgrad.get_backend("numba").warmup()
    return time.perf_counter() - started
