"""How the Numba backend's kernels are keyed on disk: a cache directory per version of the sources.

Numba finds a cached kernel by the content hash of the file that defines it, its bytecode, its
signature and the CPU, in an index that also records Numba's version. It does not look at the
files of the ``@njit`` helpers, ``@overload`` and ``@intrinsic`` functions that it compiles into
the kernel (``_math.exp_neg``, ``_transpose.transpose_block``, ...). Left at that, editing
``_math.py``, or upgrading to an xpgrad whose ``_math.py`` differs while the kernels' own files
do not, would make the next process load machine code built from the old helpers.

So every function of this package that Numba caches (``cache=True``) is cached in a
subdirectory ``xpgrad-<fingerprint>`` of the directory Numba would have used (``NUMBA_CACHE_DIR``,
which ``XPGRAD_NUMBA_CACHE_DIR`` sets, else ``__pycache__`` beside these sources, else Numba's
per-user directory). The fingerprint hashes the name and content of every ``*.py`` file of
this package and the versions of Numba and llvmlite; it is computed once per process, when the
package is imported (under a millisecond). After any edit or upgrade, a new process compiles
into a new, empty directory: nothing is deleted, so a process still running older sources, and
the background compiler or warmup workers it started, keep reading and writing their own one.
Directories of older sources stay until ``xpgrad warmup --prune`` (``remove_stale``) deletes
them; ``stale_dirs`` lists them.

Kernels whose loops live outside this package (``_templates.parallel_blocks`` on a user's loop)
also carry a hash of those loops' files in their key (see ``_templates``). Setting
``NUMBA_CACHE_LOCATOR_CLASSES`` replaces Numba's locators, this one included.

>>> import os
>>> from xpgrad.backends.numba import _act_kernels
>>> os.path.basename(_act_kernels.relu_fwd._cache.cache_path) == DIR_PREFIX + fingerprint()
True
"""
from __future__ import annotations

import functools
import glob
import hashlib
import os
import shutil

#: cache subdirectories of this package start so; the fingerprint follows
DIR_PREFIX = "xpgrad-"
HERE = os.path.dirname(os.path.abspath(__file__))
#: the fingerprint directories found writable by this process (each is checked once, not once
#: per kernel: Numba still makes it again before each write, should it have been deleted)
_usable_dirs: set = set()


@functools.lru_cache(maxsize=None)
def fingerprint() -> str:
    """A hash of this package's sources (names and contents of ``*.py`` here) and of Numba's
    and llvmlite's versions: 16 hex digits, fixed for the life of the process."""
    import llvmlite
    import numba

    total = hashlib.sha256(f"numba {numba.__version__} llvmlite {llvmlite.__version__}".encode())
    for path in sorted(glob.glob(os.path.join(HERE, "*.py"))):
        total.update(b"\0" + os.path.basename(path).encode() + b"\0")
        try:
            with open(path, "rb") as f:
                total.update(hashlib.sha256(f.read()).digest())
        except OSError:         # a file that vanished mid-listing: its name still counts
            pass
    return total.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def _in_package(directory: str) -> bool:
    return os.path.realpath(directory) == os.path.realpath(HERE)


def _locator_class():
    """The Numba cache locator of this package's functions (made on first use: it subclasses a
    Numba class, so Numba is imported then)."""
    from numba.core.caching import _CacheLocator

    class SourcesLocator(_CacheLocator):
        """Numba's own choice of cache directory for a function of this package, plus the
        subdirectory of the sources' fingerprint; Numba's source stamp and name otherwise."""

        #: Numba's locators, in Numba's order, tried underneath (set by ``install``)
        numba_locators = ()

        def __init__(self, inner):
            self._inner = inner
            self._path = os.path.join(inner.get_cache_path(), DIR_PREFIX + fingerprint())

        def get_cache_path(self):
            return self._path

        def get_source_stamp(self):
            return self._inner.get_source_stamp()

        def get_disambiguator(self):
            return self._inner.get_disambiguator()

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _in_package(os.path.dirname(os.path.abspath(py_file))):
                return None                     # not ours: Numba's locators decide
            for numba_locator in cls.numba_locators:
                inner = numba_locator.from_function(py_func, py_file)
                if inner is None:
                    continue
                self = cls(inner)
                if self._path not in _usable_dirs:
                    try:
                        self.ensure_cache_path()
                    except OSError:             # not writable: Numba's next choice
                        continue
                    _usable_dirs.add(self._path)
                return self
            return None

    return SourcesLocator


@functools.lru_cache(maxsize=None)
def install():
    """Put this package's locator first in Numba's list (once per process). Call it before any
    kernel module is imported: Numba picks a function's cache directory when it is decorated.
    Returns the locator class."""
    from numba.core.caching import CacheImpl

    locator = _locator_class()
    locator.numba_locators = tuple(c for c in CacheImpl._locator_classes
                                   if c.__name__ != locator.__name__)
    CacheImpl._locator_classes.insert(0, locator)
    return locator


def stale_dirs(cache_path: str) -> list:
    """The sibling directories of ``cache_path`` (this process's fingerprint directory) left by
    other sources, Numba or llvmlite versions: safe to delete once no process of those
    versions runs.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     for name in ("xpgrad-0123456789abcdef", "xpgrad-" + fingerprint(), "other"):
    ...         os.mkdir(os.path.join(root, name))
    ...     [os.path.basename(p) for p in stale_dirs(os.path.join(root, "xpgrad-" + fingerprint()))]
    ['xpgrad-0123456789abcdef']
    """
    parent, mine = os.path.split(os.path.normpath(cache_path))
    return sorted(p for p in glob.glob(os.path.join(glob.escape(parent), DIR_PREFIX + "*"))
                  if os.path.basename(p) != mine and os.path.isdir(p))


def remove_stale(cache_path: str) -> tuple:
    """Delete the directories ``stale_dirs(cache_path)`` lists; return ``(directories removed,
    bytes freed)``. A process still running older sources loses nothing it has loaded; should
    it compile another kernel, Numba makes its directory again. Directories that cannot be
    deleted (permissions) are left and not counted.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     old = os.path.join(root, "xpgrad-0123456789abcdef")
    ...     os.mkdir(old)
    ...     with open(os.path.join(old, "k.nbc"), "wb") as f:
    ...         _ = f.write(bytes(10))
    ...     remove_stale(os.path.join(root, "xpgrad-" + fingerprint())), os.path.exists(old)
    ((1, 10), False)
    """
    removed = freed = 0
    for path in stale_dirs(cache_path):
        size = _bytes_under(path)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed += 1
            freed += size
    return removed, freed


def _bytes_under(path: str) -> int:
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:         # removed meanwhile
                pass
    return total
