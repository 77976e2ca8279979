"""Settings of the Numba backend. Imported before Numba so the cache directory applies.

``XPGRAD_NUMBA_CACHE_DIR`` puts the compiled kernels in that directory (it becomes Numba's
``NUMBA_CACHE_DIR``, so other Numba code of the process caches there too); without it Numba's own
rule applies: ``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside these sources when it is
writable, else a per-user cache directory.

The size thresholds below are module attributes so tests (and curious users) can change them.

>>> BLOCK <= PAR_MIN
True
"""
from __future__ import annotations

import os
import sys

CACHE_ENV = "XPGRAD_NUMBA_CACHE_DIR"
INSTALL_HINT = 'pip install "xpgrad[numba]"'

#: elementwise kernels run on all threads from this many elements on; below it one thread runs
#: them, paying no thread start-up. Set high on purpose: a threaded kernel waits for every core,
#: and in a training step those cores are often still held by BLAS threads spinning after a
#: matmul (or by other processes). benchmarks/numba_kernels.py --thresholds measures it.
PAR_MIN = 1 << 20
#: row kernels (softmax cross-entropy) go parallel from this many logits on
ROW_PAR_MIN = 1 << 20
#: elements per parallel work item; fixed, so sums do not depend on the thread count
BLOCK = 1 << 14


def apply_cache_dir() -> str | None:
    """Map ``XPGRAD_NUMBA_CACHE_DIR`` onto Numba's setting; return the directory or None."""
    path = os.environ.get(CACHE_ENV)
    if not path:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    os.environ["NUMBA_CACHE_DIR"] = path
    if "numba" in sys.modules:          # Numba read its settings at import: tell it too
        from numba.core import config

        config.CACHE_DIR = path
    return path


def run_by_size(serial, parallel, n, *args):
    """Run a kernel over ``n`` entries: ``parallel(*args, BLOCK)`` on all threads from
    ``PAR_MIN`` entries on, else ``serial(*args)`` on this one; return its result.

    >>> run_by_size(lambda *a: "one thread", lambda *a: "all threads", PAR_MIN, "x")
    'all threads'
    """
    if n >= PAR_MIN:
        return parallel(*args, BLOCK)
    return serial(*args)
