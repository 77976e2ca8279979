"""What ``xpgrad info`` reports about the Numba backend, and ``warmup()``.

A kernel is "cached" when Numba's on-disk index for it lists compiled versions that this
process would load: in the cache directory of the current sources (``_cache_key``: after an
edit of any file of this package, or another Numba, that is a new, empty directory), for the
current source file, code and CPU. The cache is "warm" when every kernel has both its float32
and float64 versions there, i.e. a new process loads instead of compiling. The kernels are the
public dispatchers of the kernel modules, including the threaded wrappers and loss loops that
``_templates`` makes (cached under ``_templates.<name>-<line>.*``). What a warmup runs to
compile them is ``_warmup_units.py``'s (re-exported here).

>>> import numba
>>> describe(numba)["version"] == numba.__version__
True
"""
from __future__ import annotations

import time

import numpy as np

from . import _config
from ._cache_key import stale_dirs
from ._warmup_units import (ACTIVATIONS, LOSSES, SPECIALS, UNITS, UPDATES,  # noqa: F401
                            _exercise, _exercise_loss)


def kernel_dispatchers():
    """The public Numba kernels: ``{qualified name: dispatcher}``."""
    from numba.core.dispatcher import Dispatcher

    from . import (_act_kernels, _batch_norm, _conv_depthwise, _conv_frames, _copies,
                   _ctc_kernels, _group_norm, _layer_steps, _linear_activation, _loss_kernels,
                   _margin, _norm, _optim_kernels, _phases, _pool, _rms_norm, _rnn, _scatter,
                   _sce_kernels, _softmax, _special)

    found = {}
    for mod in (_loss_kernels, _sce_kernels, _act_kernels, _softmax, _optim_kernels, _rnn,
                _layer_steps, _copies, _norm, _rms_norm, _batch_norm, _group_norm, _scatter, _ctc_kernels,
                _conv_frames, _conv_depthwise, _phases, _pool, _linear_activation, _special,
                _margin):
        for name, obj in vars(mod).items():
            if isinstance(obj, Dispatcher) and not name.startswith("_"):
                found[f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"] = obj
    return found


# loops compiled for one dtype only (``module.function``): the erf family's float32 polynomials
# and the float64 loops that serve the other dtype
ONE_DTYPE = {**{f"_erf32.{name}_loop": "float32" for name in
                ("erf32", "erfc32", "erfinv32", "ndtr32", "ndtri32")},
             "_special.ndtri_rest32_loop": "float32",
             **{f"_erf64.{name}_loop": "float64" for name in
                ("erf64", "erfc64", "ndtr64", "erfinv64", "ndtri64")},
             "_special.erfinv_rest_loop": "float64", "_special.ndtri_rest_loop": "float64"}


def versions_needed(dispatcher, dtypes) -> int:
    """How many versions of the Numba loop ``dispatcher`` a warm cache holds for ``dtypes``: one
    per dtype, or 1 or 0 for a loop of one dtype (``ONE_DTYPE``).

    >>> from xpgrad.backends.numba import _erf32, _special
    >>> versions_needed(_erf32.erf32_loop, ("float32", "float64"))
    1
    >>> versions_needed(_special.erf64_loop, ("float32",))
    0
    >>> versions_needed(_special.gammaln_loop, ("float32", "float64"))
    2
    """
    fn = dispatcher.py_func
    only = ONE_DTYPE.get(f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}")
    return len(dtypes) if only is None else int(only in dtypes)


def _cached_versions(dispatcher) -> int:
    """How many compiled versions of ``dispatcher`` this process would load from the disk cache.

    Counts the index entries whose key Numba would compute here: same source file hash (else the
    index reads as empty), bytecode, closure (for a kernel made in ``_templates``: the hash of
    the loops it calls, so entries left by an edited loop do not count) and CPU.
    """
    try:
        cache = dispatcher._cache
        codegen = dispatcher.targetctx.codegen()
        return sum(1 for key in cache._cache_file._load_index()
                   if cache._index_key(key[0], codegen) == key)
    except Exception:       # private Numba API: report "not cached" rather than fail
        return 0


def _cache_dir(dispatchers) -> str | None:
    for d in dispatchers.values():
        try:
            return d._cache._cache_path
        except AttributeError:
            pass
    return None


def describe(numba) -> dict:
    disp = kernel_dispatchers()
    both = ("float32", "float64")
    cached = sum(1 for d in disp.values() if _cached_versions(d) >= versions_needed(d, both))
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not started"
    cache_dir = _cache_dir(disp)
    return {
        "version": numba.__version__,
        "threads": numba.get_num_threads(),
        "threading_layer": layer,
        "cache_dir": cache_dir,
        "cache_warm": cached == len(disp),
        "cached_kernels": f"{cached}/{len(disp)}",
        # directories beside it left by older sources or Numba versions (deletable by hand)
        "cache_stale_dirs": len(stale_dirs(cache_dir)) if cache_dir else 0,
    }


def _check_dtypes(dtypes):
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    kernel_dtypes = ("float32", "float64")
    names = []
    for dt in dtypes:
        name = getattr(dt, "name", None) or getattr(dt, "__name__", None) or str(dt)
        if name not in kernel_dtypes:
            raise ValueError(f"warmup: dtypes must be among {kernel_dtypes} (the dtypes the "
                             f"kernels cover), got {dt!r}")
        names.append(name)
    return tuple(names)


def _compile(backend, dtypes, units, parallel):
    saved = _config.PAR_MIN, _config.ROW_PAR_MIN
    try:
        for limit in ((1 << 62, 0) if parallel else (1 << 62,)):
            _config.PAR_MIN = _config.ROW_PAR_MIN = limit
            for dt in dtypes:
                _exercise(backend, np.dtype(dt), units)
    finally:
        _config.PAR_MIN, _config.ROW_PAR_MIN = saved


def _compile_in_worker(dtypes, units, parallel) -> float:
    """A worker process of a parallel warmup: compile ``units`` into the disk cache."""
    import xpgrad

    t0 = time.perf_counter()
    _compile(xpgrad.get_backend("numba"), dtypes, units, parallel)
    return time.perf_counter() - t0


def cache_is_warm(dtypes=("float32", "float64")) -> bool:
    """Whether every kernel has a cached version per dtype in ``dtypes`` (a new process would
    load them all instead of compiling)."""
    dtypes = _check_dtypes(dtypes)
    return all(_cached_versions(d) >= versions_needed(d, dtypes)
               for d in kernel_dispatchers().values())


def warmup(backend, dtypes, parallel, processes=None) -> float:
    """Compile or load every kernel (serial and, with ``parallel``, threaded) for ``dtypes``
    (float32 and/or float64: the dtypes the kernels cover; ValueError for any other), so that
    this process and every later one on this machine run them without compiling.

    With a cold cache and ``processes`` > 1 (None: one per available CPU), worker processes
    compile the units (``UNITS``: a loss, an optimizer update, an activation, the LSTM step)
    side by side into the disk cache first; this process then loads them. ``processes=1``
    compiles here, one after another.
    """
    dtypes = _check_dtypes(dtypes)
    t0 = time.perf_counter()
    if processes is None:
        from xpgrad.threads import available_cpus

        processes = 1 if cache_is_warm(dtypes) else available_cpus()
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"warmup: processes must be an integer >= 1, got {processes!r}")
    if processes > 1:
        import concurrent.futures
        import multiprocessing

        # spawn, not fork: a forked Numba (thread pools, LLVM) is not safe to use
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(min(processes, len(UNITS)),
                                                    mp_context=ctx) as pool:
            jobs = [pool.submit(_compile_in_worker, dtypes, (i,), parallel)
                    for i in range(len(UNITS))]
            for job in jobs:
                job.result()
    _compile(backend, dtypes, None, parallel)          # loads what the workers compiled
    return time.perf_counter() - t0
