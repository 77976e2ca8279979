"""Thread pools: how many threads BLAS, Numba and (in benchmarks) PyTorch may use.

``xpgrad train``, ``xpgrad bench`` and the examples take ``--threads N`` and call ``limit(N)``:
BLAS through threadpoolctl (OpenBLAS, MKL, BLIS and OpenMP runtimes already loaded), Numba's
threaded kernels through ``numba.set_num_threads`` and PyTorch through
``torch.set_num_threads`` -- PyTorch only when it is already imported, so limiting never
imports Numba or PyTorch; Numba, when the Numba backend imports it later, gets the limits then in
force (``_numba_loaded``). Limits nest: ``restore()`` in any order leaves every pool at the count
of the newest limit still in force, or, once all are restored, at its count before the first.
The default, ``DEFAULT_THREADS``, is one thread: the models these
commands train make small matrix products, where a second BLAS thread gains little on an idle
machine and costs much on a busy one (spinning BLAS threads fight the interpreter and each
other for cores; docs/cli.md gives the measurements), and one thread never oversubscribes.

>>> lim = limit(1)
>>> lim.threads, lim.blas in (None, 1)
(1, True)
>>> lim.restore()
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import threading

#: threads per pool when ``--threads`` is not given
DEFAULT_THREADS = 1


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one).

    >>> available_cpus() >= 1
    True
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


#: the most threads xpgrad gives a BLAS, OpenMP or Numba pool. Their counts are C ints, but
#: OpenMP aborts the process where it cannot start them all (``--threads 100000`` on a 2-core
#: machine: "OMP: System error #11", then SIGABRT), and a pool larger than the machine only
#: slows down (``--threads 20000``: 3 MLP steps took 5.5 s instead of 0.01)
MAX_THREADS = 1024


def parse_threads(text) -> int:
    """An argparse type for ``--threads``: an integer >= 1.

    >>> parse_threads("2")
    2
    """
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number of threads (an integer >= 1), "
                                         f"got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_THREADS}, got {text}")
    return value


def check_threads(n, name="threads") -> int:
    """``n`` as an int >= 1, else ValueError/TypeError naming ``name``.

    >>> check_threads(3)
    3
    """
    if isinstance(n, bool) or not isinstance(n, int):
        try:
            import numpy as np

            if isinstance(n, np.integer):
                n = int(n)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(f"{name} must be an integer >= 1, got {n!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"{name} must be at most {MAX_THREADS}, got {n}")
    return n


def _optional(module):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        return None


#: the limits in force, oldest first (``limit`` appends, ``Limits.restore`` removes)
_active = []
_active_lock = threading.Lock()


class Limits:
    """What ``limit`` set, and how to undo it (``restore()``, or leave the ``with`` block).

    Restoring the newest limit in force gives every pool the count it had before that limit;
    restoring an older one changes no count (a newer limit still holds) and hands its undo to
    the limit made after it, so that restoring that one later goes back to the counts before
    both.

    >>> outer, inner = limit(3), limit(2)
    >>> outer.restore()        # inner still holds: 2 threads
    >>> inner.restore()        # the counts from before outer
    """

    def __init__(self, threads):
        self.threads = threads
        self.blas = None            # threads now allowed to the BLAS/OpenMP libraries, if any
        self.numba = None
        self.torch = None
        self._undo = []
        self._numba_pending = False  # limit Numba when the Numba backend imports it

    def restore(self) -> None:
        with _active_lock:
            try:
                i = _active.index(self)
            except ValueError:          # restored already (or never made by limit)
                i = None
            if i is not None:
                del _active[i]
                if i < len(_active):    # a newer limit holds: it undoes both, later
                    newer = _active[i]
                    newer._undo[:0] = self._undo
                    self._undo = []
            self._numba_pending = False
            undo, self._undo = self._undo, []
        while undo:
            undo.pop()()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()

    def __repr__(self):
        return (f"Limits(threads={self.threads}, blas={self.blas}, numba={self.numba}, "
                f"torch={self.torch})")


def limit(n=DEFAULT_THREADS, *, torch=None, numba=None) -> Limits:
    """Let BLAS, Numba and PyTorch use ``n`` threads each; returns a ``Limits`` that undoes it.

    ``numba`` / ``torch``: None limits the library when it is imported already (never imports
    it), True imports it first (and skips it when it is not installed), False leaves it alone.
    With None and Numba not imported yet, the limit waits for it: the Numba backend applies
    it (and ``restore`` undoes it) when it imports Numba, while the limit is in force; Numba
    imported by other code is limited at the next ``limit`` call or backend load. Numba's
    setting applies to launches from the thread that sets it and is capped at
    ``NUMBA_NUM_THREADS``.
    """
    n = check_threads(n)
    out = Limits(n)
    if numba is None:
        numba = "numba" in sys.modules
        out._numba_pending = not numba  # applied by _numba_loaded, if Numba's backend loads
    nb = _optional("numba") if numba else None
    if nb is not None:
        _numba_loaded(nb)               # older limits waiting for Numba first
        numba_before = nb.get_num_threads()
        nb.set_num_threads(min(n, nb.config.NUMBA_NUM_THREADS))
        out.numba = nb.get_num_threads()
        out._undo.append(lambda: nb.set_num_threads(numba_before))
    if torch is None:
        torch = "torch" in sys.modules
    th = _optional("torch") if torch else None
    if th is not None:
        torch_before = th.get_num_threads()
        th.set_num_threads(n)
        out.torch = th.get_num_threads()
        out._undo.append(lambda: th.set_num_threads(torch_before))
    _load_products_library()
    # last: Numba's and PyTorch's OpenMP runtimes, loaded by the calls above, are limited too
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        ThreadpoolController = None
    if ThreadpoolController is not None:
        controller = ThreadpoolController()
        out._undo.append(functools.partial(_restore_and_release, controller,
                                           controller.limit(limits=n)))
        if any(lib["user_api"] == "blas" for lib in controller.info()):
            out.blas = n
    with _active_lock:
        _active.append(out)
    return out


def _restore_and_release(controller, limiter) -> None:
    """threadpoolctl's restore, then ``controller`` lets go of its libraries: each holds it
    back (``parent``), a reference cycle per limit that only the cyclic GC would free."""
    limiter.restore_original_limits()
    controller.lib_controllers = []


def _numba_loaded(nb) -> None:
    """Called by the Numba backend right after it imports Numba: the limits in force that
    were made before Numba was imported (and left it to be limited: ``numba=None``) apply to
    it now, each with its undo, as if Numba had been there when they were made. Like
    ``numba.set_num_threads`` itself, this limits launches from the calling thread."""
    with _active_lock:
        pending = [lim for lim in _active if lim._numba_pending]
        if not pending:
            return
        cap = nb.config.NUMBA_NUM_THREADS
        count = nb.get_num_threads()
        for lim in pending:
            lim._numba_pending = False
            lim._undo.append(functools.partial(nb.set_num_threads, count))
            count = lim.numba = min(lim.threads, cap)
        nb.set_num_threads(count)


def _load_products_library() -> None:
    """Load MKL now where the host products will use it (``xpgrad.backends.blas``): the limit
    then covers it and ``restore`` gives it its count back, which threadpoolctl does only for
    the libraries it saw when limiting."""
    from .backends import blas

    try:
        blas.describe()
    except (ValueError, RuntimeError):
        pass                     # a bad XPGRAD_BLAS is reported where products are made


def match_blas_threads(package, like="numpy") -> int | None:
    """Give the BLAS that ``package`` ships (SciPy's wheels bring their own OpenBLAS beside
    NumPy's) the thread count of ``like``'s BLAS, so a ``limit`` set before it was loaded (Numba
    loads SciPy's on its first compile), or the user's own threadpoolctl limit, holds for it too.
    Returns that count, or None when either has no BLAS of its own that threadpoolctl sees.

    >>> match_blas_threads("no-such-package") is None
    True
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    controller = ThreadpoolController()
    blas = controller.select(user_api="blas").lib_controllers
    controller.lib_controllers = []         # (each library holds it: a reference cycle)
    reference = _shipped_by(like, blas)
    own = [lib for lib in _shipped_by(package, blas) if lib not in reference]
    if not reference or not own:
        return None
    threads = min(lib.num_threads for lib in reference)
    for lib in own:
        if lib.num_threads != threads:
            lib.set_num_threads(threads)
    return threads


def _shipped_by(package, libraries) -> list:
    """The libraries (threadpoolctl's controllers) that ``package`` ships."""
    return [lib for lib in libraries if ships(package, lib.filepath)]


def ships(package, filepath) -> bool:
    """Whether the shared library at ``filepath`` lies in ``package``'s directory or in the
    ``<package>.libs`` beside it (where wheels put their shared libraries).

    >>> ships("no-such-package", "/usr/lib/libopenblas.so")
    False
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.origin or not filepath:
        return False
    root = os.path.realpath(os.path.dirname(spec.origin))
    return os.path.realpath(filepath).startswith((root + os.sep, root + ".libs" + os.sep))


def blas_info() -> list:
    """The BLAS and OpenMP libraries loaded in this process, with their thread counts
    (threadpoolctl's report; empty when threadpoolctl is not installed).

    >>> all("num_threads" in row for row in blas_info())
    True
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "num_threads", "version", "threading_layer",
            "architecture", "filepath")
    return [{k: row.get(k) for k in keys} for row in threadpool_info()]


def numba_threading(start=True) -> dict:
    """Numba's threads and threading layer (``tbb``, ``omp`` or ``workqueue``). With
    ``start``, Numba's thread pool is started if no threaded kernel has run yet, so the layer
    it picks can be named (nothing is compiled). Empty when Numba is not installed.
    """
    try:
        import numba
    except ImportError:
        return {}
    layer = None
    try:
        layer = numba.threading_layer()
    except ValueError:                   # no threaded launch yet
        if start:
            try:
                from numba.np.ufunc import parallel

                parallel._launch_threads()
                layer = numba.threading_layer()
            except Exception as e:        # a private hook: report instead of failing
                layer = f"unknown ({type(e).__name__}: {e})"
    return {"version": numba.__version__, "threads": numba.get_num_threads(),
            "max_threads": numba.config.NUMBA_NUM_THREADS,
            "threading_layer": layer or "not started",
            "requested_layer": numba.config.THREADING_LAYER}
